/**
 * The analysis `go tool trace` does for user annotations — tasks, regions, logs — computed while the
 * events stream by.
 */
import type { Nanos, ReadStatus, SourceLocation, TraceEvent } from '../format/events.js';
import type { LogInfo, RegionInfo, TaskEventInfo, TaskInfo, TraceAnalysis } from './analysis-types.js';
import { readTrace, type TraceSource } from './reader.js';
import type { RegionRecord } from './region-stacks.js';
import { TraceSummarizer, type TraceRecordKeeper } from './summary.js';

export { formatLocation } from './summary.js';

/** A task's history while reading: region entries point at the region, whose end may still be unknown. */
type PendingTaskEvent =
  | Exclude<TaskEventInfo, { kind: 'regionStart' } | { kind: 'regionEnd' }>
  | { kind: 'regionStart'; region: RegionRecord }
  | { kind: 'regionEnd'; ts: Nanos; flow: number; region: RegionRecord };

interface TaskRecord {
  readonly id: number;
  type: string;
  parent: number | null;
  created: boolean;
  ended: boolean;
  start: Nanos;
  end: Nanos;
  readonly flows: Set<number>;
  readonly regions: RegionRecord[];
  readonly events: PendingTaskEvent[];
}

/**
 * Analyses a trace one event at a time: feed it every event of a trace in file order with
 * {@link TraceAnalyzer.add}, then call {@link TraceAnalyzer.finish} once with the read status. On top of
 * the statistics ({@link TraceSummarizer}) it keeps a record per task, region and log, never the events
 * themselves.
 */
export class TraceAnalyzer {
  private readonly tasks = new Map<number, TaskRecord>();
  private readonly regions: RegionRecord[] = [];
  private readonly logs: LogInfo[] = [];
  private readonly summarizer = new TraceSummarizer({ maxProblems: Infinity, records: this.recordKeeper() });

  /** Accounts for one event. Events must come in file order. */
  add(event: TraceEvent): void {
    this.summarizer.add(event);
  }

  /** The analysis of the events added so far, read as `status` says. Call once, after the last event. */
  finish(status: ReadStatus): TraceAnalysis {
    const traceEnd = this.summarizer.traceEnd(status);
    const regions = this.regions.map((region) => regionInfo(region, traceEnd));
    return { ...this.summarizer.finish(status), tasks: this.taskInfos(traceEnd, regions), regions, logs: this.logs };
  }

  private task(id: number): TaskRecord {
    let task = this.tasks.get(id);
    if (!task) {
      task = { id, type: '', parent: null, created: false, ended: false, start: 0, end: 0, flows: new Set(), regions: [], events: [] };
      this.tasks.set(id, task);
    }
    return task;
  }

  /** What the summarizer tells of the events that count (first creations and ends, paired region ends). */
  private recordKeeper(): TraceRecordKeeper {
    return {
      taskCreated: (event) => {
        const task = this.task(event.task);
        task.created = true;
        task.type = event.type;
        task.parent = event.parent;
        task.start = event.ts;
        task.flows.add(event.flow);
        task.events.push({ kind: 'create', ts: event.ts, flow: event.flow, parent: event.parent, location: event.location });
        // A parent created before the trace started is known only by id: an incomplete task.
        if (event.parent !== 0) this.task(event.parent);
      },
      taskEnded: (event) => {
        const task = this.task(event.task);
        task.ended = true;
        task.end = event.ts;
        task.flows.add(event.flow);
        task.events.push({ kind: 'end', ts: event.ts, flow: event.flow, location: event.location });
      },
      regionStarted: (event, region) => {
        this.regions.push(region);
        if (event.task === 0) return;
        const task = this.task(event.task);
        task.regions.push(region);
        task.flows.add(event.flow);
        task.events.push({ kind: 'regionStart', region });
      },
      regionEnded: (event, region) => {
        if (region.task === 0) return;
        const task = this.task(region.task);
        task.flows.add(event.flow);
        task.events.push({ kind: 'regionEnd', ts: event.ts, flow: event.flow, region });
      },
      logged: (event) => {
        const info: LogInfo = { ts: event.ts, flow: event.flow, task: event.task, category: event.category, message: event.message, location: event.location };
        this.logs.push(info);
        if (event.task === 0) return;
        const task = this.task(event.task);
        task.flows.add(event.flow);
        task.events.push({ kind: 'log', ts: event.ts, flow: event.flow, category: event.category, message: event.message, location: event.location });
      },
    };
  }

  private taskInfos(traceEnd: Nanos, regions: readonly RegionInfo[]): TaskInfo[] {
    const children = new Map<number, number[]>();
    for (const task of this.tasks.values()) {
      if (task.parent === null || task.parent === 0) continue;
      const siblings = children.get(task.parent);
      if (siblings) siblings.push(task.id);
      else children.set(task.parent, [task.id]);
    }
    const infos: TaskInfo[] = [];
    for (const task of this.tasks.values()) {
      const end = task.ended ? task.end : traceEnd;
      infos.push({
        id: task.id,
        type: task.type,
        parent: task.parent,
        children: (children.get(task.id) ?? []).sort((a, b) => a - b),
        complete: task.created && task.ended,
        created: task.created,
        ended: task.ended,
        start: task.start,
        end,
        latency: end - task.start,
        flows: [...task.flows].sort((a, b) => a - b),
        regions: task.regions.map((region) => region.id),
        events: task.events.map((event) => taskEventInfo(event, regions)).sort((a, b) => a.ts - b.ts),
      });
    }
    return infos.sort((a, b) => a.id - b.id);
  }
}

function regionInfo(region: RegionRecord, traceEnd: Nanos): RegionInfo {
  const end = region.end ?? traceEnd;
  return {
    id: region.id,
    type: region.type,
    task: region.task,
    flow: region.flow,
    parent: region.parent ? region.parent.id : null,
    start: region.start,
    end,
    complete: region.end !== null,
    duration: end - region.start,
    location: region.location,
  };
}

/** `regions` is indexed by id − 1. */
function taskEventInfo(event: PendingTaskEvent, regions: readonly RegionInfo[]): TaskEventInfo {
  if (event.kind === 'regionStart') {
    const region = regions[event.region.id - 1];
    return {
      kind: 'regionStart',
      ts: region.start,
      flow: region.flow,
      region: region.id,
      type: region.type,
      duration: region.duration,
      complete: region.complete,
      location: region.location,
    };
  }
  if (event.kind === 'regionEnd') {
    return { kind: 'regionEnd', ts: event.ts, flow: event.flow, region: event.region.id, type: event.region.type };
  }
  return event;
}

/**
 * Reads a trace (a file path, bytes, or a stream of chunks) and analyses it as `go tool trace` does:
 * tasks with latencies, parents, children, flows and histories; regions with parents, durations and
 * locations; logs; latency statistics and histograms per task type and per region (type, location);
 * and the problems found. Streams: memory grows with the number of tasks, regions and logs, not with
 * the file; for the statistics alone, in bounded memory, see {@link summarizeTrace}. A damaged or cut-off trace is analysed up to where reading stopped (`status` says where
 * and why); only I/O errors (no such file) reject.
 */
export async function analyzeTrace(source: TraceSource): Promise<TraceAnalysis> {
  const analyzer = new TraceAnalyzer();
  const status = await readTrace(source, (event) => analyzer.add(event));
  return analyzer.finish(status);
}
