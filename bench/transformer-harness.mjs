// bench/harness.mjs's method, for loops that may be async: a contender's `loop(n)` returns its
// checksum, or a promise of it (`async function loop(n) { for (…) await obj.m(i); return … }`), and
// the round is timed until that promise resolves. Same warm-up, calibration, shuffled interleaved
// rounds and median; no forced GC (see harness.mjs for why).
import { median, shuffled } from './harness.mjs';

const isPromise = (value) => value !== null && typeof value === 'object' && typeof value.then === 'function';

/** Times one round of `contender.loop(n)` (setup, warm-up and teardown untimed); ns per operation. */
export async function timeRound(contender, n) {
  if (contender.setup) await contender.setup();
  const warm = contender.loop(Math.max(contender.roundWarmN ?? 10_000, Math.round(n / 20)));
  if (isPromise(warm)) await warm;
  const t0 = process.hrtime.bigint();
  let check = contender.loop(n);
  // Only an async loop's result is awaited: awaiting a number would add a microtask turn to the time.
  if (isPromise(check)) check = await check;
  const t1 = process.hrtime.bigint();
  if (contender.teardown) await contender.teardown();
  if (typeof check !== 'number') throw new Error(`${contender.name}: loop must return its checksum`);
  return Number(t1 - t0) / n;
}

/** An iteration count per contender so that one round takes about `roundMs`, within [minN, maxN]. */
export async function calibrate(contender, { roundMs, minN, maxN }) {
  const probe = Math.min(20_000, maxN);
  const ns = await timeRound(contender, probe);
  const n = Math.round((roundMs * 1e6) / Math.max(ns, 0.1));
  return Math.min(maxN, Math.max(minN, Math.round(n / 1000) * 1000));
}

export async function runSuite(contenders, { rounds, warmups, warmN, roundMs, minN, maxN, onRound }) {
  for (let w = 0; w < warmups; w++) {
    for (const c of shuffled(contenders, 2000 + w)) await timeRound(c, Math.min(warmN, c.warmN ?? warmN));
  }
  const n = new Map();
  for (const c of contenders) n.set(c, await calibrate(c, { roundMs, minN, maxN }));
  const samples = new Map(contenders.map((c) => [c, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of shuffled(contenders, 3000 + r)) samples.get(c).push(await timeRound(c, n.get(c)));
    onRound?.(r + 1, rounds);
  }
  return contenders.map((c) => {
    const s = samples.get(c);
    return { contender: c, n: n.get(c), samples: s, median: median(s), min: Math.min(...s), max: Math.max(...s) };
  });
}
