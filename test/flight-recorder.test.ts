/**
 * The flight recorder (Go 1.25's FlightRecorder): the last `minAge` of events kept in at most
 * `maxBytes`, written out as a complete trace when a request is too slow — specified on the shapes
 * users write: a node:http server with a task per request and regions across awaits.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { writeWorkerProgram } from './helpers/worker-program.js';
import { analyzeTrace, type TaskInfo, type TraceAnalysis } from '../reader/index.js';
import { background, FlightRecorder, isEnabled, log, newTask, start, startRegion, stop, withRegion, type Context } from '../runtime/index.js';
import { traceHandler } from '../runtime/http.js';
import { sleep, tempTracePath } from './helpers/trace.js';

const quiet = { gc: false, heap: false, eventLoop: false } as const;
const MS = 1e6;

function tasksOf(analysis: TraceAnalysis): TaskInfo[] {
  return analysis.tasks.toArray();
}

/** A Writable that keeps what it is given, slowly when asked (to see writes one after another). */
function collector(delayMs = 0): { stream: Writable; bytes(): Uint8Array; first: number; last: number } {
  const chunks: Buffer[] = [];
  const state = {
    first: Infinity,
    last: 0,
    stream: new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, callback) {
        state.first = Math.min(state.first, performance.now());
        chunks.push(chunk);
        setTimeout(() => {
          state.last = performance.now();
          callback();
        }, delayMs);
      },
    }),
    bytes: () => Buffer.concat(chunks),
  };
  return state;
}

/** Work a request handler awaits, in a region of its own. */
async function query(ctx: Context, ms: number): Promise<void> {
  const region = startRegion(ctx, 'db');
  await sleep(ms);
  region.end();
}

const recorders: FlightRecorder[] = [];
afterEach(async () => {
  for (const recorder of recorders.splice(0)) await recorder.stop();
  await stop();
});

function recorder(options: ConstructorParameters<typeof FlightRecorder>[0]): FlightRecorder {
  const made = new FlightRecorder({ ...quiet, ...options });
  recorders.push(made);
  return made;
}

describe('a service snapshots the last seconds when a request exceeds its latency budget', () => {
  it('keeps minAge within maxBytes; the snapshot reads complete, with typed tasks, marks for what began before, and the slow request', async () => {
    const minAge = 1000;
    const maxBytes = 4 << 20;
    const budgetMs = 150;
    const flight = recorder({ minAge, maxBytes, sampleInterval: 20 });
    flight.start();
    // A long-lived task and region: open across every window, so every snapshot carries them.
    const [serverCtx, serverTask] = newTask(background, 'server');
    const serving = startRegion(serverCtx, 'serve');

    const snapshots: { path: string; task: number; written: Promise<number> }[] = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const began = performance.now();
      const [ctx, task] = newTask(serverCtx, 'request');
      const handle = startRegion(ctx, 'handle');
      const slow = req.url === '/slow';
      void (async () => {
        await query(ctx, slow ? 300 : 5 + (task.id % 7));
        await query(ctx, 2);
        handle.end();
        task.end();
        res.end('ok');
        // Only the slow request's: on a loaded machine an ordinary one may overrun the budget before minAge has passed.
        if (slow && performance.now() - began > budgetMs && snapshots.length === 0) {
          const path = tempTracePath('flight.out');
          snapshots.push({ path, task: task.id, written: flight.writeTo(path) });
        }
      })();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    // Steady traffic from 6 clients for 2.5 s, sampling the ring's bytes; then one slow request.
    let maxBuffered = 0;
    const until = performance.now() + 2500;
    const client = async (): Promise<void> => {
      while (performance.now() < until) {
        await (await fetch(`${url}/`)).text();
        maxBuffered = Math.max(maxBuffered, flight.bufferedBytes);
      }
    };
    await Promise.all([client(), client(), client(), client(), client(), client()]);
    // Requests in flight while the slow one is snapshotted: their tasks began before some window.
    const concurrent = [fetch(`${url}/`), fetch(`${url}/`)];
    await (await fetch(`${url}/slow`)).text();
    await Promise.all(concurrent.map(async (r) => (await r).text()));
    server.close();

    expect(snapshots).toHaveLength(1);
    const bytes = await snapshots[0].written;
    expect(bytes).toBeGreaterThan(0);
    expect(maxBuffered, 'the ring stays within maxBytes').toBeLessThanOrEqual(maxBytes);
    expect(maxBuffered).toBeGreaterThan(0);

    const analysis = await analyzeTrace(snapshots[0].path);
    expect(analysis.status.complete).toBe(true);
    expect(analysis.problems).toEqual([]);
    expect(analysis.summary.duration, 'the snapshot covers at least minAge').toBeGreaterThanOrEqual(minAge * MS);
    expect(analysis.summary.duration).toBeLessThan(minAge * MS + 1000 * MS);
    const tasks = tasksOf(analysis);
    expect(tasks.every((t) => t.type !== ''), 'every task has its type').toBe(true);

    const server_ = tasks.find((t) => t.id === serverTask.id)!;
    expect(server_).toMatchObject({ type: 'server', parent: 0, created: false, ended: false, complete: false });
    expect(server_.beganBefore!).toBeGreaterThan(1000 * MS);
    const serve = analysis.regions.toArray().find((r) => r.type === 'serve')!;
    expect(serve.beganBefore!).toBeGreaterThan(1000 * MS);
    expect(serve.complete).toBe(false);
    // Requests' regions nest in it, whether they began before the window or in it.
    const handles = analysis.regions.toArray().filter((r) => r.type === 'handle');
    expect(handles.length).toBeGreaterThan(10);
    expect(handles.every((r) => r.parent === serve.id)).toBe(true);
    // Tasks and regions begun before and still open at the window's start: marked, with their types.
    const carried = tasks.filter((t) => t.beganBefore !== null);
    expect(carried.length).toBeGreaterThanOrEqual(1);
    expect(carried.every((t) => t.type === 'server' || (t.type === 'request' && t.parent === serverTask.id))).toBe(true);

    const slow = tasks.find((t) => t.id === snapshots[0].task)!;
    expect(slow).toMatchObject({ type: 'request', complete: true, beganBefore: null, parent: serverTask.id });
    expect(slow.latency).toBeGreaterThanOrEqual(300 * MS);
    const slowRegions = slow.regions.map((id) => analysis.regions.at(id - 1));
    expect(slowRegions.map((r) => [r.type, r.complete])).toEqual([
      ['handle', true],
      ['db', true],
      ['db', true],
    ]);
    expect(slowRegions[1].parent).toBe(slowRegions[0].id);

    serving.end();
    serverTask.end();
  }, 20_000);

  it('a service that logs each request: batches with logs leave the ring, the program goes on, the snapshot holds the window’s logs', async () => {
    // A short window: the batches of the first requests leave the ring while the service runs.
    const flight = recorder({ minAge: 100, sampleInterval: 10 });
    flight.start();
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const [ctx, task] = newTask(background, 'request');
      log(ctx, 'url', `${req.url} for task ${task.id}`);
      void withRegion(ctx, 'handle', async () => {
        await query(ctx, 1 + (task.id % 3));
        log(ctx, 'status', `200 for task ${task.id}`);
      }).then(() => {
        task.end();
        res.end('ok');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const until = performance.now() + 800;
    const client = async (n: number): Promise<void> => {
      for (let i = 0; performance.now() < until; i++) await (await fetch(`${url}/c${n}/${i}`)).text();
    };
    await Promise.all([client(1), client(2), client(3), client(4)]);
    const out = collector();
    await flight.writeTo(out.stream);
    server.close();

    const analysis = await analyzeTrace(out.bytes());
    expect(analysis.status.complete).toBe(true);
    expect(analysis.problems).toEqual([]);
    expect(analysis.summary.duration).toBeLessThan(800 * MS);
    const logs = analysis.logs.toArray();
    expect(logs.length).toBeGreaterThan(10);
    // Each log read back whole, in its own task.
    for (const entry of logs) expect(entry.message).toMatch(new RegExp(`^(?:/c\\d/\\d+|200) for task ${entry.task}$`));
  }, 20_000);

  it('maxBytes wins over minAge: the window is shorter, the ring never holds more', async () => {
    const maxBytes = 200_000;
    const flight = recorder({ minAge: 60_000, maxBytes, sampleInterval: 10 });
    flight.start();
    const [ctx] = newTask(background, 'busy');
    let maxBuffered = 0;
    const until = performance.now() + 1500;
    while (performance.now() < until) {
      for (let i = 0; i < 2000; i++) startRegion(ctx, 'x').end();
      await new Promise((resolve) => setImmediate(resolve));
      maxBuffered = Math.max(maxBuffered, flight.bufferedBytes);
    }
    expect(maxBuffered).toBeLessThanOrEqual(maxBytes);
    const out = collector();
    const written = await flight.writeTo(out.stream);
    expect(written).toBe(out.bytes().length);
    const analysis = await analyzeTrace(out.bytes());
    expect(analysis.status.complete).toBe(true);
    expect(analysis.problems).toEqual([]);
    expect(analysis.summary.duration).toBeLessThan(1500 * MS);
    expect(analysis.summary.regions).toBeGreaterThan(1000);
    expect(tasksOf(analysis)).toMatchObject([{ type: 'busy', beganBefore: expect.any(Number) }]);
  }, 20_000);
});

describe('a flight recorder beside a trace written with start()', () => {
  it('both traces read right, and stopping the trace leaves the recorder running', async () => {
    const flight = recorder({ minAge: 5000 });
    flight.start();
    const [ctx, early] = newTask(background, 'early');
    const before = startRegion(ctx, 'before');
    await sleep(5);
    const path = tempTracePath();
    start(path, quiet);
    expect(() => start(tempTracePath(), quiet)).toThrow('tracing is already enabled');
    const [ctx2, during] = newTask(ctx, 'during');
    const inner = startRegion(ctx2, 'inner');
    await sleep(5);
    inner.end();
    before.end(); // began before the trace: not in it (as Go leaves out a region begun before its trace)
    during.end();
    await stop();
    expect(flight.enabled).toBe(true);
    expect(isEnabled()).toBe(true);
    const after = startRegion(ctx, 'after');
    after.end();
    early.end();

    const trace = await analyzeTrace(path);
    expect(trace.status.complete).toBe(true);
    expect(trace.problems).toEqual([]);
    expect(trace.regions.toArray().map((r) => r.type)).toEqual(['inner']);
    expect(tasksOf(trace).map((t) => [t.type, t.complete])).toEqual([
      ['', false], // early: ended in the trace, created before it
      ['during', true],
    ]);

    const out = collector();
    await flight.writeTo(out.stream);
    const window = await analyzeTrace(out.bytes());
    expect(window.status.complete).toBe(true);
    expect(window.problems).toEqual([]);
    expect(window.regions.toArray().map((r) => [r.type, r.complete])).toEqual([
      ['before', true],
      ['inner', true],
      ['after', true],
    ]);
    expect(tasksOf(window).map((t) => [t.type, t.complete])).toEqual([
      ['early', true],
      ['during', true],
    ]);
    await flight.stop();
    expect(isEnabled()).toBe(false);
  });

  it('a recorder started and stopped during a trace does not disturb it', async () => {
    const path = tempTracePath();
    start(path, quiet);
    const [ctx, task] = newTask(background, 'request');
    const outer = startRegion(ctx, 'outer');
    const flight = recorder({ minAge: 5000 });
    flight.start();
    const inner = startRegion(ctx, 'inner');
    inner.end();
    const out = collector();
    await flight.writeTo(out.stream);
    await flight.stop();
    expect(isEnabled()).toBe(true);
    startRegion(ctx, 'later').end();
    outer.end();
    task.end();
    await stop();

    const trace = await analyzeTrace(path);
    expect(trace.status.complete).toBe(true);
    expect(trace.problems).toEqual([]);
    expect(trace.regions.toArray().map((r) => [r.type, r.parent])).toEqual([
      ['outer', null],
      ['inner', 1],
      ['later', 1],
    ]);
    const window = await analyzeTrace(out.bytes());
    expect(window.status.complete).toBe(true);
    expect(window.problems).toEqual([]);
    expect(window.regions.toArray().map((r) => r.type)).toEqual(['inner']);
  });
});

describe('misuse', () => {
  it('two recorders at once: the second start() throws, as in Go', async () => {
    const first = recorder({});
    first.start();
    expect(() => first.start()).toThrow('this flight recorder is already running');
    const second = recorder({});
    expect(() => second.start()).toThrow('another flight recorder is already running');
    await first.stop();
    second.start();
    expect(second.enabled).toBe(true);
  });

  it('writeTo rejects when the recorder is not running, and bad options throw', async () => {
    const flight = recorder({});
    await expect(flight.writeTo(collector().stream)).rejects.toThrow('not running');
    flight.start();
    await flight.stop();
    await expect(flight.writeTo(collector().stream)).rejects.toThrow('not running');
    expect(() => new FlightRecorder({ minAge: 0 })).toThrow(RangeError);
    expect(() => new FlightRecorder({ maxBytes: -1 })).toThrow(RangeError);
  });

  it('concurrent writeTo calls are written one after another, each a complete snapshot of its moment', async () => {
    const flight = recorder({ minAge: 5000 });
    flight.start();
    const [ctx] = newTask(background, 'work');
    const outs = [collector(5), collector(5), collector(5)];
    const written: Promise<number>[] = [];
    for (const [i, out] of outs.entries()) {
      startRegion(ctx, `step ${i}`).end();
      written.push(flight.writeTo(out.stream));
    }
    const stopped = flight.stop(); // waits for the writes in progress
    const sizes = await Promise.all(written);
    await stopped;
    for (const [i, out] of outs.entries()) {
      expect(sizes[i]).toBe(out.bytes().length);
      const analysis = await analyzeTrace(out.bytes());
      expect(analysis.status.complete).toBe(true);
      expect(analysis.regions.toArray().map((r) => r.type)).toEqual(Array.from({ length: i + 1 }, (_, k) => `step ${k}`));
    }
    expect(outs[1].first).toBeGreaterThanOrEqual(outs[0].last);
    expect(outs[2].first).toBeGreaterThanOrEqual(outs[1].last);
  });
});

describe('the trace endpoint and a flight recorder', () => {
  it('GET …/flight sends the window (409 without a recorder); …/trace?seconds=N still traces beside it', async () => {
    const handler = traceHandler({ startOptions: quiet });
    const server = createServer((req, res) => void handler(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/debug/tstrace`;
    try {
      const none = await fetch(`${base}/flight`);
      expect([none.status, await none.text()]).toEqual([409, expect.stringContaining('no flight recorder is running')]);

      const flight = recorder({ minAge: 5000 });
      flight.start();
      const [ctx, task] = newTask(background, 'served');
      const region = startRegion(ctx, 'open');
      await sleep(5);
      const window = await fetch(`${base}/flight`);
      expect(window.status).toBe(200);
      expect(window.headers.get('content-disposition')).toMatch(/^attachment; filename="tstrace-\d+-\d{8}T\d{6}Z\.out"$/);
      const analysis = await analyzeTrace(new Uint8Array(await window.arrayBuffer()));
      expect(analysis.status.complete).toBe(true);
      expect(analysis.regions.toArray()).toMatchObject([{ type: 'open', complete: false }]);

      const download = fetch(`${base}/trace?seconds=0.3`);
      await sleep(50);
      region.end();
      task.end();
      const traced = await download;
      expect(traced.status).toBe(200);
      const trace = await analyzeTrace(new Uint8Array(await traced.arrayBuffer()));
      expect(trace.status.complete).toBe(true);
      expect(trace.problems).toEqual([]);
      expect(tasksOf(trace).map((t) => [t.id, t.ended])).toEqual([[task.id, true]]);
      expect(flight.enabled, 'the download stopped its trace, not the recorder').toBe(true);
    } finally {
      server.close();
    }
  });
});

describe('a flight recorder in a program with worker threads (a real program: 3 workers doing parts of each job)', () => {
  const cli = join(import.meta.dirname, '..', 'dist/esm/cli/cli.js');
  // Each job is a task of the main thread with a region there and a part on every worker; a task
  // "long", created first, has a region "held" open on worker 1 all along. Jobs run for 1.5 s, five
  // times the recorder's minAge, then the window is written.
  const main = `
import { Worker } from 'node:worker_threads';
import { FlightRecorder, background, linkOf, newTask, withRegion } from RUNTIME;
const recorder = new FlightRecorder({ minAge: 300, maxBytes: 4 << 20, gc: false, heap: false, eventLoop: false, sampleInterval: 20 });
recorder.start();
const workers = [1, 2, 3].map(() => new Worker(new URL('./worker.mjs', import.meta.url)));
const ask = (worker, message) => new Promise((resolve) => { worker.once('message', resolve); worker.postMessage(message); });
const [longCtx] = newTask(background, 'long');
await ask(workers[0], { kind: 'hold', link: linkOf(longCtx) });
let jobs = 0;
for (const end = performance.now() + 1500; performance.now() < end; ) {
  const [ctx, task] = newTask(background, 'job');
  await withRegion(ctx, 'scatter', () => Promise.all(workers.map((worker, i) => ask(worker, { kind: 'part', link: linkOf(ctx), i }))));
  task.end();
  jobs++;
}
await recorder.writeTo(process.argv[2]); // the workers send what they recorded until now first
await recorder.stop();
const threads = workers.map((worker) => worker.threadId);
await Promise.all(workers.map((worker) => worker.terminate()));
console.log(JSON.stringify({ jobs, threads }));
`;
  const worker = `
import { parentPort } from 'node:worker_threads';
import { contextFrom, startRegion, withRegion } from RUNTIME;
parentPort.on('message', ({ kind, link, i }) => {
  const ctx = contextFrom(link);
  if (kind === 'hold') startRegion(ctx, 'held'); // never ended
  else withRegion(ctx, 'part', () => { let h = i; for (let n = 0; n < 20000; n++) h = (h * 31 + n) % 1000003; });
  parentPort.postMessage('done');
});
`;

  it('the snapshot holds every thread (Thread frames), regions from every thread, and what was open on a worker before the window', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tstrace-flight-workers-'));
    try {
      writeWorkerProgram(dir, main, worker);
      const snapshot = join(dir, 'snapshot.trace');
      const run = await execNode([join(dir, 'main.mjs'), snapshot], dir);
      expect(run.code, run.stderr).toBe(0);
      const { jobs, threads } = JSON.parse(run.stdout) as { jobs: number; threads: number[] };

      const tasksRun = await execNode([cli, 'tasks', snapshot, '--json'], dir);
      expect(tasksRun.code, tasksRun.stderr).toBe(0);
      const doc = JSON.parse(tasksRun.stdout) as {
        status: { complete: boolean; problem: unknown };
        threads: { id: number; name: string }[];
        tasks: { id: number; type: string; beganBefore: number | null; created: boolean; complete: boolean; threads: number[]; events: { kind: string; thread: number; type?: string }[] }[];
      };
      expect(doc.status).toMatchObject({ complete: true, problem: null });
      expect(doc.threads.map((t) => [t.id, t.name]).sort()).toEqual(threads.map((id) => [id, `worker ${id}`]).sort());

      // A window: the first jobs were evicted, the last ones are there, with a part on every worker.
      const jobTasks = doc.tasks.filter((t) => t.type === 'job');
      expect(jobTasks.length).toBeGreaterThan(0);
      expect(jobTasks.length).toBeLessThan(jobs);
      const everyThread = [0, ...threads].sort((a, b) => a - b);
      // Every job created in the window has its part from every worker, the last ones too (writeTo
      // waits for the workers' latest batches).
      const whole = jobTasks.filter((t) => t.created);
      expect(whole.length).toBeGreaterThan(0);
      for (const task of whole) {
        expect(task.complete).toBe(true);
        expect(task.threads).toEqual(everyThread);
        const starts = task.events.filter((e) => e.kind === 'regionStart');
        expect(starts.filter((e) => e.thread === 0).map((e) => e.type)).toEqual(['scatter']);
        expect(starts.filter((e) => e.thread !== 0).map((e) => e.thread).sort((a, b) => a - b)).toEqual(threads.slice().sort((a, b) => a - b));
      }

      // The long task began before the window, and so did its region, open on the first worker.
      const long = doc.tasks.find((t) => t.type === 'long')!;
      expect(long.beganBefore).toBeGreaterThan(0);
      const regionsRun = await execNode([cli, 'regions', snapshot, '--json'], dir);
      const regions = (JSON.parse(regionsRun.stdout) as { regions: { type: string; task: number; thread: number; beganBefore: number | null; complete: boolean }[] }).regions;
      expect(regions.filter((r) => r.type === 'held')).toEqual([expect.objectContaining({ task: long.id, thread: threads[0], complete: false })]);
      expect(regions.find((r) => r.type === 'held')!.beganBefore).toBeGreaterThan(0);
      expect(new Set(regions.map((r) => r.thread))).toEqual(new Set(everyThread));

      // No problem: nothing in the window is a lost start or an end without a start.
      const analysis = await analyzeTrace(snapshot);
      expect(analysis.problems).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('a flight recorder and a trace written with start(), in a program with worker threads', () => {
  // Jobs of a task on the main thread with a part on each of 2 workers. A: the recorder runs, a trace
  // starts and stops beside it, the recorder goes on. B: a trace runs, a recorder starts and goes on
  // after the trace stops. The workers record for both, each in an encoding of its own.
  const main = `
import { Worker } from 'node:worker_threads';
import { FlightRecorder, background, linkOf, newTask, start, stop, withRegion } from RUNTIME;
const [out] = process.argv.slice(2);
const quiet = { gc: false, heap: false, eventLoop: false };
const workers = [1, 2].map(() => new Worker(new URL('./worker.mjs', import.meta.url)));
const ask = (worker, message) => new Promise((resolve) => { worker.once('message', resolve); worker.postMessage(message); });
async function jobs(n, type) {
  for (let j = 0; j < n; j++) {
    const [ctx, task] = newTask(background, type);
    await withRegion(ctx, 'scatter', () => Promise.all(workers.map((worker, i) => ask(worker, { link: linkOf(ctx), i }))));
    task.end();
  }
}
const a = new FlightRecorder(quiet);
a.start();
await jobs(3, 'a-before');
start(out + '.a.trace', quiet);
await jobs(3, 'a-during');
await stop();
await jobs(3, 'a-after');
await a.writeTo(out + '.a.flight');
await a.stop();

start(out + '.b.trace', quiet);
await jobs(3, 'b-before');
const b = new FlightRecorder(quiet);
b.start();
await jobs(3, 'b-during');
await stop();
await jobs(3, 'b-after');
await b.writeTo(out + '.b.flight');
await b.stop();
console.log(JSON.stringify(workers.map((worker) => worker.threadId)));
await Promise.all(workers.map((worker) => worker.terminate()));
`;
  const worker = `
import { parentPort } from 'node:worker_threads';
import { contextFrom, withRegion } from RUNTIME;
parentPort.on('message', ({ link, i }) => {
  withRegion(contextFrom(link), 'part', () => { let h = i; for (let n = 0; n < 20000; n++) h = (h * 31 + n) % 1000003; });
  parentPort.postMessage('done');
});
`;

  /** Writes main.mjs and worker.mjs into a folder of their own, runs main.mjs with `out` there, then `check`s. */
  async function runProgram(name: string, mainCode: string, workerCode: string, check: (dir: string, stdout: string) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), `tstrace-flight-${name}-`));
    try {
      writeWorkerProgram(dir, mainCode, workerCode);
      const run = await execNode([join(dir, 'main.mjs'), join(dir, 'out')], dir);
      expect(run.code, run.stderr).toBe(0);
      await check(dir, run.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('the workers record for both: each has their parts of every job it covers, on its own clock, readable', async () => {
    await runProgram('beside', main, worker, async (dir, stdout) => {
      const threads = (JSON.parse(stdout) as number[]).sort((x, y) => x - y);
      const expected: Record<string, { types: string[]; workers: boolean }> = {
        'a.trace': { types: ['a-during'], workers: true },
        'a.flight': { types: ['a-before', 'a-during', 'a-after'], workers: true },
        'b.trace': { types: ['b-before', 'b-during'], workers: true },
        'b.flight': { types: ['b-during', 'b-after'], workers: true },
      };
      for (const [name, { types, workers }] of Object.entries(expected)) {
        const analysis = await analyzeTrace(join(dir, `out.${name}`));
        expect(analysis.status.complete, name).toBe(true);
        expect(analysis.problems, name).toEqual([]);
        expect((analysis.status.threads ?? []).map((t) => t.id).sort((x, y) => x - y), name).toEqual(workers ? threads : []);
        const tasks = tasksOf(analysis);
        expect(tasks.map((t) => t.type), name).toEqual(types.flatMap((type) => [type, type, type]));
        for (const task of tasks) {
          expect(task.complete, `${name} ${task.type}`).toBe(true);
          expect(task.threads, `${name} ${task.type}`).toEqual(workers ? [0, ...threads] : [0]);
          // On the trace's clock: the workers' parts lie within their job.
          for (const id of task.regions) {
            const region = analysis.regions.at(id - 1)!;
            expect(region.start, `${name} ${task.type} ${region.type}`).toBeGreaterThanOrEqual(task.start);
            expect(region.end, `${name} ${task.type} ${region.type}`).toBeLessThanOrEqual(task.end);
          }
        }
      }
    });
  }, 60_000);

  // A flight recorder's stop() does not wait for the workers: one that is busy then joins the next trace
  // through a job's link while still in the recorder's session, with the flows it had there. Another
  // worker, which heard of the stop and the start, began afresh. Their regions must stay on their threads.
  const held = `
import { Worker } from 'node:worker_threads';
import { FlightRecorder, background, linkOf, newTask, start, stop } from RUNTIME;
const [out] = process.argv.slice(2);
const quiet = { gc: false, heap: false, eventLoop: false };
const [first, second] = [1, 2].map(() => new Worker(new URL('./worker.mjs', import.meta.url)));
const ask = (worker, message) => new Promise((resolve) => { worker.once('message', resolve); worker.postMessage(message); });
const recorder = new FlightRecorder(quiet);
recorder.start();
const [before, beforeTask] = newTask(background, 'before');
await ask(first, { link: linkOf(before), i: 0 });
await ask(second, { link: linkOf(before), i: 1 });
beforeTask.end();
const gate = new Int32Array(new SharedArrayBuffer(4));
await ask(first, { gate });
await recorder.stop();
start(out, quiet);
const [during, duringTask] = newTask(background, 'during');
await ask(second, { link: linkOf(during), i: 1 });
const part = ask(first, { link: linkOf(during), i: 0 });
Atomics.store(gate, 0, 1);
Atomics.notify(gate, 0);
await part;
duringTask.end();
await stop();
console.log(JSON.stringify([first.threadId, second.threadId]));
await Promise.all([first.terminate(), second.terminate()]);
`;
  const heldWorker = `
import { parentPort } from 'node:worker_threads';
import { contextFrom, withRegion } from RUNTIME;
parentPort.on('message', ({ link, i, gate }) => {
  if (gate) {
    parentPort.postMessage('held');
    Atomics.wait(gate, 0, 0); // busy until the main thread has stopped the recorder and started a trace
    return;
  }
  withRegion(contextFrom(link), 'part', () => {});
  parentPort.postMessage('done');
});
`;

  it('a worker still in a stopped recorder joins the next trace with its own flows: its regions stay on its thread', async () => {
    await runProgram('held', held, heldWorker, async (dir, stdout) => {
      const [first, second] = JSON.parse(stdout) as number[];
      const analysis = await analyzeTrace(join(dir, 'out'));
      expect(analysis.problems).toEqual([]);
      const [task] = tasksOf(analysis);
      expect(task.type).toBe('during');
      const parts = task.regions.map((id) => analysis.regions.at(id - 1)!).filter((r) => r.type === 'part');
      expect(parts.map((r) => r.thread).sort((x, y) => x - y)).toEqual([first, second].sort((x, y) => x - y));
      // Each worker's flows are its own in the trace.
      expect(new Set(parts.map((r) => r.flow)).size).toBe(2);
    });
  }, 60_000);
});

/** Runs `node args` in `cwd`. */
function execNode(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
