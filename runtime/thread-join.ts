import { BroadcastChannel, getEnvironmentData, isMainThread, threadId } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { Consumer, S, flush } from './recorder.js';
import { closeOpenRun } from './scheduling.js';
import { countJoin } from './shared-ids.js';
import { watchWorkerExits } from './worker-exits.js';
import { CONTROL_CHANNEL, SESSION_KEY, threadChannel, type Batch, type ControlMessage, type ThreadMessage, type TraceSession } from './thread-protocol.js';

/** How long a worker keeps its batches channel open after its last message (see ThreadOutput.finish). */
const CLOSE_DELAY_MS = 1000;

/**
 * A worker thread's part of the main thread's trace: its events are encoded here (ThreadEvents frames,
 * with this thread's string table) and posted to the main thread, which writes them into its trace.
 * Until the main thread welcomes it, batches wait here (within the trace's `maxBufferedBytes`).
 */
class ThreadOutput extends Consumer {
  private channel: BroadcastChannel | null = null;
  private waiting: Batch[] = [];
  private waitingBytes = 0;
  /** A flush request that came before the welcome: answered once the waiting batches are sent. */
  private flushRequest = 0;

  constructor(
    readonly session: TraceSession,
    private readonly name: string,
    /** See Consumer.firstSeq: regions this thread began before it joined this trace. */
    firstSeq: number,
  ) {
    // Trace time 0 is the main thread's: this thread's `performance.now()` has an origin of its own.
    super(session.wallOriginMs - performance.timeOrigin, firstSeq, threadId);
  }

  accepts(): boolean {
    return this.waitingBytes <= this.session.maxBufferedBytes;
  }

  take(frame: Uint8Array, _baseTs: number, events: number): void {
    if (this.channel !== null) {
      post(this.channel, { kind: 'batch', frame, events });
      return;
    }
    this.waiting.push({ frame, events });
    this.waitingBytes += frame.length;
  }

  /** The main thread listens on this thread's channel now: send what waited. */
  welcome(): void {
    if (this.channel !== null) return;
    const channel = new BroadcastChannel(threadChannel(this.session.session, threadId));
    channel.unref();
    this.channel = channel;
    for (const batch of this.waiting) post(channel, { kind: 'batch', ...batch });
    this.waiting = [];
    this.waitingBytes = 0;
    if (this.flushRequest > 0) post(channel, { kind: 'flushed', request: this.flushRequest });
  }

  /** The main thread asks for what this thread recorded until now (it goes on recording). */
  flushNow(request: number): void {
    flush();
    if (this.channel !== null) post(this.channel, { kind: 'flushed', request });
    else this.flushRequest = request;
  }

  /** Flushes, sends the rest and the totals; the last thing this thread sends for the trace. */
  finish(control: BroadcastChannel): void {
    // The run under way (the callback that stops the trace, or the last one before it) ends in the trace.
    closeOpenRun();
    flush();
    // Events that went out in batches are counted by the main thread as they arrive; dropped ones never did.
    const totals = { recorded: this.dropped, dropped: this.dropped };
    if (this.channel !== null) {
      post(this.channel, { kind: 'done', ...totals });
      // Not closed at once: closing a BroadcastChannel right after posting loses what is still on its way.
      // An exiting thread takes it along; a thread that lives on closes it a second later.
      const channel = this.channel;
      setTimeout(() => channel.close(), CLOSE_DELAY_MS).unref();
      this.channel = null;
    } else {
      const message: ControlMessage = { kind: 'early', session: this.session.session, thread: threadId, name: this.name, ...totals, batches: this.waiting };
      control.postMessage(message);
      this.waiting = [];
    }
  }
}

function post(channel: BroadcastChannel, message: ThreadMessage): void {
  channel.postMessage(message);
}

/** @internal Set by api.ts: turns this thread's tracing on for a consumer (api.ts beginSession). */
export interface SessionHooks {
  /** False when this thread cannot join (it runs a trace of its own). */
  begin(session: TraceSession): boolean;
  end(): void;
}

/** Sessions remembered as left, at most (a stale link of an older one is answered `stop` by the main thread anyway). */
const MAX_LEFT = 256;

/**
 * Called once when the runtime loads in a worker thread: from then on, every trace the main thread
 * starts — `start()` or a flight recorder, running now or started later — records this thread's events
 * too, each in an encoding of its own (its clock, its string table) while both run. Nothing to call in
 * the worker: importing the runtime is enough. Never keeps the worker alive.
 */
export function joinMainThreadTraces(hooks: SessionHooks): void {
  // Ids unique across the trace's threads need the main thread's counters (shared-ids.ts).
  if (isMainThread || S.threadJoined || S.idsOwner !== 0) return;
  S.threadJoined = true;
  const control = new BroadcastChannel(CONTROL_CHANNEL);
  control.unref();
  const name = `worker ${threadId}`;
  const outputs = S.joined as ThreadOutput[];
  const outputOf = (session: number): ThreadOutput | undefined => outputs.find((output) => output.session.session === session);

  /** Traces this thread left or was told had stopped: a late message or a stale link does not join them again. */
  const left = new Set<number>();
  const begin = (session: TraceSession): void => {
    if (left.has(session.session) || outputOf(session.session) !== undefined) return;
    if (outputs.length === 0) {
      if (!hooks.begin(session)) return;
    } else flush(); // what the hot buffer holds happened before this trace: it goes to the others
    const output = new ThreadOutput(session, name, S.lastRegionSeq);
    outputs.push(output);
    const hello: ControlMessage = { kind: 'hello', session: session.session, thread: threadId, name };
    countJoin(S.joins, session.session);
    control.postMessage(hello);
  };
  const end = (session: number): void => {
    left.add(session);
    if (left.size > MAX_LEFT) left.delete(left.values().next().value as number);
    const output = outputOf(session);
    if (output === undefined) return;
    output.finish(control);
    outputs.splice(outputs.indexOf(output), 1);
    if (outputs.length === 0) hooks.end();
  };

  control.onmessage = (message: { readonly data: unknown }): void => {
    const m = message.data as ControlMessage;
    if (m.kind === 'start') begin(m);
    else if (m.kind === 'welcome') {
      if (m.thread === threadId) outputOf(m.session)?.welcome();
    } else if (m.kind === 'flush') outputOf(m.session)?.flushNow(m.request);
    else if (m.kind === 'stop') end(m.session);
  };
  // Workers this one creates join the main thread's traces too, but the main thread sees only its own
  // workers exit: it hears of these from here (a terminated one sends no `done`), and of those still
  // running when this one exits (they are terminated with it).
  const exited = (id: number): void => {
    const message: ControlMessage = { kind: 'exited', thread: id };
    control.postMessage(message);
  };
  const children = watchWorkerExits(exited);
  // A worker that returns, calls process.exit() or throws sends everything first; terminate() does not
  // run this: what it recorded since its last flush is lost.
  process.on('exit', () => {
    for (const output of [...outputs]) end(output.session.session);
    for (const id of children) exited(id);
  });
  S.joinTrace = begin;

  const running = getEnvironmentData(SESSION_KEY) as readonly TraceSession[] | undefined;
  if (Array.isArray(running)) for (const session of running) begin(session);
}
