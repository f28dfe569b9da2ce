import { describe, expect, test } from 'vitest';
import { analyzeExecution, type TaskTimeBreakdown } from '../analysis/time-breakdown.js';
import { runCli } from '../cli/cli-run.js';
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
    // The known work as it really went (a loaded machine may stretch it): the busy loop's length, and
    // when the timer was armed after its task was created.
    const measured = { crunchMs: 0, timerCreated: 0, timerArmed: 0 };
    const { events } = await traceOf(
      async () => {
        const job = (type: string, body: (ctx: ReturnType<typeof newTask>[0]) => Promise<void>) => {
          const [ctx, task] = newTask(background, type);
          if (type === 'timer') measured.timerCreated = performance.now();
          const done = withRegion(ctx, 'handle', () => body(ctx)).then(() => task.end());
          return { id: task.id, done };
        };
        const busyJob = job('busy', async (ctx) => {
          await timer(5);
          withRegion(ctx, 'crunch', () => {
            const from = performance.now();
            busy(50);
            measured.crunchMs = performance.now() - from;
          });
        });
        const timerJob = job('timer', async () => {
          measured.timerArmed = performance.now();
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
    expect(ms(busyTask.running)).toBeGreaterThanOrEqual(measured.crunchMs);
    expect(ms(busyTask.running)).toBeLessThan(measured.crunchMs + 5); // its other runs are short
    expect(sum(busyTask)).toBe(busyTask.wall);

    // The timer fell due at ~30 ms, while the busy stretch (~5–55 ms) held the thread.
    const timerTask = of(ids.timer);
    const busyRun = analysis.blockers[0];
    expect(busyRun).toMatchObject({ task: ids.busy, taskType: 'busy', region: 'crunch' });
    expect(ms(busyRun.duration)).toBeGreaterThanOrEqual(50);
    const busyEnd = busyRun.start + busyRun.duration;
    // Due 30 ms after it was armed (Node may fire a timer up to ~1 ms late: that counts as queued).
    const due = timerTask.start + (measured.timerArmed - measured.timerCreated) * 1e6 + 30e6;
    expect(ms(timerTask.running)).toBeLessThan(3);
    expect(ms(timerTask.waiting)).toBeGreaterThan(ms(due - timerTask.start) - 3);
    expect(ms(timerTask.waiting)).toBeLessThan(ms(due - timerTask.start) + 3);
    expect(ms(timerTask.queued)).toBeGreaterThan(ms(busyEnd - due) - 3);
    // Queued behind the busy stretch from its due time to the stretch's end, then behind the others' short runs.
    expect(timerTask.blockers[0]).toMatchObject({ task: ids.busy, region: 'crunch' });
    expect(Math.abs(ms(timerTask.blockers[0].delayed - (busyEnd - due)))).toBeLessThan(3);
    // The rest: the others' short runs, or background work (the recorder's flush, a Promise.all continuing).
    expect(timerTask.blockers.every((b) => b.task !== ids.timer && (b.task === 0 || b.task === ids.busy || ids.others.includes(b.task)))).toBe(true);
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

describe('the command line', () => {
  const cli = async (args: string[]) => {
    const out = { stdout: '', stderr: '' };
    const code = await runCli(args, { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t), version: '0', cwd: '/' });
    return { code, ...out };
  };
  /** A busy task holding the thread 20 ms while two others' timers fall due. */
  const busyTrace = (scheduling: boolean) =>
    traceOf(
      async () => {
        const jobs = ['busy', 'waiter', 'waiter'].map((type) => {
          const [ctx, task] = newTask(background, type);
          return withRegion(ctx, 'handle', async () => {
            await timer(type === 'busy' ? 1 : 5);
            if (type === 'busy') withRegion(ctx, 'crunch', () => busy(20));
            task.end();
          });
        });
        await Promise.all(jobs);
      },
      { scheduling },
    );

  test('tasks, stats and blockers show where the time went, as text and as JSON', async () => {
    const { path } = await busyTrace(true);
    const tasks = await cli(['tasks', path, '--json', '--quiet']);
    expect(tasks.code).toBe(0);
    const doc = JSON.parse(tasks.stdout) as { tasks: { id: number; type: string; time: { wall: number; running: number; queued: number; waiting: number; blockers: { taskType: string; region: string }[] } }[] };
    for (const task of doc.tasks) expect(task.time.running + task.time.queued + task.time.waiting).toBe(task.time.wall);
    for (const waiter of doc.tasks.filter((t) => t.type === 'waiter')) expect(waiter.time.blockers[0]).toMatchObject({ taskType: 'busy', region: 'crunch' });

    const text = await cli(['tasks', path, '--type', 'waiter', '--quiet']);
    expect(text.stdout).toMatch(/ {2}time {8}running \S+, queued \S+, waiting \S+ \(\d+ runs?/);
    expect(text.stdout).toMatch(/blocked by {2}task \d+ \(busy\) region "crunch" for /);

    const stats = JSON.parse((await cli(['stats', path, '--json', '--quiet'])).stdout) as { execution: { taskTypes: { type: string; tasks: number }[]; blockers: { taskType: string }[] } };
    expect(stats.execution.taskTypes.map((t) => [t.type, t.tasks])).toEqual([['busy', 1], ['waiter', 2]]);
    expect(stats.execution.blockers[0].taskType).toBe('busy');
    expect((await cli(['stats', path, '--quiet'])).stdout).toContain('Where the time went, by task type');

    const blockers = await cli(['blockers', path, '--limit', '1', '--quiet']);
    expect(blockers.code).toBe(0);
    expect(blockers.stdout.split('\n')[1]).toMatch(/^\s*\S+\s+2\s+task \d+ \(busy\)\s+crunch\s/);
  });

  test('a trace without scheduling events: the reports are as before, and blockers says how to get them', async () => {
    const { path } = await busyTrace(false);
    const doc = JSON.parse((await cli(['tasks', path, '--json', '--quiet'])).stdout) as { tasks: object[] };
    for (const task of doc.tasks) expect(task).not.toHaveProperty('time');
    expect(JSON.parse((await cli(['stats', path, '--json', '--quiet'])).stdout)).not.toHaveProperty('execution');
    expect((await cli(['stats', path, '--quiet'])).stdout).not.toContain('Where the time went');
    const blockers = await cli(['blockers', path, '--quiet']);
    expect(blockers.code).toBe(0);
    expect(blockers.stdout).toContain('No scheduling events: record the trace with start(…, { scheduling: true })');
    expect((await cli(['blockers', path, '--type', 'x'])).code).toBe(2);
  });
});
