/**
 * The flight recorder's memory: the most recent batches, as encoded for its own trace, evicted oldest
 * first once the rest still covers `minAge` or while they hold more than `maxBytes`. The batches of
 * worker threads (ThreadEvents frames, as the main thread receives them) are held in the same ring,
 * under the same rules. What leaves the ring passes through {@link WindowStarts}, so a snapshot can
 * say what was open, on each thread, when its window began.
 */
import { batchBaseTs, batchThread } from '../format/batch-scan.js';
import { encodeFileStart, encodeFooter, encodeThreadFrame, rebaseBatch } from '../format/encode.js';
import { FORMAT_VERSION } from '../format/spec.js';
import { Consumer, flush, now } from './recorder.js';
import type { ThreadDestination } from './thread-collector.js';
import { WindowStarts } from './window-start.js';

/** A snapshot of the ring: the bytes of a complete trace, made a frame at a time as it is written. */
export interface Snapshot {
  /** The window's length in ns: from its first batch to the moment of the snapshot. */
  readonly coveredNs: number;
  /** The trace's frames, in order (the window's batches are rebased as they are taken). */
  chunks(): Iterable<Uint8Array>;
}

/** Where the recorder's clock was at its time 0, to write each snapshot's header. */
export interface ClockOrigin {
  /** `performance.now()`. */
  readonly t0: number;
  /** Wall-clock ns since the Unix epoch. */
  readonly wallNs: bigint;
  /** `process.hrtime.bigint()`. */
  readonly hrtimeNs: bigint;
}

/**
 * A worker thread that joined while the ring ran: every snapshot has its Thread frame, until it has
 * left and its last batch has left the window (then it is forgotten, with its window start).
 */
interface JoinedThread {
  readonly id: number;
  readonly name: string;
  /** When it joined (ns of the ring's clock). */
  readonly ts: number;
  /** Its batches held now. */
  held: number;
  /** It sends nothing more (its `done` came, or it exited). */
  left: boolean;
}

export class FlightRing extends Consumer implements ThreadDestination {
  /** Held batches, oldest first, from `head` on (the slots before `head` are evicted and reused at compaction). */
  private batches: (Uint8Array | null)[] = [];
  private starts: number[] = [];
  private events: number[] = [];
  private head = 0;
  /** Bytes of the batches held. */
  bytes = 0;
  private readonly window = new WindowStarts();
  /** A batch could not be read as it left the window (see unreadable). */
  private warned = false;
  private readonly threads = new Map<number, JoinedThread>();

  constructor(
    private readonly origin: ClockOrigin,
    firstSeq: number,
    private readonly minAgeNs: number,
    private readonly maxBytes: number,
  ) {
    super(origin.t0, firstSeq);
  }

  /** The ring never refuses events: it makes room by evicting the oldest. */
  accepts(): boolean {
    return true;
  }

  take(batch: Uint8Array, baseTs: number, events: number): void {
    this.hold(batch, baseTs, events);
  }

  /** A worker thread joined (thread-collector.ts); `ts` on the ring's clock. */
  threadJoined(id: number, name: string, ts: number): void {
    this.threads.set(id, { id, name, ts, held: 0, left: false });
  }

  /** A worker thread left (thread-collector.ts): forgotten once none of its batches is in the window. */
  threadLeft(id: number): void {
    const thread = this.threads.get(id);
    if (thread === undefined) return;
    thread.left = true;
    if (thread.held === 0) this.forget(thread);
  }

  private forget(thread: JoinedThread): void {
    this.threads.delete(thread.id);
    this.window.forgetThread(thread.id);
  }

  /** Worker threads whose state the ring keeps (those that joined, less those forgotten). */
  get threadCount(): number {
    return this.threads.size;
  }

  /**
   * A worker thread's ThreadEvents frame, on the ring's clock: held and evicted as the main thread's.
   * The main thread's buffered events go in first: what the main thread did before the frame arrived
   * (create the task whose part the worker did) is older in the ring, so it never leaves the window
   * before the worker's events that follow from it.
   */
  takeFromThread(frame: Uint8Array, events: number): void {
    flush();
    const thread = this.threads.get(batchThread(frame));
    if (thread !== undefined) thread.held++;
    this.hold(frame, batchBaseTs(frame), events);
  }

  /** Events a worker dropped itself: not in any window. */
  droppedByThread(): void {}

  private hold(batch: Uint8Array, baseTs: number, events: number): void {
    this.batches.push(batch);
    this.starts.push(baseTs);
    this.events.push(events);
    this.bytes += batch.length;
    this.evict(this.ns(now()));
  }

  /**
   * A batch leaving the window that the window start cannot read (a bug of tstrace's): this runs in a
   * flush, under the program's own calls or timers, so it must not throw. One warning says what the
   * snapshots may lack from then on.
   */
  private unreadable(error: unknown): void {
    if (this.warned) return;
    this.warned = true;
    const why = error instanceof Error ? error.message : String(error);
    process.emitWarning(`the flight recorder could not read a batch leaving its window (${why}); its snapshots may lack tasks and regions that began before their window`, { code: 'TSTRACE_FLIGHT' });
  }

  /** Batches held now. */
  get batchCount(): number {
    return this.batches.length - this.head;
  }

  /** Open tasks carried from before the window (see {@link WindowStart}). */
  get carriedTasks(): number {
    return this.window.openTasks;
  }

  /**
   * Evicts the oldest batch while the ring holds more than `maxBytes` (even the last one: the bound
   * wins), or while the batches after it still cover `minAge` up to `nowNs`.
   */
  private evict(nowNs: number): void {
    const starts = this.starts;
    while (this.head < this.batches.length) {
      const next = this.head + 1;
      const coveredWithout = next < starts.length && nowNs - starts[next] >= this.minAgeNs;
      if (this.bytes <= this.maxBytes && !coveredWithout) break;
      const oldest = this.batches[this.head]!;
      this.batches[this.head] = null;
      this.head++;
      this.bytes -= oldest.length;
      try {
        this.window.pass(oldest);
      } catch (error) {
        this.unreadable(error);
      }
      const id = batchThread(oldest);
      if (id !== 0) {
        const thread = this.threads.get(id);
        if (thread !== undefined && --thread.held === 0 && thread.left) this.forget(thread);
      }
    }
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.head);
      this.starts = this.starts.slice(this.head);
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * The trace of the window as of now: a header whose clock origin is the window's start, the worker
   * threads' Thread frames, the preamble (what the window's batches refer to, what was open when it
   * began, per thread), the batches, and a footer. Holds the batches by reference: the ring may evict
   * them meanwhile.
   */
  snapshot(): Snapshot {
    const nowNs = this.ns(now());
    const batches = this.batches.slice(this.head) as Uint8Array[];
    // A worker's batch reaches the ring after main-thread batches of later times: the earliest start.
    let windowStart = nowNs;
    for (let i = this.head; i < this.starts.length; i++) windowStart = Math.min(windowStart, this.starts[i]);
    let events = 0;
    for (let i = this.head; i < this.events.length; i++) events += this.events[i];
    const origin = this.origin;
    const header = encodeFileStart({
      version: FORMAT_VERSION,
      wallClockOriginNs: origin.wallNs + BigInt(windowStart),
      hrtimeOriginNs: origin.hrtimeNs + BigInt(windowStart),
      pid: process.pid,
      nodeVersion: process.version,
      command: process.argv.join(' '),
    });
    const threads = [...this.threads.values()].map((thread) => encodeThreadFrame(thread.id, thread.name, Math.max(0, thread.ts - windowStart)));
    const preamble = this.window.preamble(windowStart);
    const footer = encodeFooter({ events, dropped: 0, endTs: Math.max(0, nowNs - windowStart) });
    return {
      coveredNs: nowNs - windowStart,
      *chunks() {
        yield header;
        yield* threads;
        yield* preamble;
        for (const batch of batches) yield rebaseBatch(batch, windowStart);
        yield footer;
      },
    };
  }
}
