import { describe, expect, test } from 'vitest';
import { analyzeExecution, type TaskTimeBreakdown } from '../analysis/time-breakdown.js';
import { background, newTask, withRegion } from '../runtime/index.js';
import { sleep, traceOf } from './helpers/trace.js';

const ms = (ns: number): number => ns / 1e6;

/** Holds the thread for `duration` ms: work of known length. */
function busy(duration: number): void {
  const end = performance.now() + duration;
  while (performance.now() < end);
}

/** A timer of `duration` ms (a plain one: what the breakdown sees as waiting, then maybe queued). */
const timer = (duration: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, duration));

describe('where each task’s time went', () => {
  test('known work: a 50 ms busy stretch, a 30 ms timer and 20 others in flight — each part within a few ms, and the busy task named as the blocker', async () => {
    const ids = { busy: 0, timer: 0, others: [] as number[] };
    const { events } = await traceOf(
      async () => {
        const job = (type: string, body: (ctx: ReturnType<typeof newTask>[0]) => Promise<void>) => {
          const [ctx, task] = newTask(background, type);
          const done = withRegion(ctx, 'handle', () => body(ctx)).then(() => task.end());
          return { id: task.id, done };
        };
        const busyJob = job('busy', async (ctx) => {
          await timer(5);
          withRegion(ctx, 'crunch', () => busy(50));
        });
        const timerJob = job('timer', async () => {
          await timer(30);
        });
        const others = Array.from({ length: 20 }, () =>
          job('other', async () => {
            await timer(10);
            busy(0.2);
          }),
        );
        ids.busy = busyJob.id;
        ids.timer = timerJob.id;
        ids.others = others.map((o) => o.id);
        await Promise.all([busyJob.done, timerJob.done, ...others.map((o) => o.done)]);
      },
      { scheduling: true },
    );
    const analysis = analyzeExecution(events);
    const of = (id: number): TaskTimeBreakdown => analysis.tasks.find((t) => t.task === id)!;
    const sum = (t: TaskTimeBreakdown) => t.running + t.queued + t.waiting;

    const busyTask = of(ids.busy);
    expect(ms(busyTask.running)).toBeGreaterThanOrEqual(50);
    expect(ms(busyTask.running)).toBeLessThan(50 + 10); // its other runs are short; the rest is a loaded machine
    expect(sum(busyTask)).toBe(busyTask.wall);

    // The timer fell due at ~30 ms, while the busy stretch (~5–55 ms) held the thread.
    const timerTask = of(ids.timer);
    const busyRun = analysis.blockers[0];
    expect(busyRun).toMatchObject({ task: ids.busy, taskType: 'busy', region: 'crunch' });
    expect(ms(busyRun.duration)).toBeGreaterThanOrEqual(50);
    const busyEnd = busyRun.start + busyRun.duration;
    // Due 30 ms after the task began (Node may fire a timer up to ~1 ms late: that counts as queued).
    const due = timerTask.start + 30e6;
    expect(ms(timerTask.running)).toBeLessThan(3);
    expect(ms(timerTask.waiting)).toBeGreaterThan(30 - 3);
    expect(ms(timerTask.waiting)).toBeLessThan(30 + 3);
    expect(ms(timerTask.queued)).toBeGreaterThan(ms(busyEnd - due) - 3);
    // Queued behind the busy stretch from its due time to the stretch's end, then behind the others' short runs.
    expect(timerTask.blockers[0]).toMatchObject({ task: ids.busy, region: 'crunch' });
    expect(Math.abs(ms(timerTask.blockers[0].delayed - (busyEnd - due)))).toBeLessThan(3);
    expect(timerTask.blockers.slice(1).every((b) => ids.others.includes(b.task))).toBe(true);
    expect(sum(timerTask)).toBe(timerTask.wall);

    // Every other request fell due at ~10 ms and waited for the busy stretch to end: it is their top blocker.
    for (const id of ids.others) {
      const other = of(id);
      expect(other.blockers[0]).toMatchObject({ task: ids.busy, taskType: 'busy', region: 'crunch' });
      expect(ms(other.queued)).toBeGreaterThan(30);
      expect(ms(other.waiting)).toBeGreaterThan(10 - 3);
    }
    expect(busyRun.tasksDelayed).toBe(21);

    const types = Object.fromEntries(analysis.taskTypes.map((t) => [t.type, t]));
    expect(types.other.tasks).toBe(20);
    expect(ms(types.other.queued!.p50)).toBeGreaterThan(30);
    expect(ms(types.busy.running!.max)).toBeGreaterThanOrEqual(50);
  });

  test('a run begun outside any task is the task whose events lie inside it', async () => {
    let id = 0;
    const { events } = await traceOf(
      async () => {
        await sleep(1);
        // A callback with no ambient task creates one and works for it: an HTTP handler's shape.
        await new Promise<void>((resolve) =>
          setTimeout(() => {
            const [ctx, task] = newTask(background, 'request');
            id = task.id;
            withRegion(ctx, 'parse', () => busy(20));
            task.end();
            resolve();
          }, 1),
        );
      },
      { scheduling: true },
    );
    const analysis = analyzeExecution(events);
    const task = analysis.tasks.find((t) => t.task === id)!;
    expect(ms(task.running)).toBeGreaterThanOrEqual(20);
    expect(task.running).toBeLessThanOrEqual(task.wall);
  });

  test('a trace without scheduling events has no breakdown', async () => {
    const { events } = await traceOf(async () => {
      const [ctx, task] = newTask(background, 'job');
      await withRegion(ctx, 'r', () => sleep(1));
      task.end();
    });
    expect(analyzeExecution(events)).toMatchObject({ runs: 0, tasks: [], blockers: [] });
  });
});
