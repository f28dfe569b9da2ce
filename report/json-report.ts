/**
 * The JSON documents of the `tstrace` commands (`--json`): a stable contract, described in
 * docs/cli.md. Fields are only ever added within a `schemaVersion`; a change that could break a reader
 * bumps it.
 */
import type { ReadStatus, TraceThread } from '../format/events.js';
import type {
  Listing,
  LogInfo,
  RegionInfo,
  TaskInfo,
  TraceStats,
  TraceSummary,
} from '../analysis/analysis-types.js';
import type { ExecutionAnalysis, StretchBlame, TaskTimeBreakdown } from '../analysis/time-breakdown.js';

/** Version of the JSON documents' shape. */
export const JSON_SCHEMA_VERSION = 1;

/** How reading ended, without the header's bigints. */
export interface JsonStatus {
  readonly complete: boolean;
  readonly bytesRead: number;
  readonly problem: ReadStatus['problem'];
}

/** The fields every document has. */
export interface JsonDocument {
  readonly schemaVersion: typeof JSON_SCHEMA_VERSION;
  readonly command: 'stats' | 'tasks' | 'blockers' | 'regions' | 'logs';
  /** The FILE argument, as given. */
  readonly file: string;
  readonly status: JsonStatus;
  readonly summary: TraceSummary;
  /** The worker threads that recorded into the trace (format version 4), in the order they joined; [] for none. */
  readonly threads: readonly TraceThread[];
}

/**
 * The statistics' own fields, as summarizeTrace gives them (`problemsLeftOut`: beyond the first 1000
 * listed); with scheduling events, `execution`: runs, and running/queued/waiting per task type and the
 * top 20 blockers (absent for a trace without them).
 */
export type StatsDocument = JsonDocument &
  Pick<TraceStats, 'taskTypes' | 'regionGroups' | 'logCategories' | 'problems' | 'problemsLeftOut'> & {
    readonly execution?: { readonly runs: number; readonly taskTypes: ExecutionAnalysis['taskTypes']; readonly blockers: ExecutionAnalysis['blockers'] };
  };

/** A task of `tstrace tasks --json`; `time` (a trace with scheduling events only): where its time went. */
export type TaskDocumentItem = TaskInfo & { readonly time?: Omit<TaskTimeBreakdown, 'task' | 'type'> | null };

export interface TasksDocument extends JsonDocument {
  readonly tasks: readonly TaskDocumentItem[];
}

/** `tstrace blockers --json`: the runs that held the thread while other tasks were queued, most delay first. */
export interface BlockersDocument extends JsonDocument {
  readonly blockers: readonly StretchBlame[];
}

export interface RegionsDocument extends JsonDocument {
  readonly regions: readonly RegionInfo[];
}

export interface LogsDocument extends JsonDocument {
  readonly logs: readonly LogInfo[];
}

function common(command: JsonDocument['command'], file: string, analysis: TraceStats): JsonDocument {
  const status: JsonStatus = { complete: analysis.status.complete, bytesRead: analysis.status.bytesRead, problem: analysis.status.problem };
  return { schemaVersion: JSON_SCHEMA_VERSION, command, file, status, summary: analysis.summary, threads: analysis.status.threads ?? [] };
}

/** `tstrace stats --json`. */
export function statsJson(file: string, analysis: TraceStats, execution: ExecutionAnalysis | null = null): StatsDocument {
  const document: StatsDocument = {
    ...common('stats', file, analysis),
    taskTypes: analysis.taskTypes,
    regionGroups: analysis.regionGroups,
    logCategories: analysis.logCategories,
    problems: analysis.problems,
    problemsLeftOut: analysis.problemsLeftOut,
  };
  if (execution === null) return document;
  return { ...document, execution: { runs: execution.runs, taskTypes: execution.taskTypes, blockers: execution.blockers.slice(0, 20) } };
}

/** Tasks with where their time went (`time`; null for a task that never ran). */
export function withTaskTimes(tasks: Listing<TaskInfo>, times: ReadonlyMap<number, TaskTimeBreakdown>): Listing<TaskDocumentItem> {
  return {
    length: tasks.length,
    at(index) {
      const task = tasks.at(index);
      const time = times.get(task.id);
      if (time === undefined) return { ...task, time: null };
      const { task: _id, type: _type, ...parts } = time;
      return { ...task, time: parts };
    },
  };
}

/** Stands for the list in the document while it is stringified around it. */
const LIST_MARK = '\u0000tstrace-list\u0000';

/**
 * A listing command's document (`tasks`, `regions` or `logs`) as chunks of text, the same text as
 * `JSON.stringify(document, null, 2)` — with the list's items stringified one at a time, so that no
 * string holds the whole list (a million regions would not fit in one).
 */
export function* listingJsonChunks<D extends TasksDocument | RegionsDocument | LogsDocument | BlockersDocument>(document: Omit<D, 'tasks' | 'regions' | 'logs' | 'blockers'>, key: 'tasks' | 'regions' | 'logs' | 'blockers', items: Listing<unknown>): Generator<string> {
  const text = JSON.stringify({ ...document, [key]: LIST_MARK }, null, 2) + '\n';
  const mark = JSON.stringify(LIST_MARK);
  const at = text.indexOf(mark);
  yield text.slice(0, at);
  if (items.length === 0) {
    yield '[]';
  } else {
    // Items are at depth 2 of the document: four spaces in.
    let chunk = '[';
    for (let i = 0; i < items.length; i++) {
      chunk += (i === 0 ? '\n    ' : ',\n    ') + JSON.stringify(items.at(i), null, 2).replaceAll('\n', '\n    ');
      if (chunk.length >= 64 * 1024) {
        yield chunk;
        chunk = '';
      }
    }
    yield chunk + '\n  ]';
  }
  yield text.slice(at + mark.length);
}

/** The fields of a listing command's document, without its list. */
export function listingHead(command: 'tasks' | 'blockers' | 'regions' | 'logs', file: string, stats: TraceStats): JsonDocument {
  return common(command, file, stats);
}
