// Worker threads in one trace (issue 12): real programs with `worker_threads`, run as processes of their
// own. Their workers import tstrace and nothing else; parts of the main thread's tasks travel to them as
// links (`linkOf(ctx)` → postMessage → `contextFrom(link)`).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { TraceAnalysis } from '../analysis/analysis-types.js';
import { analyzeTrace } from '../analysis/analysis.js';
import { loadTrace } from '../analysis/reader.js';
import { exportChrome } from '../export/export-chrome.js';
import { exportPerfetto } from '../export/export-perfetto.js';
import { decodePerfetto } from './helpers/perfetto-decode.js';
import { samplePath } from './helpers/sample.js';
import { loadViewerModel, timelineJson } from '../viewer/model.js';
import { collector } from './helpers/collector.js';
import { lackingWorkerRegion } from './helpers/trace.js';
import { writeWorkerProgram } from './helpers/worker-program.js';
import { crc32 } from 'node:zlib';
import { BatchEncoder, encodeFileStart, encodeFooter, encodeThreadFrame } from '../format/encode.js';


const root = join(import.meta.dirname, '..');
const runtimeUrl = JSON.stringify(pathToFileURL(join(root, 'dist/esm/runtime/index.js')).href);
const cli = join(root, 'dist/esm/cli/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'tstrace-workers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function node(args: string[], cwd = dir): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Writes `main.mjs` and `worker.mjs` (with `RUNTIME` standing for the built runtime's URL) into a folder of their own; runs main.mjs. */
async function runProgram(name: string, main: string, worker: string): Promise<{ run: Run; trace: string; analysis: TraceAnalysis }>;
/** The same, for a program that writes traces of its own naming (`{ analyze: false }`: none is read here). */
async function runProgram(name: string, main: string, worker: string, options: { analyze: false }): Promise<{ run: Run; trace: string }>;
async function runProgram(name: string, main: string, worker: string, options?: { analyze: false }): Promise<{ run: Run; trace: string; analysis?: TraceAnalysis }> {
  const at = mkdtempSync(join(dir, `${name}-`));
  writeWorkerProgram(at, main, worker);
  const trace = join(at, 'trace.out');
  const run = await node([join(at, 'main.mjs'), trace], at);
  expect(run.code, run.stderr).toBe(0);
  return options === undefined ? { run, trace, analysis: await analyzeTrace(trace) } : { run, trace };
}

describe('samples/workers: 8 jobs, each split over a pool of 4 worker threads', () => {
  let trace: string;
  let analysis: TraceAnalysis;
  beforeAll(async () => {
    trace = join(dir, 'sample.trace');
    const run = await node([samplePath('workers', 'main.mjs'), trace], root);
    expect(run.code, run.stderr).toBe(0);
    analysis = await analyzeTrace(trace);
  }, 120_000);

  test('one complete trace, with the 4 workers named, and no problem', () => {
    expect(analysis.status.complete).toBe(true);
    expect(analysis.problems).toEqual([]);
    const threads = analysis.status.threads ?? [];
    expect(threads.map((t) => t.name).sort()).toEqual(threads.map((t) => `worker ${t.id}`).sort());
    expect(threads).toHaveLength(4);
  });

  test("every job lists its regions from the main thread and from every worker, each region in its own thread's flow", () => {
    const workers = (analysis.status.threads ?? []).map((t) => t.id).sort((a, b) => a - b);
    expect(analysis.tasks).toHaveLength(8);
    for (const task of analysis.tasks) {
      expect(task.complete).toBe(true);
      expect(task.threads).toEqual([0, ...workers]);
      const regions = task.regions.map((id) => analysis.regions.at(id - 1)!);
      expect(regions.filter((r) => r.thread === 0).map((r) => r.type).sort()).toEqual(['combine', 'scatter']);
      for (const worker of workers) {
        const mine = regions.filter((r) => r.thread === worker);
        expect(mine.map((r) => r.type).sort()).toEqual(['hash', 'part', 'verify']);
        const part = mine.find((r) => r.type === 'part')!;
        // Nested in the worker's own region, inside the job's lifetime.
        for (const r of mine.filter((r) => r !== part)) expect(r.parent).toBe(part.id);
        expect(part.start).toBeGreaterThanOrEqual(task.start);
        expect(part.end).toBeLessThanOrEqual(task.end);
      }
      expect(task.events.filter((e) => e.kind === 'log').map((e) => e.thread).sort()).toEqual(workers);
    }
    // A flow belongs to one thread.
    const threadOfFlow = new Map<number, number>();
    for (const r of analysis.regions) {
      expect(threadOfFlow.get(r.flow) ?? r.thread).toBe(r.thread);
      threadOfFlow.set(r.flow, r.thread);
    }
  });

  test('tstrace tasks --json shows each task with regions from every thread; the text names the threads', async () => {
    const json = await node([cli, 'tasks', trace, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as { threads: { id: number; name: string }[]; tasks: { threads: number[]; events: { kind: string; thread: number }[] }[] };
    expect(doc.threads).toHaveLength(4);
    for (const task of doc.tasks) {
      const starts = new Set(task.events.filter((e) => e.kind === 'regionStart').map((e) => e.thread));
      expect([...starts].sort()).toEqual([0, ...doc.threads.map((t) => t.id)].sort());
    }
    const text = await node([cli, 'tasks', trace]);
    expect(text.stdout).toMatch(/threads\s+main, worker \d+, worker \d+, worker \d+, worker \d+/);
    expect(text.stdout).toMatch(/\d+ \(worker \d+\)\s+region \d+ "part" start/);
    const stats = await node([cli, 'stats', trace]);
    expect(stats.stdout).toMatch(/Threads\s+main and 4 workers: worker \d+/);
  });

  test("the viewer's timeline groups the lanes by thread: the main thread's flows, then each worker's, named after it", async () => {
    const model = await loadViewerModel(trace, root);
    const workers = (analysis.status.threads ?? []).map((t) => t.id).sort((a, b) => a - b);
    const threadOf = (label: string): number => Number(/^worker (\d+) · /.exec(label)?.[1] ?? 0);
    for (const lanes of ['flow', 'packed']) {
      const timeline = timelineJson(model, new URLSearchParams({ px: '1000', from: '0', to: String(analysis.summary.duration), lanes }));
      const flowLanes = timeline.lanes.filter((lane) => lane.kind === 'flow');
      const threads = flowLanes.map((lane) => threadOf(lane.label));
      expect(threads, lanes).toEqual([...threads].sort((a, b) => a - b));
      expect([...new Set(threads)], lanes).toEqual([0, ...workers]);
      expect(flowLanes.filter((lane) => threadOf(lane.label) === 0).every((lane) => /^flows? \d+$/.test(lane.label)), lanes).toBe(true);
    }
    // A job's page shows its lanes on every thread.
    const task = analysis.tasks.at(0)!;
    const page = timelineJson(model, new URLSearchParams({ px: '1000', from: String(task.start), to: String(task.end), flows: task.flows.join(',') }));
    expect([...new Set(page.lanes.map((lane) => threadOf(lane.label)))].sort((a, b) => a - b)).toEqual([0, ...workers]);
  });

  test('the Perfetto export: one process, a thread track "worker N" per worker with its flows beneath, the parts on them', async () => {
    const perfetto = collector();
    const result = await exportPerfetto(trace, perfetto.out);
    expect(result.warnings).toEqual([]);
    const decoded = decodePerfetto(perfetto.bytes());
    expect(decoded.problems).toEqual([]);
    const tracks = [...decoded.tracks.values()];
    const processes = tracks.filter((t) => t.process);
    expect(processes).toHaveLength(1);
    const workers = (analysis.status.threads ?? []).map((t) => t.id);
    for (const id of workers) {
      const track = tracks.find((t) => t.thread?.name === `worker ${id}`);
      expect(track, `worker ${id}`).toBeDefined();
      expect(track!.parent).toBe(processes[0].uuid);
      expect(track!.thread!.pid).toBe(analysis.summary.pid);
      const flows = tracks.filter((t) => t.parent === track!.uuid);
      expect(flows.length).toBeGreaterThan(0);
      for (const flow of flows) expect(flow.name).toMatch(/^flow \d+$/);
      const uuids = new Set(flows.map((t) => t.uuid));
      const parts = decoded.events.filter((e) => e.type === 'begin' && e.name === 'part' && uuids.has(e.track));
      // Every job's part for this worker, with its job's task id.
      expect(parts.map((e) => Number(e.args.task)).sort((a, b) => a - b)).toEqual(analysis.tasks.toArray().map((t) => t.id));
    }
    // The main thread's flows stay thread tracks of their own, as in a trace without workers.
    const scatter = decoded.events.filter((e) => e.type === 'begin' && e.name === 'scatter');
    expect(scatter).toHaveLength(8);
    for (const e of scatter) expect(decoded.tracks.get(e.track)!.thread!.name).toMatch(/^flow \d+$/);

    const chrome = collector();
    await exportChrome(trace, chrome.out);
    const doc = JSON.parse(chrome.bytes().toString('utf8')) as { traceEvents: { ph: string; name: string; args?: { name?: string } }[] };
    const names = doc.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => e.args!.name!);
    for (const id of workers) expect(names.some((name) => name.startsWith(`worker ${id} · flow `))).toBe(true);
  });
});

const worker = `
import { parentPort } from 'node:worker_threads';
import { contextFrom, startRegion, withRegion } from RUNTIME;
const spin = (ms) => { const end = performance.now() + ms; while (performance.now() < end); };
parentPort.on('message', async ({ link, mode }) => {
  const ctx = contextFrom(link);
  withRegion(ctx, 'flushed', () => spin(5));
  if (mode === 'hang') {
    // Flushed by the 20 ms background flush, then the worker is terminated inside 'stuck', in the middle
    // of work never flushed: 'unflushed' is lost with it.
    startRegion(ctx, 'stuck');
    await new Promise((resolve) => setTimeout(resolve, 200));
    withRegion(ctx, 'unflushed', () => spin(1));
    parentPort.postMessage('busy');
    spin(60_000);
  } else if (mode === 'throw') {
    // No background flush before the throw (sampleInterval is long): the exit sends it all.
    withRegion(ctx, 'lastWords', () => spin(1));
    throw new Error('worker failed on purpose');
  } else {
    withRegion(ctx, 'fine', () => spin(1));
    parentPort.postMessage('done');
  }
});
`;

describe('workers that crash or are terminated', () => {
  test('a terminated worker keeps what it flushed; stop() waits for it no longer than threadFlushTimeout', async () => {
    const { run, analysis } = await runProgram(
      'terminated',
      `import { Worker } from 'node:worker_threads';
import { background, linkOf, newTask, start, stop } from RUNTIME;
start(process.argv[2], { sampleInterval: 20, threadFlushTimeout: 300 });
const [ctx, task] = newTask(background, 'job');
const w = new Worker(new URL('./worker.mjs', import.meta.url));
w.postMessage({ link: linkOf(ctx), mode: 'hang' });
await new Promise((resolve) => w.once('message', resolve));
await new Promise((resolve) => setTimeout(resolve, 100));
await w.terminate();
task.end();
const began = performance.now();
await stop();
console.log(JSON.stringify({ stopMs: performance.now() - began }));
`,
      worker,
    );
    expect(analysis.status.complete).toBe(true);
    expect(analysis.problems).toEqual([]);
    const [task] = analysis.tasks;
    const regions = task.regions.map((id) => analysis.regions.at(id - 1)!);
    expect(regions.find((r) => r.type === 'flushed')).toMatchObject({ complete: true, thread: analysis.status.threads![0].id });
    // Begun and flushed, never ended: an incomplete region, no problem.
    expect(regions.find((r) => r.type === 'stuck')).toMatchObject({ complete: false });
    expect(regions.map((r) => r.type)).toEqual(['flushed', 'stuck']);
    const { stopMs } = JSON.parse(run.stdout) as { stopMs: number };
    expect(stopMs).toBeGreaterThanOrEqual(250);
    expect(stopMs).toBeLessThan(3_000);
  });

  test('a worker that throws sends everything it recorded on its way out', async () => {
    const { analysis } = await runProgram(
      'thrown',
      `import { Worker } from 'node:worker_threads';
import { background, linkOf, newTask, start, stop } from RUNTIME;
start(process.argv[2], { sampleInterval: 60_000 });
const [ctx, task] = newTask(background, 'job');
const w = new Worker(new URL('./worker.mjs', import.meta.url));
w.postMessage({ link: linkOf(ctx), mode: 'throw' });
// Listened for at once: Node may emit 'error' and 'exit' in one go, as the worker's exit drains its port.
const exited = new Promise((resolve) => w.once('exit', resolve));
const error = await new Promise((resolve) => w.once('error', resolve));
if (!/on purpose/.test(error.message)) throw error;
await exited;
task.end();
await stop();
`,
      worker,
    );
    expect(analysis.status.complete).toBe(true);
    expect(analysis.problems).toEqual([]);
    const regions = analysis.tasks.at(0)!.regions.map((id) => analysis.regions.at(id - 1)!);
    expect(regions.map((r) => [r.type, r.complete, r.thread !== 0])).toEqual([
      ['flushed', true, true],
      ['lastWords', true, true],
    ]);
  });

  test('workers started before start() join when it runs, those started during it join at once; none after stop()', async () => {
    const { analysis } = await runProgram(
      'joining',
      `import { Worker } from 'node:worker_threads';
import { background, linkOf, newTask, start, stop } from RUNTIME;
const ask = (w, link) => { w.postMessage({ link, mode: 'fine' }); return new Promise((resolve) => w.once('message', resolve)); };
const early = new Worker(new URL('./worker.mjs', import.meta.url));
await new Promise((resolve) => early.once('online', resolve));
await new Promise((resolve) => setTimeout(resolve, 100));
start(process.argv[2]);
await new Promise((resolve) => setTimeout(resolve, 100));
const [ctx, task] = newTask(background, 'job');
const late = new Worker(new URL('./worker.mjs', import.meta.url));
await Promise.all([ask(early, linkOf(ctx)), ask(late, linkOf(ctx))]);
task.end();
await stop();
const after = new Worker(new URL('./worker.mjs', import.meta.url));
await ask(after, linkOf(ctx));
await Promise.all([early, late, after].map((w) => w.terminate()));
`,
      worker,
    );
    expect(analysis.status.complete).toBe(true);
    expect(analysis.problems).toEqual([]);
    expect(analysis.status.threads).toHaveLength(2);
    const task = analysis.tasks.at(0)!;
    expect(task.threads).toEqual([0, ...analysis.status.threads!.map((t) => t.id).sort((a, b) => a - b)]);
    expect(analysis.regions.toArray().filter((r) => r.type === 'fine')).toHaveLength(2);
  });
});

test('a worker that lives on joins every trace the main thread starts, with flow ids that never meet the main thread\'s', async () => {
  const at = mkdtempSync(join(dir, 'twice-'));
  writeFileSync(join(at, 'worker.mjs'), worker.replaceAll('RUNTIME', runtimeUrl));
  writeFileSync(
    join(at, 'main.mjs'),
    `import { Worker } from 'node:worker_threads';
import { background, linkOf, newTask, start, stop, withRegion } from ${runtimeUrl};
const w = new Worker(new URL('./worker.mjs', import.meta.url));
for (const file of process.argv.slice(2)) {
  start(file);
  const [ctx, task] = newTask(background, 'job');
  // Main-thread flows of their own: concurrent async regions get lanes of their own.
  await Promise.all([1, 2, 3].map(() => withRegion(ctx, 'mine', async () => new Promise((resolve) => setTimeout(resolve, 5)))));
  w.postMessage({ link: linkOf(ctx), mode: 'fine' });
  await new Promise((resolve) => w.once('message', resolve));
  task.end();
  await stop();
}
await w.terminate();
`,
  );
  const files = [join(at, 'a.trace'), join(at, 'b.trace')];
  const run = await node([join(at, 'main.mjs'), ...files], at);
  expect(run.code, run.stderr).toBe(0);
  for (const file of files) {
    const analysis = await analyzeTrace(file);
    expect(analysis.status.complete, file).toBe(true);
    expect(analysis.problems, file).toEqual([]);
    expect(analysis.status.threads, file).toHaveLength(1);
    const task = analysis.tasks.at(0)!;
    expect(task.threads, file).toEqual([0, analysis.status.threads![0].id]);
    const regions = analysis.regions.toArray();
    expect(regions.filter((r) => r.thread !== 0).map((r) => r.type), file).toEqual(['flushed', 'fine']);
    const mainFlows = new Set(regions.filter((r) => r.thread === 0).map((r) => r.flow));
    expect(mainFlows.size, file).toBeGreaterThan(1);
    for (const r of regions.filter((r) => r.thread !== 0)) expect(mainFlows.has(r.flow), file).toBe(false);
  }
});

test('a job posted right after start() to a worker that was busy meanwhile is in the trace: the link joins it', async () => {
  const at = mkdtempSync(join(dir, 'busy-'));
  writeFileSync(
    join(at, 'worker.mjs'),
    `import { parentPort, workerData } from 'node:worker_threads';
import { contextFrom, withRegion } from ${runtimeUrl};
// Busy until the main thread has started its trace and posted the job: both messages wait, in no set order.
Atomics.wait(new Int32Array(workerData), 0, 0);
parentPort.on('message', ({ link }) => {
  const ctx = contextFrom(link);
  withRegion(ctx, 'first job', () => {});
  parentPort.postMessage('done');
});
`,
  );
  writeFileSync(
    join(at, 'main.mjs'),
    `import { Worker } from 'node:worker_threads';
import { background, linkOf, newTask, start, stop } from ${runtimeUrl};
const gate = new SharedArrayBuffer(4);
const w = new Worker(new URL('./worker.mjs', import.meta.url), { workerData: gate });
await new Promise((resolve) => w.once('online', resolve));
start(process.argv[2]);
const [ctx, task] = newTask(background, 'job');
w.postMessage({ link: linkOf(ctx) });
Atomics.store(new Int32Array(gate), 0, 1);
Atomics.notify(new Int32Array(gate), 0);
await new Promise((resolve) => w.once('message', resolve));
task.end();
await stop();
await w.terminate();
`,
  );
  const file = join(at, 'trace.out');
  const run = await node([join(at, 'main.mjs'), file], at);
  expect(run.code, run.stderr).toBe(0);
  const analysis = await analyzeTrace(file);
  expect(analysis.status.complete).toBe(true);
  expect(analysis.problems).toEqual([]);
  expect(analysis.regions.toArray().map((r) => [r.type, r.task, r.thread])).toEqual([['first job', 1, analysis.status.threads![0].id]]);
});

describe('stop() right after a worker answered', () => {
  // The common shape: await a worker's part of a job, then stop. The worker's hello (on the control
  // channel) and its reply (on its port) travel apart, and the reply can come first: stop() must still
  // wait for the worker it has not heard from yet.
  test('the worker\'s part is in every trace, 30 traces in a row', async () => {
    const { run } = await runProgram(
      'reply-first',
      `import { Worker } from 'node:worker_threads';
import { background, linkOf, newTask, start, stop } from RUNTIME;
const worker = new Worker(new URL('./worker.mjs', import.meta.url));
await new Promise((resolve) => worker.once('online', resolve));
const files = [];
for (let n = 0; n < 30; n++) {
  const file = process.argv[2] + '.' + n;
  start(file, { gc: false, heap: false, eventLoop: false });
  const [ctx, task] = newTask(background, 'job');
  await new Promise((resolve) => { worker.once('message', resolve); worker.postMessage({ link: linkOf(ctx) }); });
  task.end();
  await stop();
  files.push(file);
}
console.log(JSON.stringify(files));
await worker.terminate();
`,
      `import { parentPort } from 'node:worker_threads';
import { contextFrom, withRegion } from RUNTIME;
parentPort.on('message', ({ link }) => {
  withRegion(contextFrom(link), 'part', () => {});
  parentPort.postMessage('done');
});
`,
      { analyze: false },
    );
    const files = JSON.parse(run.stdout) as string[];
    expect(files).toHaveLength(30);
    expect(await lackingWorkerRegion(files, 'part')).toEqual([]);
  });
});

describe('format version 4: thread frames', () => {
  const header = { version: 4, wallClockOriginNs: 0n, hrtimeOriginNs: 0n, pid: 1, nodeVersion: 'v20', command: 'x' };
  function workerTrace(): Uint8Array {
    const main = new BatchEncoder();
    main.begin(0);
    main.taskCreate(1, 1, 7, 0, 'job', null);
    const mainBatch = main.finish();
    const worker = new BatchEncoder(3);
    worker.begin(5);
    // String id 1 is "part" here and "job" on the main thread: each thread has its own table.
    worker.regionStart(5, 2, 7, 'part', null);
    worker.regionEnd(9, 2, 'part');
    const workerBatch = worker.finish();
    main.begin(10);
    main.taskEnd(10, 1, 7, null);
    return Buffer.concat([encodeFileStart(header), mainBatch, encodeThreadFrame(3, 'worker 3', 4), workerBatch, main.finish(), encodeFooter({ events: 4, dropped: 0, endTs: 12 })]);
  }

  test('a worker batch is read with its own string table and marked with its thread', async () => {
    const { events, status } = await loadTrace(workerTrace());
    expect(status.complete).toBe(true);
    expect(status.threads).toEqual([{ id: 3, name: 'worker 3', ts: 4 }]);
    expect(events.map((e) => [e.kind, 'type' in e ? e.type : '', e.thread])).toEqual([
      ['taskCreate', 'job', undefined],
      ['regionStart', 'part', 3],
      ['regionEnd', 'part', 3],
      ['taskEnd', '', undefined],
    ]);
    const analysis = await analyzeTrace(workerTrace());
    expect(analysis.tasks.at(0)).toMatchObject({ id: 7, threads: [0, 3], complete: true });
    expect(analysis.regions.at(0)).toMatchObject({ type: 'part', task: 7, thread: 3, flow: 2 });
  });

  test('thread events before their Thread frame, and thread frames in a version 3 trace, are corruption', async () => {
    const worker = new BatchEncoder(3);
    worker.begin(0);
    worker.regionStart(0, 2, 0, 'part', null);
    const orphan = await loadTrace(Buffer.concat([encodeFileStart(header), worker.finish()]));
    expect(orphan.status.problem).toMatchObject({ kind: 'corrupt', reason: 'events of thread 3 before its Thread frame' });
    const v3 = Buffer.from(workerTrace());
    // The version is the first byte of the header frame's payload (after magic and the 9-byte frame head).
    v3[8 + 9] = 3;
    const head = encodeFileStart(header).length;
    // Re-seal the header frame's checksum over kind + payload.
    v3.writeUInt32LE(crc32(v3.subarray(8 + 8, head)), 8 + 4);
    const old = await loadTrace(v3);
    expect(old.status.problem).toMatchObject({ kind: 'corrupt', reason: 'unknown frame kind 4' });
  });

  test('a worker trace cut at any byte reads up to its last complete frame', async () => {
    const bytes = workerTrace();
    const whole = (await loadTrace(bytes)).events;
    for (let cut = 0; cut < bytes.length; cut++) {
      const { events, status } = await loadTrace(bytes.subarray(0, cut));
      expect(status.complete).toBe(false);
      expect(events).toEqual(whole.slice(0, events.length));
    }
  });
});
