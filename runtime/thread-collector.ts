import { BroadcastChannel, isMainThread, setEnvironmentData } from 'node:worker_threads';
import { S, now } from './recorder.js';
import { joinsOf } from './shared-ids.js';
import { watchWorkerExits } from './worker-exits.js';
import { CONTROL_CHANNEL, SESSION_KEY, threadChannel, type ControlMessage, type ThreadMessage, type TraceSession } from './thread-protocol.js';

interface JoinedThread {
  readonly id: number;
  readonly channel: BroadcastChannel;
  done: boolean;
}

/**
 * Where the main thread puts its workers' events: the trace `start()` writes (recorder.ts TraceOutput)
 * or the flight recorder's ring (flight-ring.ts).
 */
export interface ThreadDestination {
  /** Its time of `ms` (a `performance.now()`). */
  ns(ms: number): number;
  /** A worker joined at `ts` (its time): its Thread frame. */
  threadJoined(id: number, name: string, ts: number): void;
  /** A worker's ThreadEvents frame of `events` events, on its clock. */
  takeFromThread(frame: Uint8Array, events: number): void;
  /** Events a worker dropped itself. */
  droppedByThread(count: number): void;
  /** Worker `id` left (sent its last batch, or exited): it sends nothing more to this destination. */
  threadLeft(id: number): void;
}

/** The collector of `destination`, if it has one running. */
export function collectorOf(destination: ThreadDestination): ThreadCollector | null {
  for (const collector of S.threads) if (collector.destination === destination) return collector;
  return null;
}

/** Finished workers a collector remembers (see ThreadCollector.gone). */
const MAX_GONE = 4096;

/** How long after a worker's exit its last messages (sent on its way out) may still be on their way. */
const EXIT_GRACE_MS = 1000;

if (isMainThread) watchWorkerExits(workerExited);

/** Worker `id` exited (a worker of this thread's, or of a worker's: see thread-join.ts): the collectors let it go a second later. */
function workerExited(id: number): void {
  setTimeout(() => {
    for (const collector of [...S.threads]) collector.exited(id);
  }, EXIT_GRACE_MS).unref();
}

/** Listens on the control channel while no collector runs, once one has (see answerStaleJoins). */
let responder: BroadcastChannel | null = null;

/**
 * Answers `stop` to a worker that joins a trace that no longer runs — from a link made while it ran,
 * read after it stopped — so that it does not record for nobody: while collectors run, the first of
 * them answers; while none runs (after the first), a channel of its own does, never keeping the thread
 * alive. A program that never traces listens to nothing.
 */
function answerStaleJoins(): void {
  if (S.threads.length > 0) {
    responder?.close();
    responder = null;
    return;
  }
  if (responder !== null) return;
  const channel = new BroadcastChannel(CONTROL_CHANNEL);
  channel.unref();
  channel.onmessage = (message: { readonly data: unknown }): void => {
    const m = message.data as ControlMessage;
    if (m.kind === 'hello') answerStale(channel, m.session);
  };
  responder = channel;
}

/** Tells the workers to leave `session` if no collector runs it. */
function answerStale(channel: BroadcastChannel, session: number): void {
  if (S.threads.some((collector) => collector.session.session === session)) return;
  const stop: ControlMessage = { kind: 'stop', session };
  channel.postMessage(stop);
}

/** Tells workers created from now on which traces run (their sessions). */
function publishSessions(): void {
  setEnvironmentData(SESSION_KEY, S.threads.length === 0 ? undefined : S.threads.map((collector) => collector.session));
}

/**
 * The main thread's side of worker threads, for one destination — the trace `start()` writes, or a
 * flight recorder's ring; while both run, each has a collector and a session of its own, and every
 * worker encodes its events once for each (its clock origin, its string table): it tells workers
 * (those running and those created later) that a trace runs, announces each that joins, and hands
 * their batches to the destination as they arrive. It is in `S.threads` from its construction until
 * it finishes or closes.
 */
export class ThreadCollector {
  private readonly control = new BroadcastChannel(CONTROL_CHANNEL);
  private readonly threads = new Map<number, JoinedThread>();
  /**
   * Workers that have finished (the latest {@link MAX_GONE}): a message of theirs that comes late (an
   * `early` after their exit was seen) must not join them again (a second Thread frame is corruption).
   */
  private readonly gone = new Set<number>();
  private onDone: (() => void) | null = null;
  private closed = false;
  /** The last flush request sent, and the threads whose answer to it is awaited. */
  private flushRequest = 0;
  private readonly awaitingFlush = new Set<JoinedThread>();
  private onFlushed: (() => void) | null = null;
  /** The flush request under way (see flushWorkers). */
  private flushing: Promise<void> = Promise.resolve();
  /** The session's join counter when this collector began, and the workers it has heard join since. */
  private readonly joinsBefore: number;
  private heardJoin = 0;
  /** Workers announced (see announced) when the flush request under way was sent: it waits for their answers too. */
  private flushJoins = 0;

  constructor(
    /** Where the workers' events go. */
    readonly destination: ThreadDestination,
    /** The trace, as workers join it (also carried by task links: task-link.ts). */
    readonly session: TraceSession,
  ) {
    this.joinsBefore = joinsOf(S.joins, session.session);
    this.control.unref();
    this.control.onmessage = (message: { readonly data: unknown }): void => this.onControl(message.data as ControlMessage);
    S.threads.push(this);
    answerStaleJoins();
    publishSessions();
    this.send({ kind: 'start', ...session });
  }

  /** Whether a joined worker has not sent its last batch yet, or one that announced it joined has not been heard. */
  get waiting(): boolean {
    if (this.heardJoin < this.announced()) return true;
    for (const thread of this.threads.values()) if (!thread.done) return true;
    return false;
  }

  /** Workers that counted themselves into this trace (their hellos may still be on their way). */
  private announced(): number {
    return joinsOf(S.joins, this.session.session) - this.joinsBefore;
  }

  private send(message: ControlMessage): void {
    this.control.postMessage(message);
  }

  private onControl(m: ControlMessage): void {
    if (this.closed) return;
    if (m.kind === 'hello') {
      if (m.session === this.session.session) this.join(m.thread, m.name, false);
      else if (S.threads[0] === this) answerStale(this.control, m.session);
    } else if (m.kind === 'exited') {
      // Every collector hears it: the first acts for all.
      if (S.threads[0] === this) workerExited(m.thread);
    } else if (m.kind === 'early' && m.session === this.session.session) {
      // Its hello may have been welcomed already: the welcome came too late for it.
      const thread = this.threads.get(m.thread) ?? this.join(m.thread, m.name, true);
      if (thread === null || thread.done) return;
      for (const batch of m.batches) this.destination.takeFromThread(batch.frame, batch.events);
      this.destination.droppedByThread(m.dropped);
      this.finished(thread);
    }
  }

  /** Announces the thread to the destination (its Thread frame) and listens to its channel; null if it had joined already. */
  private join(id: number, name: string, early: boolean): JoinedThread | null {
    if (this.threads.has(id) || this.gone.has(id)) return null;
    this.destination.threadJoined(id, name, this.destination.ns(now()));
    const channel = new BroadcastChannel(threadChannel(this.session.session, id));
    channel.unref();
    const thread: JoinedThread = { id, channel, done: false };
    this.threads.set(id, thread);
    // One announced before the flush request under way got it too: it answers once welcomed.
    if (++this.heardJoin <= this.flushJoins && this.onFlushed !== null) this.awaitingFlush.add(thread);
    channel.onmessage = (message: { readonly data: unknown }): void => {
      const m = message.data as ThreadMessage;
      if (this.closed || thread.done) return;
      if (m.kind === 'batch') this.destination.takeFromThread(m.frame, m.events);
      else if (m.kind === 'flushed') {
        if (m.request === this.flushRequest) this.flushAnswered(thread);
      } else {
        this.destination.droppedByThread(m.dropped);
        this.finished(thread);
      }
    };
    if (!early) this.send({ kind: 'welcome', session: this.session.session, thread: id });
    return thread;
  }

  /**
   * Asks every joined worker to flush now and waits until each has sent what it recorded until then,
   * or `timeoutMs` passed (a busy or terminated worker), without stopping them: for a flight
   * recorder's snapshot.
   */
  flushWorkers(timeoutMs: number): Promise<void> {
    // One request at a time: each caller waits for a request sent after it asked.
    const done = this.flushing.then(() => this.flushOnce(timeoutMs));
    this.flushing = done;
    return done;
  }

  private async flushOnce(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    const request = ++this.flushRequest;
    this.awaitingFlush.clear();
    for (const thread of this.threads.values()) if (!thread.done) this.awaitingFlush.add(thread);
    this.flushJoins = this.announced();
    if (this.awaitingFlush.size === 0 && this.heardJoin >= this.flushJoins) return;
    this.send({ kind: 'flush', session: this.session.session, request });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.flushAnswered(null), timeoutMs);
      this.onFlushed = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** `thread` answered the flush request (null: the wait timed out, or the collector closed). */
  private flushAnswered(thread: JoinedThread | null): void {
    if (thread === null) {
      this.awaitingFlush.clear();
      this.flushJoins = 0;
    } else this.awaitingFlush.delete(thread);
    if (this.awaitingFlush.size > 0 || this.heardJoin < this.flushJoins || this.onFlushed === null) return;
    const resolve = this.onFlushed;
    this.onFlushed = null;
    resolve();
  }

  private finished(thread: JoinedThread): void {
    if (this.awaitingFlush.has(thread)) this.flushAnswered(thread); // its last batches came with `done`
    thread.done = true;
    thread.channel.close();
    // Thread ids are never reused: a long-running recorder keeps nothing per worker gone.
    this.threads.delete(thread.id);
    this.gone.add(thread.id);
    if (this.gone.size > MAX_GONE) this.gone.delete(this.gone.values().next().value as number);
    this.destination.threadLeft(thread.id);
    if (this.onDone !== null && !this.waiting) this.onDone();
  }

  /**
   * `stop()`: asks every joined worker to flush and waits until each has sent its last batch, or
   * `timeoutMs` passed (a terminated or busy worker: what it sent before is kept). Workers created from
   * now on do not join. Nothing is written into the trace after this resolves.
   */
  async finish(timeoutMs: number): Promise<void> {
    this.detach();
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

  /** Leaves `S.threads`: workers created from now on do not join this trace. */
  private detach(): void {
    const at = S.threads.indexOf(this);
    if (at < 0) return;
    S.threads.splice(at, 1);
    answerStaleJoins();
    publishSessions();
  }

  /** Worker `id` exited (seen by the main thread: a terminated worker sends no `done`). */
  exited(id: number): void {
    const thread = this.threads.get(id);
    if (thread !== undefined && !this.closed && !thread.done) this.finished(thread);
  }

  /** At once (process exit, or no worker left to wait for): what arrived is in the trace; nothing more is taken. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    this.send({ kind: 'stop', session: this.session.session });
    for (const thread of this.threads.values()) if (!thread.done) thread.channel.close();
    this.control.close();
    this.flushAnswered(null);
  }
}
