// What tracing a test run costs: `vitest run` of a generated suite (20 files × 100 tests, a beforeEach
// per file, each test doing a little synchronous work and an await or two, one in ten a hand-written
// region), with tstrace's Vitest plugin in the config, once traced (TSTRACE_TRACE set: a task per test,
// regions for hooks and bodies, the workers' parts merged at the end) and once not (the plugin off).
// Wall time of the whole command, rounds interleaved, medians; goal: traced ≤ 10 % slower. On Node 24
// and on this Node, side by side (Node 24 first: performance is judged there; on Node 20
// `AsyncLocalStorage` runs on promise hooks, a cost every promise of the run pays once tracing starts).
//
//   npm run bench:vitest                build, then 3 rounds of each on each Node (about 2 minutes on 2 cores)
//   node bench/vitest.mjs --rounds=5    more rounds (needs a build)
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchNodes, printMachine } from './machine.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const suite = join(root, 'bench', '.work', 'vitest-suite');
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const rounds = Number(process.argv.find((arg) => arg.startsWith('--rounds='))?.slice(9) ?? 3);
const FILES = 20;
const TESTS = 100;
const GOAL = 1.1;

/** Writes the suite: its config (tstrace's plugin), FILES test files of TESTS tests each. */
function generateSuite() {
  rmSync(suite, { recursive: true, force: true });
  mkdirSync(suite, { recursive: true });
  // tstrace installed as users have it (what `npm pack` puts in the package), in the suite's node_modules:
  // found through this checkout instead, Vite would transform its files in every worker, as it does the
  // project's own code, and the figure would be a cost no user pays.
  // Its own package.json, or Node would resolve `tstrace` to this checkout (a package's self-reference).
  writeFileSync(join(suite, 'package.json'), JSON.stringify({ name: 'vitest-bench-suite', private: true, type: 'module' }));
  const installed = join(suite, 'node_modules', 'tstrace');
  cpSync(join(root, 'package.json'), join(installed, 'package.json'));
  cpSync(join(root, 'dist'), join(installed, 'dist'), { recursive: true });
  writeFileSync(
    join(suite, 'vitest.config.mjs'),
    `import { defineConfig } from 'vitest/config';
import { traceVitest } from 'tstrace/vitest';
export default defineConfig({ plugins: [traceVitest()], cacheDir: ${JSON.stringify(join(suite, '.cache'))}, test: { include: ['*.test.mjs'] } });
`,
  );
  writeFileSync(
    join(suite, 'work.mjs'),
    `import { current, startRegion } from 'tstrace';
export function checksum(n) { let s = 0; for (let i = 0; i < 2000; i++) s = (s * 31 + i * n) % 1000003; return s; }
export async function fetchRow(n) { await Promise.resolve(); return { id: n, sum: checksum(n) }; }
export async function annotated(n) { const r = startRegion(current(), 'lookup'); const row = await fetchRow(n); r.end(); return row; }
`,
  );
  for (let f = 0; f < FILES; f++) {
    const tests = [];
    for (let t = 0; t < TESTS; t++) {
      const call = t % 10 === 0 ? 'annotated' : 'fetchRow';
      tests.push(`  it('case ${t}', async () => { const row = await ${call}(${t}); expect(row.sum).toBe(checksum(${t})); expect(state.ready).toBe(true); });`);
    }
    writeFileSync(
      join(suite, `suite-${String(f).padStart(2, '0')}.test.mjs`),
      `import { beforeEach, describe, expect, it } from 'vitest';
import { annotated, checksum, fetchRow } from './work.mjs';
const state = { ready: false };
describe('suite ${f}', () => {
  beforeEach(() => { state.ready = true; });
${tests.join('\n')}
});
`,
    );
  }
}

/** Runs the suite once on `node`; resolves with its wall time in ms. */
function runOnce(node, trace) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(npm_|VITEST|TSTRACE_)/i.test(name)));
  if (trace) env.TSTRACE_TRACE = trace;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(node.binary, [vitest, 'run'], { cwd: suite, env, encoding: 'utf8', maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`vitest run failed (${error.code}):\n${stdout}\n${stderr}`));
      if (!/Tests\s.*2000 passed/.test(stdout)) return reject(new Error(`unexpected output:\n${stdout}`));
      resolve(performance.now() - started);
    });
  });
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

printMachine(`tstrace bench: vitest run of ${FILES * TESTS} tests in ${FILES} files, traced vs not (${rounds} interleaved rounds)`);
generateSuite();
const trace = join(suite, 'trace.out');
const nodes = benchNodes();
const results = nodes.map((node) => ({ node, plain: [], traced: [] }));
for (const { node } of results) await runOnce(node, null); // warm-up: Vite's transforms, the file cache
for (let round = 0; round < rounds; round++) {
  // Alternate which goes first, so neither always runs on a machine the other just warmed or loaded.
  const order = round % 2 === 0 ? ['plain', 'traced'] : ['traced', 'plain'];
  for (const result of results) {
    for (const which of order) result[which].push(await runOnce(result.node, which === 'traced' ? trace : null));
    console.log(`round ${round + 1}, node ${result.node.major}: untraced ${result.plain.at(-1).toFixed(0)} ms, traced ${result.traced.at(-1).toFixed(0)} ms`);
  }
}
console.log(`\ntrace: ${(statSync(trace).size / 1024).toFixed(0)} KiB`);
for (const { node, plain, traced } of results) {
  const ratio = median(traced) / median(plain);
  const judged = node === results[0].node ? `goal ≤ ${GOAL.toFixed(2)}×: ${ratio <= GOAL ? 'met' : 'NOT MET'}` : '(goal judged on the first Node)';
  console.log(`node ${node.version.padEnd(9)} untraced median ${median(plain).toFixed(0)} ms, traced median ${median(traced).toFixed(0)} ms, ratio ${ratio.toFixed(3)}×   ${judged}`);
}
rmSync(suite, { recursive: true, force: true });
