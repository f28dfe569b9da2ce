import { crc32 } from 'node:zlib';
import { ByteReader, TraceFormatError } from './bytes.js';
import type { MisuseName, ReadStatus, SourceLocation, TraceEvent, TraceFooter, TraceHeader } from './events.js';
import {
  EventType,
  FORMAT_VERSION,
  FRAME_HEADER_BYTES,
  FrameKind,
  GcKind,
  hasFlowField,
  hasTaskField,
  MAGIC,
  MAIN_THREAD,
  MAX_FRAME_BYTES,
  MisuseKind,
  SAME_FLOW,
  SAME_TASK,
  TYPE_MASK,
} from './spec.js';

/** Strings and source locations interned by one thread, by id. */
interface Tables {
  readonly strings: string[];
  readonly locations: (SourceLocation | null)[];
}

const misuseNames: Record<number, MisuseName> = {
  [MisuseKind.RegionEndedTwice]: 'regionEndedTwice',
  [MisuseKind.RegionEndedOutOfOrder]: 'regionEndedOutOfOrder',
  [MisuseKind.RegionEndedOnOtherFlow]: 'regionEndedOnOtherFlow',
};

/**
 * A push decoder: feed it the bytes of a trace in chunks of any size; it delivers the events of each
 * frame once the whole frame has arrived and checked out. It never trusts a length from the file
 * before checking it against MAX_FRAME_BYTES, and stops at the first damage, keeping what came before.
 */
export class TraceDecoder {
  private pending: Uint8Array = new Uint8Array(0);
  /** Chunks not yet joined to `pending`: joined only once a whole frame is there (no quadratic copying). */
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  /** File offset of pending[0]. */
  private offset = 0;
  private magicSeen = false;
  /** The string and location tables of the main thread, and of each worker thread (format version 4). */
  private readonly mainTables: Tables = { strings: [''], locations: [null] };
  private readonly threadTables = new Map<number, Tables>();
  /** The tables of the frame being decoded. */
  private strings = this.mainTables.strings;
  private locations = this.mainTables.locations;
  private readonly status: ReadStatus = { complete: false, bytesRead: 0, header: null, footer: null, threads: [], problem: null };

  constructor(private readonly emit: (event: TraceEvent) => void) {}

  /** The format version of the trace being read (from its header). */
  private get version(): number {
    return this.status.header?.version ?? 0;
  }

  get header(): TraceHeader | null {
    return this.status.header;
  }

  /** The strings defined so far, by id (0: the empty string). */
  get definedStrings(): readonly string[] {
    return this.mainTables.strings;
  }

  /** The source locations defined so far, by id (0: unknown, null). */
  get definedLocations(): readonly (SourceLocation | null)[] {
    return this.mainTables.locations;
  }

  /** True once the decoder hit damage: further bytes are ignored. */
  get stopped(): boolean {
    return this.status.problem !== null;
  }

  push(chunk: Uint8Array): void {
    if (this.stopped || chunk.length === 0) return;
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    try {
      this.drain();
    } catch (error) {
      if (!(error instanceof TraceFormatError)) throw error;
      this.status.problem = { kind: 'corrupt', offset: error.offset, reason: error.reason };
    }
  }

  /** Call at end of input: says whether the trace is complete, or where and why it stopped. */
  finish(): ReadStatus {
    const s = this.status;
    this.available(Number.MAX_SAFE_INTEGER);
    if (!s.problem) {
      if (!this.magicSeen) {
        s.problem = { kind: 'truncated', offset: this.offset, reason: `the file is ${byteCount(this.offset + this.pending.length)}, too short for a trace header` };
      } else if (this.pending.length > 0) {
        const declared = this.pending.length >= 4 ? FRAME_HEADER_BYTES + readU32(this.pending, 0) : FRAME_HEADER_BYTES;
        s.problem = {
          kind: 'truncated',
          offset: this.offset,
          reason: `the file ends inside a frame: ${this.pending.length} of its ${declared} bytes are present`,
        };
      } else if (!s.header) {
        s.problem = { kind: 'truncated', offset: this.offset, reason: 'the file ends before its header frame' };
      } else if (!s.footer) {
        s.problem = {
          kind: 'unfinished',
          offset: this.offset,
          reason: 'the trace has no footer: the traced process stopped without calling stop() (killed or crashed?)',
        };
      }
    }
    s.complete = s.problem === null;
    return s;
  }

  private drain(): void {
    if (!this.magicSeen) {
      if (!this.available(MAGIC.length)) return;
      for (let i = 0; i < MAGIC.length; i++) {
        if (this.pending[i] !== MAGIC[i]) throw new TraceFormatError(i, 'not a tstrace file (the first 8 bytes are not "TSTRACE\\n")');
      }
      this.magicSeen = true;
      this.consume(MAGIC.length);
      this.status.bytesRead = this.offset;
    }
    while (this.available(FRAME_HEADER_BYTES)) {
      const length = readU32(this.pending, 0);
      if (length > MAX_FRAME_BYTES) {
        throw new TraceFormatError(this.offset, `frame declares ${length} bytes, more than the limit of ${MAX_FRAME_BYTES}`);
      }
      const total = FRAME_HEADER_BYTES + length;
      if (!this.available(total)) return;
      const crc = readU32(this.pending, 4);
      if (crc32(this.pending.subarray(8, total)) !== crc) {
        throw new TraceFormatError(this.offset, 'frame checksum mismatch: the frame is damaged');
      }
      this.decodeFrame(this.pending[8], new ByteReader(this.pending, this.offset, FRAME_HEADER_BYTES, total));
      this.consume(total);
      this.status.bytesRead = this.offset;
    }
  }

  /** Whether `n` bytes are there; joins queued chunks into `pending` when they complete them. */
  private available(n: number): boolean {
    if (this.pending.length >= n) return true;
    if (this.queuedBytes === 0) return false;
    if (n !== Number.MAX_SAFE_INTEGER && this.pending.length + this.queuedBytes < n) return false;
    const joined = new Uint8Array(this.pending.length + this.queuedBytes);
    joined.set(this.pending, 0);
    let at = this.pending.length;
    for (const chunk of this.queue) {
      joined.set(chunk, at);
      at += chunk.length;
    }
    this.pending = joined;
    this.queue = [];
    this.queuedBytes = 0;
    return this.pending.length >= n;
  }

  private consume(n: number): void {
    this.pending = this.pending.subarray(n);
    this.offset += n;
  }

  private decodeFrame(kind: number, r: ByteReader): void {
    if (this.status.footer) r.fail('data after the footer frame');
    if (kind === FrameKind.Header) {
      if (this.status.header) r.fail('a second header frame');
      this.status.header = decodeHeader(r);
    } else if (!this.status.header) {
      r.fail(`the first frame must be the header, found frame kind ${kind}`);
    } else if (kind === FrameKind.Events) {
      // Decode the whole batch before emitting, so a damaged batch delivers nothing half-read.
      const events: TraceEvent[] = [];
      this.decodeEvents(r, events);
      for (const event of events) this.emit(event);
    } else if (kind === FrameKind.Footer) {
      this.status.footer = decodeFooter(r);
    } else if (kind === FrameKind.Thread && this.version >= 4) {
      const id = r.uvarint();
      if (id === MAIN_THREAD) r.fail('a Thread frame for thread 0 (the main thread)');
      if (this.threadTables.has(id)) r.fail(`a second Thread frame for thread ${id}`);
      this.threadTables.set(id, { strings: [''], locations: [null] });
      this.status.threads!.push({ id, name: r.string(), ts: r.uvarint() });
    } else if (kind === FrameKind.ThreadEvents && this.version >= 4) {
      const at = r.pos;
      const thread = r.uvarint();
      const tables = this.threadTables.get(thread);
      if (tables === undefined) r.fail(`events of thread ${thread} before its Thread frame`, at);
      const events: TraceEvent[] = [];
      this.strings = tables.strings;
      this.locations = tables.locations;
      try {
        this.decodeEvents(r, events);
      } finally {
        this.strings = this.mainTables.strings;
        this.locations = this.mainTables.locations;
      }
      for (const event of events) {
        event.thread = thread;
        this.emit(event);
      }
    } else {
      r.fail(`unknown frame kind ${kind}`);
    }
  }

  private string(r: ByteReader): string {
    const at = r.pos;
    const id = r.uvarint();
    const value = this.strings[id];
    if (value === undefined) r.fail(`string id ${id} is used before it is defined`, at);
    return value;
  }

  private location(r: ByteReader): SourceLocation | null {
    const at = r.pos;
    const id = r.uvarint();
    const value = this.locations[id];
    if (value === undefined) r.fail(`location id ${id} is used before it is defined`, at);
    return value;
  }

  private decodeEvents(r: ByteReader, out: TraceEvent[]): void {
    let ts = r.uvarint();
    let flow = -1;
    let task = -1;
    /** Set by a BeganBefore event: how long before its time the next event (a carried creation or start) happened. */
    let beganBefore = -1;
    while (!r.done) {
      const at = r.pos;
      const head = r.byte();
      const type = head & TYPE_MASK;
      if (type === EventType.StringDef) {
        const id = r.uvarint();
        if (id !== this.strings.length) r.fail(`string id ${id} defined out of sequence (expected ${this.strings.length})`, at);
        const value = r.string();
        this.strings.push(value);
        continue;
      }
      if (type === EventType.LocationDef) {
        const id = r.uvarint();
        if (id !== this.locations.length) r.fail(`location id ${id} defined out of sequence (expected ${this.locations.length})`, at);
        const file = this.string(r);
        const line = r.uvarint();
        const column = r.uvarint();
        const fn = this.string(r);
        const location: SourceLocation = Object.freeze({ file, line, column, function: fn });
        this.locations.push(location);
        continue;
      }
      // The definitions the next event uses may come between it and its BeganBefore.
      if (beganBefore >= 0 && type !== EventType.TaskCreate && type !== EventType.RegionStart) {
        r.fail('a BeganBefore event must be followed by a TaskCreate or RegionStart event', at);
      }
      ts += r.uvarint();
      if (type === EventType.BeganBefore) {
        if (this.version < 3) r.fail(`unknown event type ${type}`, at);
        beganBefore = r.uvarint();
        continue;
      }
      const hasFlow = hasFlowField(type);
      if ((type === EventType.Run && this.version < 5) || (type === EventType.ForkedRegionStart && this.version < 7)) r.fail(`unknown event type ${type}`, at);
      const hasTask = hasTaskField(type);
      if (hasFlow) {
        if (head & SAME_FLOW) {
          if (flow < 0) r.fail('event refers to the previous flow, but there is none in this batch', at);
        } else flow = r.uvarint();
      }
      if (hasTask) {
        if (head & SAME_TASK) {
          if (task < 0) r.fail('event refers to the previous task, but there is none in this batch', at);
        } else task = r.uvarint();
      }
      switch (type) {
        case EventType.FlowStart:
          out.push({ kind: 'flowStart', ts, flow, parentFlow: r.uvarint(), regionsAbove: this.version >= 2 ? r.uvarint() : 0 });
          break;
        case EventType.TaskCreate: {
          const id = r.uvarint();
          const event: TraceEvent = { kind: 'taskCreate', ts, flow, task: id, parent: task, type: this.string(r), location: this.location(r) };
          if (beganBefore >= 0) {
            event.beganBefore = beganBefore;
            beganBefore = -1;
          }
          out.push(event);
          break;
        }
        case EventType.TaskEnd:
          out.push({ kind: 'taskEnd', ts, flow, task, location: this.location(r) });
          break;
        case EventType.RegionStart: {
          const event: TraceEvent = { kind: 'regionStart', ts, flow, task, type: this.string(r), location: this.location(r) };
          if (beganBefore >= 0) {
            event.beganBefore = beganBefore;
            beganBefore = -1;
          }
          out.push(event);
          break;
        }
        case EventType.ForkedRegionStart: {
          // The flow's start, then its first region's: what a FlowStart and a RegionStart say.
          const regionType = this.string(r);
          const location = this.location(r);
          out.push({ kind: 'flowStart', ts, flow, parentFlow: r.uvarint(), regionsAbove: r.uvarint() });
          out.push({ kind: 'regionStart', ts, flow, task, type: regionType, location });
          break;
        }
        case EventType.RegionEnd:
          out.push({ kind: 'regionEnd', ts, flow, type: this.string(r) });
          break;
        case EventType.Log: {
          const category = this.string(r);
          const location = this.location(r);
          out.push({ kind: 'log', ts, flow, task, category, message: r.string(), location });
          break;
        }
        case EventType.GC: {
          const startedBefore = r.uvarint();
          const duration = r.uvarint();
          const kind = r.uvarint();
          out.push({ kind: 'gc', ts: Math.max(0, ts - startedBefore), duration, gcKind: GcKind[kind] ?? `kind ${kind}` });
          break;
        }
        case EventType.Heap:
          out.push({ kind: 'heap', ts, bytes: r.uvarint() });
          break;
        case EventType.EventLoop: {
          const ppm = r.uvarint();
          out.push({ kind: 'eventLoop', ts, utilization: Math.min(ppm, 1e6) / 1e6, interval: r.uvarint() });
          break;
        }
        case EventType.Run: {
          const startedBefore = r.uvarint();
          const duration = r.uvarint();
          const readyBefore = r.uvarint();
          const waitedOn = this.string(r);
          const siteAt = r.pos;
          const site = this.version >= 6 ? r.uvarint() : 0;
          if (duration > startedBefore) r.fail(`a Run event lasts ${duration} ns but started only ${startedBefore} ns before it was recorded`, at);
          // A run that began before the trace (a flight-recorder snapshot's window cuts it) starts at 0.
          const cut = Math.max(0, startedBefore - ts);
          const event: TraceEvent = { kind: 'run', ts: ts - startedBefore + cut, flow, task, duration: Math.max(0, duration - cut), queued: readyBefore === 0 ? null : readyBefore - 1, waitedOn };
          if (site !== 0) {
            // Site = 2 × location id (+1: the location of the region it was created in).
            const id = Math.floor(site / 2);
            const createdAt = this.locations[id];
            if (id === 0 || createdAt == null) r.fail(`a Run event's site ${site} names location id ${id}, which ${id === 0 ? 'is "unknown"' : 'is not defined'}`, siteAt);
            event.createdAt = createdAt;
            event.createdInRegion = site % 2 === 1;
          }
          out.push(event);
          break;
        }
        case EventType.Dropped:
          out.push({ kind: 'dropped', ts, count: r.uvarint() });
          break;
        case EventType.Misuse: {
          const kind = r.uvarint();
          const misuse = misuseNames[kind];
          if (!misuse) r.fail(`unknown misuse kind ${kind}`, at);
          const type = this.string(r);
          const location = this.location(r);
          out.push({ kind: 'misuse', ts, flow, misuse, type, location, regionsAbove: r.uvarint() });
          break;
        }
        default:
          r.fail(`unknown event type ${type}`, at);
      }
    }
    if (beganBefore >= 0) r.fail('the batch ends after a BeganBefore event', r.pos);
  }
}

function decodeHeader(r: ByteReader): TraceHeader {
  const version = r.uvarint();
  if (version === 0 || version > FORMAT_VERSION) {
    r.fail(`trace format version ${version} is not supported by this reader (it reads version ${FORMAT_VERSION})`, 0);
  }
  return {
    version,
    wallClockOriginNs: r.bigUvarint(),
    hrtimeOriginNs: r.bigUvarint(),
    pid: r.uvarint(),
    nodeVersion: r.string(),
    command: r.string(),
  };
}

function decodeFooter(r: ByteReader): TraceFooter {
  return { events: r.uvarint(), dropped: r.uvarint(), endTs: r.uvarint() };
}

/** `1 byte`, `17 bytes`. */
const byteCount = (n: number): string => `${n} byte${n === 1 ? '' : 's'}`;

function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}
