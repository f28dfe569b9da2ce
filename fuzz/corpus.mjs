// The seed corpus: real traces written by the runtime (through the package's public entry point), plus a
// few traces built by hand from docs/format.md. Mutations start from these.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { encodeTrace, TYPE } from './frames.mjs';

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Traces `body` (runtime API as its argument) into `path`. */
async function record(api, path, body, options = {}) {
  api.start(path, { gc: false, heap: false, eventLoop: false, ...options });
  try {
    await body(api);
  } finally {
    await api.stop();
  }
}

/** The runtime's traces: name → body (and start options). */
const realTraces = {
  // Tasks with concurrent async regions on flows of their own, nested regions, logs.
  cappuccino: {
    body: async ({ background, log, newTask, withRegion, startRegion }) => {
      async function make(id) {
        const [ctx, task] = newTask(background, 'makeCappuccino');
        log(ctx, 'orderID', id);
        await Promise.all([
          withRegion(ctx, 'steamMilk', async () => {
            await tick();
            const r = startRegion(ctx, 'heat');
            await tick();
            r.end();
          }),
          withRegion(ctx, 'extractCoffee', async () => tick()),
        ]);
        await withRegion(ctx, 'mixMilkCoffee', async () => log(ctx, 'mix', `done ${id} ☕ ünïcödé`));
        task.end();
      }
      await Promise.all(['A1', 'A2', 'A3', 'B1', 'B2'].map(make));
    },
  },
  // Nested tasks, deep region nesting, logs in and out of tasks, locations recorded.
  nested: {
    options: { captureLocations: true },
    body: async ({ background, log, logf, newTask, withRegion, startRegion }) => {
      const [root, rootTask] = newTask(background, 'root');
      for (let i = 0; i < 20; i++) {
        const [ctx, child] = newTask(root, `child-${i % 3}`);
        const regions = [];
        for (let d = 0; d < 12; d++) regions.push(startRegion(ctx, `depth-${d}`));
        logf(ctx, 'depth', 'reached %d at %s', regions.length, 'the bottom');
        while (regions.length) regions.pop().end();
        await withRegion(ctx, 'await', async () => {
          await tick();
          log(ctx, '', 'a log without category');
        });
        child.end();
      }
      log(background, 'outside', 'not in a task');
      rootTask.end();
    },
  },
  // API misuse: regions ended twice, out of order, on another flow; tasks ended twice; unended regions.
  misuse: {
    body: async ({ background, newTask, startRegion, withContext, log }) => {
      const [ctx, task] = newTask(background, 'misuse');
      const twice = startRegion(ctx, 'twice');
      twice.end();
      twice.end();
      const outer = startRegion(ctx, 'outer');
      const inner = startRegion(ctx, 'inner');
      outer.end();
      inner.end();
      const here = startRegion(ctx, 'elsewhere');
      await withContext(ctx, async () => {
        await tick();
        here.end();
      });
      startRegion(ctx, 'never-ended');
      log(ctx, 'cat', 'x'.repeat(3000));
      task.end();
      task.end();
      newTask(ctx, 'never-ended-task');
    },
  },
  // A full batch (a batch is cut at 64 KiB) and more.
  batches: {
    body: async ({ background, log, newTask, withRegion }) => {
      for (let i = 0; i < 1400; i++) {
        const [ctx, task] = newTask(background, `task-${i % 7}`);
        withRegion(ctx, 'region', () => log(ctx, 'category', `message ${i} ${'·'.repeat(i % 13)}`));
        task.end();
        if (i % 500 === 0) await tick();
      }
    },
  },
  // Many small batches: the runtime writes what it has every `sampleInterval` ms.
  timed: {
    options: { sampleInterval: 1 },
    body: async ({ background, log, newTask, startRegion }) => {
      for (let i = 0; i < 12; i++) {
        const [ctx, task] = newTask(background, 'tick');
        const r = startRegion(ctx, `batch-${i % 4}`);
        for (let j = 0; j < 30; j++) log(ctx, 'j', String(j));
        await new Promise((resolve) => setTimeout(resolve, 4));
        r.end();
        task.end();
      }
    },
  },
  // GC, heap and event-loop samples.
  execution: {
    options: { gc: true, heap: true, eventLoop: true, sampleInterval: 5 },
    body: async ({ background, newTask, withRegion }) => {
      const [ctx, task] = newTask(background, 'allocate');
      for (let i = 0; i < 6; i++) {
        await withRegion(ctx, 'garbage', async () => {
          let keep = [];
          for (let j = 0; j < 200_000; j++) keep.push({ j });
          keep = null;
          await new Promise((resolve) => setTimeout(resolve, 8));
        });
      }
      task.end();
    },
  },
  // Scheduling events (format version 5): Run events of tasks waiting on timers and promises, and a busy stretch.
  scheduling: {
    options: { scheduling: true },
    body: async ({ background, newTask, withRegion }) => {
      await Promise.all(
        [3, 1, 2].map(async (ms) => {
          const [ctx, task] = newTask(background, `wait ${ms}`);
          await withRegion(ctx, 'wait', () => new Promise((resolve) => setTimeout(resolve, ms)));
          const end = performance.now() + ms;
          while (performance.now() < end);
          await tick();
          task.end();
        }),
      );
    },
  },
};

/** A writer that takes its time, with a tiny buffer bound: the runtime drops events and says so. */
async function recordDropped(api, path) {
  const chunks = [];
  const slow = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(chunk);
      setTimeout(callback, 2);
    },
  });
  api.start(slow, { gc: false, heap: false, eventLoop: false, maxBufferedBytes: 4096, sampleInterval: 1 });
  const [ctx, task] = api.newTask(api.background, 'flood');
  for (let round = 0; round < 7; round++) {
    for (let i = 0; i < 400; i++) api.withRegion(ctx, 'r', () => api.log(ctx, 'c', `m${i}`));
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
  task.end();
  await api.stop();
  writeFileSync(path, Buffer.concat(chunks));
}

/** Hand-built traces: what the runtime does not write but a valid file may hold. */
function builtTraces() {
  const loc = { file: '/app/main.ts', line: 12, column: 5, fn: 'brew' };
  const ev = (type, dt, flow, task, ...args) => ({ type, dt, flow, task, args });
  return {
    // Every event type, SAME_FLOW / SAME_TASK runs, locations, ids near 2^53.
    allTypes: encodeTrace({
      header: { pid: 7 },
      batches: [
        {
          baseTs: 1000,
          events: [
            ev(TYPE.FlowStart, 0, 2, undefined, 1),
            ev(TYPE.TaskCreate, 5, 2, 0, 1, { s: 'task' }, { loc }),
            ev(TYPE.RegionStart, 5, undefined, 1, { s: 'r' }, { loc }),
            ev(TYPE.Log, 1, undefined, undefined, { s: 'cat' }, { loc: null }, { inline: 'hello' }),
            ev(TYPE.GC, 3, undefined, undefined, 2, 10, 4),
            ev(TYPE.Heap, 1, undefined, undefined, 123456),
            ev(TYPE.EventLoop, 1, undefined, undefined, 500000, 1000000),
            ev(TYPE.Dropped, 1, undefined, undefined, 3),
            ev(TYPE.Misuse, 1, undefined, undefined, 2, { s: 'r' }, { loc }, 1),
            ev(TYPE.RegionEnd, 2, undefined, undefined, { s: 'r' }),
            ev(TYPE.TaskEnd, 1, undefined, 1, { loc }),
          ],
        },
        {
          baseTs: 2 ** 40,
          events: [
            ev(TYPE.TaskCreate, 0, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, { s: 'huge' }, { loc: null }),
            ev(TYPE.RegionStart, 0, undefined, undefined, { s: 'huge' }, { loc: null }),
            ev(TYPE.TaskEnd, 2 ** 30, undefined, undefined, { loc: null }),
          ],
        },
      ],
      footer: { events: 14, dropped: 3, endTs: 2 ** 41 },
    }),
    // A header and footer only.
    empty: encodeTrace({ header: {}, batches: [], footer: { events: 0, dropped: 0, endTs: 0 } }),
    // Region ends without starts, starts without ends, a task ended before it was created.
    unpaired: encodeTrace({
      header: {},
      batches: [
        {
          baseTs: 0,
          events: [
            ev(TYPE.RegionEnd, 1, 1, undefined, { s: 'orphan' }),
            ev(TYPE.TaskEnd, 1, 1, 5, { loc: null }),
            ev(TYPE.TaskCreate, 1, 1, 0, 5, { s: 'late' }, { loc: null }),
            ev(TYPE.RegionStart, 0, 3, 5, { s: 'open' }, { loc: null }),
            ev(TYPE.RegionStart, 0, 3, 5, { s: 'open' }, { loc: null }),
            ev(TYPE.Misuse, 0, 3, undefined, 3, { s: 'open' }, { loc: null }, 0),
            ev(TYPE.Misuse, 0, 3, undefined, 2, { s: 'open' }, { loc: null }, 7),
          ],
        },
      ],
      footer: null,
    }),
  };
}

/** The corpus kept in the repository (fuzz/corpus/*.seed): the same bytes on every machine, so a seed and a case index reproduce a case. */
export const CORPUS_DIR = fileURLToPath(new URL('corpus/', import.meta.url));

/**
 * The corpus in `dir`: `[{ name, bytes }]`, in name order. When the folder has none (or `rewrite`), the
 * traces are first recorded with the runtime of the package (`import('tstrace')`) and written there.
 */
export async function buildCorpus(dir = CORPUS_DIR, { rewrite = false } = {}) {
  mkdirSync(dir, { recursive: true });
  const existing = readdirSync(dir).filter((f) => f.endsWith('.seed'));
  if (rewrite) for (const f of existing) rmSync(join(dir, f));
  if (rewrite || existing.length === 0) {
    const api = await import('tstrace');
    for (const [name, { body, options }] of Object.entries(realTraces)) await record(api, join(dir, `${name}.seed`), body, options);
    await recordDropped(api, join(dir, 'dropped.seed'));
    for (const [name, bytes] of Object.entries(builtTraces())) writeFileSync(join(dir, `built-${name}.seed`), bytes);
  }
  return loadCorpus(dir);
}

export function loadCorpus(dir = CORPUS_DIR) {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.seed'))
    .sort()
    .map((f) => ({ name: f.replace(/\.seed$/, ''), bytes: readFileSync(join(dir, f)) }));
}
