/**
 * The human-readable reports of the `tstrace` commands: aligned tables, durations like `1.23ms`. Their
 * layout may change between versions; scripts should use `--json` (see json-report.ts).
 */
import { isAbsolute, relative } from 'node:path';
import { listOf, type HistogramBucket, type Listing, type LogInfo, type RegionInfo, type TaskEventInfo, type TaskInfo, type TraceStats } from '../analysis/analysis-types.js';
import { formatLocation } from '../analysis/analysis.js';
import { SKETCH_EXACT_BELOW, type DurationStats } from '../analysis/duration-digest.js';
import { formatDuration, formatTimestamp } from '../analysis/format-duration.js';
import type { ReadStatus, SourceLocation } from '../format/events.js';
import { renderTable, tableChunks, type Column } from './table.js';
import type { ExecutionAnalysis, TaskTimeBreakdown } from '../analysis/time-breakdown.js';
import { executionStatsText, taskTimeRows } from './time-report.js';

/** How to print: locations under `cwd` are shown relative to it. */
export interface TextOptions {
  readonly cwd: string;
  /** Where each task's time went (a trace with scheduling events), by task id: `tasks` prints it. */
  readonly times?: ReadonlyMap<number, TaskTimeBreakdown>;
}

const statsColumns: readonly Column[] = ['MIN', 'P50', 'P90', 'P99', 'MAX'].map((title) => ({ title, align: 'right' as const }));
const HISTOGRAM_BAR = 40;

/** The overview of `tstrace stats`: summary, per-type tables, problems, histograms. */
export function statsText(file: string, analysis: TraceStats, options: TextOptions, execution: ExecutionAnalysis | null = null): string {
  const { summary } = analysis;
  const lines: string[] = [];
  const facts: [string, string][] = [
    ['Trace', file],
    ['Status', statusText(analysis.status)],
  ];
  if (summary.startTime) facts.push(['Started', `${summary.startTime}  pid ${summary.pid}  node ${summary.nodeVersion}`]);
  facts.push(
    ['Duration', formatDuration(summary.duration)],
    ['Events', `${summary.events}  (${summary.dropped} dropped)`],
    ['GC', `${summary.gcCount} collections, ${formatDuration(summary.gcTime)} in total`],
    ['Tasks', String(summary.tasks)],
    ['Regions', String(summary.regions)],
    ['Logs', String(summary.logs)],
  );
  const threads = analysis.status.threads ?? [];
  if (threads.length > 0) facts.push(['Threads', `main and ${threads.length} worker${threads.length === 1 ? '' : 's'}: ${threads.map((t) => t.name).join(', ')}`]);
  lines.push(...renderTable([{ title: '' }, { title: '' }], facts).slice(1));

  lines.push('', 'Tasks by type (latency of complete tasks)');
  lines.push(
    ...section(
      analysis.taskTypes.length,
      () => renderTable(
        [{ title: 'TYPE' }, { title: 'COUNT', align: 'right' }, { title: 'COMPLETE', align: 'right' }, ...statsColumns],
        analysis.taskTypes.map((t) => [taskTypeText(t.type), String(t.count), String(t.complete), ...statsCells(t.latency)]),
        '  ',
      ),
    ),
  );

  lines.push('', 'Regions by type and location (duration of complete regions)');
  lines.push(
    ...section(
      analysis.regionGroups.length,
      () => renderTable(
        [{ title: 'TYPE' }, { title: 'LOCATION' }, { title: 'COUNT', align: 'right' }, { title: 'COMPLETE', align: 'right' }, ...statsColumns],
        analysis.regionGroups.map((g) => [g.type, locationText(g.location, options), String(g.count), String(g.complete), ...statsCells(g.duration)]),
        '  ',
      ),
    ),
  );

  lines.push('', 'Logs by category');
  lines.push(
    ...section(analysis.logCategories.length, () =>
      renderTable([{ title: 'CATEGORY' }, { title: 'COUNT', align: 'right' }], analysis.logCategories.map((c) => [c.category, String(c.count)]), '  '),
    ),
  );

  lines.push('', 'Problems');
  lines.push(
    ...section(analysis.problems.length, () =>
      renderTable(
        [{ title: 'TIME', align: 'right' }, { title: 'KIND' }, { title: 'FLOW', align: 'right' }, { title: 'LOCATION' }, { title: 'MESSAGE' }],
        analysis.problems.map((p) => [formatDuration(p.ts), p.kind, p.flow === null ? '' : String(p.flow), locationText(p.location, options), p.message]),
        '  ',
      ),
    ),
  );
  if (analysis.problemsLeftOut > 0) lines.push(`  … and ${analysis.problemsLeftOut} more problems, not listed`);
  if (execution !== null) lines.push(...executionStatsText(execution, (l) => locationText(l, options)));

  const taskHistograms = analysis.taskTypes.filter((t) => t.histogram.length > 0);
  if (taskHistograms.length > 0) {
    lines.push('', 'Task latency histograms');
    for (const t of taskHistograms) lines.push(`  ${taskTypeText(t.type)}`, ...histogramText(t.histogram, '    '));
  }
  const regionHistograms = analysis.regionGroups.filter((g) => g.histogram.length > 0);
  if (regionHistograms.length > 0) {
    lines.push('', 'Region duration histograms');
    for (const g of regionHistograms) {
      const where = locationText(g.location, options);
      lines.push(`  ${g.type}${where ? `  ${where}` : ''}`, ...histogramText(g.histogram, '    '));
    }
  }
  return lines.join('\n') + '\n';
}

/** `tstrace tasks`: each task, then its history in time order. */
export function tasksText(tasks: readonly TaskInfo[], options: TextOptions): string {
  return [...tasksTextChunks(listOf(tasks), options)].join('');
}

/** {@link tasksText} as chunks of text, a task at a time. */
export function* tasksTextChunks(tasks: Listing<TaskInfo>, options: TextOptions): Generator<string> {
  if (tasks.length === 0) {
    yield 'No tasks.\n';
    return;
  }
  for (let k = 0; k < tasks.length; k++) yield (k > 0 ? '\n' : '') + taskBlock(tasks.at(k), options) + '\n';
}

/** A thread as the text reports name it: "main", or "worker N" (N its `threadId`, as the exports name it). */
export function threadName(thread: number): string {
  return thread === 0 ? 'main' : `worker ${thread}`;
}

/** A flow, with its thread when that is a worker's: "1026 (worker 2)". */
function flowText(flow: number, thread: number): string {
  return thread === 0 ? String(flow) : `${flow} (${threadName(thread)})`;
}

function taskBlock(task: TaskInfo, options: TextOptions): string {
  const state = task.complete ? 'complete' : `incomplete (${incompleteText(task)})`;
  const lines = [
    `Task ${task.id}  ${taskTypeText(task.type)}  ${state}`,
    ...renderTable(
      [{ title: '' }, { title: '' }],
      [
        ['parent', task.parent === null ? 'unknown' : task.parent === 0 ? '0 (background)' : String(task.parent)],
        ['children', task.children.length > 0 ? task.children.join(', ') : '-'],
        ['start', formatTimestamp(task.start)],
        ['end', formatTimestamp(task.end)],
        ['latency', `${task.complete ? '' : '≥'}${formatDuration(task.latency)}`],
        ['flows', task.flows.join(', ') || '-'],
        // Only for a task that ran on worker threads: other traces' text is unchanged.
        ...(task.threads.some((thread) => thread !== 0) ? [['threads', task.threads.map(threadName).join(', ')]] : []),
        ...(task.traceId === null ? [] : [['trace id', traceIdText(task)]]),
        ...timeRows(task.id, options),
      ],
      '  ',
    ).slice(1),
  ];
  if (task.events.length > 0) {
    lines.push(
      ...renderTable(
        [{ title: 'TIME', align: 'right' }, { title: 'SINCE START', align: 'right' }, { title: 'FLOW', align: 'right' }, { title: 'EVENT' }, { title: 'LOCATION' }],
        task.events.map((event) => [
          formatTimestamp(event.ts),
          formatDuration(event.ts - task.start),
          flowText(event.flow, event.thread),
          taskEventText(event),
          'location' in event ? locationText(event.location, options) : '',
        ]),
        '  ',
      ),
    );
  }
  return lines.join('\n');
}

const regionColumns: readonly Column[] = [
  { title: 'ID', align: 'right' },
  { title: 'TYPE' },
  { title: 'TASK', align: 'right' },
  { title: 'FLOW', align: 'right' },
  { title: 'PARENT', align: 'right' },
  { title: 'START', align: 'right' },
  { title: 'END', align: 'right' },
  { title: 'DURATION', align: 'right' },
  { title: 'LOCATION' },
];

/** `tstrace regions`: one aligned row per region, as chunks of text. */
export function regionsTextChunks(regions: Listing<RegionInfo>, options: TextOptions): Iterable<string> {
  return listingTable(regions, 'No regions.\n', regionColumns, (r) => [
    String(r.id),
    r.type,
    String(r.task),
    flowText(r.flow, r.thread),
    r.parent === null ? '-' : String(r.parent),
    r.beganBefore === null ? formatDuration(r.start) : `${formatDuration(r.start)} (began ${formatDuration(r.beganBefore)} before)`,
    r.complete ? formatDuration(r.end) : '(open)',
    `${r.complete ? '' : '≥'}${formatDuration(r.duration)}`,
    locationText(r.location, options),
  ]);
}

const logColumns: readonly Column[] = [{ title: 'TIME', align: 'right' }, { title: 'TASK', align: 'right' }, { title: 'FLOW', align: 'right' }, { title: 'CATEGORY' }, { title: 'MESSAGE' }, { title: 'LOCATION' }];

/** `tstrace logs`: one aligned row per log, in time order, as chunks of text. */
export function logsTextChunks(logs: Listing<LogInfo>, options: TextOptions): Iterable<string> {
  return listingTable(logs, 'No logs.\n', logColumns, (log) => [formatDuration(log.ts), String(log.task), flowText(log.flow, log.thread), log.category, singleLine(log.message), locationText(log.location, options)]);
}

/** A listing as one table (or `none` when it is empty), in chunks of text. */
function* listingTable<T>(items: Listing<T>, none: string, columns: readonly Column[], cells: (item: T) => readonly string[]): Generator<string> {
  if (items.length === 0) {
    yield none;
    return;
  }
  yield* tableChunks(columns, items.length, (i) => cells(items.at(i)));
}

/** One line about how reading ended. */
export function statusText(status: ReadStatus): string {
  if (!status.problem) return 'complete';
  return `${status.problem.kind} at offset ${status.problem.offset}: ${status.problem.reason}`;
}

function section(count: number, table: () => string[]): string[] {
  return count === 0 ? ['  (none)'] : table();
}

/** Percentiles from the sketch (more than 65,536 durations) are marked `~`: within 0.05 % (exact below 2048 ns). */
function statsCells(stats: DurationStats | null): string[] {
  if (!stats) return ['-', '-', '-', '-', '-'];
  const about = (d: number): string => (stats.exact || d < SKETCH_EXACT_BELOW ? '' : '~');
  return [formatDuration(stats.min), ...[stats.p50, stats.p90, stats.p99].map((d) => about(d) + formatDuration(d)), formatDuration(stats.max)];
}

function histogramText(buckets: readonly HistogramBucket[], indent: string): string[] {
  const most = Math.max(...buckets.map((b) => b.count));
  return renderTable(
    [{ title: '', align: 'right' }, { title: '', align: 'right' }, { title: '' }],
    buckets.map((b) => [`≥${formatDuration(b.lowerBound)}`, String(b.count), '#'.repeat(Math.max(1, Math.round((b.count / most) * HISTOGRAM_BAR)))]),
    indent,
  ).slice(1);
}

function taskEventText(event: TaskEventInfo): string {
  switch (event.kind) {
    case 'create':
      return `create (parent ${event.parent})`;
    case 'log':
      return `log ${event.category}=${singleLine(event.message)}`;
    case 'regionStart':
      return `region ${event.region} "${event.type}" start (${event.complete ? '' : 'open, ≥'}${formatDuration(event.duration)})`;
    case 'regionEnd':
      return `region ${event.region} "${event.type}" end`;
    case 'end':
      return 'end';
  }
}

/** Why a task is incomplete; a task a flight-recorder snapshot carried over says how long before the trace it began. */
function incompleteText(task: TaskInfo): string {
  if (task.beganBefore !== null) {
    const began = `began ${formatDuration(task.beganBefore)} before the trace: its start is the trace start`;
    return task.ended ? began : `${began}; never ended`;
  }
  return !task.created ? 'created before the trace: its start is the trace start' : 'never ended: its end is the trace end';
}

/** The task's OpenTelemetry trace id, and the span it is a child of (or that it is its parent task's). */
function traceIdText(task: TaskInfo): string {
  return task.parentSpanId !== null ? `${task.traceId} (parent span ${task.parentSpanId})` : `${task.traceId} (its parent task's)`;
}

function taskTypeText(type: string): string {
  return type === '' ? '(unknown)' : type;
}

/** A task's running/queued/waiting rows, when the trace has scheduling events. */
function timeRows(task: number, options: TextOptions): [string, string][] {
  const time = options.times?.get(task);
  return time === undefined ? [] : taskTimeRows(time, (l) => locationText(l, options));
}

/** A location as the reports print it: relative to `options.cwd` when it is under it. */
export function locationText(location: SourceLocation | null, options: TextOptions): string {
  if (!location) return '';
  if (isAbsolute(location.file)) {
    const rel = relative(options.cwd, location.file);
    if (rel && !rel.startsWith('..') && !isAbsolute(rel)) return formatLocation({ ...location, file: rel });
  }
  return formatLocation(location);
}

/** Messages may hold newlines; a table row must not. */
function singleLine(text: string): string {
  return text.replace(/\r?\n/g, '\\n');
}
