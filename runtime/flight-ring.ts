/**
 * The flight recorder's memory: the most recent batches, as encoded for its own trace, evicted oldest
 * first once the rest still covers `minAge` or while they hold more than `maxBytes`. What leaves the
 * ring passes through {@link WindowStart}, so a snapshot can say what was open when its window began.
 */
import { encodeFileStart, encodeFooter, rebaseBatch } from '../format/encode.js';
import { FORMAT_VERSION } from '../format/spec.js';
import { Consumer, now } from './recorder.js';
import { WindowStart } from './window-start.js';

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

export class FlightRing extends Consumer {
  /** Held batches, oldest first, from `head` on (the slots before `head` are evicted and reused at compaction). */
  private batches: (Uint8Array | null)[] = [];
  private starts: number[] = [];
  private events: number[] = [];
  private head = 0;
  /** Bytes of the batches held. */
  bytes = 0;
  private readonly window = new WindowStart();

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
    this.batches.push(batch);
    this.starts.push(baseTs);
    this.events.push(events);
    this.bytes += batch.length;
    this.evict(this.ns(now()));
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
      this.window.pass(oldest);
    }
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.head);
      this.starts = this.starts.slice(this.head);
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * The trace of the window as of now: a header whose clock origin is the window's start, the
   * preamble (what the window's batches refer to, what was open when it began), the batches, and a
   * footer. Holds the batches by reference: the ring may evict them meanwhile.
   */
  snapshot(): Snapshot {
    const nowNs = this.ns(now());
    const batches = this.batches.slice(this.head) as Uint8Array[];
    const windowStart = batches.length > 0 ? this.starts[this.head] : nowNs;
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
    const preamble = this.window.preamble(windowStart);
    const footer = encodeFooter({ events, dropped: 0, endTs: Math.max(0, nowNs - windowStart) });
    return {
      coveredNs: nowNs - windowStart,
      *chunks() {
        yield header;
        yield preamble;
        for (const batch of batches) yield rebaseBatch(batch, windowStart);
        yield footer;
      },
    };
  }
}
