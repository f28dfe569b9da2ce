// Trace bytes built by hand from docs/format.md (the format's own encoder is not public API): frames,
// varints, strings, a generated trace's events; and the frame split of an existing trace, for mutations.
import { crc32 } from 'node:zlib';

export const MAGIC = Buffer.from('TSTRACE\n', 'latin1');
export const FRAME_HEAD = 9;
export const KIND = { header: 1, events: 2, footer: 3 };
export const TYPE = {
  StringDef: 1, LocationDef: 2, FlowStart: 3, TaskCreate: 4, TaskEnd: 5, RegionStart: 6, RegionEnd: 7,
  Log: 8, GC: 9, Heap: 10, EventLoop: 11, Dropped: 12, Misuse: 13,
};
export const SAME_FLOW = 0x80;
export const SAME_TASK = 0x40;

/** A growable byte sink. */
export class Bytes {
  constructor() {
    this.parts = [];
  }
  byte(b) {
    this.parts.push(Uint8Array.of(b & 0xff));
  }
  raw(bytes) {
    this.parts.push(bytes);
  }
  /** Unsigned LEB128 of a non-negative integer (number up to 2^53, or bigint of any size). */
  uvarint(value) {
    this.parts.push(uvarint(value));
  }
  /** `uvarint byteLength, bytes` of a string (or of raw bytes, which may be invalid UTF-8). */
  string(value) {
    const body = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.uvarint(body.length);
    this.raw(body);
  }
  take() {
    return Buffer.concat(this.parts);
  }
}

export function uvarint(value) {
  let v = BigInt(value);
  const out = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

/** One frame: `u32le length, u32le crc32(kind + payload), kind, payload`. */
export function frame(kind, payload) {
  const out = Buffer.alloc(FRAME_HEAD + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out[8] = kind;
  out.set(payload, FRAME_HEAD);
  out.writeUInt32LE(crc32(out.subarray(8)), 4);
  return out;
}

/** Recomputes the checksum of a frame (a copy) whose kind or payload was changed. */
export function reseal(frameBytes) {
  const out = Buffer.from(frameBytes);
  if (out.length >= FRAME_HEAD) {
    out.writeUInt32LE(out.length - FRAME_HEAD, 0);
    out.writeUInt32LE(crc32(out.subarray(8)), 4);
  }
  return out;
}

export function headerPayload({ version = 1, wallClockOriginNs = 1_700_000_000_000_000_000n, hrtimeOriginNs = 123_456_789_000n, pid = 4242, nodeVersion = 'v20.19.0', command = 'node fuzz.mjs' } = {}) {
  const b = new Bytes();
  b.uvarint(version);
  b.uvarint(wallClockOriginNs);
  b.uvarint(hrtimeOriginNs);
  b.uvarint(pid);
  b.string(nodeVersion);
  b.string(command);
  return b.take();
}

export function footerPayload({ events = 0, dropped = 0, endTs = 0 } = {}) {
  const b = new Bytes();
  b.uvarint(events);
  b.uvarint(dropped);
  b.uvarint(endTs);
  return b.take();
}

/**
 * The bytes of a trace from a description:
 * `{ header: {...} | null, batches: [{ baseTs, events: [event...] }], footer: {...} | null }`.
 * An event is `{ type, dt, flow, task, args }` where `flow`/`task` undefined mean "same as before"
 * (the SAME_FLOW / SAME_TASK bits) and `args` are the fields after them: a number (uvarint), `{ s }` a
 * string id (the string is defined first when new), `{ loc }` a location id ({file, line, column, fn}),
 * `{ inline }` an inline string (log messages), `{ raw }` bytes as they are. Strings and locations are
 * interned for the whole trace and defined in the batch that first uses them, as the runtime does.
 */
export function encodeTrace(description) {
  const parts = [MAGIC];
  if (description.header) parts.push(frame(KIND.header, headerPayload(description.header)));
  const strings = new Map([['', 0]]);
  const locations = new Map();
  for (const batch of description.batches) {
    const b = new Bytes();
    b.uvarint(batch.baseTs);
    const stringId = (value) => {
      let id = strings.get(value);
      if (id === undefined) {
        id = strings.size;
        strings.set(value, id);
        b.byte(TYPE.StringDef);
        b.uvarint(id);
        b.string(value);
      }
      return id;
    };
    const locationId = (loc) => {
      if (loc === null) return 0;
      const key = JSON.stringify(loc);
      let id = locations.get(key);
      if (id === undefined) {
        const file = stringId(loc.file);
        const fn = stringId(loc.fn);
        id = locations.size + 1;
        locations.set(key, id);
        b.byte(TYPE.LocationDef);
        b.uvarint(id);
        b.uvarint(file);
        b.uvarint(loc.line);
        b.uvarint(loc.column);
        b.uvarint(fn);
      }
      return id;
    };
    for (const event of batch.events) {
      // Definitions come before the event that uses them.
      const args = event.args.map((arg) => {
        if (typeof arg === 'object' && 's' in arg) return uvarint(stringId(arg.s));
        if (typeof arg === 'object' && 'loc' in arg) return uvarint(locationId(arg.loc));
        if (typeof arg === 'object' && 'inline' in arg) {
          const s = new Bytes();
          s.string(arg.inline);
          return s.take();
        }
        if (typeof arg === 'object' && 'raw' in arg) return arg.raw;
        return uvarint(arg);
      });
      let head = event.type;
      if (event.flow === undefined) head |= SAME_FLOW;
      if (event.task === undefined) head |= SAME_TASK;
      b.byte(head);
      if (event.dt !== undefined) b.uvarint(event.dt);
      if (event.flow !== undefined) b.uvarint(event.flow);
      if (event.task !== undefined) b.uvarint(event.task);
      for (const arg of args) b.raw(arg);
    }
    parts.push(frame(KIND.events, b.take()));
  }
  if (description.footer) parts.push(frame(KIND.footer, footerPayload(description.footer)));
  return Buffer.concat(parts);
}

/**
 * Splits a trace into its magic and frames as far as the declared lengths go (no checks beyond
 * bounds): `{ magic, frames: [{ at, bytes }], rest }`; `rest` is what follows the last whole frame.
 */
export function splitFrames(bytes) {
  const magic = bytes.subarray(0, Math.min(8, bytes.length));
  const frames = [];
  let at = magic.length;
  while (at + FRAME_HEAD <= bytes.length) {
    const length = bytes.readUInt32LE(at);
    if (at + FRAME_HEAD + length > bytes.length) break;
    frames.push({ at, bytes: bytes.subarray(at, at + FRAME_HEAD + length) });
    at += FRAME_HEAD + length;
  }
  return { magic, frames, rest: bytes.subarray(at) };
}

/** Offsets of the varints of a byte range (positions where a varint could start: after a byte < 0x80). */
export function varintStarts(bytes, from, to) {
  const starts = [];
  let start = from;
  for (let i = from; i < to; i++) {
    if (bytes[i] < 0x80) {
      starts.push(start);
      start = i + 1;
    }
  }
  return starts;
}
