// A worker of the pool: it imports tstrace and nothing more is needed to be in the main thread's trace.
// `contextFrom(link)` makes the main thread's task the task of the regions recorded here.
import { parentPort } from 'node:worker_threads';
import { contextFrom, log, withRegion } from 'tstrace';

function hash(rounds, seed) {
  let h = seed;
  for (let i = 0; i < rounds; i++) h = (h * 31 + i) % 1_000_003;
  return h;
}

parentPort.on('message', ({ id, link, part }) => {
  const ctx = contextFrom(link);
  const result = withRegion(ctx, 'part', () => {
    log(ctx, 'part', `part ${part.index}: ${part.rounds} rounds`);
    const first = withRegion(ctx, 'hash', () => hash(part.rounds, part.index));
    return withRegion(ctx, 'verify', () => hash(part.rounds >> 2, first));
  });
  parentPort.postMessage({ id, result });
});
