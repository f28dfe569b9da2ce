// What tracing costs the rest of the program: an `await` in code that never touches tstrace, timed
// with tracing never started and with tracing on (a region started elsewhere, so the async-context
// machinery the tracer uses is active, as in a traced service). Rounds alternate; medians are reported.
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
