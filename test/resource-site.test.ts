// Where what a run waited on was created (issue 13): a node:http server whose handler awaits a timer-based
// "database" and fs.promises.readFile (test/fixtures/http-waits.mjs, run by plain Node so that its lines
// are its own); the runs that resumed from them name the lines, or the regions, that created them.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { loadTrace } from '../analysis/reader.js';
import { analyzeExecution } from '../analysis/time-breakdown.js';
import type { TraceEvent } from '../format/events.js';
import { BatchEncoder, encodeFileStart, encodeFooter } from '../format/encode.js';
import { runCli } from '../cli/cli-run.js';
import { loadViewerModel, taskJson } from '../viewer/model.js';
import { encodedTrace, tempTracePath } from './helpers/trace.js';

type Run = Extract<TraceEvent, { kind: 'run' }>;
const runsOf = (events: TraceEvent[]): Run[] => events.filter((e): e is Run => e.kind === 'run');
const root = join(import.meta.dirname, '..');
const server = join(root, 'test', 'fixtures', 'http-waits.mjs');
const shown = 'test/fixtures/http-waits.mjs'; // as the reports print it, relative to the working directory

const cli = async (args: string[]) => {
  const out = { stdout: '', stderr: '' };
  const code = await runCli(args, { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t), version: '0', cwd: root });
  return { code, ...out };
};

/** The line of the fixture that ends with the comment `marker`. */
function lineOf(marker: string): number {
  const index = readFileSync(server, 'utf8')
    .split('\n')
    .findIndex((line) => line.endsWith(`// ${marker}`));
  expect(index, marker).toBeGreaterThanOrEqual(0);
  return index + 1;
}

/** Runs the fixture server for `requests` requests; its trace, read back, and the request tasks' ids. */
async function serve(mode: 'calls' | 'regions', requests: number) {
  const path = tempTracePath(`http-waits-${mode}.out`);
  const child = spawnSync(process.execPath, [server, path, mode, String(requests)], { encoding: 'utf8', timeout: 60_000 });
  expect(child.status, child.stderr).toBe(0);
  const { events, status } = await loadTrace(path);
  expect(status.problem).toBeNull();
  const requestTasks = new Set(events.flatMap((e) => (e.kind === 'taskCreate' && e.type === 'request' ? [e.task] : [])));
  expect(requestTasks.size).toBe(requests);
  return { events, status, path, requestTasks, runs: runsOf(events).filter((r) => requestTasks.has(r.task)) };
}

describe('where a run’s resource was created', () => {
  test('with captureLocations, the runs of a request that resumed from its timer and its file read name the lines that created them', async () => {
    const { events, status, requestTasks, runs } = await serve('calls', 3);
    const timerRuns = runs.filter((r) => r.waitedOn === 'Timeout');
    expect(timerRuns).toHaveLength(3);
    for (const run of timerRuns) expect(run).toMatchObject({ createdAt: { file: server, line: lineOf('db timer') }, createdInRegion: false });
    const fileRuns = runs.filter((r) => r.waitedOn === 'FSREQPROMISE');
    // (A file request that completes within 20 µs of the run that made it continues that run: a fast disk joins some.)
    expect(fileRuns.length).toBeGreaterThan(0);
    for (const run of fileRuns) expect(run).toMatchObject({ createdAt: { file: server, line: lineOf('file read') }, createdInRegion: false });
    // Promises are never sited: they are the most numerous resources.
    expect(runsOf(events).filter((r) => r.waitedOn === 'PROMISE' && r.createdAt !== undefined)).toEqual([]);

    // The breakdown says what each request waited on, and where that was created.
    const times = analyzeExecution(events, status.footer!.endTs);
    let timerWaits = 0;
    for (const id of requestTasks) {
      const task = times.tasks.find((t) => t.task === id)!;
      // What it waited on is part of its waiting time, named by the lines that created it.
      expect(task.waits.reduce((sum, w) => sum + w.waiting, 0)).toBeLessThanOrEqual(task.waiting);
      const timer = task.waits.find((w) => w.waitedOn === 'Timeout');
      // (None when the machine stalled in the run that made it past its 5 ms: it was due as that run ended.)
      if (timer !== undefined) {
        timerWaits++;
        expect(timer).toMatchObject({ createdAt: { file: server, line: lineOf('db timer') }, createdInRegion: false, runs: 1 });
        // From after its creation to when it fell due: at most its 5 ms delay.
        expect(timer.waiting).toBeGreaterThan(0);
        expect(timer.waiting).toBeLessThanOrEqual(5e6 + 1e3);
      }
      for (const wait of task.waits.filter((w) => w.waitedOn === 'FSREQPROMISE')) expect(wait).toMatchObject({ createdAt: { file: server, line: lineOf('file read') } });
    }
    expect(timerWaits).toBeGreaterThan(0);
    // A file request that completed within the run that made it (or right after it: one run) ended no wait.
    expect(times.tasks.filter((t) => requestTasks.has(t.task) && t.waits.some((w) => w.waitedOn === 'FSREQPROMISE')).length).toBeGreaterThan(0);
    // The first request's query fell due while a background job (a timer of the server's) held the thread.
    const first = times.tasks.find((t) => t.task === Math.min(...requestTasks))!;
    const job = first.blockers.find((b) => b.task === 0 && b.waitedOn === 'Timeout');
    expect(job).toMatchObject({ createdAt: { file: server, line: lineOf('the job') }, createdInRegion: false });
  });

  test('tstrace tasks and blockers, as text and JSON, and the viewer’s task page say what was waited on and where it was created', async () => {
    const { path, requestTasks } = await serve('calls', 3);
    // (A machine that stalls in the run that made the timer, past its 5 ms, leaves no wait for it: look at every request.)
    const json = JSON.parse((await cli(['tasks', path, '--json', '--quiet'])).stdout) as { tasks: { id: number; time: { waits: { waitedOn: string; createdAt: { line: number; column: number } | null; createdInRegion: boolean; runs: number; waiting: number }[] } }[] };
    const waited = json.tasks.filter((t) => requestTasks.has(t.id) && t.time.waits.some((w) => w.waitedOn === 'Timeout'));
    expect(waited.length).toBeGreaterThan(0);
    const { id, time: { waits } } = waited[0];
    expect(waits.find((w) => w.waitedOn === 'Timeout')).toMatchObject({ createdAt: { file: server, line: lineOf('db timer') }, createdInRegion: false, runs: 1 });

    const text = await cli(['tasks', path, '--type', 'request', '--quiet']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`\\n {2}(waited on| {9}) {3}Timeout created at ${shown}:${lineOf('db timer')}:\\d+: \\S+ \\(1 run resumed from it\\)`));
    expect(text.stdout).toMatch(new RegExp(`background for \\S+ \\(a \\S+ run at \\S+, after Timeout created at ${shown}:${lineOf('the job')}:\\d+\\)`));

    const blockers = await cli(['blockers', path, '--quiet']);
    expect(blockers.stdout.split('\n')[0]).toMatch(/LOCATION\s+RESUMED FROM$/);
    // The job's row (the top one, unless a stall of the machine held up a request longer).
    expect(blockers.stdout.split('\n').slice(1)).toContainEqual(expect.stringMatching(new RegExp(`^\\s*\\S+\\s+1\\s+background\\s+-\\s+.*Timeout created at ${shown}:${lineOf('the job')}:\\d+$`)));
    const blockersJson = JSON.parse((await cli(['blockers', path, '--json', '--quiet'])).stdout) as { blockers: object[] };
    expect(blockersJson.blockers).toContainEqual(expect.objectContaining({ task: 0, waitedOn: 'Timeout', createdAt: expect.objectContaining({ line: lineOf('the job') }) }));

    const model = await loadViewerModel(path, root);
    const time = taskJson(model, id)!.time!;
    expect(time.waits.find((w) => w.waitedOn === 'Timeout')!.text).toBe(`Timeout created at ${shown}:${lineOf('db timer')}:${waits.find((w) => w.waitedOn === 'Timeout')!.createdAt!.column}`);
    expect(time.blockers.map((b) => b.resumed)).toContainEqual(expect.stringMatching(new RegExp(`^Timeout created at ${shown}:${lineOf('the job')}:\\d+$`)));
  });

  test('without captureLocations, a resource is named by the region it was created in (a traced function’s), when that has a location', async () => {
    const { runs } = await serve('regions', 2);
    const timerRuns = runs.filter((r) => r.waitedOn === 'Timeout');
    expect(timerRuns).toHaveLength(2);
    for (const run of timerRuns) expect(run).toMatchObject({ createdAt: { file: server, line: lineOf("the query's region"), function: 'query' }, createdInRegion: true });
    // The file is read in a hand-written region, which has no location without captureLocations: no site, nothing paid.
    expect(runs.filter((r) => r.waitedOn === 'FSREQPROMISE' && r.createdAt !== undefined)).toEqual([]);
  });
});

describe('the Run event’s site in the format', () => {
  const header = { version: 6, wallClockOriginNs: 0n, hrtimeOriginNs: 0n, pid: 1, nodeVersion: 'v20', command: 'x' };
  const here = { file: '/srv/service.ts', line: 28, column: 13, function: 'query' };
  const traceWith = (write: (e: BatchEncoder) => void): Buffer => encodedTrace(header, write);

  test('reads back as the location it was created at, or the region it was created in', async () => {
    const { events, status } = await loadTrace(
      traceWith((e) => {
        e.run(50_000, 3, 7, 20_000, 15_000, 5_001, 'Timeout', here, false);
        e.run(60_000, 3, 7, 5_000, 5_000, 0, 'FSREQCALLBACK', here, true);
        e.run(70_000, 3, 7, 5_000, 5_000, 1, 'PROMISE');
      }),
    );
    expect(status.problem).toBeNull();
    expect(runsOf(events)).toEqual([
      { kind: 'run', ts: 30_000, flow: 3, task: 7, duration: 15_000, queued: 5_000, waitedOn: 'Timeout', createdAt: here, createdInRegion: false },
      { kind: 'run', ts: 55_000, flow: 3, task: 7, duration: 5_000, queued: null, waitedOn: 'FSREQCALLBACK', createdAt: here, createdInRegion: true },
      { kind: 'run', ts: 65_000, flow: 3, task: 7, duration: 5_000, queued: 0, waitedOn: 'PROMISE' },
    ]);
  });

  test('a site naming a location that is not defined (or "unknown") is a clear problem, never a crash', async () => {
    for (const [site, why] of [
      [2 * 5, 'names location id 5, which is not defined'],
      [1, 'names location id 0, which is "unknown"'],
    ] as const) {
      const bytes = traceWith((e) => e.run(50, 1, 0, 20, 5, 0, 'Timeout'));
      // The site is the Run event's last byte, before the footer frame: a 0 written by the encoder.
      const footer = encodeFooter({ events: 1, dropped: 0, endTs: 100_000 }).length;
      const at = bytes.length - footer - 1;
      expect(bytes[at]).toBe(0);
      bytes[at] = site;
      const frameStart = encodeFileStart(header).length;
      bytes.writeUInt32LE(crc32(bytes.subarray(frameStart + 8, bytes.length - footer)), frameStart + 4);
      const { status } = await loadTrace(bytes);
      expect(status.problem).toMatchObject({ kind: 'corrupt', reason: expect.stringContaining(`a Run event's site ${site} ${why}`) });
    }
  });

  test('a version 5 trace, whose Run events have no site, still reads', async () => {
    // Written as version 5 wrote it: the Run event's fields end with the resource type.
    const e = new BatchEncoder();
    e.begin(0);
    e.run(50_000, 3, 7, 20_000, 15_000, 5_001, 'Timeout');
    const batch = Buffer.from(e.finish());
    expect(batch[batch.length - 1]).toBe(0); // the site: dropped below
    const v5 = Buffer.concat([batch.subarray(0, batch.length - 1)]);
    v5.writeUInt32LE(v5.length - 9, 0);
    v5.writeUInt32LE(crc32(v5.subarray(8)), 4);
    const start = Buffer.from(encodeFileStart(header));
    start[8 + 9] = 5;
    start.writeUInt32LE(crc32(start.subarray(8 + 8)), 8 + 4);
    const { events, status } = await loadTrace(Buffer.concat([start, v5, encodeFooter({ events: 1, dropped: 0, endTs: 100_000 })]));
    expect(status.problem).toBeNull();
    expect(status.header!.version).toBe(5);
    expect(runsOf(events)).toEqual([{ kind: 'run', ts: 30_000, flow: 3, task: 7, duration: 15_000, queued: 5_000, waitedOn: 'Timeout' }]);
  });
});
