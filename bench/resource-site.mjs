// What finding where a resource was created costs (docs/design.md, "Where a resource was created"), with
// scheduling events on, inside a region with a location (as the transformer's traced functions have):
//
//   timers      setTimeout + clearTimeout: only the hook's `init` (and Node's own work) runs
//   immediates  await a setImmediate: init, before/after, the promise's hooks — a turn of the loop each
//
// per operation, the best of --rounds, in three modes: sites found from the creating region (the
// default), with captureLocations (a stack capture per timer), and for comparison with --dist= another
// build (e.g. the commit before sites were recorded). Wall clock on a busy machine is noisy: the figures
// are the minimum over rounds, and `valgrind --tool=callgrind node bench/resource-site.mjs --rounds=1
// --only=timers` counts instructions instead.
//
//   node bench/resource-site.mjs [--dist=DIR] [--rounds=N] [--n=N] [--only=timers|immediates] [--capture]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const option = (name) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const dist = resolve(option('dist') ?? join(import.meta.dirname, '..', 'dist', 'esm'));
const rounds = Number(option('rounds') ?? 7);
const n = Number(option('n') ?? 100_000);
const only = option('only');
const capture = process.argv.includes('--capture');

const { start, stop, newTask, background } = await import(pathToFileURL(join(dist, 'runtime', 'index.js')).href);
const { enter, exit, site } = await import(pathToFileURL(join(dist, 'runtime', 'instrument.js')).href);

const dir = mkdtempSync(join(tmpdir(), 'tstrace-site-bench-'));
const noop = () => {};
const querySite = site('db.query', '/srv/db.ts', 12, 3, 'query');

function timers(count) {
  const region = enter(querySite);
  try {
    for (let i = 0; i < count; i++) clearTimeout(setTimeout(noop, 1000));
  } finally {
    exit(region);
  }
}

async function immediates(count) {
  for (let i = 0; i < count; i++) {
    const region = enter(querySite);
    let wait;
    try {
      wait = new Promise((resolve) => setImmediate(resolve));
    } finally {
      exit(region);
    }
    await wait;
  }
}

/** ns per operation of `body(count)`, the best of `rounds`, traced with scheduling events. */
async function measure(body, count) {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const path = join(dir, `r${r}.out`);
    start(path, { scheduling: true, captureLocations: capture, gc: false, heap: false, eventLoop: false });
    const [ctx, task] = newTask(background, 'bench');
    void ctx;
    const from = performance.now();
    await body(count);
    best = Math.min(best, ((performance.now() - from) * 1e6) / count);
    task.end();
    await stop();
    rmSync(path, { force: true });
  }
  return best;
}

// Warm-up, of what is measured only (callgrind counts every instruction).
if (only !== 'immediates') await measure(timers, 10_000);
if (only !== 'timers') await measure(immediates, 2_000);
const results = {};
if (only !== 'immediates') results.timers = await measure(timers, n);
if (only !== 'timers') results.immediates = await measure(immediates, n / 10);
rmSync(dir, { recursive: true, force: true });
console.log(`${process.version} ${dist}${capture ? ' captureLocations' : ''}: ${Object.entries(results).map(([k, v]) => `${k} ${v.toFixed(0)} ns/op`).join(', ')}`);
