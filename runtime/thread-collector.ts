import { BroadcastChannel, setEnvironmentData } from 'node:worker_threads';
import { rebaseBatch } from '../format/encode.js';
import { now } from './recorder.js';
import { CONTROL_CHANNEL, SESSION_KEY, threadChannel, type ControlMessage, type ThreadMessage, type TraceSession } from './thread-protocol.js';

interface JoinedThread {
  readonly channel: BroadcastChannel;
  readonly name: string;
  done: boolean;
}

/**
 * Where the main thread puts its workers' events: the trace `start()` writes (recorder.ts TraceOutput)
 * and the flight recorder's ring (flight-ring.ts).
 */
export interface ThreadDestination {
  /** `performance.now()` at its time 0. */
  readonly t0: number;
  /** Its time of `ms` (a `performance.now()`). */
  ns(ms: number): number;
  /** A worker joined at `ts` (its time): its Thread frame. */
  threadJoined(id: number, name: string, ts: number): void;
  /** A worker's ThreadEvents frame of `events` events, on its clock. */
  takeFromThread(frame: Uint8Array, events: number): void;
  /** Events a worker dropped itself. */
  droppedByThread(count: number): void;
}

/** A destination and how much later its clock's origin is than the session's (ns): its frames are moved by that much. */
interface Attached {
  readonly destination: ThreadDestination;
  readonly shiftNs: number;
}

/**
 * The main thread's side of worker threads, for one session — from the first of `start()` and a flight
 * recorder to start to the last of them to stop: it tells workers (those running and those created
 * later) that a trace runs, announces each that joins to every destination, and hands their batches to
 * every destination as they arrive. Workers record on the session's clock (that of the destination that
 * began it); a destination attached later gets their batches rebased onto its own.
 */
export class ThreadCollector {
  private readonly control = new BroadcastChannel(CONTROL_CHANNEL);
  private readonly threads = new Map<number, JoinedThread>();
  private readonly destinations: Attached[];
  private onDone: (() => void) | null = null;
  private closed = false;

  constructor(
    first: ThreadDestination,
    /** The trace, as workers join it (also carried by task links: task-link.ts). */
    readonly session: TraceSession,
  ) {
    this.destinations = [{ destination: first, shiftNs: 0 }];
    this.control.unref();
    this.control.onmessage = (message: { readonly data: unknown }): void => this.onControl(message.data as ControlMessage);
    setEnvironmentData(SESSION_KEY, session);
    this.send({ kind: 'start', ...session });
  }

  /**
   * Hands the workers' events to `destination` too from now on (its clock origin is later than the
   * session's), announcing the workers that joined already.
   */
  attach(destination: ThreadDestination): void {
    const shiftNs = Math.max(0, Math.round((destination.t0 - this.destinations[0].destination.t0) * 1e6));
    this.destinations.push({ destination, shiftNs });
    const ts = destination.ns(now());
    for (const [id, thread] of this.threads) destination.threadJoined(id, thread.name, ts);
  }

  /** Stops handing events to `destination`; returns how many destinations remain. */
  detach(destination: ThreadDestination): number {
    const index = this.destinations.findIndex((attached) => attached.destination === destination);
    if (index >= 0) this.destinations.splice(index, 1);
    return this.destinations.length;
  }

  /** Whether more than one destination gets the workers' events. */
  get shared(): boolean {
    return this.destinations.length > 1;
  }

  /** Whether `destination` gets the workers' events. */
  feeds(destination: ThreadDestination): boolean {
    return this.destinations.some((attached) => attached.destination === destination);
  }

  private deliver(frame: Uint8Array, events: number): void {
    for (const { destination, shiftNs } of this.destinations) destination.takeFromThread(shiftNs === 0 ? frame : rebaseBatch(frame, shiftNs), events);
  }

  private droppedByThread(count: number): void {
    for (const { destination } of this.destinations) destination.droppedByThread(count);
  }

  /** Whether a joined worker has not sent its last batch yet. */
  get waiting(): boolean {
    for (const thread of this.threads.values()) if (!thread.done) return true;
    return false;
  }

  private send(message: ControlMessage): void {
    this.control.postMessage(message);
  }

  private onControl(m: ControlMessage): void {
    if (this.closed) return;
    if (m.kind === 'hello') {
      if (m.session !== this.session.session) this.send({ kind: 'stop', session: m.session });
      else this.join(m.thread, m.name, false);
    } else if (m.kind === 'early' && m.session === this.session.session) {
      // Its hello may have been welcomed already: the welcome came too late for it.
      const thread = this.threads.get(m.thread) ?? this.join(m.thread, m.name, true);
      if (thread === null || thread.done) return;
      for (const batch of m.batches) this.deliver(batch.frame, batch.events);
      this.droppedByThread(m.dropped);
      this.finished(thread);
    }
  }

  /** Announces the thread to every destination (a Thread frame) and listens to its channel; null if it had joined already. */
  private join(id: number, name: string, early: boolean): JoinedThread | null {
    if (this.threads.has(id)) return null;
    const at = now();
    for (const { destination } of this.destinations) destination.threadJoined(id, name, destination.ns(at));
    const channel = new BroadcastChannel(threadChannel(this.session.session, id));
    channel.unref();
    const thread: JoinedThread = { channel, name, done: false };
    this.threads.set(id, thread);
    channel.onmessage = (message: { readonly data: unknown }): void => {
      const m = message.data as ThreadMessage;
      if (this.closed || thread.done) return;
      if (m.kind === 'batch') this.deliver(m.frame, m.events);
      else {
        this.droppedByThread(m.dropped);
        this.finished(thread);
      }
    };
    if (!early) this.send({ kind: 'welcome', session: this.session.session, thread: id });
    return thread;
  }

  private finished(thread: JoinedThread): void {
    thread.done = true;
    thread.channel.close();
    if (this.onDone !== null && !this.waiting) this.onDone();
  }

  /**
   * `stop()`: asks every joined worker to flush and waits until each has sent its last batch, or
   * `timeoutMs` passed (a terminated or busy worker: what it sent before is kept). Workers created from
   * now on do not join. Nothing is written into the trace after this resolves.
   */
  async finish(timeoutMs: number): Promise<void> {
    setEnvironmentData(SESSION_KEY, undefined);
    this.send({ kind: 'stop', session: this.session.session });
    if (this.waiting) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.onDone = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.close();
  }

  /** At once (process exit, or no worker left to wait for): what arrived is in the trace; nothing more is taken. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    setEnvironmentData(SESSION_KEY, undefined);
    this.send({ kind: 'stop', session: this.session.session });
    for (const thread of this.threads.values()) if (!thread.done) thread.channel.close();
    this.control.close();
  }
}
