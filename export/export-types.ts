/** What every exporter (`exportChrome`, `exportPerfetto`, `exportGo`) takes and returns, so the CLI drives them alike. */
import type { ReadStatus } from '../format/events.js';
import type { ExportFilter } from './export-filter.js';

export type { ExportFilter } from './export-filter.js';

/** Options every exporter understands. */
export interface ExportOptions {
  /**
   * Called as the trace is read, at most once per chunk of input: bytes read so far, and the size of the
   * whole input when known (a file path or bytes), else null (a stream of chunks).
   */
  onProgress?: (bytesRead: number, totalBytes: number | null) => void;
  /** Export only a part: a time window, a task and its subtasks, the tasks of a type (docs/export.md). */
  filter?: ExportFilter;
}

/** How an export went. Exporters never throw for a damaged trace: `status` says where reading stopped. */
export interface ExportResult {
  /** Events written to the output (in the output format's own terms: one JSON object, one Go event). */
  events: number;
  /**
   * What the exporter had to change so that the output is valid for its viewers (a region ended out of
   * order, an end without a start, regions still open at the end, …), one sentence each, in trace order.
   * Long lists end with a summary of what was left out.
   */
  warnings: string[];
  /** How reading the trace ended: complete, or where and why it stopped (the part before is exported). */
  status: ReadStatus;
}
