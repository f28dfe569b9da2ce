// tstrace merge / mergeTraces: several traces (one per process or worker) made into one.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from '../analysis/analysis.js';
import { loadTrace } from '../analysis/reader.js';
import { runCli } from '../cli/cli-run.js';
import { mergeTraces } from '../export/merge-traces.js';
import { BatchEncoder, encodeFileStart, encodeFooter } from '../format/encode.js';
import { samplePath } from './helpers/sample.js';
import { tempTracePath } from './helpers/trace.js';

const ms = 1_000_000;
const origin = 1_767_000_000_000n * BigInt(ms);

/**
 * A worker's trace as the runtime writes it: task 1 ("test <name>") on flow 1 with a region, a second
 * flow forked under it with a region of its own, a log; clock origin `originOffset` ns after `origin`.
 */
function workerTrace(name: string, originOffset: number, pid: number, complete = true): string {
  const path = tempTracePath(`${name}.out`);
  const e = new BatchEncoder();
  e.begin(0);
  e.taskCreate(1 * ms, 1, 1, 0, `test ${name}`, null);
  e.regionStart(2 * ms, 1, 1, 'body', null);
  e.flowStart(3 * ms, 2, 1, 0);
  e.regionStart(3 * ms, 2, 1, 'inner', { file: '/app/a.ts', line: 3, column: 1, function: 'inner' });
  e.log(4 * ms, 2, 1, 'worker', name);
  e.regionEnd(5 * ms, 2, 'inner');
  e.regionEnd(6 * ms, 1, 'body');
  e.taskEnd(7 * ms, 1, 1, null);
  const chunks = [
    encodeFileStart({ version: 2, wallClockOriginNs: origin + BigInt(originOffset), hrtimeOriginNs: 5n, pid, nodeVersion: 'v20', command: `node worker ${name}` }),
    e.finish(),
  ];
  if (complete) chunks.push(encodeFooter({ events: 8, dropped: 0, endTs: 8 * ms }));
  writeFileSync(path, Buffer.concat(chunks));
  return path;
}

describe('mergeTraces', () => {
  it('gives each input its own tasks and flows, and aligns their clocks by the headers\' wall-clock origins', async () => {
    const a = workerTrace('a', 0, 101);
    const b = workerTrace('b', 2 * ms, 102); // started 2 ms after a
    const out = tempTracePath('merged.out');
    const result = await mergeTraces([b, a], out, { pid: 1, command: 'vitest run' });
    expect(result).toMatchObject({ events: 16, complete: true });
    expect(result.inputs.map((input) => [input.pid, input.timeOffset, input.flowOffset, input.taskOffset])).toEqual([
      [102, 2 * ms, 0, 0],
      [101, 0, 2, 1],
    ]);

    const { events, status } = await loadTrace(out);
    expect(status.complete).toBe(true);
    expect(status.header).toMatchObject({ pid: 1, command: 'vitest run', wallClockOriginNs: origin });
    expect(status.footer).toEqual({ events: 16, dropped: 0, endTs: 10 * ms });
    // One clock: in time order, b's events 2 ms after where b recorded them.
    expect(events.map((e) => e.ts)).toEqual([...events.map((e) => e.ts)].sort((x, y) => x - y));

    const analysis = await analyzeTrace(out);
    expect(analysis.problems).toEqual([]);
    expect(analysis.tasks.map((t) => [t.id, t.type, t.start, t.end, t.flows])).toEqual([
      [1, 'test b', 3 * ms, 9 * ms, [1, 2]],
      [2, 'test a', 1 * ms, 7 * ms, [3, 4]],
    ]);
    const regions = analysis.regions.toArray().map((r) => [r.type, r.task, r.flow, r.parent === null ? null : analysis.regions.at(r.parent - 1)!.task]);
    expect(regions).toEqual([
      ['body', 2, 3, null],
      ['inner', 2, 4, 2],
      ['body', 1, 1, null],
      ['inner', 1, 2, 1],
    ]);
    expect(analysis.logs.toArray().map((l) => [l.task, l.message])).toEqual([
      [2, 'a'],
      [1, 'b'],
    ]);
  });

  it('merges a cut-off input up to where it stops, and then leaves the output unfinished as well', async () => {
    const out = tempTracePath('merged.out');
    const result = await mergeTraces([workerTrace('a', 0, 1), workerTrace('b', 0, 2, false)], out);
    expect(result.complete).toBe(false);
    const { events, status } = await loadTrace(out);
    expect(status.problem?.kind).toBe('unfinished');
    expect(events.filter((e) => e.kind === 'taskEnd')).toHaveLength(2);
  });
});

describe('tstrace merge', () => {
  const io = () => {
    const out = { stdout: '', stderr: '' };
    return { out, io: { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t), version: '0', cwd: '/' } };
  };

  it('writes the merged trace and says so', async () => {
    const { out, io: cli } = io();
    const target = tempTracePath('cli-merged.out');
    expect(await runCli(['merge', workerTrace('a', 0, 1), workerTrace('b', ms, 2), '-o', target], cli)).toBe(0);
    expect(out.stdout).toMatch(new RegExp(`^tstrace merge: wrote ${target}: 16 events from 2 traces, \\d+ bytes\\n$`));
    expect((await analyzeTrace(target)).tasks).toHaveLength(2);
  });

  it('fails on an input that is not a trace (exit 1), and on bad usage (exit 2)', async () => {
    const junk = tempTracePath('junk.out');
    writeFileSync(junk, 'not a trace');
    const { out, io: cli } = io();
    expect(await runCli(['merge', workerTrace('a', 0, 1), junk, '-o', tempTracePath('m.out')], cli)).toBe(1);
    expect(out.stderr).toContain(`tstrace: error: ${junk}: not merged: not a tstrace file`);
    const usage = io();
    expect(await runCli(['merge', junk], usage.io)).toBe(2);
    expect(usage.out.stderr).toContain('merge: missing -o OUT');
    expect(await runCli(['merge', junk, '-o', junk], usage.io)).toBe(2);
  });
});

describe('tstrace merge of traces with worker threads (samples/workers, run twice)', () => {
  /** Runs samples/workers (8 jobs over 4 worker threads) to a new trace. */
  const runWorkersSample = (name: string): Promise<string> => {
    const trace = tempTracePath(`${name}.out`);
    return new Promise((resolve, reject) =>
      execFile(process.execPath, [samplePath('workers', 'main.mjs'), trace], { cwd: join(import.meta.dirname, '..'), timeout: 60_000 }, (error) =>
        error ? reject(error) : resolve(trace),
      ),
    );
  };

  it('keeps every thread (its name, an id of its own) and the thread of every region and log', async () => {
    const a = await runWorkersSample('workers-a');
    const b = await runWorkersSample('workers-b');
    const [analysisA, analysisB] = [await analyzeTrace(a), await analyzeTrace(b)];
    const threadsA = analysisA.status.threads ?? [];
    const threadsB = analysisB.status.threads ?? [];
    // Two processes: their worker threads have the same ids (1 to 4).
    expect(threadsA.map((t) => t.id).sort()).toEqual(threadsB.map((t) => t.id).sort());

    const target = tempTracePath('workers-merged.out');
    const out = { stdout: '', stderr: '' };
    const cli = { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t), version: '0', cwd: '/' };
    expect(await runCli(['merge', a, b, '-o', target], cli), out.stderr).toBe(0);
    expect(out.stdout).toContain('from 2 traces (8 worker threads)');

    const merged = await analyzeTrace(target);
    expect(merged.problems).toEqual([]);
    expect(merged.status.complete).toBe(true);
    // a's threads keep their ids, b's are moved past them; every name is kept.
    const offset = Math.max(...threadsA.map((t) => t.id));
    const expectedThreads = [...threadsA.map((t) => [t.id, t.name]), ...threadsB.map((t) => [t.id + offset, t.name])];
    expect((merged.status.threads ?? []).map((t) => [t.id, t.name])).toEqual(expectedThreads);
    expect(new Set(expectedThreads.map(([id]) => id)).size).toBe(8);

    // Each region and log is on the thread it was on in its input (b's moved by the offset).
    const regionLines = (analysis: typeof merged, taskOffset: number, threadOffset: number): string[] =>
      analysis.regions.map((r) => `task${r.task + taskOffset} thread${r.thread === 0 ? 0 : r.thread + threadOffset} ${r.type}`).sort();
    const taskOffset = Math.max(...analysisA.tasks.map((t) => t.id));
    expect(regionLines(merged, 0, 0)).toEqual([...regionLines(analysisA, 0, 0), ...regionLines(analysisB, taskOffset, offset)].sort());
    expect(merged.logs.toArray().map((l) => l.thread).filter((t) => t !== 0).length).toBe(analysisA.logs.length + analysisB.logs.length);

    // Every job of either input lists regions from the main thread and from its own four workers.
    expect(merged.tasks).toHaveLength(16);
    for (const task of merged.tasks) {
      const own = task.id <= taskOffset ? threadsA.map((t) => t.id) : threadsB.map((t) => t.id + offset);
      expect(task.threads).toEqual([0, ...own.sort((x, y) => x - y)]);
    }
  }, 120_000);

  it('--threads: each input is a thread of its own, named after its file and pid, its workers beside it', async () => {
    const a = await runWorkersSample('workers-ta');
    const b = await runWorkersSample('workers-tb');
    const [analysisA, analysisB] = [await analyzeTrace(a), await analyzeTrace(b)];
    const target = tempTracePath('workers-threads.out');
    const out = { stdout: '', stderr: '' };
    const cli = { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t), version: '0', cwd: '/' };
    expect(await runCli(['merge', a, b, '-o', target, '--threads'], cli), out.stderr).toBe(0);
    expect(out.stdout).toContain('from 2 traces (10 worker threads)');
    const merged = await analyzeTrace(target);
    expect(merged.problems).toEqual([]);
    // a's main thread is thread 1, its workers 2–5; b's main thread 6, its workers 7–10.
    const threads = merged.status.threads ?? [];
    const workers = (analysis: typeof merged) => (analysis.status.threads ?? []).map((t) => t.id).sort((x, y) => x - y);
    expect(threads.map((t) => [t.id, t.name])).toEqual([
      [1, `${a} (pid ${analysisA.status.header!.pid})`],
      ...(analysisA.status.threads ?? []).map((t) => [t.id + 1, t.name]),
      [6, `${b} (pid ${analysisB.status.header!.pid})`],
      ...(analysisB.status.threads ?? []).map((t) => [t.id + 6, t.name]),
    ]);
    // Nothing is left on the output's main thread but process-wide samples; each job spans its own input's threads.
    expect(merged.regions.filter((r) => r.thread === 0)).toEqual([]);
    for (const task of merged.tasks) {
      const [main, offset, own] = task.threads[0] === 1 ? [1, 1, workers(analysisA)] : [6, 6, workers(analysisB)];
      expect(task.threads).toEqual([main, ...own.map((id) => id + offset)]);
    }
  }, 120_000);
});
