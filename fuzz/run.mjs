// `npm run fuzz`: the fuzzing campaign over tstrace's reader, exports and CLI (docs/fuzzing.md).
//
//   node fuzz/run.mjs [--cases N] [--seed S] [--workers W] [--cli-every K] [--time-bound MS]
//                     [--memory-bound MB] [--hang MS] [--out DIR] [--case I] [--corpus DIR] [--write-corpus]
//
// Cases are spread over W child processes; a watchdog kills a worker whose case runs longer than
// --hang ms (a hang) and starts another at the next case; a worker that dies (out of memory, a crash) is
// a failure of the case it was running. Failing inputs are written to --out with what went wrong.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { caseAt } from './cases.mjs';
import { prepare, runCase } from './campaign.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    workers: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    'cli-every': { type: 'string', default: '100' },
    'time-bound': { type: 'string', default: '5000' },
    'memory-bound': { type: 'string', default: '100' },
    hang: { type: 'string', default: '60000' },
    out: { type: 'string', default: join(here, 'failures') },
    case: { type: 'string' },
    corpus: { type: 'string', default: join(here, 'corpus') },
    'write-corpus': { type: 'boolean', default: false },
  },
});
const int = (name) => {
  const n = Number(values[name]);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`fuzz: --${name} must be a non-negative integer, not "${values[name]}"`);
    process.exit(2);
  }
  return n;
};
const cases = int('cases');
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : int('seed');
const workers = Math.max(1, int('workers'));
const hangMs = int('hang');
const options = {
  cliEvery: int('cli-every'),
  timeBoundMs: int('time-bound'),
  memoryBoundBytes: int('memory-bound') * 1024 * 1024,
  cliTimeoutMs: hangMs / 2,
};
const tmp = mkdtempSync(join(tmpdir(), 'tstrace-fuzz-'));
const corpusDir = values.corpus;
options.tmpDir = tmp;
const reproduce = (index) => `npm run fuzz -- --seed ${seed} --case ${index}`;
const context = await prepare(corpusDir, { rewrite: values['write-corpus'] });

if (values.case !== undefined) {
  // One case, in this process, with everything the oracle says.
  const index = int('case');
  const { case: c, result, cli } = await runCase(context, seed, index, { ...options, cliEvery: 1 });
  console.log(`case ${index} of seed ${seed}: ${c.kind} (${c.origin}), ${c.bytes.length} bytes, fed as ${c.feed.mode}`);
  console.log(`outcome ${result.outcome}, ${result.events} events, ${Math.round(result.totalMs)} ms, memory +${mb(result.memory)} MB, peak RSS +${mb(result.rss)} MB; cli: ${cli.command} → ${cli.code}`);
  for (const f of result.failures) console.log(`FAIL ${f.entry}: ${f.message}`);
  mkdirSync(values.out, { recursive: true });
  const file = join(values.out, `${seed}-${index}.trace`);
  writeFileSync(file, c.bytes);
  console.log(`input written to ${relative(process.cwd(), file)}`);
  rmSync(tmp, { recursive: true, force: true });
  process.exit(result.failures.length ? 1 : 0);
}

function mb(bytes) {
  return (bytes / 1024 / 1024).toFixed(1);
}

// ---- the campaign ----
const started = performance.now();
const tally = { kinds: {}, outcomes: {}, cli: {}, cliExit: {} };
const failures = [];
let done = 0;
let slowest = null;
let maxMemory = null;
let maxRss = null;
let slowestCli = null;
const bump = (table, key) => (table[key] = (table[key] ?? 0) + 1);

function record(m) {
  done++;
  bump(tally.kinds, m.kind);
  bump(tally.outcomes, m.outcome);
  if (!slowest || m.totalMs > slowest.ms) slowest = { index: m.index, ms: m.totalMs, kind: m.kind, origin: m.origin, size: m.size };
  if (!maxMemory || m.memory > maxMemory.bytes) maxMemory = { index: m.index, bytes: m.memory, kind: m.kind, size: m.size };
  if (!maxRss || m.rss > maxRss.bytes) maxRss = { index: m.index, bytes: m.rss, kind: m.kind, size: m.size };
  if (m.cli) {
    bump(tally.cli, m.cli.command);
    bump(tally.cliExit, String(m.cli.code));
    if (!slowestCli || m.cli.ms > slowestCli.ms) slowestCli = { index: m.index, ms: m.cli.ms, command: m.cli.command };
  }
  if (m.failures.length) failures.push({ index: m.index, kind: m.kind, origin: m.origin, failures: m.failures });
}

/** Runs the cases start, start + step, … below `cases` in a child process; resolves when they are done. */
function runWorker(start, step) {
  return new Promise((resolvePromise) => {
    let next = start; // the case the worker is on
    let lastReport = performance.now();
    let finished = false;
    const child = fork(join(here, 'worker.mjs'), [], { execArgv: ['--max-old-space-size=1024'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const restart = (failure) => {
      clearInterval(watchdog);
      failures.push({ index: next, kind: '?', origin: '?', failures: [failure] });
      done++;
      bump(tally.outcomes, failure.entry);
      const after = next + step;
      if (after < cases) runWorker(after, step).then(resolvePromise);
      else resolvePromise();
    };
    const watchdog = setInterval(() => {
      if (!finished && performance.now() - lastReport > hangMs) {
        finished = true;
        child.kill('SIGKILL');
        restart({ entry: 'hang', message: `case ${next} did not finish within ${hangMs} ms; the worker was killed` });
      }
    }, 250);
    child.on('message', (m) => {
      lastReport = performance.now();
      if (m.type === 'done') {
        record(m);
        next = m.index + step;
      } else if (m.type === 'finished') {
        finished = true;
      }
    });
    child.on('exit', (code, signal) => {
      if (finished) {
        clearInterval(watchdog);
        resolvePromise();
        return;
      }
      finished = true;
      restart({ entry: 'crash', message: `the worker died during case ${next} (exit code ${code}, signal ${signal})` });
    });
    child.send({ corpusDir, seed, start, step, end: cases, options });
  });
}

console.log(`fuzz: ${cases} cases, seed ${seed}, ${workers} workers, the CLI every ${options.cliEvery} cases; bounds: ${options.timeBoundMs} ms and ${mb(options.memoryBoundBytes)} MB a case, hang after ${hangMs} ms`);
console.log(`fuzz: corpus: ${context.corpus.map((s) => `${s.name} (${s.bytes.length} B)`).join(', ')}`);
const progress = setInterval(() => {
  const s = (performance.now() - started) / 1000;
  const eta = done ? ((cases - done) * s) / done : 0;
  console.log(`fuzz: ${done}/${cases} cases, ${failures.length} failures, ${Math.round(done / s)} cases/s, ${Math.round(s)} s elapsed, ~${Math.round(eta)} s to go`);
}, 10_000);
await Promise.all(Array.from({ length: Math.min(workers, Math.max(1, cases)) }, (_, w) => (w < cases ? runWorker(w, workers) : null)));
clearInterval(progress);
const wall = (performance.now() - started) / 1000;

// Failing inputs, regenerated from the seed (the same bytes the worker had).
failures.sort((a, b) => a.index - b.index);
if (failures.length) {
  mkdirSync(values.out, { recursive: true });
  for (const f of failures) {
    const c = caseAt(context.arbitrary, seed, f.index);
    const base = join(values.out, `${seed}-${f.index}`);
    writeFileSync(`${base}.trace`, c.bytes);
    writeFileSync(`${base}.json`, JSON.stringify({ seed, index: f.index, kind: c.kind, origin: c.origin, feed: c.feed, reproduce: reproduce(f.index), failures: f.failures }, null, 2) + '\n');
  }
}
rmSync(tmp, { recursive: true, force: true });

const sortedEntries = (table) => Object.entries(table).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
console.log('');
console.log(`fuzz: summary, seed ${seed}`);
console.log(`  cases       ${done} in ${wall.toFixed(1)} s (${Math.round(done / wall)} cases/s, ${workers} workers)`);
console.log(`  failures    ${failures.length}`);
console.log(`  kinds       ${sortedEntries(tally.kinds)}`);
console.log(`  outcomes    ${sortedEntries(tally.outcomes)}`);
console.log(`  cli         ${Object.values(tally.cli).reduce((a, b) => a + b, 0)} runs: ${sortedEntries(tally.cli)}; exit codes: ${sortedEntries(tally.cliExit)}`);
if (slowest) console.log(`  slowest     case ${slowest.index}: ${slowest.ms.toFixed(1)} ms (${slowest.kind}, ${slowest.origin}, ${slowest.size} B)`);
if (slowestCli) console.log(`  slowest cli case ${slowestCli.index}: ${slowestCli.ms.toFixed(0)} ms (${slowestCli.command})`);
if (maxMemory) console.log(`  max memory  +${mb(maxMemory.bytes)} MB in use (case ${maxMemory.index}, ${maxMemory.kind}, ${maxMemory.size} B); peak RSS +${mb(maxRss.bytes)} MB (case ${maxRss.index})`);
for (const f of failures.slice(0, 20)) {
  console.log(`  FAIL case ${f.index} (${f.kind}, ${f.origin}): ${f.failures.map((x) => `${x.entry}: ${x.message.split('\n')[0]}`).join('; ')}`);
  console.log(`       reproduce: ${reproduce(f.index)}`);
}
if (failures.length > 20) console.log(`  … and ${failures.length - 20} more`);
if (failures.length) console.log(`  inputs in ${relative(process.cwd(), values.out) || '.'}/`);
process.exit(failures.length ? 1 : 0);
