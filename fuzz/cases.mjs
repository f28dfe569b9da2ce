// Fuzz cases: fast-check arbitraries that pick a seed trace and a mutation (truncation, bit flips, byte
// overwrites, spliced / duplicated / reordered frames, huge length fields and varints, payloads with a
// recomputed checksum), or generate a whole trace from random event sequences; and how the reader is fed
// (whole bytes, chunks of random sizes, or a file).
import fc from 'fast-check';
import { encodeTrace, FRAME_HEAD, KIND, reseal, splitFrames, TYPE, uvarint, varintStarts } from './frames.mjs';

/** A small deterministic PRNG (mulberry32) for the details of a mutation, seeded by fast-check. */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
    chance: (p) => next() < p,
  };
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x3f, 0x0d, 0xc0];
/** Varints that claim a lot: 2^53 − 1, 2^56 − 1 (8 bytes, too large), 9 and 10 bytes (too long), 4 GiB, 64 MiB + 1. */
const HUGE_VARINTS = [
  uvarint(2 ** 53 - 1),
  Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
  Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
  Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
  uvarint(2 ** 32 - 1),
  uvarint(2 ** 32),
  uvarint((64 << 20) + 1),
  uvarint((1 << 20) + 1),
  uvarint(2 ** 31),
  uvarint(2 ** 53),
];
const HUGE_LENGTHS = [0xffffffff, 0xfffffff0, 64 << 20, (64 << 20) + 1, 2 ** 31, 1 << 20];

// ---- mutations: (bytes, rng, other) → bytes; `other` is a second seed trace (for splices) ----

const mutations = {
  truncate(bytes, rng) {
    const { frames } = splitFrames(bytes);
    // Half the cuts near a frame boundary (where off-by-ones live), half anywhere.
    if (frames.length && rng.chance(0.5)) {
      const f = rng.pick(frames);
      const at = f.at + rng.pick([0, 1, 3, 4, 7, 8, 9, 10, f.bytes.length - 1, f.bytes.length]);
      return bytes.subarray(0, Math.min(bytes.length, at));
    }
    return bytes.subarray(0, rng.int(bytes.length + 1));
  },
  bitflip(bytes, rng) {
    const out = Buffer.from(bytes);
    const n = 1 + rng.int(rng.chance(0.7) ? 1 : 8);
    for (let i = 0; i < n && out.length; i++) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  },
  overwrite(bytes, rng) {
    const out = Buffer.from(bytes);
    const n = 1 + rng.int(6);
    for (let i = 0; i < n && out.length; i++) {
      const at = rng.int(out.length);
      const len = 1 + rng.int(4);
      for (let j = at; j < Math.min(out.length, at + len); j++) out[j] = rng.chance(0.6) ? rng.pick(INTERESTING_BYTES) : rng.int(256);
    }
    return out;
  },
  insertDelete(bytes, rng) {
    const at = rng.int(bytes.length + 1);
    if (rng.chance(0.5)) {
      const len = 1 + rng.int(16);
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + len))]);
    }
    const insert = Buffer.alloc(1 + rng.int(16));
    for (let i = 0; i < insert.length; i++) insert[i] = rng.int(256);
    return Buffer.concat([bytes.subarray(0, at), insert, bytes.subarray(at)]);
  },
  /** The frames of one trace, then (from some point) the frames of another: ids and strings of the wrong table. */
  splice(bytes, rng, other) {
    const a = splitFrames(bytes);
    const b = splitFrames(other);
    const cutA = rng.int(a.frames.length + 1);
    const fromB = rng.int(b.frames.length + 1);
    const tail = b.frames.slice(fromB, fromB + 1 + rng.int(b.frames.length + 1));
    return Buffer.concat([a.magic, ...a.frames.slice(0, cutA).map((f) => f.bytes), ...tail.map((f) => f.bytes), rng.chance(0.3) ? a.rest : Buffer.alloc(0)]);
  },
  /** Frames duplicated, dropped, swapped or moved. */
  frameShuffle(bytes, rng) {
    const { magic, frames, rest } = splitFrames(bytes);
    const list = frames.map((f) => f.bytes);
    if (list.length === 0) return bytes;
    const ops = 1 + rng.int(3);
    for (let k = 0; k < ops; k++) {
      const i = rng.int(list.length);
      const j = rng.int(list.length);
      const op = rng.int(4);
      if (op === 0) list.splice(j, 0, list[i]);
      else if (op === 1 && list.length > 1) list.splice(i, 1);
      else if (op === 2) [list[i], list[j]] = [list[j], list[i]];
      else list.push(list[i]);
    }
    return Buffer.concat([magic, ...list, rest]);
  },
  /** A frame's length field claims more (or a little less) than is there. */
  hugeLength(bytes, rng) {
    const { frames } = splitFrames(bytes);
    const out = Buffer.from(bytes);
    if (!frames.length) return out;
    const f = rng.pick(frames);
    const real = f.bytes.length - FRAME_HEAD;
    const value = rng.chance(0.7) ? rng.pick(HUGE_LENGTHS) : Math.max(0, real + rng.pick([-2, -1, 1, 2, 1000]));
    out.writeUInt32LE(value >>> 0, f.at);
    return out;
  },
  /** A varint inside a frame (an id, a time, a string length…) replaced by a huge or overlong one; checksum recomputed. */
  hugeVarint(bytes, rng) {
    return editFrame(bytes, rng, (payload) => {
      const starts = varintStarts(payload, 0, payload.length);
      if (!starts.length) return payload;
      const at = rng.pick(starts);
      let end = at;
      while (end < payload.length && payload[end] >= 0x80) end++;
      return Buffer.concat([payload.subarray(0, at), rng.pick(HUGE_VARINTS), payload.subarray(end + 1)]);
    });
  },
  /** Bits flipped inside a frame whose checksum is then recomputed: the decoder's deeper checks run. */
  resealedFlip(bytes, rng) {
    return editFrame(bytes, rng, (payload) => {
      const out = Buffer.from(payload);
      const n = 1 + rng.int(4);
      for (let i = 0; i < n && out.length; i++) {
        const at = rng.int(out.length);
        if (rng.chance(0.5)) out[at] ^= 1 << rng.int(8);
        else out[at] = rng.pick(INTERESTING_BYTES);
      }
      return out;
    }, 0.15);
  },
  /** A frame's payload replaced by garbage (or cut), with a correct checksum. */
  resealedGarbage(bytes, rng) {
    return editFrame(bytes, rng, (payload) => {
      if (rng.chance(0.3)) return payload.subarray(0, rng.int(payload.length + 1));
      const out = Buffer.alloc(rng.chance(0.5) ? payload.length : rng.int(64));
      for (let i = 0; i < out.length; i++) out[i] = rng.chance(0.3) ? rng.pick(INTERESTING_BYTES) : rng.int(256);
      return out;
    }, 0.2);
  },
  /** Bytes of one batch (from this or another trace) pasted into another batch, checksum recomputed. */
  eventSplice(bytes, rng, other) {
    const donors = [...splitFrames(bytes).frames, ...splitFrames(other).frames].filter((f) => f.bytes[8] === KIND.events);
    if (!donors.length) return bytes;
    const donor = rng.pick(donors).bytes.subarray(FRAME_HEAD);
    const from = rng.int(donor.length);
    const piece = donor.subarray(from, from + 1 + rng.int(48));
    return editFrame(bytes, rng, (payload) => {
      const at = rng.int(payload.length + 1);
      const drop = rng.chance(0.5) ? rng.int(16) : 0;
      return Buffer.concat([payload.subarray(0, at), piece, payload.subarray(at + drop)]);
    });
  },
};

/** Applies `edit` to the payload of a random frame (events frames preferred) and reseals it; maybe changes its kind. */
function editFrame(bytes, rng, edit, kindChange = 0) {
  const { magic, frames, rest } = splitFrames(bytes);
  if (!frames.length) return bytes;
  const events = frames.filter((f) => f.bytes[8] === KIND.events);
  const target = events.length && rng.chance(0.8) ? rng.pick(events) : rng.pick(frames);
  const head = Buffer.from(target.bytes.subarray(0, FRAME_HEAD));
  if (rng.chance(kindChange)) head[8] = rng.pick([0, 1, 2, 3, 4, 0xff]);
  const edited = reseal(Buffer.concat([head, edit(target.bytes.subarray(FRAME_HEAD))]));
  return Buffer.concat([magic, ...frames.map((f) => (f === target ? edited : f.bytes)), rest]);
}

export const MUTATION_KINDS = Object.keys(mutations);

// ---- generated traces: random event sequences, encoded by hand (frames.mjs) ----

const smallId = fc.integer({ min: 0, max: 6 });
const id = fc.oneof(
  { weight: 8, arbitrary: smallId },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 5000 }) },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 2, 2 ** 53 - 1) },
  { weight: 1, arbitrary: fc.maxSafeNat() },
);
const dt = fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: 5000 }) }, { weight: 1, arbitrary: fc.maxSafeNat() });
const sameOr = (arb) => fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: arb });
const name = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('a', 'b', 'r', 'task', '') },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('"quoted"\\', '\u0000\u001f', '</script>', 'x'.repeat(300), '\ud800', '😀'.repeat(50)) },
);
const loc = fc.oneof(
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.record({ file: name, line: id, column: id, fn: name }) },
);
const s = name.map((value) => ({ s: value }));
const l = loc.map((value) => ({ loc: value }));
const message = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 20 }).map((inline) => ({ inline })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 20 }).map((inline) => ({ inline })) }, // invalid UTF-8
  { weight: 1, arbitrary: fc.constantFrom({ inline: 'y'.repeat(5000) }, { inline: '"\n\t\\' }) },
);
const ev = (type, flow, task, args) => fc.tuple(dt, flow, task, args).map(([d, f, t, a]) => ({ type, dt: d, flow: f, task: t, args: a }));
const NONE = fc.constant(undefined);
const event = fc.oneof(
  { weight: 2, arbitrary: ev(TYPE.FlowStart, sameOr(id), NONE, fc.tuple(id)) },
  { weight: 3, arbitrary: ev(TYPE.TaskCreate, sameOr(id), sameOr(id), fc.tuple(id, s, l)) },
  { weight: 3, arbitrary: ev(TYPE.TaskEnd, sameOr(id), sameOr(id), fc.tuple(l)) },
  { weight: 6, arbitrary: ev(TYPE.RegionStart, sameOr(smallId), sameOr(id), fc.tuple(s, l)) },
  { weight: 6, arbitrary: ev(TYPE.RegionEnd, sameOr(smallId), NONE, fc.tuple(s)) },
  { weight: 3, arbitrary: ev(TYPE.Log, sameOr(id), sameOr(id), fc.tuple(s, l, message)) },
  { weight: 1, arbitrary: ev(TYPE.GC, NONE, NONE, fc.tuple(dt, dt, fc.constantFrom(1, 4, 8, 16, 0, 3, 2 ** 40))) },
  { weight: 1, arbitrary: ev(TYPE.Heap, NONE, NONE, fc.tuple(id)) },
  { weight: 1, arbitrary: ev(TYPE.EventLoop, NONE, NONE, fc.tuple(fc.oneof(fc.integer({ min: 0, max: 1e6 }), fc.maxSafeNat()), dt)) },
  { weight: 1, arbitrary: ev(TYPE.Dropped, NONE, NONE, fc.tuple(id)) },
  { weight: 2, arbitrary: ev(TYPE.Misuse, sameOr(smallId), NONE, fc.tuple(fc.constantFrom(1, 2, 3, 2, 0, 9), s, l, fc.oneof(smallId, id))) },
  // Anything at all after a head byte (the checksum is right, the content is not).
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 12 })).map(([head, raw]) => ({ type: head & 0x3f, dt: undefined, flow: head & 0x80 ? undefined : 0, task: head & 0x40 ? undefined : 0, args: [{ raw }] })),
  },
);
/** A stretch of regions on one flow, well nested or not: makes pairing, nesting and repairs likely. */
const regionRun = fc.tuple(smallId, fc.array(fc.tuple(fc.boolean(), fc.constantFrom('a', 'b', 'c')), { maxLength: 30 }), dt).map(([flow, steps, d]) =>
  steps.map(([open, type]) => (open ? { type: TYPE.RegionStart, dt: d % 100, flow, task: 1, args: [{ s: type }, { loc: null }] } : { type: TYPE.RegionEnd, dt: d % 100, flow, task: undefined, args: [{ s: type }] })),
);
const batch = fc.record({
  baseTs: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 1e9 }) }, { weight: 1, arbitrary: fc.maxSafeNat() }),
  events: fc.array(fc.oneof({ weight: 4, arbitrary: event.map((e) => [e]) }, { weight: 1, arbitrary: regionRun }), { maxLength: 40 }).map((runs) => runs.flat()),
});
const header = fc.record({
  version: fc.oneof({ weight: 10, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constantFrom(0, 2, 2 ** 53 - 1) }),
  wallClockOriginNs: fc.bigInt({ min: 0n, max: (1n << 70n) - 1n }),
  hrtimeOriginNs: fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(0n, (1n << 70n) - 1n)),
  pid: id,
  nodeVersion: name,
  command: fc.oneof(name, fc.constantFrom('node /app/main.mjs --flag', '', '   ')),
});
const footer = fc.record({ events: id, dropped: id, endTs: fc.oneof(dt, fc.constant(0)) });
export const generatedTrace = fc
  .record({
    header: fc.oneof({ weight: 12, arbitrary: header }, { weight: 1, arbitrary: fc.constant(null) }),
    batches: fc.array(batch, { maxLength: 5 }),
    footer: fc.option(footer, { freq: 3 }),
  })
  .map((description) => encodeTrace(description));

// ---- cases ----

/** How the bytes reach the reader: whole, in chunks of these sizes (cycled), or through a file. */
const feeding = fc.oneof(
  { weight: 50, arbitrary: fc.constant({ mode: 'bytes' }) },
  { weight: 45, arbitrary: fc.array(fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 70000 })), { minLength: 1, maxLength: 6 }).map((sizes) => ({ mode: 'chunks', sizes })) },
  { weight: 2, arbitrary: fc.constant({ mode: 'file' }) },
);

const mutationKind = fc.constantFrom(...MUTATION_KINDS);

/**
 * One fuzz case over `corpus` (`[{ name, bytes }]`): `{ kind, origin, bytes, feed }`. Kinds: the
 * mutations above on a seed trace, `generated` traces, `generated+M` (a generated trace mutated), and
 * `stacked` (2 to 4 mutations in a row).
 */
export function caseArbitrary(corpus) {
  // Big seeds (a full 64 KiB batch) cost more per case: picked a quarter as often as the others.
  const seedIndex = fc.oneof(...corpus.map((seed, i) => ({ weight: seed.bytes.length > 50_000 ? 1 : 4, arbitrary: fc.constant(i) })));
  const salt = fc.integer({ min: 0, max: 0xffffffff });
  const mutated = fc.tuple(mutationKind, seedIndex, seedIndex, salt).map(([kind, a, b, sd]) => ({
    kind,
    origin: `${corpus[a].name}${kind === 'splice' || kind === 'eventSplice' ? `+${corpus[b].name}` : ''}`,
    bytes: mutations[kind](corpus[a].bytes, prng(sd), corpus[b].bytes),
  }));
  const generated = generatedTrace.map((bytes) => ({ kind: 'generated', origin: 'generated', bytes }));
  const generatedMutated = fc.tuple(generatedTrace, mutationKind, seedIndex, salt).map(([bytes, kind, b, sd]) => ({
    kind: `generated+${kind}`,
    origin: 'generated',
    bytes: mutations[kind](bytes, prng(sd), corpus[b].bytes),
  }));
  const stacked = fc.tuple(fc.array(mutationKind, { minLength: 2, maxLength: 4 }), seedIndex, seedIndex, salt).map(([kinds, a, b, sd]) => {
    const rng = prng(sd);
    let bytes = corpus[a].bytes;
    for (const kind of kinds) bytes = Buffer.from(mutations[kind](bytes, rng, corpus[b].bytes));
    return { kind: 'stacked', origin: `${corpus[a].name} ${kinds.join('>')}`, bytes };
  });
  return fc
    .tuple(
      fc.oneof({ weight: 12, arbitrary: mutated }, { weight: 3, arbitrary: generated }, { weight: 2, arbitrary: generatedMutated }, { weight: 2, arbitrary: stacked }),
      feeding,
    )
    .map(([c, feed]) => ({ ...c, bytes: Buffer.from(c.bytes), feed }));
}

/** Case `index` of the campaign with seed `seed`: the same case on every machine. */
export function caseAt(arbitrary, seed, index) {
  return fc.sample(arbitrary, { seed: (seed + Math.imul(index, 0x9e3779b1)) | 0, numRuns: 1 })[0];
}
