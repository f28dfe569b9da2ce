/**
 * tstrace reader (`tstrace/reader`): read trace files and analyse them as `go tool trace` does — tasks,
 * regions, logs, latency statistics and histograms, problems. Reading never throws for damaged input:
 * every result carries a status saying whether the trace was complete, or where and why reading stopped.
 */
export { loadTrace, readTrace, type TraceSource } from './reader.js';
export { analyzeTrace, formatLocation, TraceAnalyzer } from './analysis.js';
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
} from './analysis-types.js';
export { bucketLowerBound, durationHistogram, latencyBucket } from './histogram.js';
export { durationStats, nearestRank, EXACT_VALUES } from './duration-digest.js';
export { summarizeTrace, TraceSummarizer, LISTED_PROBLEMS } from './summary.js';
export { formatDuration } from './format-duration.js';
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
export { exportChrome } from './export-chrome.js';
export { exportGo } from './export-go.js';
export type { ExportOptions, ExportResult } from './export-types.js';
