import { AsyncResource, createHook } from 'node:async_hooks';
import { crc32 } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { loadTrace } from '../analysis/reader.js';
import type { TraceEvent } from '../format/events.js';
import { BatchEncoder, encodeFileStart, encodeFooter } from '../format/encode.js';
import { background, FlightRecorder, newTask, withRegion } from '../runtime/index.js';
import { schedulingActive } from '../runtime/scheduling.js';
import { mergeTraces } from '../export/merge-traces.js';
import { ExecutionCollector } from '../analysis/time-breakdown.js';
import { encodedTrace, sleep, tempTracePath, traceOf } from './helpers/trace.js';

type Run = Extract<TraceEvent, { kind: 'run' }>;
const runsOf = (events: TraceEvent[]): Run[] => events.filter((e): e is Run => e.kind === 'run');
const ms = (ns: number): number => ns / 1e6;

/** Holds the thread for `duration` ms: work of known length. */
function busy(duration: number): void {
  const end = performance.now() + duration;
  while (performance.now() < end);
}

describe('scheduling events: recording', () => {
  test('off, no hook is installed and no run is recorded', async () => {
    const { events } = await traceOf(async () => {
      expect(schedulingActive()).toBe(false);
      await sleep(2);
    });
    expect(runsOf(events)).toEqual([]);
  });

  test('on, the hook is installed while tracing only', async () => {
    const { events } = await traceOf(
      async () => {
        expect(schedulingActive()).toBe(true);
        await sleep(2);
      },
      { scheduling: true },
    );
    expect(schedulingActive()).toBe(false);
    expect(runsOf(events).length).toBeGreaterThan(0);
  });

  test('a task’s busy stretch is one run of its task, of the length of the work; a timer that fell due meanwhile was queued behind it', async () => {
    let busyTask = 0;
    let timerTask = 0;
    let crunchMs = 0;
    let lateMs = 0;
    const { events, status } = await traceOf(
      async () => {
        // withRegion makes each task the ambient one of its chain: its runs are recorded as the task's.
        const [busyCtx, busyTaskObject] = newTask(background, 'busy');
        busyTask = busyTaskObject.id;
        const busyJob = withRegion(busyCtx, 'job', async () => {
          await sleep(2);
          withRegion(busyCtx, 'crunch', () => {
            const from = performance.now();
            busy(40);
            crunchMs = performance.now() - from; // as long as it really took (a loaded machine stretches it)
          });
          busyTaskObject.end();
        });
        const [timerCtx, timerTaskObject] = newTask(background, 'timer');
        timerTask = timerTaskObject.id;
        const timerJob = withRegion(timerCtx, 'job', async () => {
          // Due at about 10 ms, while the busy stretch (about 2–42 ms) holds the thread.
          const due = performance.now() + 10;
          await new Promise((resolve) =>
            setTimeout(() => {
              lateMs = performance.now() - due; // how late it really ran (a loaded machine can delay it more)
              resolve(undefined);
            }, 10),
          );
          timerTaskObject.end();
        });
        await Promise.all([busyJob, timerJob]);
      },
      { scheduling: true },
    );
    expect(status.problem).toBeNull();
    const runs = runsOf(events);
    const longest = runs.reduce((a, b) => (b.duration > a.duration ? b : a));
    expect(longest.task).toBe(busyTask);
    expect(ms(longest.duration)).toBeGreaterThanOrEqual(40);
    // Within a few µs of the work as the test timed it (the hook's clock reads are not the test's own).
    expect(ms(longest.duration)).toBeGreaterThanOrEqual(crunchMs - 0.05);
    expect(ms(longest.duration)).toBeLessThan(crunchMs + 5);
    const timerRun = runs.find((r) => r.task === timerTask && r.waitedOn === 'Timeout')!;
    expect(timerRun).toBeDefined();
    expect(timerRun.ts).toBeGreaterThanOrEqual(longest.ts + longest.duration);
    // Due at ~10 ms, run after the busy stretch ended at ~42 ms: queued for about 30 ms — as late as the
    // test saw it run (a stall of the process before the busy stretch makes it later still).
    expect(ms(timerRun.queued!)).toBeGreaterThan(20);
    expect(Math.abs(ms(timerRun.queued!) - lateMs)).toBeLessThan(2);
  });

  test('callbacks outside any task that run back to back, as a server’s request callbacks do, are each named by the task they began', async () => {
    let quick = 0;
    let slow = 0;
    let workMs = 0;
    const { events, status } = await traceOf(
      () =>
        new Promise<void>((resolve) => {
          // Two callbacks due at once, from outside any task: each begins a task of its own, as a request handler does.
          setImmediate(() => {
            const [, task] = newTask(background, 'quick');
            quick = task.id;
            task.end();
          });
          setImmediate(() => {
            const [ctx, task] = newTask(background, 'slow');
            slow = task.id;
            withRegion(ctx, 'work', () => {
              const from = performance.now();
              busy(20);
              workMs = performance.now() - from;
            });
            task.end();
            resolve();
          });
        }),
      { scheduling: true },
    );
    expect(status.problem).toBeNull();
    const collector = new ExecutionCollector();
    for (const event of events) collector.add(event);
    const times = collector.finish(status.footer!.endTs);
    const running = (id: number): number => ms(times.tasks.find((t) => t.task === id)?.running ?? 0);
    // The slow task's work is its own running time, not the quick task's (whose callback ran just before it).
    expect(running(slow)).toBeGreaterThanOrEqual(workMs);
    expect(running(quick)).toBeLessThan(workMs);
  });

  test('runs never overlap, and each carries what it waited for', async () => {
    const { events } = await traceOf(
      async () => {
        await Promise.all(
          Array.from({ length: 10 }, async (_, i) => {
            const [ctx, task] = newTask(background, 'job');
            await withRegion(ctx, 'step', async () => {
              await sleep(1 + (i % 3));
              await new Promise((resolve) => setImmediate(resolve));
              busy(1);
            });
            task.end();
          }),
        );
      },
      { scheduling: true },
    );
    const runs = runsOf(events).sort((a, b) => a.ts - b.ts);
    for (let i = 1; i < runs.length; i++) expect(runs[i].ts).toBeGreaterThanOrEqual(runs[i - 1].ts + runs[i - 1].duration);
    const waited = new Set(runs.map((r) => r.waitedOn));
    expect(waited).toContain('Timeout');
    expect(waited).toContain('PROMISE');
    expect(waited).toContain('Immediate');
  });
});

test('a flight recorder with scheduling events: its ring evicts runs, and a snapshot reads with them', async () => {
  const recorder = new FlightRecorder({ minAge: 20, maxBytes: 1 << 20, sampleInterval: 5, gc: false, heap: false, eventLoop: false, scheduling: true });
  recorder.start();
  try {
    for (let i = 0; i < 20; i++) {
      const [ctx, task] = newTask(background, 'job');
      await withRegion(ctx, 'step', async () => {
        await sleep(3);
        busy(1);
      });
      task.end();
    }
    const path = tempTracePath('snapshot.out');
    await recorder.writeTo(path);
    const { events, status } = await loadTrace(path);
    expect(status.problem).toBeNull();
    expect(runsOf(events).length).toBeGreaterThan(0);
  } finally {
    await recorder.stop();
  }
});

test('a program’s own AsyncResource (frozen after creation) and its own async hook run as without tracing', async () => {
  const seen: string[] = [];
  const hook = createHook({ init: (_id, type) => void (type === 'FrozenThing' && seen.push(type)) }).enable();
  try {
    const { events, status } = await traceOf(
      async () => {
        const resource = Object.freeze(new AsyncResource('FrozenThing'));
        expect(resource.runInAsyncScope(() => 42)).toBe(42);
        await sleep(1);
      },
      { scheduling: true },
    );
    expect(status.problem).toBeNull();
    expect(runsOf(events).length).toBeGreaterThan(0);
    expect(seen).toEqual(['FrozenThing']);
  } finally {
    hook.disable();
  }
});

describe('scheduling events: format', () => {
  const header = { version: 5, wallClockOriginNs: 0n, hrtimeOriginNs: 0n, pid: 1, nodeVersion: 'v20', command: 'x' };
  const traceWith = (write: (e: BatchEncoder) => void): Buffer => encodedTrace(header, write);

  test('a Run reads back with its start, duration, queued time (null: unknown) and resource type', async () => {
    const { events, status } = await loadTrace(
      traceWith((e) => {
        e.run(50_000, 3, 7, 20_000, 15_000, 5_001, 'Timeout');
        e.run(60_000, 3, 7, 5_000, 5_000, 0, 'TCPWRAP');
      }),
    );
    expect(status.problem).toBeNull();
    expect(runsOf(events)).toEqual([
      { kind: 'run', ts: 30_000, flow: 3, task: 7, duration: 15_000, queued: 5_000, waitedOn: 'Timeout' },
      { kind: 'run', ts: 55_000, flow: 3, task: 7, duration: 5_000, queued: null, waitedOn: 'TCPWRAP' },
    ]);
  });

  test('a run that began before the trace (a snapshot’s window cut it) starts at the trace start', async () => {
    const { events, status } = await loadTrace(traceWith((e) => e.run(10, 1, 0, 20, 15, 0, '')));
    expect(status.problem).toBeNull();
    expect(runsOf(events)).toEqual([{ kind: 'run', ts: 0, flow: 1, task: 0, duration: 5, queued: null, waitedOn: '' }]);
  });

  test('impossible values are a clear problem, never a crash', async () => {
    const long = await loadTrace(traceWith((e) => e.run(100, 1, 0, 20, 50, 0, '')));
    expect(long.status.problem).toMatchObject({ kind: 'corrupt', reason: expect.stringContaining('lasts 50 ns') });
  });

  test('tstrace merge keeps the runs, with the flows and tasks of their input', async () => {
    const { path, events } = await traceOf(
      async () => {
        const [ctx, task] = newTask(background, 'job');
        await withRegion(ctx, 'r', () => sleep(2));
        task.end();
      },
      { scheduling: true },
    );
    const out = tempTracePath('merged.out');
    await mergeTraces([path, path], out);
    const merged = await loadTrace(out);
    expect(merged.status.problem).toBeNull();
    const runs = runsOf(events);
    const mergedRuns = runsOf(merged.events);
    expect(mergedRuns).toHaveLength(2 * runs.length);
    const taskOffset = Math.max(...events.flatMap((e) => (e.kind === 'taskCreate' ? [e.task] : [])));
    const ofTask = (list: Run[], task: number) => list.filter((r) => r.task === task).map((r) => [r.duration, r.queued, r.waitedOn]);
    const task = events.find((e) => e.kind === 'taskCreate')!.task;
    expect(ofTask(mergedRuns, task + taskOffset)).toEqual(ofTask(runs, task));
  });

  test('a Run in a version 4 trace is an unknown event type', async () => {
    const bytes = traceWith((e) => e.run(50, 1, 0, 20, 5, 0, ''));
    // The version is the first byte of the header frame's payload (after magic and the 9-byte frame head).
    bytes[8 + 9] = 4;
    const head = encodeFileStart(header).length;
    bytes.writeUInt32LE(crc32(bytes.subarray(8 + 8, head)), 8 + 4);
    const { status } = await loadTrace(bytes);
    expect(status.problem).toMatchObject({ kind: 'corrupt', reason: 'unknown event type 15' });
  });
});

