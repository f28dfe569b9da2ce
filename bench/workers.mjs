// Worker threads in one trace: what recording in a worker thread costs, next to the main thread. The
// same workload (a task of the main thread, region pairs under it through a link, in chunks that yield
// to the event loop) runs on the main thread, then in one worker thread whose events go to the main
// thread's trace. Wall time of the workload in the thread that runs it, per region pair, tracing off
// and on, and that thread's own CPU time while on (`process.threadCpuUsage`, Node ≥ 23.9: other load
// on the machine does not blur it); the main thread's busy time (event-loop utilization) while it records, or while a worker does (it writes
// the worker's batches); bytes of
// trace per pair; and how long stop() takes with a live worker. The worker's run again with a flight
// recorder (defaults: it evicts, and reads what it evicts, all along) instead of a file: the main
// thread's busy time is then holding the worker's batches in the ring; and with both at once (the
// worker encodes its batches for each; bytes/pair is then the file's).
//
//   node bench/workers.mjs [--quick]      (needs a build)
import { rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { runtimeDir } from './runtime-dir.mjs';

const { background, contextFrom, FlightRecorder, linkOf, newTask, start, startRegion, stop } = await import(`${runtimeDir}/runtime/index.js`);

const PAIRS = process.argv.includes('--quick') ? 200_000 : 1_000_000;
const CHUNK = 1000;
const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));

/** CPU ms of this thread alone (Node ≥ 23.9: a loaded machine's other threads do not count), or NaN. */
const threadCpuMs = () => {
  if (typeof process.threadCpuUsage !== 'function') return NaN;
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1000;
};

/** Runs the workload; wall ms from its start to its end (the thread's CPU ms: `workload.cpuMs`). */
async function workload(ctx, pairs) {
  const cpuBegan = threadCpuMs();
  const began = performance.now();
  for (let done = 0; done < pairs; done += CHUNK) {
    for (let i = 0; i < CHUNK; i++) {
      const outer = startRegion(ctx, 'handle');
      startRegion(ctx, 'db').end();
      outer.end();
    }
    await yieldToLoop();
  }
  workload.cpuMs = threadCpuMs() - cpuBegan;
  return performance.now() - began;
}

if (!isMainThread) {
  parentPort.on('message', async ({ link, pairs }) => {
    const wallMs = await workload(contextFrom(link), pairs);
    parentPort.postMessage({ wallMs, cpuMs: workload.cpuMs });
  });
} else {
  const quiet = { gc: false, heap: false, eventLoop: false };
  const path = join(tmpdir(), `tstrace-bench-workers-${process.pid}.trace`);
  const ns = (ms) => ((ms * 1e6) / PAIRS).toFixed(0);
  const worker = new Worker(new URL(import.meta.url), { workerData: null });
  /** Wall ms; the thread's CPU ms in `cpu.ms`. */
  const cpu = { ms: NaN };
  const inWorker = (ctx) => new Promise((resolve) => {
    worker.once('message', ({ wallMs, cpuMs }) => {
      cpu.ms = cpuMs;
      resolve(wallMs);
    });
    worker.postMessage({ link: linkOf(ctx), pairs: PAIRS });
  });
  const onMain = async (ctx) => {
    const wallMs = await workload(ctx, PAIRS);
    cpu.ms = workload.cpuMs;
    return wallMs;
  };
  await inWorker(background); // warm up the worker
  await workload(background, PAIRS); // and the main thread

  const rows = [];
  const file = { name: 'file', begin: () => start(path, quiet), end: () => stop(), bytes: () => statSync(path).size };
  const flight = {
    name: 'flight',
    recorder: null,
    begin() {
      this.recorder = new FlightRecorder(quiet);
      this.recorder.start();
    },
    async end() {
      this.held = this.recorder.bufferedBytes;
      await this.recorder.stop();
    },
    bytes() {
      return this.held;
    },
  };
  // Both at once (a recorder running, a trace started beside it): the worker encodes each batch for each.
  const both = {
    name: 'flight + file',
    begin() {
      flight.begin();
      file.begin();
    },
    async end() {
      await file.end();
      await flight.end();
    },
    bytes: () => file.bytes(),
  };
  const modes = [['main thread', onMain, file], ['worker thread', inWorker, file], ['worker thread', inWorker, flight], ['worker thread', inWorker, both]];
  for (const [where, run, tracing] of modes) {
    const off = await run(background);
    tracing.begin();
    const [ctx, task] = newTask(background, 'bench');
    // The main thread's busy time (event-loop utilization): its own recording, or writing the worker's batches.
    const elu = performance.eventLoopUtilization();
    const on = await run(ctx);
    const onCpu = cpu.ms;
    const mainBusy = performance.eventLoopUtilization(elu).active;
    task.end();
    const stopBegan = performance.now();
    await tracing.end();
    const stopMs = performance.now() - stopBegan;
    const bytes = tracing.bytes();
    rows.push({ where: `${where}, ${tracing.name}`, off: ns(off), on: ns(on), cpu: Number.isNaN(onCpu) ? '-' : ns(onCpu), mainBusy: ns(mainBusy), bytes: (bytes / PAIRS).toFixed(1), stopMs: stopMs.toFixed(1) });
  }
  rmSync(path, { force: true });
  await worker.terminate();
  console.log(`${PAIRS.toLocaleString('en')} region pairs (start/start/end/end) under one task, in chunks of ${CHUNK}`);
  console.log('(flight: bytes/pair is what the ring held at the end, over all pairs: it keeps the last 10 s within 10 MiB)');
  console.log("(on CPU: the recording thread's own CPU time, on wall: its wall time; CPU needs Node 23.9 or later)");
  console.log('where, into                   off ns/pair  on wall ns/pair  on CPU ns/pair  main thread busy ns/pair  bytes/pair  stop() ms');
  for (const r of rows) console.log(`${r.where.padEnd(29)} ${r.off.padStart(11)} ${r.on.padStart(16)} ${r.cpu.padStart(15)} ${r.mainBusy.padStart(25)} ${r.bytes.padStart(11)} ${r.stopMs.padStart(10)}`);
}
