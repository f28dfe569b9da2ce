// Worker threads with a flight recorder and a trace at once (issue 12): real programs, run as processes
// of their own. Their waits for the workers' last batches (threadFlushTimeout) are long: a loaded
// machine may keep a live worker from answering for longer than the default half second. A recorder started at boot, workers doing parts of the main thread's tasks, then a
// download of /debug/tstrace/trace?seconds=N: both the download and the recorder's window have the
// workers' regions, each thread named, and read with no problem.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TraceAnalysis } from '../analysis/analysis-types.js';
import { analyzeTrace } from '../analysis/analysis.js';
import { loadTrace } from '../analysis/reader.js';
import { BatchEncoder, encodeThreadFrame } from '../format/encode.js';
import { FlightRing } from '../runtime/flight-ring.js';
import { lackingWorkerRegion } from './helpers/trace.js';
import { writeWorkerProgram } from './helpers/worker-program.js';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'tstrace-worker-flight-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function node(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Writes main.mjs and worker.mjs into a folder of their own and runs main.mjs there. */
async function runProgram(name: string, main: string, worker: string): Promise<{ at: string; stdout: string }> {
  const at = mkdtempSync(join(dir, `${name}-`));
  writeWorkerProgram(at, main, worker);
  const run = await node([join(at, 'main.mjs')], at);
  expect(run.code, run.stderr).toBe(0);
  return { at, stdout: run.stdout };
}

const worker = `
import { parentPort } from 'node:worker_threads';
import { contextFrom, withRegion } from RUNTIME;
let release = null;
parentPort.on('message', ({ kind, link, i }) => {
  const ctx = contextFrom(link);
  // Held open until 'release': it ends in the chain that began it.
  if (kind === 'hold') void withRegion(ctx, 'held', () => new Promise((resolve) => { release = resolve; }));
  else if (kind === 'release') release();
  else withRegion(ctx, 'part', () => { let h = i; for (let n = 0; n < 20000; n++) h = (h * 31 + n) % 1000003; });
  parentPort.postMessage('done');
});
`;

describe('a flight recorder running since boot, workers doing parts of tasks, then a trace downloaded over HTTP', () => {
  // The recorder starts first, so the workers join it first; the download's trace joins them later.
  // Worker 1 holds a region of task "long" open from before the download to after it.
  const main = `
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { FlightRecorder, background, linkOf, newTask, withRegion } from RUNTIME;
import { traceHandler } from HTTP;
const quiet = { gc: false, heap: false, eventLoop: false };
const recorder = new FlightRecorder({ ...quiet, minAge: 60_000, threadFlushTimeout: 30_000 });
recorder.start();
const workers = [1, 2].map(() => new Worker(new URL('./worker.mjs', import.meta.url)));
const ask = (worker, message) => new Promise((resolve) => { worker.once('message', resolve); worker.postMessage(message); });
async function job() {
  const [ctx, task] = newTask(background, 'job');
  await withRegion(ctx, 'scatter', () => Promise.all(workers.map((worker, i) => ask(worker, { kind: 'part', link: linkOf(ctx), i }))));
  task.end();
}
const handler = traceHandler({ startOptions: { ...quiet, threadFlushTimeout: 30_000 } });
const server = createServer((req, res) => void handler(req, res)).listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const [longCtx, long] = newTask(background, 'long');
await ask(workers[0], { kind: 'hold', link: linkOf(longCtx) });
for (let j = 0; j < 3; j++) await job();
// The trace starts before the answer's headers: the jobs from here on are in it, until it ends.
const response = await fetch('http://127.0.0.1:' + server.address().port + '/debug/tstrace/trace?seconds=1');
let downloaded = false;
const body = response.arrayBuffer().then((bytes) => { downloaded = true; return bytes; });
do await job(); while (!downloaded);
writeFileSync('download.trace', new Uint8Array(await body));
await ask(workers[0], { kind: 'release', link: linkOf(longCtx) });
long.end();
for (let j = 0; j < 3; j++) await job();
await recorder.writeTo('flight.trace');
await recorder.stop();
server.close();
console.log(JSON.stringify(workers.map((worker) => worker.threadId)));
await Promise.all(workers.map((worker) => worker.terminate()));
`;

  it('both traces have the workers, named, and their parts of every job they cover; neither has a problem', async () => {
    const { at, stdout } = await runProgram('download', main, worker);
    const threads = (JSON.parse(stdout) as number[]).sort((a, b) => a - b);
    const analyses: Record<string, TraceAnalysis> = {};
    for (const name of ['download', 'flight']) {
      const file = join(at, `${name}.trace`);
      // The reader itself: every frame reads, each thread's batches after its Thread frame.
      const { status } = await loadTrace(readFileSync(file));
      expect([status.complete, status.problem], name).toEqual([true, null]);
      expect((status.threads ?? []).map((t) => [t.id, t.name]).sort((a, b) => (a[0] as number) - (b[0] as number)), name).toEqual(threads.map((id) => [id, `worker ${id}`]));
      const analysis = await analyzeTrace(file);
      expect(analysis.status.complete, name).toBe(true);
      expect(analysis.problems, name).toEqual([]);
      analyses[name] = analysis;
      // A job begun while stop() waits for the workers' last batches has parts only from the workers
      // that had not left yet: counted are the jobs created before every worker's last part (jobs run
      // one after another, so each of those has a part on each worker before its last).
      const lastPart = new Map<number, number>();
      for (const r of analysis.regions.toArray()) if (r.type === 'part') lastPart.set(r.thread, Math.max(lastPart.get(r.thread) ?? 0, r.start));
      const cutoff = Math.min(...threads.map((thread) => lastPart.get(thread) ?? 0));
      const jobs = analysis.tasks.toArray().filter((t) => t.type === 'job' && t.created && t.complete && t.start < cutoff);
      expect(jobs.length, name).toBeGreaterThan(0);
      for (const task of jobs) {
        // Main thread first, then each worker: every job has a part on each.
        expect(task.threads, `${name} job ${task.id}`).toEqual([0, ...threads]);
        const parts = task.regions.map((id) => analysis.regions.at(id - 1)!).filter((r) => r.type === 'part');
        expect(parts.map((r) => r.thread).sort((a, b) => a - b), `${name} job ${task.id}`).toEqual(threads);
        // On this trace's clock: the workers' parts lie within their job.
        for (const part of parts) {
          expect(part.start, name).toBeGreaterThanOrEqual(task.start);
          expect(part.end, name).toBeLessThanOrEqual(task.end);
        }
      }
    }
    // The recorder saw the region held on worker 1 from start to end; the download began inside it, so
    // its end is left out there (Go's rule for a region begun before the trace), as on the main thread.
    const held = (analysis: TraceAnalysis) => analysis.regions.toArray().filter((r) => r.type === 'held');
    expect(held(analyses.flight)).toEqual([expect.objectContaining({ thread: threads[0], complete: true })]);
    expect(held(analyses.download)).toEqual([]);
    // The flight window holds every job; the download only those of its second.
    const count = (analysis: TraceAnalysis) => analysis.tasks.toArray().filter((t) => t.type === 'job').length;
    expect(count(analyses.download)).toBeLessThan(count(analyses.flight));
  }, 120_000);
});

describe("the flight ring forgets the workers that left, once their last batch has left the window", () => {
  /** Each worker's encoder: its string table spans its frames. */
  const encoders = new Map<number, BatchEncoder>();
  /** A ThreadEvents frame of worker `thread`: a region of task `task`, on the ring's clock now. */
  function workerFrame(ring: FlightRing, thread: number, task: number): Uint8Array {
    let encoder = encoders.get(thread);
    if (encoder === undefined) encoders.set(thread, (encoder = new BatchEncoder(thread)));
    const ts = ring.ns(performance.now());
    encoder.begin(ts);
    encoder.regionStart(ts, 1000 + thread, task, 'part', null);
    encoder.regionEnd(ts, 1000 + thread, 'part');
    return encoder.finish();
  }

  it('a thousand short-lived workers: the state kept per worker stays bounded, and a snapshot reads', async () => {
    const t0 = performance.now();
    const ring = new FlightRing({ t0, wallNs: BigInt(Math.round((performance.timeOrigin + t0) * 1e6)), hrtimeNs: process.hrtime.bigint() }, 0, 60_000e6, 4096);
    encoders.clear();
    let most = 0;
    for (let id = 1; id <= 1000; id++) {
      ring.threadJoined(id, `worker ${id}`, ring.ns(performance.now()));
      ring.takeFromThread(workerFrame(ring, id, id), 2);
      // Half of them are still in the window when they leave (forgotten at eviction), half are not.
      if (id % 2 === 0) ring.takeFromThread(workerFrame(ring, id, id), 2);
      ring.threadLeft(id);
      // The workers kept are those with a frame held (within maxBytes: a few hundred at most).
      if (ring.threadCount > ring.batchCount) throw new Error(`${ring.threadCount} workers kept, ${ring.batchCount} frames held`);
      most = Math.max(most, ring.threadCount);
    }
    expect(ring.bytes).toBeLessThanOrEqual(4096);
    expect(most).toBeLessThan(4096 / 8);
    expect(ring.threadCount).toBeGreaterThan(0);

    const bytes = Buffer.concat([...ring.snapshot().chunks()]);
    const { status } = await loadTrace(bytes);
    expect([status.complete, status.problem]).toEqual([true, null]);
    expect(status.threads).toHaveLength(ring.threadCount);
    const analysis = await analyzeTrace(new Uint8Array(bytes));
    expect(analysis.problems).toEqual([]);
    expect(new Set(analysis.regions.toArray().map((r) => r.thread))).toEqual(new Set(status.threads!.map((t) => t.id)));
  });

  it('a worker still running is never forgotten, even with no batch in the window', async () => {
    const t0 = performance.now();
    const ring = new FlightRing({ t0, wallNs: BigInt(Math.round((performance.timeOrigin + t0) * 1e6)), hrtimeNs: process.hrtime.bigint() }, 0, 60_000e6, 512);
    encoders.clear();
    ring.threadJoined(1, 'worker 1', 0);
    ring.takeFromThread(workerFrame(ring, 1, 1), 2);
    for (let id = 2; id <= 100; id++) {
      ring.threadJoined(id, `worker ${id}`, ring.ns(performance.now()));
      ring.takeFromThread(workerFrame(ring, id, id), 2);
      ring.threadLeft(id);
    }
    expect(ring.threadCount).toBeLessThan(20);
    const { status } = await loadTrace(Buffer.concat([...ring.snapshot().chunks()]));
    expect(status.problem).toBeNull();
    expect(status.threads!.map((t) => t.id)).toContain(1);
  });

  // A real program: workers come and go (half return, half are terminated: those send no `done`, the
  // main thread sees them exit), each doing a part of a job, while a recorder runs.
  const main = `
import { Worker } from 'node:worker_threads';
import { FlightRecorder, background, linkOf, newTask, withRegion } from RUNTIME;
const minAge = 200;
const recorder = new FlightRecorder({ gc: false, heap: false, eventLoop: false, minAge, sampleInterval: 20, threadFlushTimeout: 30_000 });
recorder.start();
const ask = (worker, message) => new Promise((resolve) => { worker.once('message', resolve); worker.postMessage(message); });
async function job(workers) {
  const [ctx, task] = newTask(background, 'job');
  await withRegion(ctx, 'scatter', () => Promise.all(workers.map((worker, i) => ask(worker, { kind: 'part', link: linkOf(ctx), i }))));
  task.end();
}
const gone = [];
for (let n = 0; n < 30; n++) {
  const worker = new Worker(new URL('./worker.mjs', import.meta.url));
  await job([worker]);
  gone.push(worker.threadId);
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  if (n % 2 === 0) worker.terminate();
  else worker.postMessage({ kind: 'exit' });
  await exited;
}
// The main thread works on for 3 minAge and until a terminated worker's exit has been seen (a second later).
await new Promise((resolve) => setTimeout(resolve, 1100));
for (const end = performance.now() + 3 * minAge; performance.now() < end; ) await job([]);
const live = [1, 2].map(() => new Worker(new URL('./worker.mjs', import.meta.url)));
for (let j = 0; j < 3; j++) await job(live);
await recorder.writeTo('flight.trace');
await recorder.stop();
console.log(JSON.stringify({ gone, live: live.map((worker) => worker.threadId) }));
await Promise.all(live.map((worker) => worker.terminate()));
`;
  const shortLived = worker.replace("parentPort.on('message', ({ kind, link, i }) => {", "parentPort.on('message', ({ kind, link, i }) => {\n  if (kind === 'exit') process.exit(0);");

  it('a snapshot after 30 workers came and went has the workers still running, not those gone, and reads', async () => {
    const { at, stdout } = await runProgram('pruned', main, shortLived);
    const { gone, live } = JSON.parse(stdout) as { gone: number[]; live: number[] };
    const file = join(at, 'flight.trace');
    const { status } = await loadTrace(readFileSync(file));
    expect([status.complete, status.problem]).toEqual([true, null]);
    const kept = (status.threads ?? []).map((t) => t.id);
    expect(kept.sort((a, b) => a - b)).toEqual(live.sort((a, b) => a - b));
    for (const id of gone) expect(kept).not.toContain(id);
    const analysis = await analyzeTrace(file);
    expect(analysis.problems).toEqual([]);
    const lastJob = analysis.tasks.toArray().filter((t) => t.type === 'job').at(-1)!;
    expect(lastJob.threads).toEqual([0, ...live.sort((a, b) => a - b)]);
  }, 120_000);
});

describe('a snapshot right after a worker answered', () => {
  // The worker's hello and its reply travel apart; writeTo must wait for a worker it has not heard from.
  it("has the worker's part, 30 recorders in a row", async () => {
    const { at, stdout } = await runProgram(
      'snapshot-after-reply',
      `import { Worker } from 'node:worker_threads';
import { FlightRecorder, background, linkOf, newTask } from RUNTIME;
const worker = new Worker(new URL('./worker.mjs', import.meta.url));
await new Promise((resolve) => worker.once('online', resolve));
const files = [];
for (let n = 0; n < 30; n++) {
  const recorder = new FlightRecorder({ gc: false, heap: false, eventLoop: false, threadFlushTimeout: 30_000 });
  recorder.start();
  const [ctx, task] = newTask(background, 'job');
  await new Promise((resolve) => { worker.once('message', resolve); worker.postMessage({ kind: 'part', link: linkOf(ctx), i: n }); });
  task.end();
  await recorder.writeTo('snapshot.' + n);
  await recorder.stop();
  files.push('snapshot.' + n);
}
console.log(JSON.stringify(files));
await worker.terminate();
`,
      worker,
    );
    const files = (JSON.parse(stdout) as string[]).map((file) => join(at, file));
    expect(files).toHaveLength(30);
    expect(await lackingWorkerRegion(files, 'part')).toEqual([]);
  }, 120_000);
});

describe('workers created by a worker, then terminated, are let go too', () => {
  // The main thread sees only its own workers exit: a worker tells it of those it created.
  const main = `
import { Worker } from 'node:worker_threads';
import { FlightRecorder, background, linkOf, newTask } from RUNTIME;
const minAge = 200;
const recorder = new FlightRecorder({ gc: false, heap: false, eventLoop: false, minAge, sampleInterval: 20, threadFlushTimeout: 30_000 });
recorder.start();
const middle = new Worker(new URL('./worker.mjs', import.meta.url));
const ask = (message) => new Promise((resolve) => { middle.once('message', resolve); middle.postMessage(message); });
async function job(kind) {
  const [ctx, task] = newTask(background, kind);
  const answer = await ask({ kind, link: linkOf(ctx) });
  task.end();
  return answer;
}
const gone = [];
for (let n = 0; n < 10; n++) gone.push(await job('nested'));
// Exits are acted on a second later; then the window moves past the workers' last batches.
await new Promise((resolve) => setTimeout(resolve, 1100));
for (const end = performance.now() + 3 * minAge; performance.now() < end; ) await job('part');
await recorder.writeTo('flight.trace');
await recorder.stop();
console.log(JSON.stringify({ gone, middle: middle.threadId }));
await middle.terminate();
`;
  const middle = `
import { Worker, parentPort, workerData } from 'node:worker_threads';
import { contextFrom, withRegion } from RUNTIME;
parentPort.on('message', async ({ kind, link }) => {
  if (kind === 'nested' && workerData !== 'nested') {
    // A worker of its own does the part, and is terminated once it has: it sends no \`done\`.
    const child = new Worker(new URL(import.meta.url), { workerData: 'nested' });
    const id = child.threadId;
    await new Promise((resolve) => { child.once('message', resolve); child.postMessage({ kind: 'part', link }); });
    await child.terminate();
    parentPort.postMessage(id);
    return;
  }
  withRegion(contextFrom(link), 'part', () => { let h = 0; for (let n = 0; n < 20000; n++) h = (h * 31 + n) % 1000003; });
  parentPort.postMessage('done');
});
`;

  it('a snapshot after 10 nested workers came and went holds only the worker still running', async () => {
    const { at, stdout } = await runProgram('nested', main, middle);
    const { gone, middle: live } = JSON.parse(stdout) as { gone: number[]; middle: number };
    expect(new Set(gone).size).toBe(10);
    const file = join(at, 'flight.trace');
    const { status } = await loadTrace(readFileSync(file));
    expect([status.complete, status.problem]).toEqual([true, null]);
    expect((status.threads ?? []).map((t) => t.id)).toEqual([live]);
    const analysis = await analyzeTrace(file);
    expect(analysis.problems).toEqual([]);
    expect(analysis.tasks.toArray().filter((t) => t.type === 'part').at(-1)!.threads).toEqual([0, live]);
  }, 120_000);
});

describe('workers record scheduling (Run) events when the trace does (issue 13)', () => {
  const main = `
import { Worker } from 'node:worker_threads';
import { background, linkOf, newTask, start, stop } from RUNTIME;
const worker = new Worker(new URL('./worker.mjs', import.meta.url));
await new Promise((resolve) => worker.once('online', resolve));
start('trace.out', { gc: false, heap: false, eventLoop: false, scheduling: true, threadFlushTimeout: 30_000 });
const ask = (message) => new Promise((resolve) => { worker.once('message', resolve); worker.postMessage(message); });
// A first message joins the worker if the trace's start message has not reached it yet: a callback
// during which the worker joins records no run (the hook was not installed when it began).
await ask({ link: linkOf(background), ms: 0 });
const [ctx, task] = newTask(background, 'job');
const crunchMs = await ask({ link: linkOf(ctx), ms: 50 });
task.end();
await stop();
console.log(JSON.stringify({ worker: worker.threadId, task: task.id, crunchMs }));
await worker.terminate();
`;
  const busyWorker = `
import { parentPort } from 'node:worker_threads';
import { contextFrom, withRegion } from RUNTIME;
parentPort.on('message', ({ link, ms }) => {
  // Busy for ms of this thread's clock, as measured here.
  const began = performance.now();
  withRegion(contextFrom(link), 'crunch', () => { while (performance.now() - began < ms); });
  parentPort.postMessage(performance.now() - began);
});
`;

  it("the worker's runs carry its thread and its task; tstrace tasks and stats count them as the task's running time", async () => {
    const { at, stdout } = await runProgram('scheduling', main, busyWorker);
    const { worker: thread, task, crunchMs } = JSON.parse(stdout) as { worker: number; task: number; crunchMs: number };
    const file = join(at, 'trace.out');
    const { events, status } = await loadTrace(readFileSync(file));
    expect(status.problem).toBeNull();
    const runs = events.filter((e) => e.kind === 'run' && e.thread === thread);
    expect(runs.length).toBeGreaterThan(0);
    // The message's callback runs outside any task (the reader names the run by the task its region is of).
    const longest = Math.max(...runs.map((e) => (e.kind === 'run' ? e.duration : 0)));
    expect(longest / 1e6).toBeGreaterThanOrEqual(crunchMs - 0.01);

    const cli = join(root, 'dist/esm/cli/cli.js');
    const tasks = await node([cli, 'tasks', file, '--json', '--quiet'], at);
    expect(tasks.code, tasks.stderr).toBe(0);
    const doc = JSON.parse(tasks.stdout) as { tasks: { id: number; threads: number[]; time: { wall: number; running: number; queued: number; waiting: number } }[] };
    const job = doc.tasks.find((t) => t.id === task)!;
    expect(job.threads).toEqual([0, thread]);
    expect(job.time.running / 1e6).toBeGreaterThanOrEqual(crunchMs - 0.01);
    expect(job.time.running + job.time.queued + job.time.waiting).toBe(job.time.wall);
    const text = await node([cli, 'tasks', file, '--quiet'], at);
    expect(text.stdout).toMatch(/ {2}threads +main, worker \d+\n {2}time +running \S+, queued \S+, waiting \S+ \(\d+ runs?/);

    const stats = await node([cli, 'stats', file, '--json', '--quiet'], at);
    expect(stats.code, stats.stderr).toBe(0);
    const execution = (JSON.parse(stats.stdout) as { execution: { taskTypes: { type: string; tasks: number; running: { max: number } | null }[] } }).execution;
    const jobType = execution.taskTypes.find((t) => t.type === 'job')!;
    expect(jobType.tasks).toBe(1);
    expect(jobType.running!.max / 1e6).toBeGreaterThanOrEqual(crunchMs - 0.01);
  }, 120_000);
});

describe('trace numbers', () => {
  it("a flight recorder starting beside a trace does not rename it (the endpoint's download would think it stopped)", async () => {
    const { start, stop, runningTrace } = await import('../runtime/api.js');
    const { FlightRecorder } = await import('../runtime/flight-recorder.js');
    const { Writable } = await import('node:stream');
    start(new Writable({ write: (_chunk, _encoding, done) => done() }), { gc: false, heap: false, eventLoop: false });
    const running = runningTrace();
    const recorder = new FlightRecorder({ gc: false, heap: false, eventLoop: false });
    recorder.start();
    expect(runningTrace()).toBe(running);
    await recorder.stop();
    expect(runningTrace()).toBe(running);
    await stop();
    expect(runningTrace()).toBeNull();
  });
});

describe('a stale link', () => {
  it('a worker that joins a trace from a link read after it stopped is told to leave: it records for nobody no longer', async () => {
    const main = `
import { Worker } from 'node:worker_threads';
import { background, linkOf, newTask, start, stop } from RUNTIME;
start('old.trace', { gc: false, heap: false, eventLoop: false });
const [ctx, task] = newTask(background, 'old');
const stale = linkOf(ctx);
task.end();
await stop();
// Created after the trace stopped: the worker never heard of it.
const worker = new Worker(new URL('./worker.mjs', import.meta.url));
const answer = await new Promise((resolve) => { worker.once('message', resolve); worker.postMessage({ link: stale }); });
console.log(JSON.stringify(answer));
await worker.terminate();
`;
    const staleWorker = `
import { parentPort } from 'node:worker_threads';
import { contextFrom, isEnabled } from RUNTIME;
parentPort.on('message', async ({ link }) => {
  contextFrom(link);
  const joined = isEnabled();
  const began = performance.now();
  while (isEnabled() && performance.now() - began < 10_000) await new Promise((resolve) => setTimeout(resolve, 5));
  parentPort.postMessage({ joined, left: !isEnabled() });
});
`;
    const { stdout } = await runProgram('stale', main, staleWorker);
    expect(JSON.parse(stdout)).toEqual({ joined: true, left: true });
  }, 60_000);
});
