/**
 * `export --since/--until/--task/--type`: which events each filter keeps (filterEvents, the stage every
 * exporter reads through), that every format applies it (Chrome JSON, Perfetto protobuf, Go), and the
 * command line: durations, usage errors (exit 2), --help.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { parseDuration } from '../cli/cli-run.js';
import { exportChrome } from '../export/export-chrome.js';
import { filterEvents, type ExportFilter } from '../export/export-filter.js';
import { exportGo } from '../export/export-go.js';
import { exportPerfetto } from '../export/export-perfetto.js';
import type { ExportOptions, ExportResult } from '../export/export-types.js';
import { BatchEncoder, encodeFileStart, encodeFooter } from '../format/encode.js';
import type { ReadStatus, TraceEvent } from '../format/events.js';
import { decodePerfetto } from './helpers/perfetto-decode.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/esm/cli/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'tstrace-export-filter-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A service in miniature (times in ns): request 1 (flow 1) with a subtask query 2 on flow 2; request 3
 * (flow 3); batch 4 (flow 4); a GC across 500; the trace ends at 2000.
 */
const events: TraceEvent[] = [
  { kind: 'taskCreate', ts: 100, flow: 1, task: 1, parent: 0, type: 'request', location: null },
  { kind: 'regionStart', ts: 100, flow: 1, task: 1, type: 'handle', location: null },
  { kind: 'log', ts: 150, flow: 1, task: 1, category: 'order', message: 'one', location: null },
  { kind: 'taskCreate', ts: 200, flow: 1, task: 2, parent: 1, type: 'query', location: null },
  { kind: 'flowStart', ts: 200, flow: 2, parentFlow: 1, regionsAbove: 0 },
  { kind: 'regionStart', ts: 300, flow: 2, task: 2, type: 'db', location: null },
  { kind: 'log', ts: 400, flow: 2, task: 2, category: 'sql', message: 'select', location: null },
  { kind: 'regionEnd', ts: 600, flow: 2, type: 'db' },
  { kind: 'taskEnd', ts: 700, flow: 2, task: 2, location: null },
  { kind: 'gc', ts: 450, duration: 300, gcKind: 'minor' },
  { kind: 'regionEnd', ts: 900, flow: 1, type: 'handle' },
  { kind: 'taskEnd', ts: 950, flow: 1, task: 1, location: null },
  { kind: 'taskCreate', ts: 1000, flow: 3, task: 3, parent: 0, type: 'request', location: null },
  { kind: 'regionStart', ts: 1000, flow: 3, task: 3, type: 'handle', location: null },
  { kind: 'taskCreate', ts: 1100, flow: 4, task: 4, parent: 0, type: 'batch', location: null },
  { kind: 'regionStart', ts: 1100, flow: 4, task: 4, type: 'job', location: null },
  { kind: 'log', ts: 1200, flow: 3, task: 3, category: 'order', message: 'three', location: null },
  { kind: 'regionEnd', ts: 1300, flow: 4, type: 'job' },
  { kind: 'taskEnd', ts: 1300, flow: 4, task: 4, location: null },
  { kind: 'regionEnd', ts: 1500, flow: 3, type: 'handle' },
  { kind: 'taskEnd', ts: 1500, flow: 3, task: 3, location: null },
];
const complete: ReadStatus = {
  complete: true,
  bytesRead: 0,
  header: null,
  footer: { events: events.length, dropped: 0, endTs: 2000 },
  problem: null,
};

/** What `filter` lets through, one line per event: `ts kind flow/task what`. */
function kept(filter: ExportFilter, input: TraceEvent[] = events): { lines: string[]; status: ReadStatus } {
  const lines: string[] = [];
  const stage = filterEvents(filter, (e) => {
    const what =
      e.kind === 'regionStart' || e.kind === 'taskCreate' ? e.type : e.kind === 'regionEnd' ? e.type : e.kind === 'log' ? e.message : e.kind === 'gc' ? `${e.duration}ns` : '';
    const id = e.kind === 'taskCreate' || e.kind === 'taskEnd' ? ` task ${e.task}` : '';
    lines.push(`${e.ts} ${e.kind}${'flow' in e ? ` flow ${e.flow}` : ''}${id} ${what}`.trimEnd());
  });
  for (const event of input) stage.add(event);
  return { lines, status: stage.finish(complete) };
}

describe('which events a filter keeps', () => {
  test('no filter: every event, the status as it is', () => {
    const { lines, status } = kept({});
    expect(lines).toHaveLength(events.length);
    expect(status).toEqual(complete);
  });

  test('--task: that task, its subtasks, and their regions, logs and the fork between them; GCs stay', () => {
    expect(kept({ task: 1 }).lines).toEqual([
      '100 taskCreate flow 1 task 1 request',
      '100 regionStart flow 1 handle',
      '150 log flow 1 one',
      '200 taskCreate flow 1 task 2 query',
      '200 flowStart flow 2',
      '300 regionStart flow 2 db',
      '400 log flow 2 select',
      '600 regionEnd flow 2 db',
      '700 taskEnd flow 2 task 2',
      '450 gc 300ns',
      '900 regionEnd flow 1 handle',
      '950 taskEnd flow 1 task 1',
    ]);
    // A subtask alone: not its parent, and no fork arrow from the parent's (left out) region.
    expect(kept({ task: 2 }).lines.filter((l) => !l.includes(' gc '))).toEqual([
      '200 taskCreate flow 1 task 2 query',
      '300 regionStart flow 2 db',
      '400 log flow 2 select',
      '600 regionEnd flow 2 db',
      '700 taskEnd flow 2 task 2',
    ]);
  });

  test('--type: every task of that type with everything in it', () => {
    const lines = kept({ type: 'request' }).lines;
    expect(lines.filter((l) => l.includes('taskCreate'))).toEqual([
      '100 taskCreate flow 1 task 1 request',
      '200 taskCreate flow 1 task 2 query',
      '1000 taskCreate flow 3 task 3 request',
    ]);
    expect(lines.some((l) => l.includes('job') || l.includes('task 4'))).toBe(false);
  });

  test('--since/--until: what is open at the start begins there, regions open at the end end there, GCs are clipped, the trace ends at --until', () => {
    const { lines, status } = kept({ since: 500, until: 1200 });
    expect(lines).toEqual([
      // Open at 500: tasks 1 and 2 are created there, then the regions open on each flow, outermost first.
      '500 taskCreate flow 1 task 1 request',
      '500 taskCreate flow 1 task 2 query',
      '500 regionStart flow 1 handle',
      '500 regionStart flow 2 db',
      '600 regionEnd flow 2 db',
      '700 taskEnd flow 2 task 2',
      '500 gc 250ns',
      '900 regionEnd flow 1 handle',
      '950 taskEnd flow 1 task 1',
      '1000 taskCreate flow 3 task 3 request',
      '1000 regionStart flow 3 handle',
      '1100 taskCreate flow 4 task 4 batch',
      '1100 regionStart flow 4 job',
      '1200 log flow 3 three',
      // The first event after 1200 closes what is open, innermost first per flow; tasks end with the trace.
      '1200 regionEnd flow 3 handle',
      '1200 regionEnd flow 4 job',
    ]);
    expect(status.footer!.endTs).toBe(1200);
  });

  test('a window without events still shows what spans it; --since alone and --until alone', () => {
    expect(kept({ since: 350, until: 380 }).lines).toEqual([
      '350 taskCreate flow 1 task 1 request',
      '350 taskCreate flow 1 task 2 query',
      '350 regionStart flow 1 handle',
      '350 regionStart flow 2 db',
      '380 regionEnd flow 1 handle',
      '380 regionEnd flow 2 db',
    ]);
    expect(kept({ since: 1400 }).lines).toEqual(['1400 taskCreate flow 3 task 3 request', '1400 regionStart flow 3 handle', '1500 regionEnd flow 3 handle', '1500 taskEnd flow 3 task 3']);
    expect(kept({ until: 120 }).lines).toEqual(['100 taskCreate flow 1 task 1 request', '100 regionStart flow 1 handle', '120 regionEnd flow 1 handle']);
  });

  test('filters combine: a task within a window', () => {
    expect(kept({ type: 'batch', since: 1200 }).lines).toEqual(['1200 taskCreate flow 4 task 4 batch', '1200 regionStart flow 4 job', '1300 regionEnd flow 4 job', '1300 taskEnd flow 4 task 4']);
  });

  test('an out-of-order end keeps pairing right when regions of other tasks are left out', () => {
    const input: TraceEvent[] = [
      { kind: 'taskCreate', ts: 1, flow: 1, task: 1, parent: 0, type: 'a', location: null },
      { kind: 'taskCreate', ts: 1, flow: 1, task: 2, parent: 0, type: 'b', location: null },
      { kind: 'regionStart', ts: 2, flow: 1, task: 1, type: 'outer', location: null },
      { kind: 'regionStart', ts: 3, flow: 1, task: 2, type: 'other', location: null },
      { kind: 'regionStart', ts: 4, flow: 1, task: 1, type: 'inner', location: null },
      { kind: 'misuse', ts: 5, flow: 1, misuse: 'regionEndedOutOfOrder', type: 'outer', location: null, regionsAbove: 2 },
      { kind: 'regionEnd', ts: 5, flow: 1, type: 'outer' },
    ];
    const lines: TraceEvent[] = [];
    const stage = filterEvents({ task: 1 }, (e) => lines.push(e));
    for (const event of input) stage.add(event);
    // Of task 1's regions, one is nested in "outer": the notice says 1, not 2.
    expect(lines.find((e) => e.kind === 'misuse')).toMatchObject({ regionsAbove: 1 });
    expect(lines.filter((e) => e.kind === 'regionEnd')).toHaveLength(1);
  });
});

// ---- every format ----------------------------------------------------------------------------------

/** The miniature service as a trace file's bytes. */
function traceBytes(): Uint8Array {
  const enc = new BatchEncoder();
  enc.begin(0);
  for (const e of events) {
    if (e.kind === 'taskCreate') enc.taskCreate(e.ts, e.flow, e.task, e.parent, e.type, null);
    else if (e.kind === 'taskEnd') enc.taskEnd(e.ts, e.flow, e.task, null);
    else if (e.kind === 'regionStart') enc.regionStart(e.ts, e.flow, e.task, e.type, null);
    else if (e.kind === 'regionEnd') enc.regionEnd(e.ts, e.flow, e.type);
    else if (e.kind === 'log') enc.log(e.ts, e.flow, e.task, e.category, e.message, null);
    else if (e.kind === 'flowStart') enc.flowStart(e.ts, e.flow, e.parentFlow, e.regionsAbove);
  }
  return Buffer.concat([
    encodeFileStart({ version: 1, wallClockOriginNs: 1_700_000_000_000_000_000n, hrtimeOriginNs: 5_000_000_000n, pid: 77, nodeVersion: 'v20.0.0', command: 'node app.mjs' }),
    enc.finish(),
    encodeFooter({ events: events.length, dropped: 0, endTs: 2000 }),
  ]);
}

async function exported(exporter: (source: Uint8Array, out: Writable, options: ExportOptions) => Promise<ExportResult>, filter: ExportFilter) {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      callback();
    },
  });
  const result = await exporter(traceBytes(), out, { filter });
  return { result, bytes: Buffer.concat(chunks) };
}

describe('every export format applies the filter', () => {
  const filter = { type: 'request', until: 1200 };

  test('chrome: only the requests (and the subtask), clipped at 1200 ns, no warnings', async () => {
    const { result, bytes } = await exported(exportChrome, filter);
    expect(result.warnings).toEqual([]);
    const doc = JSON.parse(bytes.toString('utf8')) as { traceEvents: { ph: string; name: string; ts: number; tid: number }[]; metadata: { duration: number } };
    const slices = doc.traceEvents.filter((e) => e.ph === 'B' || e.ph === 'E').map((e) => `${e.ph} ${e.name} ${Math.round(e.ts * 1000) - 5_000_000_000}`);
    expect(slices).toEqual(['B handle 100', 'B db 300', 'E db 600', 'E handle 900', 'B handle 1000', 'E handle 1200']);
    expect(new Set(doc.traceEvents.filter((e) => e.ph === 'b').map((e) => e.name))).toEqual(new Set(['request', 'query']));
    expect(doc.metadata.duration).toBe(1200);
  });

  test('perfetto: the same slices', async () => {
    const { result, bytes } = await exported(exportPerfetto, filter);
    expect(result.warnings).toEqual([]);
    const trace = decodePerfetto(bytes);
    expect(trace.problems).toEqual([]);
    const slices = trace.events
      .filter((e) => trace.tracks.get(e.track)!.thread && e.type !== 'instant')
      .map((e) => `${e.type} ${e.name ?? ''} ${Number(e.ts - 5_000_000_000n)}`.replace('  ', ' '));
    expect(slices).toEqual(['begin handle 100', 'begin db 300', 'end 600', 'end 900', 'begin handle 1000', 'end 1200']);
  });

  test('go: fewer Go events than the whole trace, no warnings', async () => {
    const whole = await exported(exportGo, {});
    const part = await exported(exportGo, filter);
    expect(part.result.warnings).toEqual([]);
    expect(part.result.events).toBeLessThan(whole.result.events);
    expect(part.bytes.includes(Buffer.from('batch'))).toBe(false);
    expect(whole.bytes.includes(Buffer.from('batch'))).toBe(true);
  });
});

// ---- the command line ----------------------------------------------------------------------------

function tstrace(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: dir });
}

describe('tstrace export with filters', () => {
  test('durations: 1.5s, 200ms, 30us, 30µs, 250ns, 250 (ns); nothing else', () => {
    expect([parseDuration('1.5s'), parseDuration('200ms'), parseDuration('30us'), parseDuration('30µs'), parseDuration('250ns'), parseDuration('250')]).toEqual([
      1_500_000_000, 200_000_000, 30_000, 30_000, 250, 250,
    ]);
    for (const bad of ['', '-1s', '1.5', '1e3', '2 days', 's', '1.5m']) expect(parseDuration(bad)).toBeNull();
  });

  test('--task/--type/--since/--until filter the file written; bad values are usage errors (exit 2)', () => {
    const trace = join(dir, 'mini.trace');
    writeFileSync(trace, traceBytes());
    const run = tstrace('export', trace, '--format', 'chrome', '-o', 'part.json', '--task', '4', '--since', '1000ns', '--until', '0.0012ms');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const doc = JSON.parse(readFileSync(join(dir, 'part.json'), 'utf8')) as { traceEvents: { ph: string; name: string; ts: number }[] };
    expect(doc.traceEvents.filter((e) => e.ph === 'B' || e.ph === 'E').map((e) => `${e.ph} ${e.name} ${Math.round(e.ts * 1000) - 5_000_000_000}`)).toEqual(['B job 1100', 'E job 1200']);
    for (const [args, message] of [
      [['--since', 'soon'], '--since must be a time from the trace start: 1.5s, 200ms, 30us, or integer nanoseconds, not "soon"'],
      [['--until', '1.5'], '--until must be a time from the trace start'],
      [['--since', '2s', '--until', '1s'], '--until 1s is before --since 2s'],
      [['--task', 'x'], '--task must be a task id (a positive integer), not "x"'],
      [['--type', ''], '--type must be a task type, not ""'],
    ] as const) {
      const bad = tstrace('export', trace, '--format', 'perfetto', '-o', 'x.pftrace', ...args);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain(`tstrace: export: ${message}`);
    }
    expect(tstrace('stats', trace, '--since', '1s').status).toBe(2);
    // A task or type the trace does not have: the export is written, and a warning says why it is empty, in every format.
    for (const [format, out] of [['chrome', 'none.json'], ['perfetto', 'none.pftrace'], ['go', 'none.gotrace'], ['otlp', 'none.otlp.json']] as const) {
      const none = tstrace('export', trace, '--format', format, '-o', out, '--task', '99999');
      expect(none.status).toBe(0);
      expect(none.stderr).toBe(`tstrace: warning: ${trace}: --task 99999: the trace does not create task 99999, so the export holds none of its regions or logs\n`);
    }
    const noType = tstrace('export', trace, '--format', 'chrome', '-o', 'none.json', '--type', 'nosuch');
    expect(noType.stderr).toContain('--type nosuch: the trace creates no task of that type, so the export holds no task, region or log');
    expect(tstrace('export', trace, '--format', 'chrome', '-o', 'part.json', '--task', '4').stderr).toBe('');
  });

  test('--help shows the formats and the filters', () => {
    const help = tstrace('--help').stdout;
    expect(help).toContain('tstrace export FILE --format chrome|perfetto|go|otlp -o OUT [--since T] [--until T] [--task ID] [--type T]');
    for (const option of ['--since T', '--until T', '--task ID', '--format F      export: chrome, perfetto, go or otlp']) expect(help).toContain(option);
  });
});
