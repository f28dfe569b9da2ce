/**
 * Where the time went (analysis/time-breakdown.ts) as text: a task's running/queued/waiting lines for
 * `tstrace tasks`, the per-type table for `tstrace stats`, and `tstrace blockers`' table.
 */
import type { ExecutionAnalysis, ResumedFrom, StretchBlame, TaskTimeBreakdown } from '../analysis/time-breakdown.js';
import { formatLocation } from '../analysis/summary.js';
import { formatDuration } from '../analysis/format-duration.js';
import type { DurationStats } from '../analysis/duration-digest.js';
import { renderTable, tableChunks, type Column } from './table.js';
import type { Listing } from '../analysis/analysis-types.js';

/** What the numbers can and cannot say, printed under them (docs/design.md, "Where the time went"). */
export const READINESS_NOTE =
  'queued = ready (timer due, promise resolved, immediate scheduled) but the thread ran other work; Node does not say when I/O became ready, so time queued behind I/O counts as waiting';

const who = (b: { task: number; taskType: string }): string => (b.task === 0 ? 'background' : `task ${b.task} (${b.taskType === '' ? 'unknown' : b.taskType})`);

/**
 * What a run resumed from, and where that was created: "Timeout created at service.ts:28:13",
 * "FSREQCALLBACK created in the region at config.ts:12:3 load", "PROMISE"; "" for a nested callback's run.
 */
export function resumedText(r: ResumedFrom, location: (l: StretchBlame['location']) => string): string {
  if (r.waitedOn === '') return '';
  const where = location(r.createdAt);
  return where === '' ? r.waitedOn : `${r.waitedOn} created ${r.createdInRegion ? 'in the region at' : 'at'} ${where}`;
}

/** The rows `tstrace tasks` adds to a task's facts when the trace has scheduling events. */
export function taskTimeRows(time: TaskTimeBreakdown, location: (l: StretchBlame['location']) => string): [string, string][] {
  const rows: [string, string][] = [
    [
      'time',
      `running ${formatDuration(time.running)}, queued ${formatDuration(time.queued)}, waiting ${formatDuration(time.waiting)} (${time.runs} run${time.runs === 1 ? '' : 's'}${time.readinessUnknown > 0 ? `, ${time.readinessUnknown} after I/O: readiness unknown` : ''})`,
    ],
  ];
  time.blockers.forEach((b, i) => {
    const region = b.region === null ? '' : ` region "${b.region}"`;
    const where = location(b.location);
    const resumed = resumedText(b, location);
    rows.push([i === 0 ? 'blocked by' : '', `${who(b)}${region} for ${formatDuration(b.delayed)} (a ${formatDuration(b.duration)} run at ${formatDuration(b.start)}${resumed ? `, after ${resumed}` : ''})${where ? `  ${where}` : ''}`]);
  });
  time.waits.forEach((w, i) => {
    rows.push([i === 0 ? 'waited on' : '', `${resumedText(w, location)}: ${formatDuration(w.waiting)} (${w.runs} run${w.runs === 1 ? '' : 's'} resumed from it)`]);
  });
  return rows;
}

const three = (s: DurationStats | null): string => (s === null ? '-' : `${formatDuration(s.p50)} / ${formatDuration(s.p90)} / ${formatDuration(s.max)}`);

/** `tstrace stats`' section: running, queued and waiting per task type, and the worst blockers. */
export function executionStatsText(execution: ExecutionAnalysis, location: (l: StretchBlame['location']) => string): string[] {
  const lines = ['', `Where the time went, by task type (p50 / p90 / max of complete tasks; ${execution.runs} runs)`];
  if (execution.taskTypes.length === 0) lines.push('  (none)');
  else
    lines.push(
      ...renderTable(
        [{ title: 'TYPE' }, { title: 'TASKS', align: 'right' }, { title: 'RUNNING', align: 'right' }, { title: 'QUEUED', align: 'right' }, { title: 'WAITING', align: 'right' }],
        execution.taskTypes.map((t) => [t.type === '' ? '(unknown)' : t.type, String(t.tasks), three(t.running), three(t.queued), three(t.waiting)]),
        '  ',
      ),
    );
  lines.push(`  (${READINESS_NOTE})`);
  lines.push('', 'Top blockers (runs that held the thread while tasks were queued; all: tstrace blockers)');
  const top = execution.blockers.slice(0, 5);
  if (top.length === 0) lines.push('  (none)');
  else lines.push(...renderTable(blockerColumns, top.map((b) => blockerCells(b, location)), '  '));
  return lines;
}

const blockerColumns: readonly Column[] = [
  { title: 'DELAYED', align: 'right' },
  { title: 'TASKS', align: 'right' },
  { title: 'RUN BY' },
  { title: 'REGION' },
  { title: 'START', align: 'right' },
  { title: 'DURATION', align: 'right' },
  { title: 'LOCATION' },
  { title: 'RESUMED FROM' },
];

function blockerCells(b: StretchBlame, location: (l: StretchBlame['location']) => string): string[] {
  return [formatDuration(b.delayed), String(b.tasksDelayed), who(b), b.region ?? '-', formatDuration(b.start), formatDuration(b.duration), location(b.location) || '-', resumedText(b, location) || '-'];
}

/** `tstrace blockers`: the runs that delayed the most queued time of other tasks, as chunks of text. */
export function* blockersTextChunks(blockers: Listing<StretchBlame>, runs: number, location: (l: StretchBlame['location']) => string): Generator<string> {
  if (runs === 0) {
    yield 'No scheduling events: record the trace with start(…, { scheduling: true }) (tstrace run --scheduling).\n';
    return;
  }
  if (blockers.length === 0) {
    yield 'No blockers: no task was queued behind another’s run.\n';
    return;
  }
  yield* tableChunks(blockerColumns, blockers.length, (i) => blockerCells(blockers.at(i), location));
  yield `(${READINESS_NOTE})\n`;
}

/** Locations as the text reports print them. */
export const plainLocation = (l: StretchBlame['location']): string => (l === null ? '' : formatLocation(l));
