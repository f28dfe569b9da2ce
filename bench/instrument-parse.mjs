// What the bundler plugin's instrumenter costs in-process, cold (each measure a fresh child process,
// as each build is): loading TypeScript, then instrumenting every marked module of the benchmark's
// generated project (bench/transformer-project.mjs) with TypeScript parsing only the marked statements
// (what instrumentSource does, transformer/source/marked-text.ts) or the whole file. Interleaved
// rounds, medians; on Node ≥ 22.1 TypeScript's load with and without Node's compile cache (which the
// plugin turns on).
//
//   npm run build && node bench/instrument-parse.mjs [--rounds 7] [--modules 170]
//   TSTRACE_BENCH_DIST=/other/dist/esm node bench/instrument-parse.mjs    measure another build
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './harness.mjs';
import { printMachine } from './machine.mjs';
import { runtimeDir } from './runtime-dir.mjs';
import { generateProject } from './transformer-project.mjs';

const [mode, dir, scope, cache] = process.argv.slice(2);
if (mode === '--child') {
  // One measure: load TypeScript (maybe with the compile cache), instrument the marked modules of `dir`.
  if (cache === 'on') (await import('node:module')).enableCompileCache?.();
  const { instrumentFile } = await import(`${runtimeDir}/transformer/source/instrument-file.js`);
  const src = join(dir, 'src');
  const files = readdirSync(src)
    .map((name) => [join(src, name), readFileSync(join(src, name), 'utf8')])
    .filter(([, text]) => text.includes('trace:') || text.includes('traced'));
  const t0 = performance.now();
  const ts = createRequire(fileURLToPath(import.meta.url))('typescript');
  const t1 = performance.now();
  let instrumented = 0;
  for (const [fileName, code] of files) if (instrumentFile(ts, code, { fileName, rootDir: dir }, scope)) instrumented++;
  const t2 = performance.now();
  process.stdout.write(JSON.stringify({ files: files.length, instrumented, load: t1 - t0, instrument: t2 - t1 }));
} else {
  const arg = (name, fallback) => {
    const at = process.argv.indexOf(name);
    return at >= 0 ? Number(process.argv[at + 1]) : fallback;
  };
  const rounds = arg('--rounds', 7);
  const project = mkdtempSync(join(tmpdir(), 'tstrace-parse-bench-'));
  try {
    const { lines, files } = generateProject(project, arg('--modules', 170) * 220); // as bench/bundler.mjs
    printMachine('instrumenter in-process, cold: TypeScript load, then the marked modules instrumented');
    const hasCache = typeof (await import('node:module')).enableCompileCache === 'function';
    const variants = [
      { name: 'marked parse', scope: 'marked', cache: 'off' },
      { name: 'whole parse', scope: 'whole', cache: 'off' },
      ...(hasCache ? [{ name: 'marked parse, compile cache', scope: 'marked', cache: 'on' }] : []),
    ];
    const self = fileURLToPath(import.meta.url);
    const results = new Map(variants.map((v) => [v.name, []]));
    // A first run of each fills the compile cache (and the file system's cache).
    for (let round = -1; round < rounds; round++) {
      for (const v of round % 2 ? variants : [...variants].reverse()) {
        const out = JSON.parse(execFileSync(process.execPath, [self, '--child', project, v.scope, v.cache], { encoding: 'utf8', env: { ...process.env, TSTRACE_BENCH_DIST: fileURLToPath(runtimeDir) } }));
        if (round >= 0) results.get(v.name).push(out);
        if (round === -1 && v === variants[0]) console.log(`project: ${lines} lines, ${files} modules, ${out.files} of them marked (${out.instrumented} instrumented); ${rounds} rounds, medians\n`);
      }
    }
    console.log(`${'variant'.padEnd(30)} ${'load TypeScript'.padStart(16)} ${'instrument all'.padStart(15)} ${'per module'.padStart(11)}`);
    for (const [name, runs] of results) {
      const load = median(runs.map((r) => r.load));
      const instrument = median(runs.map((r) => r.instrument));
      console.log(`${name.padEnd(30)} ${`${load.toFixed(0)} ms`.padStart(16)} ${`${instrument.toFixed(0)} ms`.padStart(15)} ${`${(instrument / runs[0].files).toFixed(1)} ms`.padStart(11)}`);
    }
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
}
