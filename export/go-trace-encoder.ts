/**
 * The bytes of Go 1.19's execution-trace format (version 1019), the format `go tool trace` reads:
 * event encoding, batches per P, interned strings and stacks. What the events mean is decided by
 * the caller (see export-go.ts); this module only gets the encoding right.
 */
import { ByteWriter } from '../format/bytes.js';

/** Event types of Go 1.19's trace format (`internal/trace/parser.go`), the ones the export writes. */
export const GoEvent = {
  Batch: 1,
  Frequency: 2,
  Stack: 3,
  Gomaxprocs: 4,
  ProcStart: 5,
  ProcStop: 6,
  GCStart: 7,
  GCDone: 8,
  GoCreate: 13,
  GoStart: 14,
  GoSleep: 19,
  GoBlock: 20,
  GoUnblock: 21,
  GoBlockRecv: 23,
  GoBlockNet: 27,
  HeapAlloc: 33,
  String: 37,
  UserTaskCreate: 45,
  UserTaskEnd: 46,
  UserRegion: 47,
  UserLog: 48,
} as const;

/** The events that stop a running goroutine until a GoUnblock: what Go's analysis counts its wait as. */
export type GoParkReason = typeof GoEvent.GoSleep | typeof GoEvent.GoBlock | typeof GoEvent.GoBlockRecv | typeof GoEvent.GoBlockNet;

/** `"go 1.19 trace\0\0\0"`: the 16-byte header. */
export const GO_TRACE_HEADER = new Uint8Array([...Buffer.from('go 1.19 trace', 'latin1'), 0, 0, 0]);

/** Go's parser rejects strings (and log messages) longer than this many bytes. */
export const GO_MAX_STRING_BYTES = 1_000_000;

/** A batch is closed, and handed out, once it holds this many bytes. */
export const GO_BATCH_BYTES = 64 * 1024;

/** One frame of a Go stack: Go shows `fn` and `file:line`. */
export interface GoFrame {
  readonly fn: string;
  readonly file: string;
  readonly line: number;
}

const utf8 = new TextEncoder();

/**
 * Writes `length, UTF-8 bytes` of `value`, cut at a character boundary to at most
 * {@link GO_MAX_STRING_BYTES} bytes; returns whether it was cut. Short ASCII strings (most names and
 * messages) are copied without an intermediate buffer ({@link ByteWriter.shortAscii}).
 */
export function writeGoString(out: ByteWriter, value: string): boolean {
  if (out.shortAscii(value)) return false;
  // A JS string of n UTF-16 units is at most 3n UTF-8 bytes.
  let bytes = utf8.encode(value.length * 3 > 4 * GO_MAX_STRING_BYTES ? value.slice(0, 2 * GO_MAX_STRING_BYTES) : value);
  const truncated = bytes.length > GO_MAX_STRING_BYTES;
  if (truncated) {
    let end = GO_MAX_STRING_BYTES;
    while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // back to the start of a character
    bytes = bytes.subarray(0, end);
  }
  out.uvarint(bytes.length);
  out.raw(bytes);
  return truncated;
}

/** Events of one P: a run of batches, each `Batch(p, baseTicks)` then events with non-negative deltas. */
class PStream {
  readonly out = new ByteWriter(GO_BATCH_BYTES + 4096);
  /** Events written (batch headers not counted). */
  events = 0;
  private open = false;
  private lastTs = 0;

  constructor(private readonly p: number) {}

  get isEmpty(): boolean {
    return this.out.length === 0;
  }

  /**
   * Writes the event byte, opening a batch if needed, and returns the delta from the previous event of
   * the batch. `nargs` counts every varint argument, the delta and the stack included. Below 4, the
   * delta is written too; from 4 on, the caller writes the byte length of the arguments, then them.
   */
  head(type: number, nargs: number, ts: number): number {
    const out = this.out;
    if (!this.open) {
      out.byte(GoEvent.Batch | (1 << 6));
      out.uvarint(this.p);
      out.uvarint(ts);
      this.open = true;
      this.lastTs = ts;
    }
    const dt = ts - this.lastTs;
    this.lastTs = ts;
    this.events++;
    out.byte(type | (Math.min(nargs - 1, 3) << 6));
    if (nargs < 4) out.uvarint(dt);
    return dt;
  }

  /** The bytes written since the last take; the next event starts a new batch. */
  take(): Uint8Array {
    const bytes = this.out.take();
    this.out.reset();
    this.open = false;
    return bytes;
  }
}

/** The P that carries GCs only (see {@link GoTraceEncoder}). */
export const GC_P = 1;

/**
 * Writes a Go 1.19 trace: the caller calls the event methods in time order per P (times never
 * decrease on one P; the caller guarantees it), and collects finished bytes with {@link takeChunks}.
 * Every event method takes the P it happens on. P 1 ({@link GC_P}) carries GC only, so GCs can be
 * written when they are observed, after later events of other Ps; the others carry what the caller
 * puts on them (Go's parser merges the Ps by time).
 *
 * Strings and stacks are interned; ids start at 1 (string 0 is "", stack 0 is the empty stack).
 * PCs are invented: one per stack, each stack having one frame.
 */
export class GoTraceEncoder {
  /** Per P number, its stream (created on first use). */
  private readonly procs: PStream[] = [new PStream(0), new PStream(GC_P)];
  /** Bytes of finished batches (and definitions), in file order, not yet taken. */
  private chunks: Uint8Array[] = [GO_TRACE_HEADER];
  private readonly strings = new Map<string, number>([['', 0]]);
  private lastStringId = 0;
  private lastStackId = 0;
  private gcSeq = 0;
  private readonly scratch = new ByteWriter(64);
  /** Called for every string cut to fit Go's limit. */
  onTruncated: (what: string) => void = () => {};

  constructor() {
    // Ticks are nanoseconds. Frequency may stand anywhere in the file; first is simplest.
    const out = this.procs[0].out;
    out.byte(GoEvent.Frequency);
    out.uvarint(1e9);
  }

  /** The stream of P `p`. */
  private proc(p: number): PStream {
    let stream = this.procs[p];
    if (stream === undefined) {
      for (let q = this.procs.length; q <= p; q++) this.procs.push(new PStream(q));
      stream = this.procs[p];
    }
    return stream;
  }

  // ---- definitions -----------------------------------------------------------------------------
  // Written into P 0's buffer between its events: Go reads definitions wherever they stand.

  /** The id of `value` in the string table, defining it on first use. */
  stringId(value: string): number {
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    const id = this.defineString(value);
    this.strings.set(value, id);
    return id;
  }

  private defineString(value: string): number {
    const id = ++this.lastStringId;
    const out = this.procs[0].out;
    out.byte(GoEvent.String);
    out.uvarint(id);
    if (writeGoString(out, value)) this.onTruncated(`the name "${value.slice(0, 40)}…"`);
    return id;
  }

  /** Defines a new one-frame stack and returns its id (never 0). */
  defineStack(frame: GoFrame): number {
    const id = ++this.lastStackId;
    const fn = this.stringId(frame.fn);
    const file = this.stringId(frame.file);
    const pc = 0x400000 + id * 0x10;
    // Stack: id, frame count, then {pc, fn, file, line} per frame, behind a byte length.
    const body = this.scratch;
    body.reset();
    for (const value of [id, 1, pc, fn, file, Math.max(0, Math.floor(frame.line))]) body.uvarint(value);
    const out = this.procs[0].out;
    out.byte(GoEvent.Stack | (3 << 6));
    out.uvarint(body.length);
    out.raw(body.bytes.subarray(0, body.length));
    return id;
  }

  // ---- events of a P -----------------------------------------------------------------------------

  /** P `p` starts, on thread (Go's M) `thread`. */
  procStart(p: number, ts: number, thread: number): void {
    const stream = this.proc(p);
    stream.head(GoEvent.ProcStart, 2, ts);
    stream.out.uvarint(thread);
  }

  procStop(p: number, ts: number): void {
    this.proc(p).head(GoEvent.ProcStop, 1, ts);
  }

  gomaxprocs(p: number, ts: number, procs: number): void {
    const stream = this.proc(p);
    stream.head(GoEvent.Gomaxprocs, 3, ts);
    stream.out.uvarint(procs);
    stream.out.uvarint(0); // stack
  }

  goCreate(p: number, ts: number, g: number, newStack: number, creatorStack: number): void {
    this.long(p, GoEvent.GoCreate, ts, g, newStack, creatorStack);
  }

  goStart(p: number, ts: number, g: number, seq: number): void {
    const stream = this.proc(p);
    stream.head(GoEvent.GoStart, 3, ts);
    stream.out.uvarint(g);
    stream.out.uvarint(seq);
  }

  goBlock(p: number, ts: number): void {
    this.goPark(p, ts, GoEvent.GoBlock);
  }

  /** The P's running goroutine stops running for `reason`, one of Go's `[dt, stack]` blocking events. */
  goPark(p: number, ts: number, reason: GoParkReason): void {
    const stream = this.proc(p);
    stream.head(reason, 2, ts);
    stream.out.uvarint(0); // stack
  }

  goUnblock(p: number, ts: number, g: number, seq: number): void {
    this.long(p, GoEvent.GoUnblock, ts, g, seq, 0);
  }

  heapAlloc(p: number, ts: number, bytes: number): void {
    const stream = this.proc(p);
    stream.head(GoEvent.HeapAlloc, 2, ts);
    stream.out.uvarint(bytes);
  }

  userTaskCreate(p: number, ts: number, id: number, parent: number, typeId: number, stack: number): void {
    this.long(p, GoEvent.UserTaskCreate, ts, id, parent, typeId, stack);
  }

  userTaskEnd(p: number, ts: number, id: number, stack: number): void {
    const stream = this.proc(p);
    stream.head(GoEvent.UserTaskEnd, 3, ts);
    stream.out.uvarint(id);
    stream.out.uvarint(stack);
  }

  /** `mode` 0 starts a region, 1 ends one. */
  userRegion(p: number, ts: number, task: number, mode: 0 | 1, nameId: number, stack: number): void {
    this.long(p, GoEvent.UserRegion, ts, task, mode, nameId, stack);
  }

  /** UserLog: the counted args, then the message as `length, bytes` outside the count. */
  userLog(p: number, ts: number, task: number, categoryId: number, stack: number, message: string): void {
    this.long(p, GoEvent.UserLog, ts, task, categoryId, stack);
    if (writeGoString(this.proc(p).out, message)) this.onTruncated('a log message');
  }

  /** An event with 4 or 5 args (counting the delta): a byte length precedes the args. */
  private long(p: number, type: number, ts: number, a: number, b: number, c: number, d?: number): void {
    const stream = this.proc(p);
    const dt = stream.head(type, d === undefined ? 4 : 5, ts);
    const args = this.scratch;
    args.reset();
    args.uvarint(dt);
    args.uvarint(a);
    args.uvarint(b);
    args.uvarint(c);
    if (d !== undefined) args.uvarint(d);
    const out = stream.out;
    out.uvarint(args.length);
    out.raw(args.bytes.subarray(0, args.length));
  }

  // ---- GC, on P 1 ------------------------------------------------------------------------------

  /** A GC from `start` to `end`; GCs must come in time order and must not overlap. */
  gcSpan(start: number, end: number): void {
    const gc = this.procs[GC_P];
    gc.head(GoEvent.GCStart, 3, start);
    gc.out.uvarint(this.gcSeq++);
    gc.out.uvarint(0); // stack
    gc.head(GoEvent.GCDone, 1, end);
  }

  // ---- output ----------------------------------------------------------------------------------

  /** Events written so far (not counting batch headers, strings and stacks). */
  get events(): number {
    let events = 0;
    for (const stream of this.procs) events += stream.events;
    return events;
  }

  /**
   * Once a batch is big enough (or always, with `force`), closes every P's batch and moves their bytes
   * to the chunk list: P 0's first (it holds the definitions), then the others in P order, so that no
   * batch splits another.
   */
  flush(force = false): void {
    if (!force) {
      let full = false;
      for (const stream of this.procs) full ||= stream.out.length >= GO_BATCH_BYTES;
      if (!full) return;
    }
    for (const stream of this.procs) if (!stream.isEmpty) this.chunks.push(stream.take());
  }

  /** The finished bytes, in file order, since the last call. */
  takeChunks(): Uint8Array[] {
    const chunks = this.chunks;
    this.chunks = [];
    return chunks;
  }
}
