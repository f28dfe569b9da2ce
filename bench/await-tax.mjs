// What tracing costs the rest of the program: an `await` in code that never touches tstrace, timed
// with tracing never started and with tracing on (a region started elsewhere, so the async-context
// machinery the tracer uses is active, as in a traced service). Rounds alternate; medians are reported.
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './harness.mjs';
import { runtimeDir } from './runtime-dir.mjs';

const { background, newTask, start, startRegion, stop } = await import(`${runtimeDir}/runtime/index.js`);

// An ordinary async helper, and a caller awaiting it: two awaits and a promise per iteration.
async function plainHelper(i) {
  await null;
  return i;
}
async function awaitLoop(n) {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += await plainHelper(i);
  return sum;
}

async function timed(n) {
  const t0 = process.hrtime.bigint();
  await awaitLoop(n);
  return Number(process.hrtime.bigint() - t0) / n;
}

/** ns per iteration of `await helper()` with tracing off and on; `ratio` = on / off. */
export async function measureAwaitTax({ rounds, n }) {
  const path = join(tmpdir(), `tstrace-bench-await-${process.pid}.trace`);
  const off = [];
  const on = [];
  await timed(n); // warm-up, tracing never started yet
  for (let r = 0; r < rounds; r++) {
    off.push(await timed(n));
    start(path, { gc: false, heap: false, eventLoop: false });
    // Somewhere else in the program a request is being traced: the tracer's context is in use.
    const [ctx, task] = newTask(background, 'elsewhere');
    await new Promise((resolve) => setImmediate(() => resolve(startRegion(ctx, 'elsewhere'))));
    on.push(await timed(n));
    task.end();
    await stop();
  }
  const offNs = median(off);
  const onNs = median(on);
  return { offNs, onNs, ratio: onNs / offNs };
}

/**
 * Scheduling events' cost on an await-heavy workload: 20 concurrent tasks, each awaiting `plainHelper`
 * in a loop and yielding to the others through a timer-free `setImmediate` every 100 iterations, timed
 * with tracing on (annotations only) and with tracing on and `scheduling: true` (the async_hooks hook).
 * ns per await iteration; `ratio` = with scheduling / annotations only; `bytesPerIteration`: the
 * trace file's size over the iterations, with scheduling.
 */
export async function measureSchedulingCost({ rounds, n }) {
  const path = join(tmpdir(), `tstrace-bench-scheduling-${process.pid}.trace`);
  const tasks = 20;
  const perTask = Math.max(100, Math.floor(n / tasks));
  async function worker(ctx) {
    let sum = 0;
    for (let i = 0; i < perTask; i++) {
      sum += await plainHelper(i);
      if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
    return sum;
  }
  async function round(options) {
    start(path, { gc: false, heap: false, eventLoop: false, ...options });
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: tasks }, () => {
        const [ctx, task] = newTask(background, 'worker');
        return worker(ctx).then(() => task.end());
      }),
    );
    const ns = Number(process.hrtime.bigint() - t0) / (tasks * perTask);
    await stop();
    return { ns, bytes: statSync(path).size };
  }
  await round({}); // warm-up
  await round({ scheduling: true });
  const annotations = [];
  const scheduling = [];
  let bytes = 0;
  for (let r = 0; r < rounds; r++) {
    annotations.push((await round({})).ns);
    const withHook = await round({ scheduling: true });
    scheduling.push(withHook.ns);
    bytes = withHook.bytes;
  }
  const onNs = median(annotations);
  const schedulingNs = median(scheduling);
  return { onNs, schedulingNs, ratio: schedulingNs / onNs, bytesPerIteration: bytes / (tasks * perTask) };
}
