// A pool of worker threads doing parts of jobs. Each job is a task of the main thread; its parts go to
// the workers with the task's link (`linkOf(ctx)`), so the regions the workers record belong to it.
import { Worker } from 'node:worker_threads';
import { linkOf, startRegion, withRegion } from 'tstrace';

/** Starts `size` workers running worker.mjs; `run(ctx, part)` sends part `part.index` to worker `index % size`. */
export function workerPool(size) {
  const workers = Array.from({ length: size }, () => new Worker(new URL('./worker.mjs', import.meta.url)));
  const pending = new Map();
  let nextId = 0;
  for (const worker of workers) {
    worker.on('message', ({ id, result }) => {
      pending.get(id)(result);
      pending.delete(id);
    });
  }
  return {
    /** Resolves with the worker's result for `part`, done for the task in `ctx`. */
    run(ctx, part) {
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        workers[part.index % size].postMessage({ id, link: linkOf(ctx), part });
      });
    },
    close: () => Promise.all(workers.map((worker) => worker.terminate())),
  };
}

/** One job: a task, its parts done on the pool, then combined on the main thread. */
export async function job(pool, ctx, parts) {
  const sent = startRegion(ctx, 'scatter');
  const results = await Promise.all(Array.from({ length: parts }, (_, i) => pool.run(ctx, { index: i, rounds: 20_000 + i * 5_000 })));
  sent.end();
  return withRegion(ctx, 'combine', () => results.reduce((sum, r) => (sum + r) % 1_000_003, 0));
}
