// What the bundler plugin costs a build: a generated project (bench/transformer-project.mjs, ~170
// modules of ~190 lines, two modules in three marked with `@traced` / `// trace:region`) built with and
// without tstrace's plugin by tspc (the tsc transformer), Vite (tstrace/vite) and esbuild
// (tstrace/esbuild): a first build, a rebuild with every module's result kept (the result store), and
// a rebuild after one marked module changed. Each build is a child process, as a user's build is, on
// Node 24 and on the Node running this script (bench/machine.mjs benchNodes), side by side; the builds
// are interleaved (rotated order each round), medians reported, as ratios next to the goal (≤ 1.3×
// without the plugin).
//
//   npm run bench:bundler                      build, then 5 rounds (about 3 minutes on 2 cores)
//   node bench/bundler.mjs --quick             1 round, a smaller project (a smoke run)
//   node bench/bundler.mjs --rounds 9 --modules 200 --tools vite,esbuild
//   TSTRACE_BENCH_DIST=/other/dist/esm node bench/bundler.mjs   measure another build of the plugin
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './harness.mjs';
import { benchNodes, lpad, pad, printMachine } from './machine.mjs';
import { runtimeDir } from './runtime-dir.mjs';
import { generateProject } from './transformer-project.mjs';

const require = createRequire(import.meta.url);
const benchDir = fileURLToPath(new URL('.', import.meta.url));
const GOAL = 1.3;

/**
 * A round's builds: `tool`, `variant` (`plain`: without the plugin; `first`: with it, nothing kept from
 * an earlier build; `rebuild`: every module's result kept from the build before; `edited`: kept, but
 * one marked module changed since), and how to run each. tspc keeps nothing between builds: `first` only.
 */
function buildsFor(dir, node) {
  const tspc = join(dirname(require.resolve('ts-patch/package.json')), 'bin', 'tspc.js');
  const driver = join(benchDir, 'bundler-build.mjs');
  const tspcBuild = (config) => [tspc, '-p', join(dir, config)];
  const out = (name) => join(dir, `${name}-node${node.major}`);
  const bundlerBuild = (tool, variant) => [driver, tool, variant === 'plain' ? '0' : '1', dir, out(`out-${tool}-${variant}`)];
  // tspc writes where the project's tsconfig says: the out folders are the same for both Nodes.
  const builds = [
    { tool: 'tspc', variant: 'plain', args: tspcBuild('tsconfig.plain.json'), out: join(dir, 'out-plain') },
    { tool: 'tspc', variant: 'first', args: tspcBuild('tsconfig.traced.json'), out: join(dir, 'out-traced') },
  ];
  for (const tool of ['vite', 'esbuild']) {
    for (const variant of ['plain', 'first', 'rebuild', 'edited']) {
      // The first build's store is emptied before each build; the rebuilds share one, per tool and Node.
      const store = variant === 'plain' ? 'off' : join(dir, '..', `store-${tool}${variant === 'first' ? '-first' : ''}-node${node.major}`);
      builds.push({ tool, variant, args: bundlerBuild(tool, variant), out: out(`out-${tool}-${variant}`), store });
    }
  }
  return builds.map((build) => ({ ...build, node }));
}

/** A marked module of the project that `edited` builds change (and then restore), so that exactly one module is instrumented again. */
function editor(dir) {
  const file = join(dir, 'src', readdirSync(join(dir, 'src')).filter((f) => /trace:|traced/.test(readFileSync(join(dir, 'src', f), 'utf8'))).sort()[0]);
  const original = readFileSync(file, 'utf8');
  let edits = 0;
  return {
    edit: () => writeFileSync(file, `${original}// edit ${++edits}\n`),
    restore: () => writeFileSync(file, original),
  };
}

/** Wall time of one build in a child process, in seconds. */
function timeBuild(build, edits) {
  if (build.variant === 'first' && build.store) rmSync(build.store, { recursive: true, force: true });
  if (build.variant === 'edited') edits.edit();
  try {
    const t0 = process.hrtime.bigint();
    const env = { ...process.env, TSTRACE_BENCH_DIST: fileURLToPath(runtimeDir), ...(build.store ? { TSTRACE_CACHE: build.store } : {}) };
    const child = spawnSync(build.node.binary, build.args, { encoding: 'utf8', env });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (child.status !== 0) throw new Error(`${build.tool} ${build.variant} on node ${build.node.version} failed (exit ${child.status}):\n${child.stdout}${child.stderr}`);
    return seconds;
  } finally {
    if (build.variant === 'edited') edits.restore();
  }
}

/** Instrumented functions in a build's output (`__tstrace….enter(` / `.call(`): the plugin must have worked, and only where it was on. */
function countInstrumented(outDir) {
  let n = 0;
  for (const file of readdirSync(outDir, { recursive: true })) {
    if (!String(file).endsWith('.js')) continue;
    n += (readFileSync(join(outDir, String(file)), 'utf8').match(/__tstrace\w*\.(?:enter|call)\(__tstrace\w*_site/g) ?? []).length;
  }
  return n;
}

export async function runBundlerBench({ quick = false, rounds = quick ? 1 : 5, modules = quick ? 40 : 170, tools = ['tspc', 'vite', 'esbuild'] } = {}) {
  const workRoot = join(benchDir, '.work', `bundler-${process.pid}`);
  try {
    // ~220 lines per module, as generateProject counts them (transformer-project.mjs), plus the index.
    const project = generateProject(join(workRoot, "project"), modules * 220);
    console.log(`\nbuild time with and without the plugin: ${project.files} modules, ${project.lines.toLocaleString('en-US')} lines, ${project.markedFiles} files with marks; ${rounds} round(s), each build a child process, order rotated each round`);
    const nodes = benchNodes();
    const builds = nodes.flatMap((node) => buildsFor(join(workRoot, 'project'), node)).filter((b) => tools.includes(b.tool));
    const edits = editor(join(workRoot, 'project'));
    // Untimed warm-up: every file in the page cache, ts-patch's patched-compiler cache, the rebuilds' stores.
    for (const b of builds) timeBuild(b, edits);
    for (const b of builds) {
      const n = countInstrumented(b.out);
      if (b.variant === 'plain' ? n !== 0 : n === 0) throw new Error(`${b.tool} ${b.variant} on node ${b.node.version}: ${n} instrumented functions in ${b.out}`);
      b.instrumented = n;
    }
    const samples = new Map(builds.map((b) => [b, []]));
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < builds.length; i++) {
        const b = builds[(i + r) % builds.length];
        samples.get(b).push(timeBuild(b, edits));
      }
      process.stderr.write(`  bundler bench: round ${r + 1}/${rounds} done\n`);
    }
    const variants = [
      ['first', 'first build'],
      ['rebuild', 'rebuild, nothing changed'],
      ['edited', 'rebuild, one marked module edited'],
    ];
    console.log(`${pad('tool', 10)}${pad('build with the plugin', 36)}${nodes.map((node) => lpad(`node ${node.major}: without → with (s)`, 30) + lpad('ratio', 8)).join('')}   goal ≤ ${GOAL}×`);
    console.log('-'.repeat(50 + 38 * nodes.length + 12));
    const results = {};
    for (const tool of tools) {
      results[tool] = {};
      for (const [variant, label] of variants) {
        const cells = nodes.map((node) => {
          const find = (v) => builds.find((b) => b.tool === tool && b.variant === v && b.node === node);
          const traced = find(variant);
          if (!traced) return null;
          const without = median(samples.get(find('plain')));
          const withPlugin = median(samples.get(traced));
          return { without, with: withPlugin, ratio: withPlugin / without, met: withPlugin / without <= GOAL, instrumented: traced.instrumented };
        });
        if (cells[0] === null) continue;
        results[tool][variant] = Object.fromEntries(nodes.map((node, i) => [node.major, cells[i]]));
        const row = cells.map((c) => lpad(`${c.without.toFixed(2)} → ${c.with.toFixed(2)}`, 30) + lpad(`${c.ratio.toFixed(2)}×`, 8)).join('');
        console.log(`${pad(tool, 10)}${pad(label, 36)}${row}   ${cells.map((c) => (c.met ? 'met' : 'NOT MET')).join(' / ')}`);
      }
    }
    console.log(`(each Node's builds are that Node's own processes: Node ${nodes.map((n) => n.version).join(' and ')}, interleaved in one rotated order; ${builds.find((b) => b.variant === 'first')?.instrumented ?? 0} functions instrumented by the plugin)`);
    console.log('(tspc keeps nothing between builds; Vite and esbuild keep each instrumented module in the result store, node_modules/.cache/tstrace)');
    console.log('(wall time of the whole build command, Node start-up included: what a user waits for; medians)');
    return results;
  } finally {
    rmSync(workRoot, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name) => {
    const i = process.argv.indexOf(name);
    return i < 0 ? undefined : Number(process.argv[i + 1]);
  };
  const quick = process.argv.includes('--quick');
  printMachine(`tstrace bundler-plugin bench${quick ? ' (--quick: smoke run, figures are rough)' : ''}`);
  const toolsArg = process.argv.indexOf('--tools');
  await runBundlerBench({ quick, rounds: arg('--rounds'), modules: arg('--modules'), tools: toolsArg < 0 ? undefined : process.argv[toolsArg + 1].split(',') });
}
