/**
 * A batch read without making an object per event: its events' fields are handed to a visitor as
 * numbers (strings and locations as their ids). For the runtime's own batches, read back as often as
 * they are written (the flight recorder follows what leaves its window); a trace from a file goes
 * through the validating {@link TraceDecoder} instead.
 */
import { utf8Decoder } from './bytes.js';
import type { SourceLocation } from './events.js';
import { EventType, FRAME_HEADER_BYTES, FrameKind, hasFlowField, hasTaskField, MisuseKind, SAME_FLOW, SAME_TASK, TYPE_MASK } from './spec.js';

/** What a scan reports: the events that open and close tasks, flows and regions. */
export interface BatchVisitor {
  taskCreate(ts: number, flow: number, task: number, parent: number, type: number, location: number): void;
  taskEnd(task: number): void;
  flowStart(flow: number, parentFlow: number, regionsAbove: number): void;
  regionStart(ts: number, flow: number, task: number, type: number, location: number): void;
  regionEnd(flow: number, type: number): void;
  /** The runtime ended a region with `regionsAbove` regions still open inside it (the next RegionEnd of `flow`). */
  endedOutOfOrder(flow: number, regionsAbove: number): void;
}

/** The strings and locations defined so far, by id (id 0: none); a scan appends the batch's definitions. */
export interface Definitions {
  readonly strings: string[];
  readonly locations: (SourceLocation | null)[];
}

/** The thread of an events frame: 0 for an Events frame (the main thread's), else its ThreadEvents frame's thread id. */
export function batchThread(frame: Uint8Array): number {
  return frame[8] === FrameKind.ThreadEvents ? new Cursor(frame, FRAME_HEADER_BYTES).uvarint() : 0;
}

/** The base time of an events frame (Events or ThreadEvents): the time its first event is relative to. */
export function batchBaseTs(frame: Uint8Array): number {
  const r = new Cursor(frame, FRAME_HEADER_BYTES);
  if (frame[8] === FrameKind.ThreadEvents) r.uvarint();
  return r.uvarint();
}

/**
 * Reads the events frame `frame` (frame header included; an Events or a ThreadEvents frame), as
 * written by this version's encoder, and reports them to `visitor`. `definitions` must be those of the
 * frame's thread (each thread has its own). Throws on bytes it cannot read rather than guessing.
 */
export function scanBatch(frame: Uint8Array, definitions: Definitions, visitor: BatchVisitor): void {
  const r = new Cursor(frame, FRAME_HEADER_BYTES);
  if (frame[8] === FrameKind.ThreadEvents) r.uvarint(); // the thread
  let ts = r.uvarint();
  let flow = -1;
  let task = -1;
  while (r.pos < frame.length) {
    const at = r.pos;
    const head = frame[r.pos++];
    const type = head & TYPE_MASK;
    if (type === EventType.StringDef) {
      r.uvarint(); // its id: the next one, as the encoder numbers them
      definitions.strings.push(r.string());
      continue;
    }
    if (type === EventType.LocationDef) {
      r.uvarint();
      const file = definitions.strings[r.uvarint()];
      const line = r.uvarint();
      const column = r.uvarint();
      definitions.locations.push(Object.freeze({ file, line, column, function: definitions.strings[r.uvarint()] }));
      continue;
    }
    ts += r.uvarint();
    if (type === EventType.BeganBefore) {
      r.uvarint();
      continue;
    }
    if (hasFlowField(type) && !(head & SAME_FLOW)) flow = r.uvarint();
    if (hasTaskField(type) && !(head & SAME_TASK)) task = r.uvarint();
    switch (type) {
      case EventType.FlowStart:
        visitor.flowStart(flow, r.uvarint(), r.uvarint());
        break;
      case EventType.TaskCreate: {
        const id = r.uvarint();
        visitor.taskCreate(ts, flow, id, task, r.uvarint(), r.uvarint());
        break;
      }
      case EventType.TaskEnd:
        r.uvarint();
        visitor.taskEnd(task);
        break;
      case EventType.RegionStart:
        visitor.regionStart(ts, flow, task, r.uvarint(), r.uvarint());
        break;
      case EventType.ForkedRegionStart: {
        const name = r.uvarint();
        const location = r.uvarint();
        visitor.flowStart(flow, r.uvarint(), r.uvarint());
        visitor.regionStart(ts, flow, task, name, location);
        break;
      }
      case EventType.RegionEnd:
        visitor.regionEnd(flow, r.uvarint());
        break;
      case EventType.Log:
        r.uvarint();
        r.uvarint();
        r.skipString();
        break;
      case EventType.GC:
        r.uvarint();
        r.uvarint();
        r.uvarint();
        break;
      case EventType.Heap:
      case EventType.Dropped:
        r.uvarint();
        break;
      case EventType.EventLoop:
        r.uvarint();
        r.uvarint();
        break;
      case EventType.Run:
        r.uvarint();
        r.uvarint();
        r.uvarint();
        r.uvarint();
        r.uvarint(); // the site (version 6)
        break;
      case EventType.Misuse: {
        const kind = r.uvarint();
        r.uvarint();
        r.uvarint();
        const above = r.uvarint();
        if (kind === MisuseKind.RegionEndedOutOfOrder) visitor.endedOutOfOrder(flow, above);
        break;
      }
      default:
        throw new Error(`tstrace: unknown event type ${type} at byte ${at} of a batch`);
    }
  }
}

class Cursor {
  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
  ) {}

  uvarint(): number {
    const bytes = this.bytes;
    let b = bytes[this.pos++];
    if (b < 0x80) return b;
    let result = b & 0x7f;
    let scale = 0x80;
    for (;;) {
      b = bytes[this.pos++];
      if (b === undefined) throw new Error('tstrace: a batch ends inside a number');
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 0x80;
    }
  }

  string(): string {
    const length = this.uvarint();
    const value = utf8Decoder.decode(this.bytes.subarray(this.pos, this.pos + length));
    this.pos += length;
    return value;
  }

  skipString(): void {
    // The length first: `this.pos += this.uvarint()` would add it to the position before the length.
    const length = this.uvarint();
    this.pos += length;
  }
}
