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
  GoBlock: 20,
  GoUnblock: 21,
  HeapAlloc: 33,
  String: 37,
  UserTaskCreate: 45,
  UserTaskEnd: 46,
  UserRegion: 47,
  UserLog: 48,
} as const;

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

/**
 * Writes a Go 1.19 trace: the caller calls the event methods in time order per P (times never
 * decrease on one P; the caller guarantees it), and collects finished bytes with {@link takeChunks}.
 * P 0 carries everything but GC; P 1 carries GC only, so GCs can be written when they are observed,
 * after later events of P 0 (Go's parser merges the Ps by time).
 *
 * Strings and stacks are interned; ids start at 1 (string 0 is "", stack 0 is the empty stack).
 * PCs are invented: one per stack, each stack having one frame.
 */
export class GoTraceEncoder {
  private readonly main = new PStream(0);
  private readonly gc = new PStream(1);
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
    const out = this.main.out;
    out.byte(GoEvent.Frequency);
    out.uvarint(1e9);
  }

  // ---- definitions -----------------------------------------------------------------------------

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
    const out = this.main.out;
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
    const out = this.main.out;
    out.byte(GoEvent.Stack | (3 << 6));
    out.uvarint(body.length);
    out.raw(body.bytes.subarray(0, body.length));
    return id;
  }

  // ---- events of P 0 -----------------------------------------------------------------------------

  procStart(ts: number): void {
    this.main.head(GoEvent.ProcStart, 2, ts);
    this.main.out.uvarint(0); // thread id
  }

  procStop(ts: number): void {
    this.main.head(GoEvent.ProcStop, 1, ts);
  }

  gomaxprocs(ts: number, procs: number): void {
    this.main.head(GoEvent.Gomaxprocs, 3, ts);
    this.main.out.uvarint(procs);
    this.main.out.uvarint(0); // stack
  }

  goCreate(ts: number, g: number, newStack: number, creatorStack: number): void {
    this.long(GoEvent.GoCreate, ts, g, newStack, creatorStack);
  }

  goStart(ts: number, g: number, seq: number): void {
    this.main.head(GoEvent.GoStart, 3, ts);
    this.main.out.uvarint(g);
    this.main.out.uvarint(seq);
  }

  goBlock(ts: number): void {
    this.main.head(GoEvent.GoBlock, 2, ts);
    this.main.out.uvarint(0); // stack
  }

  goUnblock(ts: number, g: number, seq: number): void {
    this.long(GoEvent.GoUnblock, ts, g, seq, 0);
  }

  heapAlloc(ts: number, bytes: number): void {
    this.main.head(GoEvent.HeapAlloc, 2, ts);
    this.main.out.uvarint(bytes);
  }

  userTaskCreate(ts: number, id: number, parent: number, typeId: number, stack: number): void {
    this.long(GoEvent.UserTaskCreate, ts, id, parent, typeId, stack);
  }

  userTaskEnd(ts: number, id: number, stack: number): void {
    this.main.head(GoEvent.UserTaskEnd, 3, ts);
    this.main.out.uvarint(id);
    this.main.out.uvarint(stack);
  }

  /** `mode` 0 starts a region, 1 ends one. */
  userRegion(ts: number, task: number, mode: 0 | 1, nameId: number, stack: number): void {
    this.long(GoEvent.UserRegion, ts, task, mode, nameId, stack);
  }

  /** UserLog: the counted args, then the message as `length, bytes` outside the count. */
  userLog(ts: number, task: number, categoryId: number, stack: number, message: string): void {
    this.long(GoEvent.UserLog, ts, task, categoryId, stack);
    if (writeGoString(this.main.out, message)) this.onTruncated('a log message');
  }

  /** An event with 4 or 5 args (counting the delta): a byte length precedes the args. */
  private long(type: number, ts: number, a: number, b: number, c: number, d?: number): void {
    const dt = this.main.head(type, d === undefined ? 4 : 5, ts);
    const args = this.scratch;
    args.reset();
    args.uvarint(dt);
    args.uvarint(a);
    args.uvarint(b);
    args.uvarint(c);
    if (d !== undefined) args.uvarint(d);
    const out = this.main.out;
    out.uvarint(args.length);
    out.raw(args.bytes.subarray(0, args.length));
  }

  // ---- GC, on P 1 ------------------------------------------------------------------------------

  /** A GC from `start` to `end`; GCs must come in time order and must not overlap. */
  gcSpan(start: number, end: number): void {
    this.gc.head(GoEvent.GCStart, 3, start);
    this.gc.out.uvarint(this.gcSeq++);
    this.gc.out.uvarint(0); // stack
    this.gc.head(GoEvent.GCDone, 1, end);
  }

  // ---- output ----------------------------------------------------------------------------------

  /** Events written so far (not counting batch headers, strings and stacks). */
  get events(): number {
    return this.main.events + this.gc.events;
  }

  /**
   * Once a batch is big enough (or always, with `force`), closes both batches and moves their bytes
   * to the chunk list: P 0's first, so P 1's batch never splits one of P 0's.
   */
  flush(force = false): void {
    if (!force && this.main.out.length < GO_BATCH_BYTES && this.gc.out.length < GO_BATCH_BYTES) return;
    if (!this.main.isEmpty) this.chunks.push(this.main.take());
    if (!this.gc.isEmpty) this.chunks.push(this.gc.take());
  }

  /** The finished bytes, in file order, since the last call. */
  takeChunks(): Uint8Array[] {
    const chunks = this.chunks;
    this.chunks = [];
    return chunks;
  }
}
