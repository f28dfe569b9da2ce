/**
 * tstrace reader (`tstrace/reader`): read trace files and analyse them as `go tool trace` does — tasks,
 * regions, logs, latency statistics and histograms, problems. Reading never throws for damaged input:
 * every result carries a status saying whether the trace was complete, or where and why reading stopped.
 *
 * This module only re-exports: reading and analysis live in analysis/, the exports in export/ (the
 * package entry sits above both so that neither imports the other).
 */
export { loadTrace, readTrace, type TraceSource } from '../analysis/reader.js';
export { analyzeTrace, formatLocation, TraceAnalyzer } from '../analysis/analysis.js';
export { ItemList } from '../analysis/item-list.js';
export type {
  DurationStats,
  HistogramBucket,
  LogCategoryStats,
  LogInfo,
  Problem,
  ProblemKind,
  RegionGroupStats,
  RegionInfo,
  TaskEventInfo,
  TaskInfo,
  TaskTypeStats,
  TraceAnalysis,
  TraceStats,
  TraceSummary,
} from '../analysis/analysis-types.js';
export { bucketLowerBound, durationHistogram, latencyBucket } from '../analysis/histogram.js';
export { durationStats, nearestRank, EXACT_VALUES } from '../analysis/duration-digest.js';
export { summarizeTrace, TraceSummarizer, LISTED_PROBLEMS } from '../analysis/summary.js';
export { formatDuration } from '../analysis/format-duration.js';
export type {
  MisuseName,
  Nanos,
  ReadStatus,
  SourceLocation,
  TraceEvent,
  TraceEventKind,
  TraceFooter,
  TraceHeader,
} from '../format/events.js';
export { exportChrome } from '../export/export-chrome.js';
export { exportPerfetto } from '../export/export-perfetto.js';
export { exportGo } from '../export/export-go.js';
export { mergeTraces, type MergedInput, type MergeOptions, type MergeResult } from '../export/merge-traces.js';
export type { ExportFilter, ExportOptions, ExportResult } from '../export/export-types.js';
