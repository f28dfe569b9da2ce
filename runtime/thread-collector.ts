import { BroadcastChannel, setEnvironmentData } from 'node:worker_threads';
import { encodeThreadFrame } from '../format/encode.js';
import { now, type TraceOutput } from './recorder.js';
import { CONTROL_CHANNEL, SESSION_KEY, threadChannel, type ControlMessage, type ThreadMessage, type TraceSession } from './thread-protocol.js';

interface JoinedThread {
  readonly channel: BroadcastChannel;
  done: boolean;
}

/**
 * The main thread's side of worker threads in its trace, for one `start()`…`stop()`: it tells workers
 * (those running and those created later) that a trace runs, welcomes each that joins with a Thread
 * frame, and writes their batches into the trace as they arrive.
 */
export class ThreadCollector {
  private readonly control = new BroadcastChannel(CONTROL_CHANNEL);
  private readonly threads = new Map<number, JoinedThread>();
  private onDone: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly trace: TraceOutput,
    private readonly session: TraceSession,
  ) {
    this.control.unref();
    this.control.onmessage = (message: { readonly data: unknown }): void => this.onControl(message.data as ControlMessage);
    setEnvironmentData(SESSION_KEY, session);
    this.send({ kind: 'start', ...session });
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
      for (const batch of m.batches) this.trace.takeFromThread(batch.frame, batch.events);
      this.trace.droppedByThread(m.dropped);
      this.finished(thread);
    }
  }

  /** Writes the thread's Thread frame and listens to its channel; null if it had joined already. */
  private join(id: number, name: string, early: boolean): JoinedThread | null {
    if (this.threads.has(id)) return null;
    this.trace.takeFromThread(encodeThreadFrame(id, name, this.trace.ns(now())), 0);
    const channel = new BroadcastChannel(threadChannel(this.session.session, id));
    channel.unref();
    const thread: JoinedThread = { channel, done: false };
    this.threads.set(id, thread);
    channel.onmessage = (message: { readonly data: unknown }): void => {
      const m = message.data as ThreadMessage;
      if (this.closed || thread.done) return;
      if (m.kind === 'batch') this.trace.takeFromThread(m.frame, m.events);
      else {
        this.trace.droppedByThread(m.dropped);
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
