// A node:http service with a flight recorder: a task per request, regions across its awaits, and a
// snapshot of the last seconds written when a request takes longer than its latency budget. What
// server.mjs runs for a few seconds and soak.mjs for minutes.
import { createServer } from 'node:http';
import { background, newTask, startRegion } from 'tstrace';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Work a request awaits, in a region of its own. */
async function query(ctx, name, ms) {
  const region = startRegion(ctx, name);
  await sleep(ms);
  region.end();
}

/**
 * The service. `GET /slow` takes 300 ms, every other path 5–15 ms. A request slower than `budgetMs`
 * calls `recorder.writeTo(snapshotPath())` (at most one snapshot in flight) and `onSnapshot(path, bytes, taskId)`.
 */
export function flightService({ recorder, budgetMs, snapshotPath, onSnapshot }) {
  let writing = false;
  return createServer((req, res) => {
    const began = performance.now();
    const [ctx, task] = newTask(background, 'request');
    const handle = startRegion(ctx, 'handle');
    void (async () => {
      await query(ctx, 'db', req.url === '/slow' ? 300 : 5 + Math.random() * 10);
      await query(ctx, 'render', 1);
      handle.end();
      task.end();
      res.end('ok\n');
      if (performance.now() - began > budgetMs && !writing) {
        writing = true;
        const path = snapshotPath();
        try {
          onSnapshot(path, await recorder.writeTo(path), task.id);
        } finally {
          writing = false;
        }
      }
    })();
  });
}

/** Sends requests from `clients` concurrent clients to `url` until `until` (a performance.now()). */
export async function traffic(url, clients, until) {
  let requests = 0;
  const client = async () => {
    while (performance.now() < until) {
      await (await fetch(url)).text();
      requests++;
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return requests;
}
