import { crc32 } from 'node:zlib';
import { ByteWriter, putUvarint } from './bytes.js';
import type { SourceLocation, TraceFooter, TraceHeader } from './events.js';
import { EventType, FORMAT_VERSION, FRAME_HEADER_BYTES, FrameKind, MAGIC, MAX_VARINT_BYTES, SAME_FLOW, SAME_TASK } from './spec.js';

/** Room {@link BatchEncoder} makes for one event: the head byte and up to eight varints (dt, flow, task, five fields). */
const EVENT_ROOM = 1 + 8 * MAX_VARINT_BYTES;
// Module constants of this file, which V8 folds into the code of BatchEncoder.regionRun (an imported
// binding is read from its cell, with a check, each time).
const REGION_START = EventType.RegionStart;
const REGION_END = EventType.RegionEnd;
const SAME_FLOW_BIT = SAME_FLOW;
const SAME_TASK_BIT = SAME_TASK;
const putVarint = putUvarint;

/** Writes `u32le length, u32le crc, kind` in front of a payload that was written after `start`. */
function sealFrame(out: ByteWriter, start: number, kind: number): void {
  const payloadLength = out.length - start - FRAME_HEADER_BYTES;
  out.bytes[start + 8] = kind;
  const crc = crc32(out.bytes.subarray(start + 8, out.length));
  out.u32le(payloadLength, start);
  out.u32le(crc, start + 4);
}

function openFrame(out: ByteWriter): number {
  const start = out.length;
  for (let i = 0; i < FRAME_HEADER_BYTES; i++) out.byte(0);
  return start;
}

/** The magic bytes and the header frame: the first bytes of every trace. */
export function encodeFileStart(header: TraceHeader): Uint8Array {
  const out = new ByteWriter(256);
  out.raw(MAGIC);
  const start = openFrame(out);
  out.uvarint(FORMAT_VERSION);
  out.bigUvarint(header.wallClockOriginNs);
  out.bigUvarint(header.hrtimeOriginNs);
  out.uvarint(header.pid);
  out.string(header.nodeVersion);
  out.string(header.command);
  sealFrame(out, start, FrameKind.Header);
  return out.take();
}

/**
 * The Thread frame (format version 4) the main thread writes when a worker thread joins its trace: the
 * worker's `threadId`, its name, and the trace time it joined.
 */
export function encodeThreadFrame(thread: number, name: string, ts: number): Uint8Array {
  const out = new ByteWriter(64 + name.length * 3);
  const start = openFrame(out);
  out.uvarint(thread);
  out.string(name);
  out.uvarint(ts);
  sealFrame(out, start, FrameKind.Thread);
  return out.take();
}

/** The footer frame stop() writes last: its presence marks a complete trace. */
export function encodeFooter(footer: TraceFooter): Uint8Array {
  const out = new ByteWriter(64);
  const start = openFrame(out);
  out.uvarint(footer.events);
  out.uvarint(footer.dropped);
  out.uvarint(footer.endTs);
  sealFrame(out, start, FrameKind.Footer);
  return out.take();
}

/**
 * The events frame `batch` (as {@link BatchEncoder.finish} returns it: an Events or a ThreadEvents
 * frame) with its base time moved `shift` ns earlier (clamped at 0): the same events, on a clock whose
 * origin is `shift` ns later. Its other times are deltas, so only the base time and the checksum change.
 */
export function rebaseBatch(batch: Uint8Array, shift: number): Uint8Array {
  const kind = batch[8];
  let at = FRAME_HEADER_BYTES;
  if (kind === FrameKind.ThreadEvents) while (batch[at++] >= 0x80); // the thread id, kept as it is
  const threadBytes = batch.subarray(FRAME_HEADER_BYTES, at);
  let baseTs = 0;
  let scale = 1;
  for (;;) {
    const byte = batch[at++];
    baseTs += (byte & 0x7f) * scale;
    scale *= 128;
    if (byte < 0x80) break;
  }
  const out = new ByteWriter(batch.length + MAX_VARINT_BYTES);
  const start = openFrame(out);
  out.raw(threadBytes);
  out.uvarint(Math.max(0, baseTs - shift));
  out.raw(batch.subarray(at));
  sealFrame(out, start, kind);
  return out.take();
}

/**
 * Encodes events into self-checking batches (frames). Strings and locations are interned for the whole
 * trace and defined inside the batch that first uses them, so a file cut after any batch still reads.
 * Timestamps must not decrease within a batch.
 */
export class BatchEncoder {
  /**
   * `thread`: 0 (the main thread) writes Events frames; a worker's `threadId` writes ThreadEvents frames
   * (format version 4) that say so, with string and location tables of that thread.
   */
  constructor(private readonly thread = 0) {}

  private readonly out = new ByteWriter(1 << 17);
  private readonly strings = new Map<string, number>([['', 0]]);
  private readonly locations = new Map<SourceLocation, number>();
  private frameStart = -1;
  private lastTs = 0;
  private lastFlow = -1;
  private lastTask = -1;
  /** The last string looked up and its id: names repeat, so most lookups end here without hashing. */
  private lastString = '';
  private lastStringId = 0;
  /** The same for locations: a compiled function's regions all start at its location. */
  private lastLocation: SourceLocation | null = null;
  private lastLocationId = 0;

  /** Bytes of the batch being written (to decide when to cut it). */
  get pendingBytes(): number {
    return this.frameStart < 0 ? 0 : this.out.length - this.frameStart;
  }

  begin(baseTs: number): void {
    this.out.reset();
    this.frameStart = openFrame(this.out);
    if (this.thread !== 0) this.out.uvarint(this.thread);
    this.out.uvarint(baseTs);
    this.lastTs = baseTs;
    this.lastFlow = -1;
    this.lastTask = -1;
  }

  /** Closes the batch and returns its bytes (a frame), in a buffer from `allocate` when given. */
  finish(allocate?: (length: number) => Uint8Array): Uint8Array {
    sealFrame(this.out, this.frameStart, this.thread === 0 ? FrameKind.Events : FrameKind.ThreadEvents);
    this.frameStart = -1;
    return this.out.take(allocate);
  }

  stringId(value: string): number {
    if (value === this.lastString) return this.lastStringId;
    let id = this.strings.get(value);
    if (id === undefined) {
      id = this.strings.size;
      this.strings.set(value, id);
      this.out.byte(EventType.StringDef);
      this.out.uvarint(id);
      this.out.string(value);
    }
    this.lastString = value;
    this.lastStringId = id;
    return id;
  }

  locationId(location: SourceLocation | null | undefined): number {
    if (!location) return 0;
    if (location === this.lastLocation) return this.lastLocationId;
    let id = this.locations.get(location);
    if (id === undefined) {
      const file = this.stringId(location.file);
      const fn = this.stringId(location.function);
      id = this.locations.size + 1;
      this.locations.set(location, id);
      this.out.byte(EventType.LocationDef);
      this.out.uvarint(id);
      this.out.uvarint(file);
      this.out.uvarint(location.line);
      this.out.uvarint(location.column);
      this.out.uvarint(fn);
    }
    this.lastLocation = location;
    this.lastLocationId = id;
    return id;
  }

  /**
   * Writes the type byte with SAME_FLOW/SAME_TASK flags, then dt, then the flow and task fields they
   * did not omit; returns where the event's other fields go. Room is made for EVENT_ROOM bytes in all,
   * so the caller writes up to five varint fields with `putUvarint` and then sets `out.length`.
   */
  private head(type: number, ts: number, flow: number, task: number): number {
    const out = this.out;
    out.reserve(EVENT_ROOM);
    const b = out.bytes;
    let n = out.length;
    const sameFlow = flow >= 0 && flow === this.lastFlow;
    const sameTask = task >= 0 && task === this.lastTask;
    b[n++] = type | (sameFlow ? SAME_FLOW : 0) | (sameTask ? SAME_TASK : 0);
    if (ts > this.lastTs) {
      n = putUvarint(b, n, ts - this.lastTs);
      this.lastTs = ts;
    } else {
      b[n++] = 0;
    }
    if (flow >= 0 && !sameFlow) {
      n = putUvarint(b, n, flow);
      this.lastFlow = flow;
    }
    if (task >= 0 && !sameTask) {
      n = putUvarint(b, n, task);
      this.lastTask = task;
    }
    return n;
  }

  flowStart(ts: number, flow: number, parentFlow: number, regionsAbove: number): void {
    const n = this.head(EventType.FlowStart, ts, flow, -1);
    this.out.length = putUvarint(this.out.bytes, putUvarint(this.out.bytes, n, parentFlow), regionsAbove);
  }

  /** A FlowStart of `flow` and the RegionStart of its first region, as one event (version 7). */
  forkedRegionStart(ts: number, flow: number, task: number, type: string, location: SourceLocation | null, parentFlow: number, regionsAbove: number): void {
    const typeId = this.stringId(type);
    const loc = this.locationId(location);
    let n = this.head(EventType.ForkedRegionStart, ts, flow, task);
    const b = this.out.bytes;
    n = putUvarint(b, n, typeId);
    n = putUvarint(b, n, loc);
    n = putUvarint(b, n, parentFlow);
    this.out.length = putUvarint(b, n, regionsAbove);
  }

  taskCreate(ts: number, flow: number, id: number, parent: number, type: string, location: SourceLocation | null): void {
    const typeId = this.stringId(type);
    const loc = this.locationId(location);
    let n = this.head(EventType.TaskCreate, ts, flow, parent);
    const b = this.out.bytes;
    n = putUvarint(b, n, id);
    n = putUvarint(b, n, typeId);
    this.out.length = putUvarint(b, n, loc);
  }

  taskEnd(ts: number, flow: number, id: number, location: SourceLocation | null): void {
    const loc = this.locationId(location);
    const n = this.head(EventType.TaskEnd, ts, flow, id);
    this.out.length = putUvarint(this.out.bytes, n, loc);
  }

  regionStart(ts: number, flow: number, task: number, type: string, location: SourceLocation | null): void {
    const typeId = this.stringId(type);
    const loc = this.locationId(location);
    let n = this.head(EventType.RegionStart, ts, flow, task);
    const b = this.out.bytes;
    n = putUvarint(b, n, typeId);
    this.out.length = putUvarint(b, n, loc);
  }

  regionEnd(ts: number, flow: number, type: string): void {
    const typeId = this.stringId(type);
    const n = this.head(EventType.RegionEnd, ts, flow, -1);
    this.out.length = putUvarint(this.out.bytes, n, typeId);
  }

  /**
   * The bulk of a busy trace in one loop, from slot `from` of a recorder's buffer: region starts and
   * ends named by the string this encoder looked up last and, for a start at a location, at the
   * location it looked up last — written as regionStart/regionEnd would, with the encoder's state in
   * locals (a call per event would box its numbers). `slots` holds `stride` numbers per event: its time (a
   * `performance.now()`; `t0` is time 0), type, flow, task, then a start's location (an index into
   * `locations`) or an end's region number (ends of regions up to `firstSeq` are left out); `names`
   * holds each event's name. Stops at `count`, at the first other event, or once the batch holds
   * `maxBytes`; returns the index of the first slot it did not encode.
   */
  regionRun(slots: Float64Array, stride: number, names: readonly unknown[], locations: readonly (SourceLocation | null)[], t0: number, firstSeq: number, from: number, count: number, maxBytes: number): number {
    const out = this.out;
    const name = this.lastString;
    const nameId = this.lastStringId;
    const location = this.lastLocation;
    const locationId = this.lastLocationId;
    const end = this.frameStart + maxBytes;
    let lastTs = this.lastTs;
    let lastFlow = this.lastFlow;
    let lastTask = this.lastTask;
    let b = out.bytes;
    let at = out.length;
    let n = from;
    for (; n < count; n++) {
      const i = n * stride;
      const type = slots[i + 1];
      const isStart = type === REGION_START;
      if ((!isStart && type !== REGION_END) || names[n] !== name) break;
      let loc = 0;
      if (isStart) {
        const site = locations[slots[i + 4]] ?? null;
        if (site !== null) {
          if (site !== location) break;
          loc = locationId;
        }
      } else if (slots[i + 4] <= firstSeq) continue;
      const ms = Math.round((slots[i] - t0) * 1e6);
      const ts = ms > 0 ? ms : 0;
      const flow = slots[i + 2];
      const task = isStart ? slots[i + 3] : -1;
      if (at + EVENT_ROOM > b.length) {
        out.length = at;
        out.reserve(EVENT_ROOM);
        b = out.bytes;
      }
      const sameFlow = flow >= 0 && flow === lastFlow;
      const sameTask = task >= 0 && task === lastTask;
      b[at++] = type | (sameFlow ? SAME_FLOW_BIT : 0) | (sameTask ? SAME_TASK_BIT : 0);
      if (ts > lastTs) {
        at = putVarint(b, at, ts - lastTs);
        lastTs = ts;
      } else b[at++] = 0;
      if (flow >= 0 && !sameFlow) {
        at = putVarint(b, at, flow);
        lastFlow = flow;
      }
      if (task >= 0 && !sameTask) {
        at = putVarint(b, at, task);
        lastTask = task;
      }
      at = putVarint(b, at, nameId);
      if (isStart) at = putVarint(b, at, loc);
      if (at >= end) {
        n++;
        break;
      }
    }
    out.length = at;
    this.lastTs = lastTs;
    this.lastFlow = lastFlow;
    this.lastTask = lastTask;
    return n;
  }

  log(ts: number, flow: number, task: number, category: string, message: string, location: SourceLocation | null): void {
    const categoryId = this.stringId(category);
    const loc = this.locationId(location);
    let n = this.head(EventType.Log, ts, flow, task);
    const b = this.out.bytes;
    n = putUvarint(b, n, categoryId);
    this.out.length = putUvarint(b, n, loc);
    this.out.string(message);
  }

  /** A GC observed at `ts` that started `startedBefore` ns earlier and lasted `duration` ns. */
  gc(ts: number, startedBefore: number, duration: number, kind: number): void {
    let n = this.head(EventType.GC, ts, -1, -1);
    const b = this.out.bytes;
    n = putUvarint(b, n, startedBefore);
    n = putUvarint(b, n, duration);
    this.out.length = putUvarint(b, n, kind);
  }

  heap(ts: number, bytes: number): void {
    const n = this.head(EventType.Heap, ts, -1, -1);
    this.out.length = putUvarint(this.out.bytes, n, bytes);
  }

  /** Utilization in parts per million over `interval` ns. */
  eventLoop(ts: number, utilizationPpm: number, interval: number): void {
    let n = this.head(EventType.EventLoop, ts, -1, -1);
    const b = this.out.bytes;
    n = putUvarint(b, n, utilizationPpm);
    this.out.length = putUvarint(b, n, interval);
  }

  /**
   * Marks the next event, a taskCreate or regionStart, as carried over from before the trace: it began
   * `ago` ns before `ts` (format version 3).
   */
  beganBefore(ts: number, ago: number): void {
    const n = this.head(EventType.BeganBefore, ts, -1, -1);
    this.out.length = putUvarint(this.out.bytes, n, ago);
  }

  /**
   * A run of `flow` for `task` that started `startedBefore` ns before `ts` and lasted `duration` ns
   * (format version 5). `readyBefore`: 0 when when it became ready is unknown, else that many ns minus 1
   * before its start. `waitedOn`: the async resource type it resumed (Timeout, TCPWRAP, PROMISE…);
   * `createdAt`: where that resource was created (version 6), the location of the region it was created
   * in when `createdInRegion`; null: unknown.
   */
  run(ts: number, flow: number, task: number, startedBefore: number, duration: number, readyBefore: number, waitedOn: string, createdAt: SourceLocation | null = null, createdInRegion = false): void {
    const waited = this.stringId(waitedOn);
    const loc = this.locationId(createdAt);
    let n = this.head(EventType.Run, ts, flow, task);
    const b = this.out.bytes;
    n = putUvarint(b, n, startedBefore);
    n = putUvarint(b, n, duration);
    n = putUvarint(b, n, readyBefore);
    n = putUvarint(b, n, waited);
    this.out.length = putUvarint(b, n, loc === 0 ? 0 : 2 * loc + (createdInRegion ? 1 : 0));
  }

  dropped(ts: number, count: number): void {
    const n = this.head(EventType.Dropped, ts, -1, -1);
    this.out.length = putUvarint(this.out.bytes, n, count);
  }

  /** `regionsAbove`: for an out-of-order end, how many open regions of the flow were nested in it. */
  misuse(ts: number, flow: number, kind: number, type: string, location: SourceLocation | null, regionsAbove: number): void {
    const typeId = this.stringId(type);
    const loc = this.locationId(location);
    let n = this.head(EventType.Misuse, ts, flow, -1);
    const b = this.out.bytes;
    n = putUvarint(b, n, kind);
    n = putUvarint(b, n, typeId);
    n = putUvarint(b, n, loc);
    this.out.length = putUvarint(b, n, regionsAbove);
  }
}
