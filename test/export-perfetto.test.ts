/**
 * `exportPerfetto` (tstrace export --format perfetto): the output is decoded back with the field numbers
 * of Perfetto's published protos (test/helpers/perfetto-decode.ts, independent of the exporter) and
 * checked against the Chrome export of the same trace: one thread track per flow under one process, the
 * same region slices (name, nesting, begin and end to the nanosecond), tasks as slices on async tracks
 * of the process, logs as instants with their message, GC slices and both counters, task → first region
 * arrows; every interned name resolves. And it is a fraction of the JSON's size.
 *
 * (Perfetto's trace_processor is not available here, so the UI's own importer is not run on it.)
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collector } from './helpers/collector.js';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { TraceSource } from '../analysis/reader.js';
import { exportChrome } from '../export/export-chrome.js';
import { exportPerfetto } from '../export/export-perfetto.js';
import type { ExportResult } from '../export/export-types.js';
import { decodePerfetto, type PerfettoEvent, type PerfettoTrace } from './helpers/perfetto-decode.js';
import { misuseTrace, requestsTrace, serviceTrace } from './helpers/export-traces.js';
import { tempTracePath } from './helpers/trace.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/esm/cli/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'tstrace-export-perfetto-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ---- exporting -----------------------------------------------------------------------------------


interface ChromeEvent {
  ph: string;
  name: string;
  cat: string;
  ts: number;
  dur?: number;
  tid: number;
  pid: number;
  id?: number;
  id2?: { local: string };
  args?: Record<string, unknown>;
}

interface Both {
  bytes: Buffer;
  trace: PerfettoTrace;
  result: ExportResult;
  chrome: { text: string; events: ChromeEvent[]; metadata: Record<string, unknown>; result: ExportResult };
}

async function exportBoth(source: TraceSource): Promise<Both> {
  const perfetto = collector();
  const result = await exportPerfetto(source, perfetto.out);
  const json = collector();
  const chromeResult = await exportChrome(source, json.out);
  const text = json.bytes().toString('utf8');
  const doc = JSON.parse(text) as { traceEvents: ChromeEvent[]; metadata: Record<string, unknown> };
  const bytes = perfetto.bytes();
  return { bytes, trace: decodePerfetto(bytes), result, chrome: { text, events: doc.traceEvents, metadata: doc.metadata, result: chromeResult } };
}

/** A Chrome `ts` (µs, ns as three decimals) in ns. */
const ns = (us: number): bigint => BigInt(Math.round(us * 1000));

// ---- what each export contains, in common terms ------------------------------------------------

/** Region slices per flow from the Chrome B/E events: `flow depth name begin end`, sorted. */
function chromeSlices(events: ChromeEvent[]): string[] {
  const stacks = new Map<number, ChromeEvent[]>();
  const slices: string[] = [];
  for (const e of events) {
    if (e.cat !== 'region' || (e.ph !== 'B' && e.ph !== 'E')) continue;
    const stack = stacks.get(e.tid) ?? [];
    stacks.set(e.tid, stack);
    if (e.ph === 'B') stack.push(e);
    else {
      const begin = stack.pop()!;
      slices.push(`${e.tid} ${stack.length} ${begin.name} ${ns(begin.ts)} ${ns(e.ts)}`);
    }
  }
  return slices.sort();
}

/** Region slices per flow from the Perfetto begin/end events on thread tracks, in the same terms; checks nesting. */
function perfettoSlices(trace: PerfettoTrace, problems: string[]): string[] {
  const stacks = new Map<bigint, PerfettoEvent[]>();
  const slices: string[] = [];
  for (const e of trace.events) {
    const thread = trace.tracks.get(e.track)?.thread;
    if (!thread || (e.type !== 'begin' && e.type !== 'end')) continue;
    const stack = stacks.get(e.track) ?? [];
    stacks.set(e.track, stack);
    const top = stack.at(-1);
    if (top && e.ts < top.ts) problems.push(`flow ${thread.tid}: time goes back at ${e.ts}`);
    if (e.type === 'begin') stack.push(e);
    else {
      const begin = stack.pop();
      if (!begin) problems.push(`flow ${thread.tid}: an end without a begin at ${e.ts}`);
      else slices.push(`${thread.tid} ${stack.length} ${begin.name} ${begin.ts} ${e.ts}`);
    }
  }
  for (const [track, stack] of stacks) if (stack.length > 0) problems.push(`track ${track}: ${stack.length} begins without an end`);
  return slices.sort();
}

/** Task slices from the Chrome async b/e events: `id name begin end`. */
function chromeTasks(events: ChromeEvent[]): string[] {
  const begins = new Map<string, ChromeEvent>();
  const tasks: string[] = [];
  for (const e of events) {
    if (e.cat !== 'task' || !e.id2) continue;
    if (e.ph === 'b') begins.set(e.id2.local, e);
    else if (e.ph === 'e') {
      const begin = begins.get(e.id2.local)!;
      tasks.push(`${Number(begin.args!.id)} ${e.name} ${ns(begin.ts)} ${ns(e.ts)}`);
    }
  }
  return tasks.sort();
}

function perfettoTasks(trace: PerfettoTrace): string[] {
  const open = new Map<bigint, PerfettoEvent>();
  const tasks: string[] = [];
  for (const e of trace.events) {
    if (!e.categories.includes('task') && e.type !== 'end') continue;
    if (e.type === 'begin') open.set(e.track, e);
    else if (e.type === 'end' && open.has(e.track)) {
      const begin = open.get(e.track)!;
      open.delete(e.track);
      tasks.push(`${begin.args.id} ${begin.name} ${begin.ts} ${e.ts}`);
    }
  }
  return tasks.sort();
}

// ---- the traces ----------------------------------------------------------------------------------

let service: Both;
let misuse: Both;
let misusePath: string;

beforeAll(async () => {
  const servicePath = tempTracePath('service.trace');
  await serviceTrace(servicePath);
  service = await exportBoth(servicePath);
  misusePath = tempTracePath('misuse.trace');
  await misuseTrace(misusePath);
  misuse = await exportBoth(misusePath);
});

// ---- the checks ----------------------------------------------------------------------------------

describe('decoded with the published field numbers, a Perfetto export has what the Chrome export has', () => {
  test('every packet decodes; interned names, categories, annotation names and locations resolve on the one sequence', () => {
    for (const { trace } of [service, misuse]) {
      expect(trace.problems).toEqual([]);
      expect(trace.events.length).toBeGreaterThan(0);
    }
    expect(service.result.events).toBe(service.trace.packets);
    // Names are interned: region types are not spelled out in the packets that use them.
    const names = service.trace.events.filter((e) => e.categories.includes('region') && e.type === 'begin').map((e) => e.name);
    expect(new Set(names)).toEqual(new Set(['request', 'load', 'db', 'render']));
  });

  test('one process track (the pid, the program), one thread track per flow under it, named "flow N"', () => {
    const tracks = [...service.trace.tracks.values()];
    const processes = tracks.filter((t) => t.process);
    expect(processes).toHaveLength(1);
    const [process] = processes;
    const pid = service.chrome.metadata.pid as number;
    expect(process.process!.pid).toBe(pid);
    expect(process.process!.name).toBe(service.chrome.events.find((e) => e.name === 'process_name' && e.pid === pid)!.args!.name);
    const threads = tracks.filter((t) => t.thread);
    const chromeFlows = new Set(service.chrome.events.filter((e) => e.ph === 'B' || (e.ph === 'i' && e.cat === 'log')).map((e) => e.tid));
    expect(new Set(threads.map((t) => t.thread!.tid))).toEqual(chromeFlows);
    expect(threads.length).toBeGreaterThanOrEqual(9); // 3 requests × (request, load, db)
    for (const thread of threads) {
      expect(thread.parent).toBe(process.uuid);
      expect(thread.thread).toEqual({ pid, tid: thread.thread!.tid, name: `flow ${thread.thread!.tid}` });
    }
  });

  test('every region is a begin/end pair on its flow\'s track: the same names, nesting and times (to the ns) as the Chrome B/E', () => {
    for (const { trace, chrome } of [service, misuse]) {
      const problems: string[] = [];
      const slices = perfettoSlices(trace, problems);
      expect(problems).toEqual([]);
      expect(slices).toEqual(chromeSlices(chrome.events));
    }
    // Timestamps are ns on the hrtime clock: hrtimeOriginNs + trace time, exactly.
    const origin = BigInt(service.chrome.metadata.hrtimeOriginNs as string);
    const first = service.trace.events.find((e) => e.categories.includes('region'))!;
    expect(first.ts).toBeGreaterThanOrEqual(origin);
    // Region args: the task, and the source location (file, function, line).
    const db = service.trace.events.find((e) => e.name === 'db')!;
    expect(typeof db.args.task).toBe('bigint');
    expect(db.args.task).not.toBe(0n);
    expect(db.location?.file).toMatch(/export-traces\.ts$/);
    expect(db.location?.line).toBeGreaterThan(0);
  });

  test('repairs are the Chrome export\'s: continued slices marked, the same warnings', () => {
    expect(misuse.result.warnings).toEqual(misuse.chrome.result.warnings);
    const continued = misuse.trace.events.filter((e) => e.args.continued === true).map((e) => e.name);
    const chromeContinued = misuse.chrome.events.filter((e) => e.ph === 'E' && e.args?.continued === true).map((e) => e.name);
    expect(continued.sort()).toEqual(chromeContinued.sort());
    expect(continued.length).toBeGreaterThan(0);
    const misuses = misuse.trace.events.filter((e) => e.categories.includes('misuse')).map((e) => `${e.type} ${e.name} ${e.args.misuse}`);
    expect(misuses).toEqual([
      'instant region "outer" ended out of order regionEndedOutOfOrder',
      'instant region "outer" ended twice regionEndedTwice',
      'instant region "step" ended out of order regionEndedOutOfOrder',
    ]);
  });

  test('tasks are slices on async tracks of the process ("tasks N", no thread), with the same ids, names and times as the Chrome async slices', () => {
    for (const { trace, chrome } of [service, misuse]) {
      expect(perfettoTasks(trace)).toEqual(chromeTasks(chrome.events));
    }
    const process = [...service.trace.tracks.values()].find((t) => t.process)!;
    const taskTracks = new Set(service.trace.events.filter((e) => e.categories.includes('task')).map((e) => e.track));
    expect(taskTracks.size).toBeGreaterThan(0);
    for (const uuid of taskTracks) {
      const track = service.trace.tracks.get(uuid)!;
      expect(track.thread).toBeUndefined();
      expect(track.parent).toBe(process.uuid);
      expect(track.name).toMatch(/^tasks \d+$/);
    }
    const query = service.trace.events.find((e) => e.name === 'query' && e.type === 'begin')!;
    expect(typeof query.args.parent).toBe('bigint');
    expect(query.args.parent).not.toBe(0n);
  });

  test('logs are instants on their flow with the message, category and task; a task\'s logs also in its slice', () => {
    const chromeLogs = service.chrome.events.filter((e) => e.ph === 'i' && e.cat === 'log').map((e) => `${e.tid} ${e.name} ${ns(e.ts)} ${e.args!.message}`);
    const logs = service.trace.events
      .filter((e) => e.categories.includes('log') && service.trace.tracks.get(e.track)!.thread)
      .map((e) => `${service.trace.tracks.get(e.track)!.thread!.tid} ${e.name} ${e.ts} ${e.args.message}`);
    expect(logs.sort()).toEqual(chromeLogs.sort());
    expect(logs.some((l) => / request=order-2 \d+ order-2$/.test(l))).toBe(true);
    const log = service.trace.events.find((e) => e.args.message === 'order-1')!;
    expect(log).toMatchObject({ type: 'instant', name: 'request=order-1', args: { category: 'request', message: 'order-1' } });
    const inTasks = service.trace.events.filter((e) => e.categories.includes('log') && !service.trace.tracks.get(e.track)!.thread);
    expect(inTasks.length).toBe(chromeLogs.length);
  });

  test('GC slices on a "GC" track, "heap" (bytes) and "event loop" counters: the Chrome export\'s values and times', () => {
    const { trace, chrome } = service;
    const named = (name: string) => [...trace.tracks.values()].find((t) => t.name === name)!;
    const gc = named('GC');
    const gcSlices: string[] = [];
    let open: PerfettoEvent | undefined;
    for (const e of trace.events.filter((x) => x.track === gc.uuid && x.type !== 'instant')) {
      if (e.type === 'begin') open = e;
      else gcSlices.push(`${open!.name} ${open!.ts} ${e.ts}`);
    }
    const chromeGcs = chrome.events.filter((e) => e.ph === 'X' && e.cat === 'gc').map((e) => `${e.name} ${ns(e.ts)} ${ns(e.ts) + ns(e.dur!)}`);
    expect(gcSlices.length).toBeGreaterThan(0);
    expect(gcSlices).toEqual(chromeGcs);
    const counter = (name: string) =>
      trace.events.filter((e) => e.track === named(name).uuid).map((e) => `${e.type} ${e.ts} ${e.counter}`);
    expect(named('heap').counter).toEqual({ unit: 3 }); // UNIT_SIZE_BYTES
    expect(counter('heap')).toEqual(chrome.events.filter((e) => e.ph === 'C' && e.name === 'heap').map((e) => `counter ${ns(e.ts)} ${e.args!.bytes}`));
    expect(counter('event loop')).toEqual(chrome.events.filter((e) => e.ph === 'C' && e.name === 'event loop').map((e) => `counter ${ns(e.ts)} ${e.args!.utilization}`));
    expect(counter('event loop').length).toBeGreaterThan(0);
  });

  test('arrows from each subtask\'s slice to its first region, where the Chrome export draws its subtask arrows', () => {
    const { trace, chrome } = service;
    const sources = new Map(trace.events.flatMap((e) => e.flowIds.map((id) => [id, e] as const)));
    const ends = trace.events.filter((e) => e.terminatingFlowIds.length > 0);
    const chromeEnds = chrome.events.filter((e) => e.ph === 'f' && e.name === 'subtask');
    expect(ends.map((e) => `${trace.tracks.get(e.track)!.thread!.tid} ${e.ts}`).sort()).toEqual(chromeEnds.map((e) => `${e.tid} ${ns(e.ts)}`).sort());
    for (const end of ends) {
      const source = sources.get(end.terminatingFlowIds[0])!;
      expect(source).toMatchObject({ type: 'begin', categories: ['task'] });
      expect(source.ts).toBeLessThanOrEqual(end.ts);
      expect(source.args.id).toBe(end.terminatingFlowIds[0]);
    }
  });
});

describe('size and the command', () => {
  test('a busy service trace: the Perfetto file is a fraction of the Chrome JSON (asserted loosely: < 1/3)', async () => {
    const path = tempTracePath('busy.trace');
    await requestsTrace(path, 3_200, 100, { gc: true, heap: true, eventLoop: true });
    const both = await exportBoth(path);
    expect(both.trace.problems).toEqual([]);
    const problems: string[] = [];
    expect(perfettoSlices(both.trace, problems)).toEqual(chromeSlices(both.chrome.events));
    expect(problems).toEqual([]);
    const ratio = both.bytes.length / Buffer.byteLength(both.chrome.text);
    console.log(
      `busy trace, ${statSync(path).size} bytes: Perfetto ${both.bytes.length} bytes, Chrome JSON ${Buffer.byteLength(both.chrome.text)} bytes, ratio ${ratio.toFixed(3)}`,
    );
    expect(ratio).toBeLessThan(1 / 3);
  });

  test('tstrace export --format perfetto -o FILE writes the same bytes, and says what it wrote', () => {
    const out = join(dir, 'misuse.pftrace');
    const run = spawnSync(process.execPath, [cli, 'export', misusePath, '--format', 'perfetto', '-o', out], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(readFileSync(out).equals(misuse.bytes)).toBe(true);
    expect(run.stdout).toBe(`tstrace export: wrote ${out}: Perfetto protobuf trace, ${misuse.result.events} events, ${(misuse.bytes.length / 1024).toFixed(1)} KiB\n`);
  });
});
