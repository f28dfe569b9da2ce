/**
 * `tstrace export --format go`: a trace in Go 1.19's execution-trace format, so that Go's own
 * `go tool trace` shows our tasks, regions and logs. Streams: events are converted as they are read
 * and written out in 64 KiB batches.
 *
 * The model: each JavaScript thread is a P (and an M): the main thread P 0, worker threads P 2, 3, …
 * in the order their events first appear; every flow is a goroutine (goroutine N = flow N) on the P of
 * its thread. When a thread's events switch from one flow to another, the running goroutine blocks at
 * its last event and the next one is woken from the idle P (the event loop) and started. Tasks,
 * regions and logs become Go's user annotation events on the goroutine of their flow, so a task that
 * spans threads has regions on several Ps; GCs go on P 1, so that they can be written when they are
 * observed.
 *
 * With scheduling events (Run events), goroutines follow the runs instead: a flow's goroutine is
 * runnable from when its run became ready, runs exactly during the run, and blocks with the Go event
 * that matches what its next run resumed from (go-wait-reason.ts), so Go's goroutine analysis shows our
 * running, queued and waiting times. Run events arrive after the events they contain, so each thread's
 * Go events wait in a {@link TimeOrderedQueue} for a bounded window before they are written.
 */
import type { Writable } from 'node:stream';
import { formatDuration } from '../analysis/format-duration.js';
import { IdSet } from '../analysis/id-set.js';
import type { TraceSource } from '../analysis/reader.js';
import { pairRegionEnd } from '../analysis/region-stacks.js';
import type { Nanos, ReadStatus, SourceLocation, TraceEvent } from '../format/events.js';
import { decodePaced, PacedWriter, WarningList } from './export-io.js';
import type { ExportOptions, ExportResult } from './export-types.js';
import { GC_P, GO_MAX_STRING_BYTES, GoEvent, GoTraceEncoder, type GoFrame, type GoParkReason } from './go-trace-encoder.js';
import { goParkReasonOf } from './go-wait-reason.js';
import { TimeOrderedQueue } from './time-ordered-queue.js';

export type { ExportOptions, ExportResult } from './export-types.js';

/** Flow ids below this are tracked in a typed array; others in a map. */
const DENSE_IDS = 1 << 22;

/** A region open on a goroutine, as Go sees it: our trace may have ended it already, while Go cannot yet (see regionEnd). */
interface OpenRegion {
  readonly type: string;
  readonly task: number;
  /** When our trace ended it, or -1 while it is open. */
  endedAt: Nanos;
}

/** A number per id, 0 by default: a typed array for small ids, a map beyond. */
class NumberTable {
  private dense = new Float64Array(1024);
  private readonly sparse = new Map<number, number>();

  get(id: number): number {
    if (id < DENSE_IDS) return id < this.dense.length ? this.dense[id] : 0;
    return this.sparse.get(id) ?? 0;
  }

  set(id: number, value: number): void {
    if (id >= DENSE_IDS) {
      this.sparse.set(id, value);
      return;
    }
    if (id >= this.dense.length) {
      let length = this.dense.length * 2;
      while (length <= id) length *= 2;
      const grown = new Float64Array(Math.min(length, DENSE_IDS));
      grown.set(this.dense);
      this.dense = grown;
    }
    this.dense[id] = value;
  }
}

const at = (ts: Nanos): string => `at ${formatDuration(ts)}`;

/**
 * Events of a trace with Run events, waiting to be written in time order on their thread's P: an
 * event of ours, or a step of a run — its flow became ready (`unblock`), ran (`start`), stopped (`block`,
 * with the reason its next run says it waited for).
 */
type PendingOp =
  | { readonly kind: 'event'; readonly ts: Nanos; readonly rank: 3; readonly event: TraceEvent }
  | { readonly kind: 'unblock'; readonly ts: Nanos; readonly rank: 1; readonly flow: number }
  | { readonly kind: 'start'; readonly ts: Nanos; readonly rank: 2; readonly flow: number }
  | { readonly kind: 'block'; readonly ts: Nanos; readonly rank: 0; readonly flow: number };

/** A thread of the trace as Go sees it: a P of its own, started on an M whose id is the thread's. */
interface Proc {
  /** Go's P number. */
  readonly p: number;
  /** The flow whose goroutine runs on the P; 0 while the P is idle. */
  running: number;
  /** Time of the last event written on the P: times on a P never go back. */
  lastTs: Nanos;
  /** With Run events: the flow of the run being written (its start written, its end not yet); 0 between runs. */
  inRun: number;
  /** With Run events: events and run steps not written yet, earliest first. */
  readonly pending: TimeOrderedQueue<PendingOp>;
  /** With Run events: the latest run end seen on the thread. */
  runsSeenTo: Nanos;
}

/** Goroutine states, as far as the export needs them (with Run events). */
const WAITING = 0;
const RUNNABLE = 1;
const RUNNING = 2;

/** Events read before deciding whether the trace has Run events (they come early: the first at the first run's end). */
const PROBE_EVENTS = 50_000;
/**
 * With Run events, a thread's events are written this long (trace time) after the latest run end seen
 * on it: a Run event arrives after the events it contains and says when its flow became ready, which
 * may be earlier still. What arrives later than that is moved forward (and reported).
 */
const REORDER_WINDOW_NS = 1e9;
/** …or once this many are pending on a thread, whichever comes first (bounds the memory). */
const MAX_PENDING_OPS = 1 << 16;

const newProc = (p: number, lastTs: Nanos): Proc => ({ p, running: 0, lastTs, inRun: 0, pending: new TimeOrderedQueue<PendingOp>(), runsSeenTo: 0 });

/** The first P of worker threads (P 0 is the main thread, P 1 carries GCs). */
const FIRST_WORKER_P = GC_P + 1;

/**
 * Converts our events, in file order, to Go's: feed them with {@link add}, call {@link finish} once
 * with the read status, and collect the bytes with {@link takeChunks} as you go. Memory: a number
 * per flow (its goroutine's sequence number), the open regions, two bits per task id, the interned
 * strings and stacks; never the events.
 */
export class GoTraceConverter {
  private readonly enc = new GoTraceEncoder();
  private readonly warnings = new WarningList();
  /** The main thread's P. */
  private readonly main: Proc = newProc(0, 0);
  /** Worker threads' Ps, by thread id, in the order their events first appeared. */
  private readonly workers = new Map<number, Proc>();
  /** Latest time seen anywhere (event times, GC ends): the trace end, unless the footer says later. */
  private maxTs = 0;
  /** Per flow: the sequence number its goroutine's next GoStart or GoUnblock carries; 0 = not created. */
  private readonly seqs = new NumberTable();
  /** Per flow with open regions: its region stack as Go sees it, innermost last. */
  private readonly regions = new Map<number, OpenRegion[]>();
  /** Per flow: the runtime said its next region end is out of order, with this many regions above. */
  private readonly announcedOutOfOrder = new Map<number, number>();
  private readonly tasksCreated = new IdSet();
  private readonly tasksEnded = new IdSet();
  private readonly locationStacks = new Map<SourceLocation, number>();
  private readonly goroutineStacks = new Map<string, number>();
  private unknownLocationStack = 0;
  private gomaxprocsWritten = false;
  private gcEnd = -1;
  private movedForward = 0;
  private droppedByRuntime = 0;
  private gcLeftOut = 0;
  /** Until {@link PROBE_EVENTS} events or a Run event have been read: the events read so far. */
  private probe: TraceEvent[] | null = [];
  /** The trace has Run events: goroutines run exactly during runs (see {@link scheduleRun}). */
  private scheduled = false;
  /** With Run events, per flow: its goroutine's state (WAITING, RUNNABLE, RUNNING). */
  private readonly states = new NumberTable();
  /** With Run events, per flow: the end of its latest run. */
  private readonly runEnds = new NumberTable();
  /** With Run events, per flow: what each of its runs read but not started yet resumed from, earliest first. */
  private readonly waitsAhead = new Map<number, string[]>();
  /** With Run events: goroutines made runnable later than their flow became ready (Go's times on a P never go back), and by how much at most. */
  private readyLate = 0;
  private readyLateMax = 0;
  /** With Run events, per flow not created yet: its first event, which names its goroutine. */
  private readonly firstEvents = new Map<number, TraceEvent>();

  constructor() {
    this.enc.onTruncated = (what) => this.warnings.add('names cut to Go\'s length limit', `${what} was longer than Go's limit of ${GO_MAX_STRING_BYTES} bytes and was cut to it`);
    this.enc.procStart(0, 0, 0);
  }

  /** The P of the thread that recorded `event`: a worker thread's is started on its first event. */
  private procOf(event: TraceEvent): Proc {
    const thread = event.thread;
    if (thread === undefined || thread === 0) return this.main;
    let proc = this.workers.get(thread);
    if (proc === undefined) {
      proc = newProc(FIRST_WORKER_P + this.workers.size, event.ts);
      this.workers.set(thread, proc);
      this.enc.procStart(proc.p, event.ts, thread);
    }
    return proc;
  }

  /**
   * Converts one event. Events must come in file order. A trace with Run events (scheduling on) is
   * converted with goroutines running exactly during runs; the first {@link PROBE_EVENTS} events are
   * held until a Run event or their count decides which (so that the waits at the start of the trace
   * get their reasons too); traces without Run events convert as they always have.
   */
  add(event: TraceEvent): void {
    const probe = this.probe;
    if (probe !== null) {
      probe.push(event);
      if (event.kind === 'run') this.decide(true);
      else if (probe.length >= PROBE_EVENTS) this.decide(false);
      return;
    }
    if (!this.scheduled && event.kind === 'run') this.startScheduling();
    if (!this.scheduled) {
      this.convert(event);
      return;
    }
    this.schedule(event);
    this.enc.flush();
  }

  /** Ends the probe: converts the events it held, with or without runs. */
  private decide(scheduled: boolean): void {
    const events = this.probe ?? [];
    this.probe = null;
    if (scheduled) this.startScheduling();
    for (const event of events) this.add(event);
  }

  /**
   * From here on, goroutines run during runs. A trace whose first Run event comes after the probe
   * switches here: what was converted before stays as it was (goroutines running at their events).
   */
  private startScheduling(): void {
    this.scheduled = true;
    for (const proc of [this.main, ...this.workers.values()]) if (proc.running !== 0) this.states.set(proc.running, RUNNING);
  }

  /** Converts one event of a trace without Run events (or one that a run's writing reached). */
  private convert(event: TraceEvent): void {
    if (event.ts > this.maxTs) this.maxTs = event.ts;
    switch (event.kind) {
      case 'taskCreate':
        this.taskCreate(event);
        break;
      case 'taskEnd':
        this.taskEnd(event);
        break;
      case 'regionStart':
        this.regionStart(event);
        break;
      case 'regionEnd':
        this.regionEnd(event);
        break;
      case 'log': {
        const proc = this.procOf(event);
        const ts = this.run(proc, event.flow, event);
        if (ts < 0) break;
        this.enc.userLog(proc.p, ts, event.task, this.enc.stringId(event.category), this.locationStack(event.location, false), event.message);
        break;
      }
      case 'gc':
        this.gc(event.ts, event.duration);
        break;
      case 'heap': {
        const proc = this.procOf(event);
        if (!this.scheduled) this.park(proc);
        this.enc.heapAlloc(proc.p, this.time(proc, event.ts), event.bytes);
        break;
      }
      case 'misuse':
        if (event.misuse === 'regionEndedOutOfOrder') this.announcedOutOfOrder.set(event.flow, event.regionsAbove);
        break;
      case 'dropped':
        this.droppedByRuntime += event.count;
        break;
      case 'run': // converted by schedule
        break;
      case 'flowStart': // a flow's goroutine is created when the flow first does something (see run)
      case 'eventLoop': // Go's format has no place for event-loop utilization
        break;
    }
    this.enc.flush();
  }

  // ---- with Run events -----------------------------------------------------------------------

  /**
   * An event of a trace with Run events: runs become goroutine steps (see {@link scheduleRun}), the
   * other events of a thread wait with them to be written in time order; GCs and drops need no order.
   */
  private schedule(event: TraceEvent): void {
    switch (event.kind) {
      case 'run':
        this.scheduleRun(event);
        return;
      case 'gc':
      case 'dropped':
      case 'flowStart':
      case 'eventLoop':
        this.convert(event);
        return;
      default: {
        if (event.ts > this.maxTs) this.maxTs = event.ts;
        const proc = this.procOf(event);
        if ('flow' in event && event.flow > 0 && this.seqs.get(event.flow) === 0 && !this.firstEvents.has(event.flow)) this.firstEvents.set(event.flow, event);
        proc.pending.push({ kind: 'event', ts: event.ts, rank: 3, event });
        this.release(proc);
      }
    }
  }

  /**
   * A run: its flow's goroutine becomes runnable when the run's continuation became ready (`queued`
   * before its start; at its start when Node does not say), runs from its start to its end, and then
   * blocks — with the Go event that matches what its next run resumes from (see {@link parkReason}).
   */
  private scheduleRun(run: Extract<TraceEvent, { kind: 'run' }>): void {
    const flow = run.flow;
    const end = run.ts + run.duration;
    if (end > this.maxTs) this.maxTs = end;
    if (flow <= 0) {
      this.warnings.add('events on a flow that cannot be a goroutine', `a run ${at(run.ts)} names flow ${flow}, which cannot be a goroutine; it was left out`);
      return;
    }
    const proc = this.procOf(run);
    const waits = this.waitsAhead.get(flow);
    if (waits) waits.push(run.waitedOn);
    else this.waitsAhead.set(flow, [run.waitedOn]);
    if (this.seqs.get(flow) === 0 && !this.firstEvents.has(flow)) this.firstEvents.set(flow, run);
    const ready = run.queued === null ? run.ts : Math.max(run.ts - run.queued, this.runEnds.get(flow));
    proc.pending.push({ kind: 'unblock', ts: Math.min(ready, run.ts), rank: 1, flow });
    proc.pending.push({ kind: 'start', ts: run.ts, rank: 2, flow });
    proc.pending.push({ kind: 'block', ts: end, rank: 0, flow });
    this.runEnds.set(flow, end);
    if (end > proc.runsSeenTo) proc.runsSeenTo = end;
    this.release(proc);
  }

  /** Writes the thread's pending ops that are older than the reorder window (or all, with `all`). */
  private release(proc: Proc, all = false): void {
    const until = proc.runsSeenTo - REORDER_WINDOW_NS;
    const pending = proc.pending;
    for (let op = pending.peek(); op !== undefined; op = pending.peek()) {
      if (!all && op.ts > until && pending.size <= MAX_PENDING_OPS) break;
      pending.pop();
      this.writeOp(proc, op);
    }
  }

  private writeOp(proc: Proc, op: PendingOp): void {
    const eventFlow = op.kind === 'event' && 'flow' in op.event ? op.event.flow : 0;
    // A run whose start (or readiness) is before what was written already (its events, converted
    // before the trace's first Run event) takes over the goroutine running for them.
    const alreadyRunning = (op.kind === 'unblock' || op.kind === 'start') && op.flow === proc.running && op.ts <= proc.lastTs;
    if (proc.running !== 0 && proc.running !== proc.inRun && eventFlow !== proc.running && !alreadyRunning) {
      // A goroutine run for an event outside its runs (see run) stops at its last event,
      this.park(proc);
      // and the run it interrupted goes on.
      if (proc.inRun !== 0 && (eventFlow <= 0 || eventFlow === proc.inRun)) this.resume(proc, proc.inRun, proc.lastTs, null);
    }
    switch (op.kind) {
      case 'event':
        this.convert(op.event);
        return;
      case 'unblock':
        this.unblock(proc, op.flow, op.ts);
        return;
      case 'start': {
        const waits = this.waitsAhead.get(op.flow);
        if (waits !== undefined && waits.length > 1) waits.shift();
        else this.waitsAhead.delete(op.flow);
        if (proc.running !== op.flow) {
          this.park(proc);
          this.resume(proc, op.flow, this.time(proc, op.ts), null);
        }
        proc.inRun = op.flow;
        return;
      }
      case 'block':
        if (proc.inRun === op.flow) proc.inRun = 0;
        if (proc.running !== op.flow) return;
        this.time(proc, op.ts);
        this.park(proc);
        return;
    }
  }

  /**
   * The flow's goroutine becomes runnable: created if it is new, unblocked if it waits. A new goroutine
   * is created only from a P whose goroutine has no open region (Go's analysis would give it that
   * region's task); otherwise it is created when it starts.
   */
  private unblock(proc: Proc, flow: number, ready: Nanos): void {
    const seq = this.seqs.get(flow);
    if (seq !== 0 && this.states.get(flow) !== WAITING) return;
    if (seq === 0 && proc.running !== 0 && (this.regions.get(proc.running)?.length ?? 0) > 0) return;
    let ts = ready;
    if (ready < proc.lastTs) {
      // Written already past its readiness (beyond the reorder window, or before the trace's first Run event).
      this.readyLate++;
      this.readyLateMax = Math.max(this.readyLateMax, proc.lastTs - ready);
      ts = proc.lastTs;
    }
    if (seq === 0) {
      this.enc.goCreate(proc.p, this.time(proc, ts), flow, this.goroutineStack(flow, this.takeFirstEvent(flow, null)), 0);
      this.seqs.set(flow, 1);
    } else {
      this.enc.goUnblock(proc.p, this.time(proc, ts), flow, seq);
      this.seqs.set(flow, seq + 1);
    }
    this.states.set(flow, RUNNABLE);
  }

  /** Starts the flow's goroutine on the idle P at `ts`: created, or unblocked, first if it is not runnable. */
  private resume(proc: Proc, flow: number, ts: Nanos, first: TraceEvent | null): void {
    const enc = this.enc;
    let seq = this.seqs.get(flow);
    if (seq === 0) {
      enc.goCreate(proc.p, ts, flow, this.goroutineStack(flow, this.takeFirstEvent(flow, first)), 0);
      seq = 1;
    } else if (this.states.get(flow) !== RUNNABLE) {
      enc.goUnblock(proc.p, ts, flow, seq++);
    }
    enc.goStart(proc.p, ts, flow, seq++);
    this.seqs.set(flow, seq);
    this.states.set(flow, RUNNING);
    if (!this.gomaxprocsWritten) {
      enc.gomaxprocs(proc.p, ts, 1);
      this.gomaxprocsWritten = true;
    }
    proc.running = flow;
  }

  /** The event that names a new goroutine: the flow's first in file order, else `fallback`. */
  private takeFirstEvent(flow: number, fallback: TraceEvent | null): TraceEvent | null {
    const first = this.firstEvents.get(flow) ?? fallback;
    this.firstEvents.delete(flow);
    return first;
  }

  /** Bytes of the Go trace finished so far, in file order. */
  takeChunks(): Uint8Array[] {
    return this.enc.takeChunks();
  }

  /**
   * Ends the Go trace: parks the running goroutine and stops the P at the trace end (the footer's end
   * time, or the latest event), so that Go measures unfinished tasks and regions to the same end as
   * our analysis. Returns the number of Go events written and the warnings.
   */
  finish(status: ReadStatus): { events: number; warnings: string[] } {
    if (this.probe !== null) this.decide(false);
    if (this.scheduled) for (const proc of [this.main, ...this.workers.values()]) this.release(proc, true);
    const procs = [this.main, ...this.workers.values()];
    for (const proc of procs) this.park(proc);
    if (!this.gomaxprocsWritten) this.enc.gomaxprocs(0, this.main.lastTs, 1);
    let end = Math.max(this.maxTs, status.footer?.endTs ?? 0);
    for (const proc of procs) end = Math.max(end, proc.lastTs);
    for (const proc of procs) this.enc.procStop(proc.p, end);
    this.enc.flush(true);
    for (const [flow, stack] of this.regions) {
      for (const region of stack) {
        if (region.endedAt < 0) continue;
        this.warnings.add(
          'regions left open with regions nested in them',
          `region "${region.type}" on flow ${flow} ended ${at(region.endedAt)} while regions nested in it were still open, and they never ended: ` +
            `Go's regions must end innermost first, so in the export it is left open (unfinished) with them`,
        );
      }
    }
    if (this.movedForward > 0) {
      this.warnings.add('summary lines', `${this.movedForward} events were earlier than the event before them and were moved forward to its time (Go's times on a P never go back)`);
    }
    if (this.readyLate > 0) {
      this.warnings.add(
        'summary lines',
        `${this.readyLate} runs' flows became ready before events already written on their thread (by up to ${formatDuration(this.readyLateMax)}): ` +
          `their goroutines are runnable from there, so Go's scheduler wait is that much shorter than the queued time of our analysis`,
      );
    }
    if (this.gcLeftOut > 0) this.warnings.add('summary lines', `${this.gcLeftOut} garbage collections overlapped the one before them and were left out (Go's GCs do not overlap)`);
    if (this.droppedByRuntime > 0) {
      this.warnings.add('summary lines', `the runtime dropped ${this.droppedByRuntime} events while tracing (the writer could not keep up); they are missing from the export too`);
    }
    return { events: this.enc.events, warnings: this.warnings.list() };
  }

  // ---- flows and goroutines ------------------------------------------------------------------

  /** `ts` moved forward to the last time written on the P, if it is earlier (never, in traces the runtime writes). */
  private time(proc: Proc, ts: Nanos): Nanos {
    if (ts >= proc.lastTs) return (proc.lastTs = ts);
    this.movedForward++;
    return proc.lastTs;
  }

  /**
   * Makes `flow`'s goroutine the running one, for an event at the returned time: parks the running
   * goroutine, creates the flow's goroutine on its first event (from the idle P, so it does not
   * inherit the parker's region in Go's analysis), or wakes it, and starts it. Returns -1, writing
   * nothing, for flow 0, which cannot be a goroutine.
   */
  private run(proc: Proc, flow: number, event: TraceEvent): Nanos {
    if (flow === proc.running && flow > 0) return this.time(proc, event.ts);
    if (flow <= 0) {
      this.warnings.add('events on a flow that cannot be a goroutine', `a ${event.kind} event ${at(event.ts)} names flow ${flow}, which cannot be a goroutine; it was left out`);
      return -1;
    }
    if (this.scheduled) {
      // An event outside its flow's runs: the run on the P (if any) stops at it, the flow's goroutine
      // runs for it, and stops at the flow's last such event (see writeOp).
      const ts = this.time(proc, event.ts);
      this.park(proc);
      this.resume(proc, flow, ts, event);
      return ts;
    }
    this.park(proc);
    const ts = this.time(proc, event.ts);
    const enc = this.enc;
    const p = proc.p;
    let seq = this.seqs.get(flow);
    if (seq === 0) {
      enc.goCreate(p, ts, flow, this.goroutineStack(flow, event), 0);
      seq = 1;
    } else {
      enc.goUnblock(p, ts, flow, seq++);
    }
    enc.goStart(p, ts, flow, seq++);
    this.seqs.set(flow, seq);
    if (!this.gomaxprocsWritten) {
      // Right after the first GoStart: newer Go reads everything before it as the trace-start state.
      enc.gomaxprocs(p, ts, 1);
      this.gomaxprocsWritten = true;
    }
    proc.running = flow;
    return ts;
  }

  /** Blocks the P's running goroutine at its last event; the P is idle afterwards. */
  private park(proc: Proc): void {
    const flow = proc.running;
    if (flow === 0) return;
    if (this.scheduled) {
      this.enc.goPark(proc.p, proc.lastTs, this.parkReason(flow));
      this.states.set(flow, WAITING);
    } else {
      this.enc.goBlock(proc.p, proc.lastTs);
    }
    proc.running = 0;
  }

  /**
   * With Run events: what the flow's goroutine blocks with — what its next run resumes from
   * ({@link goParkReasonOf}), or GoBlock when that run is not known yet (beyond the reorder window, or none).
   */
  private parkReason(flow: number): GoParkReason {
    const next = this.waitsAhead.get(flow)?.[0];
    return next === undefined ? GoEvent.GoBlock : goParkReasonOf(next);
  }

  /**
   * The stack a flow's goroutine is created with: Go names the goroutine after its function. A flow
   * that starts with a region is named after the region (so Go's goroutine analysis groups the flows
   * of one kind of work); flow 1, the root flow, is "main"; other flows "flow".
   */
  private goroutineStack(flow: number, first: TraceEvent | null): number {
    let frame: GoFrame;
    if (first !== null && first.kind === 'regionStart' && first.type !== '') {
      // Go treats goroutines whose function starts with "runtime." as its own and ignores their regions.
      const fn = first.type.startsWith('runtime.') ? `flow ${first.type}` : first.type;
      frame = { fn, file: first.location?.file ?? '', line: first.location?.line ?? 0 };
    } else {
      frame = { fn: flow === 1 ? 'main' : 'flow', file: '', line: 0 };
    }
    const key = `${frame.fn}\0${frame.file}\0${frame.line}`;
    let id = this.goroutineStacks.get(key);
    if (id === undefined) {
      id = this.enc.defineStack(frame);
      this.goroutineStacks.set(key, id);
    }
    return id;
  }

  /**
   * The one-frame stack of a source location (function, file, line). Without a location: a shared
   * "(location not recorded)" frame for regions (Go needs a frame to group regions by), no stack
   * for the rest.
   */
  private locationStack(location: SourceLocation | null, needed: boolean): number {
    if (!location) {
      if (!needed) return 0;
      if (this.unknownLocationStack === 0) this.unknownLocationStack = this.enc.defineStack({ fn: '(location not recorded)', file: '', line: 0 });
      return this.unknownLocationStack;
    }
    let id = this.locationStacks.get(location);
    if (id === undefined) {
      id = this.enc.defineStack({ fn: location.function || '(anonymous)', file: location.file, line: location.line });
      this.locationStacks.set(location, id);
    }
    return id;
  }

  // ---- tasks, regions, GC --------------------------------------------------------------------

  private taskCreate(event: Extract<TraceEvent, { kind: 'taskCreate' }>): void {
    if (this.tasksCreated.has(event.task)) {
      this.warnings.add('tasks created twice', `task ${event.task} was created again ${at(event.ts)} (as "${event.type}"); Go rejects a task id used twice, so only the first creation is exported`);
      return;
    }
    const proc = this.procOf(event);
    const ts = this.run(proc, event.flow, event);
    if (ts < 0) return;
    this.tasksCreated.add(event.task);
    this.enc.userTaskCreate(proc.p, ts, event.task, event.parent, this.enc.stringId(event.type), this.locationStack(event.location, false));
  }

  private taskEnd(event: Extract<TraceEvent, { kind: 'taskEnd' }>): void {
    if (this.tasksEnded.has(event.task)) {
      this.warnings.add('tasks ended twice', `task ${event.task} was ended again ${at(event.ts)}; only the first end is exported (Go would measure to the last one)`);
      return;
    }
    const proc = this.procOf(event);
    const ts = this.run(proc, event.flow, event);
    if (ts < 0) return;
    this.tasksEnded.add(event.task);
    this.enc.userTaskEnd(proc.p, ts, event.task, this.locationStack(event.location, false));
  }

  private regionStart(event: Extract<TraceEvent, { kind: 'regionStart' }>): void {
    const proc = this.procOf(event);
    const ts = this.run(proc, event.flow, event);
    if (ts < 0) return;
    this.enc.userRegion(proc.p, ts, event.task, 0, this.enc.stringId(event.type), this.locationStack(event.location, true));
    const open: OpenRegion = { type: event.type, task: event.task, endedAt: -1 };
    const stack = this.regions.get(event.flow);
    if (stack) stack.push(open);
    else this.regions.set(event.flow, [open]);
  }

  /**
   * Pairs the end with a region as our reader does ({@link pairRegionEnd}: the innermost open region
   * of the flow with the end's type; after an out-of-order misuse, exactly the announced one). Go
   * accepts only the end of the innermost open region of the goroutine, and rejects the whole trace
   * otherwise. So a region ended while regions nested in it are open is marked ended, and its end is
   * written once they have ended: every start keeps its end, the nesting stays strict, and only that
   * region lasts longer in Go's tool (a warning says by how much). An end without a start (lost in
   * dropped events, or before the trace started) is left out: Go would count it as a region of its own.
   */
  private regionEnd(event: Extract<TraceEvent, { kind: 'regionEnd' }>): void {
    const flow = event.flow;
    const above = this.announcedOutOfOrder.get(flow);
    this.announcedOutOfOrder.delete(flow);
    const stack = this.regions.get(flow);
    const index = stack ? pairRegionEnd(stack, event.type, above ?? 0, openInTrace) : -1;
    if (!stack || index < 0) {
      this.warnings.add('region ends without a start', `region end "${event.type}" on flow ${flow} ${at(event.ts)} has no open region of that type (its start is not in the trace); it was left out`);
      return;
    }
    const proc = this.procOf(event);
    const ts = this.run(proc, flow, event);
    if (ts < 0) return;
    stack[index].endedAt = ts;
    while (stack.length > 0 && stack[stack.length - 1].endedAt >= 0) {
      const region = stack.pop()!;
      if (region.endedAt < ts) {
        this.warnings.add(
          'regions ended before regions nested in them',
          `region "${region.type}" on flow ${flow} was ended ${at(region.endedAt)}, before regions nested in it; ` +
            `Go's regions must end innermost first, so the export ends it ${at(ts)} with them (${formatDuration(ts - region.endedAt)} later)`,
        );
      }
      this.enc.userRegion(proc.p, ts, region.task, 1, this.enc.stringId(region.type), 0);
    }
    if (stack.length === 0) this.regions.delete(flow);
  }

  /**
   * A GC on P 1, where it can be written when it is observed (later events of other Ps were written
   * already; Go's parser merges the Ps by time). Go's GCs must not overlap.
   */
  private gc(start: Nanos, duration: Nanos): void {
    const end = start + duration;
    if (start < this.gcEnd) {
      this.gcLeftOut++;
      return;
    }
    this.enc.gcSpan(start, end);
    this.gcEnd = end;
    if (end > this.maxTs) this.maxTs = end;
  }
}

/** Open in our trace: not ended yet (an ended region stays on Go's stack until the regions nested in it end). */
const openInTrace = (region: OpenRegion): boolean => region.endedAt < 0;

/**
 * Exports a trace (a file path, bytes, or a stream of chunks) in Go 1.19's execution-trace format to
 * `out`, for `go tool trace`: every flow a goroutine, tasks, regions (with their source locations as
 * stack frames), logs, GCs and heap samples. Go's tool then shows the same task counts and latencies
 * (to the nanosecond), regions and logs as our analysis — except where the traced program misused
 * regions: Go rejects a whole trace whose regions do not nest strictly, so the export repairs them
 * and says how in `warnings`. A trace recorded with scheduling events also gets goroutines that run
 * exactly during their flow's runs: Go's execution and scheduler-wait times are our running and
 * queued times, and waits for timers, I/O and promises are Go's sleeps, network waits and sync blocks
 * (docs/export.md, "With scheduling events"). A trace without them exports as it always has.
 *
 * Streams in bounded memory: it resolves once every byte has been handed to `out` (respecting its
 * backpressure); it does not end `out`. A damaged or cut-off trace is exported up to where reading
 * stopped (`status` says where and why); I/O errors (no such file, a failing `out`) reject.
 */
export async function exportGo(source: TraceSource, out: Writable, options: ExportOptions = {}): Promise<ExportResult> {
  const converter = new GoTraceConverter();
  const output = new PacedWriter(out);
  // The Go bytes of each piece of input are written out (waiting while `out` is full) before reading on.
  const writeConverted = (): Promise<void> => output.writeAll(converter.takeChunks());
  try {
    const { status, exported, notes } = await decodePaced(source, (event) => converter.add(event), writeConverted, options);
    const { events, warnings } = converter.finish(exported);
    await writeConverted();
    return { events, warnings: [...notes, ...warnings], status };
  } finally {
    output.release();
  }
}
