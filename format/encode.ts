import { crc32 } from 'node:zlib';
import { ByteWriter } from './bytes.js';
import type { SourceLocation, TraceFooter, TraceHeader } from './events.js';
import { EventType, FORMAT_VERSION, FRAME_HEADER_BYTES, FrameKind, MAGIC, SAME_FLOW, SAME_TASK } from './spec.js';

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
 * Encodes events into self-checking batches (frames). Strings and locations are interned for the whole
 * trace and defined inside the batch that first uses them, so a file cut after any batch still reads.
 * Timestamps must not decrease within a batch.
 */
export class BatchEncoder {
  private readonly out = new ByteWriter(1 << 17);
  private readonly strings = new Map<string, number>([['', 0]]);
  private readonly locations = new Map<SourceLocation, number>();
  private frameStart = -1;
  private lastTs = 0;
  private lastFlow = -1;
  private lastTask = -1;

  /** Bytes of the batch being written (to decide when to cut it). */
  get pendingBytes(): number {
    return this.frameStart < 0 ? 0 : this.out.length - this.frameStart;
  }

  begin(baseTs: number): void {
    this.out.reset();
    this.frameStart = openFrame(this.out);
    this.out.uvarint(baseTs);
    this.lastTs = baseTs;
    this.lastFlow = -1;
    this.lastTask = -1;
  }

  /** Closes the batch and returns its bytes (a frame). */
  finish(): Uint8Array {
    sealFrame(this.out, this.frameStart, FrameKind.Events);
    this.frameStart = -1;
    return this.out.take();
  }

  stringId(value: string): number {
    let id = this.strings.get(value);
    if (id === undefined) {
      id = this.strings.size;
      this.strings.set(value, id);
      this.out.byte(EventType.StringDef);
      this.out.uvarint(id);
      this.out.string(value);
    }
    return id;
  }

  locationId(location: SourceLocation | null | undefined): number {
    if (!location) return 0;
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
    return id;
  }

  /** Type byte with SAME_FLOW/SAME_TASK flags, then dt, then the flow and task fields they did not omit. */
  private head(type: number, ts: number, flow: number, task: number): void {
    const out = this.out;
    let flags = 0;
    if (flow >= 0 && flow === this.lastFlow) flags |= SAME_FLOW;
    if (task >= 0 && task === this.lastTask) flags |= SAME_TASK;
    out.byte(type | flags);
    out.uvarint(ts > this.lastTs ? ts - this.lastTs : 0);
    if (ts > this.lastTs) this.lastTs = ts;
    if (flow >= 0 && !(flags & SAME_FLOW)) {
      out.uvarint(flow);
      this.lastFlow = flow;
    }
    if (task >= 0 && !(flags & SAME_TASK)) {
      out.uvarint(task);
      this.lastTask = task;
    }
  }

  flowStart(ts: number, flow: number, parentFlow: number): void {
    this.head(EventType.FlowStart, ts, flow, -1);
    this.out.uvarint(parentFlow);
  }

  taskCreate(ts: number, flow: number, id: number, parent: number, type: string, location: SourceLocation | null): void {
    const typeId = this.stringId(type);
    const loc = this.locationId(location);
    this.head(EventType.TaskCreate, ts, flow, parent);
    this.out.uvarint(id);
    this.out.uvarint(typeId);
    this.out.uvarint(loc);
  }

  taskEnd(ts: number, flow: number, id: number, location: SourceLocation | null): void {
    const loc = this.locationId(location);
    this.head(EventType.TaskEnd, ts, flow, id);
    this.out.uvarint(loc);
  }

  regionStart(ts: number, flow: number, task: number, type: string, location: SourceLocation | null): void {
    const typeId = this.stringId(type);
    const loc = this.locationId(location);
    this.head(EventType.RegionStart, ts, flow, task);
    this.out.uvarint(typeId);
    this.out.uvarint(loc);
  }

  regionEnd(ts: number, flow: number, type: string): void {
    const typeId = this.stringId(type);
    this.head(EventType.RegionEnd, ts, flow, -1);
    this.out.uvarint(typeId);
  }

  log(ts: number, flow: number, task: number, category: string, message: string, location: SourceLocation | null): void {
    const categoryId = this.stringId(category);
    const loc = this.locationId(location);
    this.head(EventType.Log, ts, flow, task);
    this.out.uvarint(categoryId);
    this.out.uvarint(loc);
    this.out.string(message);
  }

  /** A GC observed at `ts` that started `startedBefore` ns earlier and lasted `duration` ns. */
  gc(ts: number, startedBefore: number, duration: number, kind: number): void {
    this.head(EventType.GC, ts, -1, -1);
    this.out.uvarint(startedBefore);
    this.out.uvarint(duration);
    this.out.uvarint(kind);
  }

  heap(ts: number, bytes: number): void {
    this.head(EventType.Heap, ts, -1, -1);
    this.out.uvarint(bytes);
  }

  /** Utilization in parts per million over `interval` ns. */
  eventLoop(ts: number, utilizationPpm: number, interval: number): void {
    this.head(EventType.EventLoop, ts, -1, -1);
    this.out.uvarint(utilizationPpm);
    this.out.uvarint(interval);
  }

  dropped(ts: number, count: number): void {
    this.head(EventType.Dropped, ts, -1, -1);
    this.out.uvarint(count);
  }

  /** `regionsAbove`: for an out-of-order end, how many open regions of the flow were nested in it. */
  misuse(ts: number, flow: number, kind: number, type: string, location: SourceLocation | null, regionsAbove: number): void {
    const typeId = this.stringId(type);
    const loc = this.locationId(location);
    this.head(EventType.Misuse, ts, flow, -1);
    this.out.uvarint(kind);
    this.out.uvarint(typeId);
    this.out.uvarint(loc);
    this.out.uvarint(regionsAbove);
  }
}
