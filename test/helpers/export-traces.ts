/**
 * Traces the export tests (Chrome, Perfetto) and the viewer tests write with the real runtime: a small
 * service with tasks, subtasks, logs and GCs; the misuse the runtime records; and a busy service of many
 * requests in flight.
 */
import { background, current, log, newTask, start, startRegion, stop, withRegion, type StartOptions } from '../../runtime/index.js';
import { sleep } from './trace.js';

/** A traced program like a service: tasks with subtasks on concurrent flows, logs, GCs, event-loop samples, locations. */
export async function serviceTrace(path: string): Promise<void> {
  start(path, { gc: true, heap: true, eventLoop: true, sampleInterval: 5, captureLocations: true });
  try {
    const garbage: object[][] = [];
    await Promise.all(
      [1, 2, 3].map((n) =>
        withRegion(background, 'request', async () => {
          const [ctx, task] = newTask(current(), 'handle');
          log(ctx, 'request', `order-${n}`);
          await withRegion(ctx, 'load', async () => {
            await sleep(2);
            const [sub, subtask] = newTask(ctx, 'query');
            await withRegion(sub, 'db', async () => {
              garbage.push(Array.from({ length: 100_000 }, (_, i) => ({ i })));
              await sleep(3);
            });
            subtask.end();
          });
          const region = startRegion(ctx, 'render');
          log(ctx, 'render', 'done');
          region.end();
          task.end();
        }),
      ),
    );
    garbage.length = 0;
    for (let i = 0; i < 5; i++) Array.from({ length: 200_000 }, (_, j) => ({ j }));
    await sleep(30);
  } finally {
    await stop();
  }
}

/** Misuse the runtime records: out-of-order ends (also of recursive regions of one type), ends twice, regions left open. */
export async function misuseTrace(path: string): Promise<void> {
  start(path, { gc: false, heap: false, eventLoop: false });
  try {
    const outer = startRegion(background, 'outer');
    const inner = startRegion(background, 'inner');
    outer.end(); // before inner: repaired
    inner.end();
    outer.end(); // twice: recorded, ignored
    const a = startRegion(background, 'step');
    const b = startRegion(background, 'step');
    const c = startRegion(background, 'leaf');
    a.end(); // the outermost "step", with two regions nested in it
    c.end();
    b.end();
    startRegion(background, 'left-open');
    const [ctx] = newTask(background, 'never-ended');
    log(ctx, 'note', 'still running');
    await sleep(1);
  } finally {
    await stop();
  }
}

/**
 * A busy service, as bench/reader.mjs writes it: `requests` (a multiple of 64), 64 in flight, each a
 * task with four regions — one of them awaited, on an async flow of its own — and a log (`slow query i`
 * for every `slowEvery`-th request, else `ok`).
 */
export async function requestsTrace(path: string, requests: number, slowEvery: number, options: StartOptions = {}): Promise<void> {
  async function request(i: number): Promise<void> {
    const [ctx, task] = newTask(background, 'request');
    startRegion(ctx, 'parse').end();
    await withRegion(ctx, 'handle', async () => {
      const query = startRegion(current(), 'query');
      await null;
      query.end();
      log(current(), 'db', i % slowEvery === 0 ? `slow query ${i}` : 'ok');
    });
    startRegion(ctx, 'render').end();
    task.end();
  }
  start(path, { maxBufferedBytes: 1 << 30, ...options });
  try {
    for (let i = 0; i < requests; ) {
      const batch: Promise<void>[] = [];
      for (let k = 0; k < 64; k++) batch.push(request(i++));
      await Promise.all(batch);
      if (i % 4096 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    await stop();
  }
}
