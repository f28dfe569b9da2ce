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
  readonly command: 'stats' | 'tasks' | 'regions' | 'logs';
  /** The FILE argument, as given. */
  readonly file: string;
  readonly status: JsonStatus;
  readonly summary: TraceSummary;
  /** The worker threads that recorded into the trace (format version 4), in the order they joined; [] for none. */
  readonly threads: readonly TraceThread[];
}

/** The statistics' own fields, as summarizeTrace gives them (`problemsLeftOut`: beyond the first 1000 listed). */
export type StatsDocument = JsonDocument & Pick<TraceStats, 'taskTypes' | 'regionGroups' | 'logCategories' | 'problems' | 'problemsLeftOut'>;

export interface TasksDocument extends JsonDocument {
  readonly tasks: readonly TaskInfo[];
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
export function statsJson(file: string, analysis: TraceStats): StatsDocument {
  return {
    ...common('stats', file, analysis),
    taskTypes: analysis.taskTypes,
    regionGroups: analysis.regionGroups,
    logCategories: analysis.logCategories,
    problems: analysis.problems,
    problemsLeftOut: analysis.problemsLeftOut,
  };
}

/** Stands for the list in the document while it is stringified around it. */
const LIST_MARK = '\u0000tstrace-list\u0000';

/**
 * A listing command's document (`tasks`, `regions` or `logs`) as chunks of text, the same text as
 * `JSON.stringify(document, null, 2)` — with the list's items stringified one at a time, so that no
 * string holds the whole list (a million regions would not fit in one).
 */
export function* listingJsonChunks<D extends TasksDocument | RegionsDocument | LogsDocument>(document: Omit<D, 'tasks' | 'regions' | 'logs'>, key: 'tasks' | 'regions' | 'logs', items: Listing<unknown>): Generator<string> {
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
export function listingHead(command: 'tasks' | 'regions' | 'logs', file: string, stats: TraceStats): JsonDocument {
  return common(command, file, stats);
}
