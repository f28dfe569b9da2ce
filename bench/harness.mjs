// A small, careful micro-benchmark harness.
//
// Every contender is a hand-written loop `for (let i = 0; i < n; i++) { <one operation> }` in its own
// function (so V8 specialises and inlines each one separately, as it would in user code), timed as a
// whole with process.hrtime.bigint(): no per-iteration harness call distorts the nanosecond figures.
// Rounds of all contenders are interleaved in a shuffled order; the median round is reported.
//
// No forced GC between rounds: a full collection shrinks the young generation and throws away
// optimised code, which makes the next rounds of allocating contenders (regions, spans, marks) slower
// than in a running program (measured: +5–10 ns per region pair at 1 M iterations, +20–45 ns at
// 200 k). A collection caused by an earlier contender's garbage is an outlier the median removes.

/** Deterministic shuffle (mulberry32), so runs are reproducible but no contender always goes first. */
export function shuffled(items, seed) {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export function median(values) {
  const s = values.slice().sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times one round of `contender.loop(n)`: `setup` (e.g. start tracing), a short warm-up and `teardown`
 * (stop tracing) run outside the timed part. Returns ns per operation.
 */
export async function timeRound(contender, n) {
  if (contender.setup) await contender.setup();
  // Untimed: re-optimise for this round. V8 embeds the objects of the current trace (encoder, sink,
  // AsyncLocalStorage) in optimised code and throws that code away once they are collected ("weak
  // objects" deopts), so the first iterations after start() may run unoptimised: a one-time cost,
  // not the steady state.
  contender.loop(Math.max(10_000, Math.round(n / 20)));
  const t0 = process.hrtime.bigint();
  const check = contender.loop(n);
  const t1 = process.hrtime.bigint();
  if (contender.teardown) await contender.teardown();
  if (typeof check !== 'number') throw new Error(`${contender.name}: loop must return its checksum`);
  return Number(t1 - t0) / n;
}

/**
 * Calibrates an iteration count per contender so that one round takes about `roundMs`, within
 * [minN, maxN]. The estimate uses an already warmed-up loop.
 */
export async function calibrate(contender, { roundMs, minN, maxN }) {
  const probe = 20_000;
  const ns = await timeRound(contender, probe);
  const n = Math.round((roundMs * 1e6) / Math.max(ns, 0.1));
  return Math.min(maxN, Math.max(minN, Math.round(n / 1000) * 1000));
}

/**
 * Warm-up (`warmups` untimed rounds of every contender, interleaved so each shared runtime function
 * sees both tracing on and off before it is optimised), calibration, then `rounds` timed rounds in a
 * shuffled order per round. Returns per-contender samples (ns/op) and the n used.
 */
export async function runSuite(contenders, { rounds, warmups, roundMs, minN, maxN, onRound }) {
  for (let w = 0; w < warmups; w++) {
    for (const c of shuffled(contenders, 1000 + w)) await timeRound(c, Math.min(200_000, c.warmN ?? 200_000));
  }
  const n = new Map();
  for (const c of contenders) n.set(c, await calibrate(c, { roundMs, minN, maxN }));
  const samples = new Map(contenders.map((c) => [c, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of shuffled(contenders, r + 1)) samples.get(c).push(await timeRound(c, n.get(c)));
    onRound?.(r + 1, rounds);
  }
  return contenders.map((c) => {
    const s = samples.get(c);
    return { contender: c, n: n.get(c), samples: s, median: median(s), min: Math.min(...s), max: Math.max(...s) };
  });
}
