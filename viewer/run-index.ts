/**
 * The viewer's scheduling events (Run events, recorded with `start(…, { scheduling: true })`): the runs
 * of each flow and each thread's long runs, indexed for the timeline like regions (only what is visible
 * is answered), and where each task's time went (analysis/time-breakdown.ts), made when first asked for.
 * A trace without runs keeps nothing here.
 */
import { readTrace, type TraceSource } from '../analysis/reader.js';
import type { TraceTables } from '../analysis/trace-tables.js';
import { ExecutionCollector, type ExecutionAnalysis, type TaskTimeBreakdown } from '../analysis/time-breakdown.js';
import type { Nanos, TraceEvent } from '../format/events.js';
import { LONG_RUN_NS } from '../export/slice-walk.js';
import { IntervalRow, packRows, type PackedRows } from './timeline-index.js';

/** One run, as the timeline's hover text and click need it. */
export interface RunJson {
  readonly task: number;
  readonly flow: number;
  readonly thread: number;
  readonly start: Nanos;
  readonly duration: Nanos;
  /** Ready this long before it ran; null when Node did not say (after I/O). */
  readonly queued: Nanos | null;
  readonly waitedOn: string;
}

/** The runs of a trace that has some. Timeline items of runs: `id` the run's index, `type` its task's type (a string index; −1 none). */
export interface RunIndex {
  readonly count: number;
  /** A row per flow with runs: the row of flow id `flow`, −1 when it has none. */
  rowOfFlow(flow: number): number;
  readonly perFlow: PackedRows;
  /** Per thread with runs of at least {@link LONG_RUN_NS}, main thread first. */
  readonly long: readonly { readonly thread: number; readonly row: IntervalRow }[];
  /** The runs of flows sharing lanes (packed flows): a row per lane, `laneOf` a flow id's lane (−1: none). */
  inLanes(lanes: number, laneOf: (flow: number) => number): PackedRows;
  run(i: number): RunJson;
  /** Where each task's time went. */
  execution(): ExecutionAnalysis;
  /** A task's breakdown; null when it had no run. */
  taskTime(task: number): TaskTimeBreakdown | null;
}

/**
 * Collects the runs while the trace streams by; {@link finish} indexes them (null without runs). The
 * breakdown needs every task's lifetime and long regions as well: from a file or bytes they are read in
 * a second pass, only when the trace has runs, so a trace without them costs nothing more to load; from
 * a stream (read once) they are collected in the same pass.
 */
export class RunCollector {
  private readonly start: number[] = [];
  private readonly duration: number[] = [];
  private readonly task: number[] = [];
  private readonly flow: number[] = [];
  private readonly thread: number[] = [];
  private readonly queued: (number | null)[] = [];
  private readonly waitedOn: number[] = [];
  private readonly waits = new Map<string, number>();
  private readonly waitNames: string[] = [];
  /** Every event goes here too when the source cannot be read again. */
  private readonly execution: ExecutionCollector | null;

  constructor(private readonly source: TraceSource) {
    this.execution = typeof source === 'string' || source instanceof Uint8Array ? null : new ExecutionCollector();
  }

  add(event: TraceEvent): void {
    this.execution?.add(event);
    if (event.kind !== 'run') return;
    this.start.push(event.ts);
    this.duration.push(event.duration);
    this.task.push(event.task);
    this.flow.push(event.flow);
    this.thread.push(event.thread ?? 0);
    this.queued.push(event.queued);
    let wait = this.waits.get(event.waitedOn);
    if (wait === undefined) this.waits.set(event.waitedOn, (wait = this.waitNames.push(event.waitedOn) - 1));
    this.waitedOn.push(wait);
  }

  async finish(tables: TraceTables): Promise<RunIndex | null> {
    const n = this.start.length;
    if (n === 0) return null;
    let execution = this.execution;
    if (execution === null) {
      const collector = (execution = new ExecutionCollector());
      await readTrace(this.source, (event) => collector.add(event));
    }
    // A run recorded with task 0 (it began outside any task) is shown for the task the breakdown gives it.
    const attributed = execution.runTasks();
    if (attributed.length === n) attributed.forEach((task, i) => (this.task[i] = task));
    const start = Float64Array.from(this.start);
    const end = Float64Array.from(this.start, (s, i) => s + this.duration[i]);
    const type = Int32Array.from(this.task, (task) => {
      const row = task === 0 ? -1 : tables.taskRow(task);
      return row < 0 ? -1 : tables.tasks.data.type[row];
    });
    const items = { start, end, type, id: (i: number) => i };
    // Runs in start order; a row per flow.
    const order = Int32Array.from(start.keys()).sort((a, b) => start[a] - start[b] || a - b);
    const flowRow = new Map<number, number>();
    const rowOf = new Int32Array(n);
    order.forEach((i, k) => {
      let row = flowRow.get(this.flow[i]);
      if (row === undefined) flowRow.set(this.flow[i], (row = flowRow.size));
      rowOf[k] = row;
    });
    const perFlow = packRows(flowRow.size, rowOf, items, order);
    const longByThread = new Map<number, IntervalRow>();
    for (const i of order) {
      if (end[i] - start[i] < LONG_RUN_NS) continue;
      let row = longByThread.get(this.thread[i]);
      if (row === undefined) longByThread.set(this.thread[i], (row = new IntervalRow()));
      row.add(start[i], end[i], i, type[i]);
    }
    const long = [...longByThread].sort((a, b) => a[0] - b[0]).map(([thread, row]) => ({ thread, row }));
    let analysis: ExecutionAnalysis | null = null;
    let byTask: Map<number, TaskTimeBreakdown> | null = null;
    const traceEnd = tables.stats.summary.duration;
    const collected = execution;
    const analyze = (): ExecutionAnalysis => (analysis ??= collected.finish(traceEnd));
    // Held for hover texts: typed columns, not the arrays they were collected in.
    const task = Float64Array.from(this.task);
    const flow = Float64Array.from(this.flow);
    const thread = Float64Array.from(this.thread);
    const queued = Float64Array.from(this.queued, (q) => q ?? Number.NaN);
    const waitedOn = Int32Array.from(this.waitedOn);
    const { waitNames } = this;
    return {
      count: n,
      rowOfFlow: (id) => flowRow.get(id) ?? -1,
      perFlow,
      long,
      inLanes: (lanes, laneOf) => {
        // A lane holds flows of one thread, whose runs never overlap.
        const sequence = order.filter((i) => laneOf(flow[i]) >= 0);
        return packRows(lanes, sequence.map((i) => laneOf(flow[i])), items, sequence);
      },
      run: (i) => ({ task: task[i], flow: flow[i], thread: thread[i], start: start[i], duration: end[i] - start[i], queued: Number.isNaN(queued[i]) ? null : queued[i], waitedOn: waitNames[waitedOn[i]] }),
      execution: analyze,
      taskTime: (id) => (byTask ??= new Map(analyze().tasks.map((t) => [t.task, t]))).get(id) ?? null,
    };
  }
}
