// Worker threads with a flight recorder and a trace at once (issue 12): real programs, run as processes
// of their own. A recorder started at boot, workers doing parts of the main thread's tasks, then a
// download of /debug/tstrace/trace?seconds=N: both the download and the recorder's window have the
// workers' regions, each thread named, and read with no problem.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { TraceAnalysis } from '../analysis/analysis-types.js';
import { analyzeTrace } from '../analysis/analysis.js';
import { loadTrace } from '../analysis/reader.js';
import { BatchEncoder, encodeThreadFrame } from '../format/encode.js';
import { FlightRing } from '../runtime/flight-ring.js';

const root = join(import.meta.dirname, '..');
const dist = (path: string): string => JSON.stringify(pathToFileURL(join(root, 'dist/esm', path)).href);
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
  const withUrls = (code: string): string => code.replaceAll('RUNTIME', dist('runtime/index.js')).replaceAll('HTTP', dist('runtime/http.js'));
  writeFileSync(join(at, 'main.mjs'), withUrls(main));
  writeFileSync(join(at, 'worker.mjs'), withUrls(worker));
  const run = await node([join(at, 'main.mjs')], at);
  expect(run.code, run.stderr).toBe(0);
  return { at, stdout: run.stdout };
}

const worker = `
import { parentPort } from 'node:worker_threads';
import { contextFrom, startRegion, withRegion } from RUNTIME;
let held = null;
parentPort.on('message', ({ kind, link, i }) => {
  const ctx = contextFrom(link);
  if (kind === 'hold') held = startRegion(ctx, 'held');
  else if (kind === 'release') held.end();
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
const recorder = new FlightRecorder({ ...quiet, minAge: 60_000 });
recorder.start();
const workers = [1, 2].map(() => new Worker(new URL('./worker.mjs', import.meta.url)));
const ask = (worker, message) => new Promise((resolve) => { worker.once('message', resolve); worker.postMessage(message); });
async function job() {
  const [ctx, task] = newTask(background, 'job');
  await withRegion(ctx, 'scatter', () => Promise.all(workers.map((worker, i) => ask(worker, { kind: 'part', link: linkOf(ctx), i }))));
  task.end();
}
const handler = traceHandler({ startOptions: quiet });
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
      const jobs = analysis.tasks.toArray().filter((t) => t.type === 'job' && t.created && t.complete);
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
