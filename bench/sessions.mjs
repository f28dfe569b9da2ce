// What tracing sessions leave behind: a long-lived async loop (a queue consumer: each turn a task with
// a region across an await) runs while tracing is started and stopped again and again, as when a
// trace endpoint is polled; the cost of a turn in the loop's late sessions against its early ones.
// A session that left anything in the loop's async context (on Node 24, a key per AsyncLocalStorage in
// every context frame, copied at each scope change) would make every later turn dearer.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './harness.mjs';
import { runtimeDir } from './runtime-dir.mjs';

const { background, newTask, start, startRegion, stop } = await import(`${runtimeDir}/runtime/index.js`);

/** ns per turn of the loop in sessions 20–59 (`early`) and in the last 40 (`late`) of `sessions`, each `sessionMs` long. */
export async function measureSessionCost({ sessions, sessionMs }) {
  const path = join(tmpdir(), `tstrace-bench-sessions-${process.pid}.trace`);
  let running = true;
  let turns = 0;
  const consumer = (async () => {
    while (running) {
      const [ctx, task] = newTask(background, 'job');
      const region = startRegion(ctx, 'step');
      await null;
      region.end();
      task.end();
      // Now and then a turn of the event loop, as a consumer waiting for its queue gives.
      if (++turns % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  const perTurn = [];
  for (let s = 0; s < sessions; s++) {
    start(path, { gc: false, heap: false, eventLoop: false });
    const t0 = process.hrtime.bigint();
    const turns0 = turns;
    await new Promise((resolve) => setTimeout(resolve, sessionMs));
    perTurn.push(Number(process.hrtime.bigint() - t0) / Math.max(1, turns - turns0));
    await stop();
  }
  running = false;
  await consumer;
  const early = median(perTurn.slice(20, 60));
  const late = median(perTurn.slice(-40));
  return { sessions, early, late, ratio: late / early };
}
