/**
 * `exportChrome` (tstrace export --format chrome): the Chrome Trace Event JSON of real traces follows
 * the rules real viewers read by (every event has ph/ts/pid/tid/cat/name, B/E strictly nested per thread
 * with matching names, async b/e balanced per id2, arrows bound to slices at their exact ts); misuse is
 * repaired and reported; a trace of a million events exports in bounded memory; and the real viewers
 * take it: the Catapult trace viewer (`go tool trace`'s, from Debian's golang-1.19-src) imports it with
 * zero warnings, and speedscope loads it — both in Chromium, driven by playwright-core.
 *
 * Without Chromium or the Catapult files those two checks skip, saying so — except under CI=true, where
 * they fail.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BatchEncoder, encodeFileStart, encodeFooter } from '../format/encode.js';
import type { TraceEvent } from '../format/events.js';
import { FORMAT_VERSION } from '../format/spec.js';
import { MisuseKind } from '../format/spec.js';
import { background, current, log, newTask, start, startRegion, stop, withRegion } from '../runtime/index.js';
import { analyzeTrace } from '../analysis/analysis.js';
import { exportChrome, GC_TID, TASKS_PID_OFFSET, type ChromeExportOptions } from '../export/export-chrome.js';
import type { ExportResult } from '../export/export-types.js';
import { progressLine, terminalProgressBar } from '../cli/progress.js';
import { loadTrace, type TraceSource } from '../analysis/reader.js';
import { browserSuite, CHROMIUM, launchChromium as launchSharedChromium, missing } from './helpers/chromium.js';
import { misuseTrace, serviceTrace } from './helpers/export-traces.js';
import { tempTracePath } from './helpers/trace.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/esm/cli/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'tstrace-export-chrome-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const screenshots = join(root, 'test/.work/screenshots');

// ---- exporting and checking --------------------------------------------------------------------

interface ChromeEvent {
  ph: string;
  name: string;
  cat: string;
  ts: number;
  pid: number;
  tid: number;
  s?: string;
  dur?: number;
  id?: number;
  id2?: { local: string };
  bp?: string;
  args?: Record<string, unknown>;
}

interface ChromeDocument {
  traceEvents: ChromeEvent[];
  metadata: Record<string, unknown>;
}

/** Exports `source` into memory; the text must parse as one JSON document. */
async function exportText(source: TraceSource, options?: ChromeExportOptions): Promise<{ text: string; doc: ChromeDocument; result: ExportResult }> {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const result = await exportChrome(source, out, options);
  const text = chunks.join('');
  return { text, doc: JSON.parse(text) as ChromeDocument, result };
}

const metadataNames = new Set(['process_name', 'process_sort_index', 'thread_name', 'thread_sort_index']);

/**
 * Checks the rules of docs/export.md that real viewers depend on; returns the problems found (none is
 * the expectation) and counts per phase.
 */
function checkChromeTrace(doc: ChromeDocument): { problems: string[]; count: Record<string, number> } {
  const problems: string[] = [];
  const count: Record<string, number> = {};
  const stacks = new Map<string, ChromeEvent[]>();
  const lastTs = new Map<string, number>();
  const async = new Map<string, ChromeEvent[]>();
  const begins = new Set<string>();
  const flowStarts = new Map<string, ChromeEvent>();
  const flowEnds: ChromeEvent[] = [];
  const xs = new Map<string, ChromeEvent[]>();
  doc.traceEvents.forEach((e, index) => {
    const at = `event ${index} ${JSON.stringify(e).slice(0, 200)}`;
    for (const [key, type] of [['ph', 'string'], ['name', 'string'], ['cat', 'string'], ['ts', 'number'], ['pid', 'number'], ['tid', 'number']] as const) {
      if (typeof e[key] !== type) problems.push(`${at}: ${key} is not a ${type}`);
    }
    if (e.name === '') problems.push(`${at}: empty name`);
    if (!Number.isFinite(e.ts) || e.ts < 0) problems.push(`${at}: bad ts`);
    count[e.ph] = (count[e.ph] ?? 0) + 1;
    const thread = `${e.pid}/${e.tid}`;
    switch (e.ph) {
      case 'B':
      case 'E': {
        if (e.ts < (lastTs.get(thread) ?? 0)) problems.push(`${at}: B/E time goes backwards on ${thread}`);
        lastTs.set(thread, e.ts);
        const stack = stacks.get(thread) ?? [];
        stacks.set(thread, stack);
        if (e.ph === 'B') {
          stack.push(e);
          begins.add(`${thread}/${e.ts}/${e.cat}`);
        } else {
          const open = stack.pop();
          if (!open) problems.push(`${at}: E without an open B on ${thread}`);
          else if (open.name !== e.name || open.cat !== e.cat) problems.push(`${at}: E "${e.name}" closes B "${open.name}"`);
          if (open?.args !== undefined) problems.push(`${at}: the B it closes has args (they go on the E)`);
        }
        break;
      }
      case 'X':
        if (typeof e.dur !== 'number' || e.dur < 0) problems.push(`${at}: X without dur`);
        xs.set(thread, [...(xs.get(thread) ?? []), e]);
        break;
      case 'b':
      case 'e':
      case 'n': {
        if (typeof e.id2?.local !== 'string' || !/^0x[0-9a-f]+$/.test(e.id2.local)) problems.push(`${at}: async event without id2.local`);
        const key = `${e.pid}/${e.cat}/${e.id2?.local}`;
        async.set(key, [...(async.get(key) ?? []), e]);
        break;
      }
      case 'i':
        if (e.s !== 't' && e.s !== 'p') problems.push(`${at}: instant scope ${e.s}`);
        break;
      case 's':
        flowStarts.set(`${e.cat}/${e.name}/${e.id}`, e);
        break;
      case 'f':
        if (e.bp !== 'e') problems.push(`${at}: f without bp "e"`);
        flowEnds.push(e);
        break;
      case 'C':
        if (!e.args || Object.values(e.args).some((v) => typeof v !== 'number')) problems.push(`${at}: counter without numeric args`);
        break;
      case 'M':
        if (!metadataNames.has(e.name)) problems.push(`${at}: metadata "${e.name}" is not one every viewer knows`);
        break;
      default:
        problems.push(`${at}: phase ${e.ph} is not one we use`);
    }
  });
  for (const [thread, stack] of stacks) if (stack.length > 0) problems.push(`${thread}: ${stack.length} B without E`);
  for (const [key, events] of async) {
    const open: string[] = [];
    for (const e of [...events].sort((a, b) => a.ts - b.ts)) {
      if (e.ph === 'b') open.push(e.name);
      else if (e.ph === 'e' && open.pop() !== e.name) problems.push(`${key}: e "${e.name}" does not close the open b`);
    }
    if (open.length > 0) problems.push(`${key}: b without e`);
  }
  for (const f of flowEnds) {
    const s = flowStarts.get(`${f.cat}/${f.name}/${f.id}`);
    if (!s) problems.push(`flow ${f.name} ${f.id}: f without s`);
    else if (s.ts > f.ts) problems.push(`flow ${f.name} ${f.id}: s after f`);
    for (const end of [s, f]) {
      if (end && !begins.has(`${end.pid}/${end.tid}/${end.ts}/${end.cat}`)) problems.push(`flow ${f.name} ${f.id}: ${end.ph} is not at the ts, tid and cat of a B`);
    }
  }
  if (flowStarts.size !== flowEnds.length) problems.push(`${flowStarts.size} flow starts, ${flowEnds.length} flow ends`);
  for (const [thread, slices] of xs) {
    const sorted = [...slices].sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1];
      if (sorted[i].ts < prev.ts + prev.dur! && sorted[i].ts + sorted[i].dur! > prev.ts + prev.dur!) problems.push(`${thread}: X slices overlap`);
    }
  }
  return { problems, count };
}

function ofPhase(doc: ChromeDocument, ph: string, cat?: string): ChromeEvent[] {
  return doc.traceEvents.filter((e) => e.ph === ph && (cat === undefined || e.cat === cat));
}

/** A trace written with the encoder: for what the runtime never writes (unmatched ends, double creations). */
function synthesize(
  fill: (encoder: BatchEncoder, nextBatch: (baseTs: number) => void) => void,
  footer: { events: number; dropped: number; endTs: number } | null = { events: 0, dropped: 0, endTs: 1_000_000 },
): Uint8Array {
  const encoder = new BatchEncoder();
  const frames = [
    encodeFileStart({ version: 1, wallClockOriginNs: 1_700_000_000_000_000_000n, hrtimeOriginNs: 5_000_123_456n, pid: 4242, nodeVersion: 'v20.0.0', command: '/usr/bin/node /srv/app.mjs' }),
  ];
  encoder.begin(0);
  fill(encoder, (baseTs) => {
    frames.push(encoder.finish());
    encoder.begin(baseTs);
  });
  frames.push(encoder.finish());
  if (footer) frames.push(encodeFooter(footer));
  return Buffer.concat(frames);
}

// ---- the traces --------------------------------------------------------------------------------

let servicePath: string;
let service: Awaited<ReturnType<typeof exportText>>;
let misusePath: string;
let misuse: Awaited<ReturnType<typeof exportText>>;

beforeAll(async () => {
  servicePath = tempTracePath('service.trace');
  await serviceTrace(servicePath);
  service = await exportText(servicePath);
  misusePath = tempTracePath('misuse.trace');
  await misuseTrace(misusePath);
  misuse = await exportText(misusePath);
});

// ---- the mapping -----------------------------------------------------------------------------------

describe('a real trace', () => {
  test('follows the rules viewers read by: every event complete, B/E nested per flow, async balanced, arrows bound', () => {
    const { problems, count } = checkChromeTrace(service.doc);
    expect(problems).toEqual([]);
    expect(service.result.warnings).toEqual([]);
    expect(service.result.status.complete).toBe(true);
    expect(service.result.events).toBe(service.doc.traceEvents.length);
    expect(count.B).toBe(count.E);
  });

  test('regions are B/E on one thread per flow, named "flow N"; their args (task, location) are on the E', async () => {
    const analysis = await analyzeTrace(servicePath);
    const begins = ofPhase(service.doc, 'B');
    expect(begins).toHaveLength(analysis.regions.length);
    const names = new Map(ofPhase(service.doc, 'M').filter((e) => e.name === 'thread_name').map((e) => [`${e.pid}/${e.tid}`, e.args!.name]));
    for (const region of analysis.regions) expect(names.get(`${analysis.summary.pid}/${region.flow}`)).toBe(`flow ${region.flow}`);
    const db = analysis.regions.find((r) => r.type === 'db')!;
    const dbEnd = ofPhase(service.doc, 'E').find((e) => e.name === 'db' && e.tid === db.flow)!;
    expect(dbEnd.args).toMatchObject({ task: db.task, location: expect.stringMatching(/export-traces\.ts:\d+:\d+/) });
    // Every request region on its own flow: three concurrent calls, three tracks.
    expect(new Set(begins.filter((e) => e.name === 'request').map((e) => e.tid)).size).toBe(3);
  });

  test('ts is µs of process.hrtime with the nanoseconds as decimals: (hrtimeOriginNs + ns) / 1000', async () => {
    const { events, status } = await loadTrace(servicePath);
    const origin = status.header!.hrtimeOriginNs;
    const starts = events.filter((e): e is Extract<TraceEvent, { kind: 'regionStart' }> => e.kind === 'regionStart');
    const begins = ofPhase(service.doc, 'B');
    starts.forEach((start, i) => {
      const ns = origin + BigInt(start.ts);
      const text = `${ns / 1000n}.${String(ns % 1000n).padStart(3, '0')}`;
      expect(begins[i].ts).toBe(Number(text));
    });
  });

  test('tasks are nestable async slices (id2.local = task id, cat "task"), their logs n events, task logs also instants on the flow', async () => {
    const analysis = await analyzeTrace(servicePath);
    const taskBegins = ofPhase(service.doc, 'b', 'task');
    expect(taskBegins.map((e) => e.id2!.local).sort()).toEqual(analysis.tasks.map((t) => `0x${t.id.toString(16)}`).sort());
    expect(ofPhase(service.doc, 'e', 'task')).toHaveLength(analysis.tasks.length);
    const logs = ofPhase(service.doc, 'i', 'log');
    expect(logs).toHaveLength(analysis.logs.length);
    expect(logs.map((e) => e.args!.message).sort()).toEqual(analysis.logs.map((l) => l.message).sort());
    expect(logs[0].args).toMatchObject({ task: expect.any(Number), category: expect.any(String), message: expect.any(String) });
    expect(logs.find((e) => e.args!.message === 'order-1')!.name).toBe('request=order-1');
    expect(ofPhase(service.doc, 'n', 'task')).toHaveLength(analysis.logs.filter((l) => l.task !== 0).length);
    // The Tasks pseudo-process: one X per task, rows that never overlap.
    const rows = ofPhase(service.doc, 'X', 'task');
    expect(rows).toHaveLength(analysis.tasks.length);
    expect(rows.every((e) => e.pid === analysis.summary.pid! + TASKS_PID_OFFSET)).toBe(true);
  });

  test('arrows: task parent → subtask and flow fork → first region, s/f at the exact B of the slices they bind', async () => {
    const analysis = await analyzeTrace(servicePath);
    const subtasks = analysis.tasks.filter((t) => t.parent !== 0 && t.parent !== null);
    expect(subtasks).toHaveLength(3);
    const arrows = ofPhase(service.doc, 'f').filter((e) => e.name === 'subtask');
    expect(arrows.map((e) => e.id).sort()).toEqual(subtasks.map((t) => t.id).sort());
    for (const task of subtasks) {
      const first = analysis.regions.find((r) => r.id === task.regions[0])!;
      const f = arrows.find((e) => e.id === task.id)!;
      expect(f.tid).toBe(first.flow); // the subtask's first region: "db"
      expect(ofPhase(service.doc, 'B').some((b) => b.tid === f.tid && b.ts === f.ts && b.name === 'db')).toBe(true);
      const s = ofPhase(service.doc, 's').find((e) => e.name === 'subtask' && e.id === task.id)!;
      expect(ofPhase(service.doc, 'B').some((b) => b.tid === s.tid && b.ts === s.ts && b.name === 'load')).toBe(true); // created inside "load"
    }
    expect(ofPhase(service.doc, 'f').filter((e) => e.name === 'fork').length).toBeGreaterThanOrEqual(6);
  });

  test('GC slices on a "GC" track, heap and event-loop utilization counters, process and thread names, sort indices', () => {
    const gcs = ofPhase(service.doc, 'X', 'gc');
    expect(gcs.length).toBeGreaterThan(0);
    expect(gcs.every((e) => e.tid === GC_TID && e.dur! >= 0 && /GC$/.test(e.name))).toBe(true);
    const heap = ofPhase(service.doc, 'C').filter((e) => e.name === 'heap');
    expect(heap.length).toBeGreaterThan(0);
    expect(heap[0].args!.bytes).toBeGreaterThan(0);
    const loop = ofPhase(service.doc, 'C').filter((e) => e.name === 'event loop');
    expect(loop.length).toBeGreaterThan(2);
    expect(loop.every((e) => (e.args!.utilization as number) >= 0 && (e.args!.utilization as number) <= 1)).toBe(true);
    const meta = ofPhase(service.doc, 'M');
    expect(meta.find((e) => e.name === 'process_name' && e.pid === service.result.status.header!.pid)!.args!.name).toMatch(/^node /);
    expect(meta.find((e) => e.name === 'thread_name' && e.tid === GC_TID)!.args!.name).toBe('GC');
    expect(meta.filter((e) => e.name === 'thread_sort_index').length).toBeGreaterThan(3);
  });

  test('the top-level metadata object carries the trace facts', () => {
    const header = service.result.status.header!;
    expect(service.doc.metadata).toMatchObject({
      source: 'tstrace',
      formatVersion: FORMAT_VERSION,
      pid: header.pid,
      nodeVersion: process.version,
      commandLine: header.command,
      hrtimeOriginNs: String(header.hrtimeOriginNs),
      wallClockOriginNs: String(header.wallClockOriginNs),
      startTime: new Date(Number(header.wallClockOriginNs / 1_000_000n)).toISOString(),
      dropped: 0,
      complete: true,
      problem: null,
    });
    expect(service.text.startsWith('{"traceEvents":[\n')).toBe(true);
  });
});

describe('misuse is repaired so that every thread stays strictly nested, and reported', () => {
  test('out-of-order ends (also of recursive regions), regions and tasks left open', () => {
    expect(checkChromeTrace(misuse.doc).problems).toEqual([]);
    expect(misuse.result.warnings).toEqual([
      expect.stringMatching(/^region "outer" on flow 1 ended at .* before a region nested in it \("inner"\); it is ended there too and continued/),
      expect.stringMatching(/^region "step" on flow 1 ended at .* before 2 regions nested in it \("step", "leaf"\)/),
      expect.stringMatching(/^region "left-open" on flow 1 was still open at the end of the trace; it ends there$/),
    ]);
    // The outer "step" ends first; the inner "step" and "leaf" are ended with it and continued.
    const flow1 = misuse.doc.traceEvents.filter((e) => (e.ph === 'B' || e.ph === 'E') && e.tid === 1).map((e) => `${e.ph} ${e.name}`);
    expect(flow1).toEqual([
      ...['B outer', 'B inner', 'E inner', 'E outer', 'B inner', 'E inner'],
      ...['B step', 'B step', 'B leaf', 'E leaf', 'E step', 'E step', 'B step', 'B leaf', 'E leaf', 'E step'],
      ...['B left-open', 'E left-open'],
    ]);
    const continued = ofPhase(misuse.doc, 'E').filter((e) => e.args!.continued === true);
    expect(continued.map((e) => e.name)).toEqual(['inner', 'leaf', 'step']);
    // The misuse itself is shown where it happened.
    expect(ofPhase(misuse.doc, 'i', 'misuse').map((e) => e.name)).toEqual(['region "outer" ended out of order', 'region "outer" ended twice', 'region "step" ended out of order']);
    // The task never ended: its slice ends at the trace end.
    const [taskEnd] = ofPhase(misuse.doc, 'e', 'task');
    expect(taskEnd.ts).toBe(Math.max(...misuse.doc.traceEvents.map((e) => e.ts)));
  });

  test('unmatched ends are left out, tasks created twice or ended twice counted once, tasks created before the trace start there', async () => {
    const bytes = synthesize((enc) => {
      enc.regionEnd(10, 1, 'ghost'); // no start
      enc.regionStart(20, 1, 0, 'a', null);
      enc.regionEnd(30, 1, 'b'); // not open
      enc.regionEnd(40, 1, 'a');
      enc.taskCreate(50, 1, 7, 0, 'job', null);
      enc.taskCreate(60, 1, 7, 0, 'job', null);
      enc.log(65, 1, 9, 'early', 'task 9 was created before start()', null);
      enc.taskEnd(70, 1, 7, null);
      enc.taskEnd(80, 1, 7, null);
      enc.taskEnd(90, 1, 9, null); // created before the trace
    });
    const { doc, result } = await exportText(bytes);
    expect(checkChromeTrace(doc).problems).toEqual([]);
    expect(result.warnings).toEqual([
      expect.stringMatching(/^region "ghost" ended on flow 1 at 10ns, but no region of that type was open there; the end is left out$/),
      expect.stringMatching(/^region "b" ended on flow 1 at 30ns/),
      'task 7 was created again at 60ns (as "job"); the first creation counts',
      'task 7 was ended again at 80ns; only the first end counts',
    ]);
    expect(ofPhase(doc, 'B').map((e) => e.name)).toEqual(['a']);
    const before = ofPhase(doc, 'b').find((e) => e.id2!.local === '0x9')!;
    expect(before).toMatchObject({ name: 'task 9', ts: 5_000_123.456 }); // the trace start: hrtimeOriginNs / 1000
  });

  test('dropped events: a process instant, and counted in the metadata; a lost start is explained', async () => {
    const bytes = synthesize(
      (enc) => {
        enc.regionStart(5, 2, 0, 'kept', null);
        enc.dropped(10, 3);
        enc.regionEnd(20, 2, 'lost');
        enc.regionEnd(30, 2, 'kept');
      },
      { events: 7, dropped: 3, endTs: 40 },
    );
    const { doc, result } = await exportText(bytes);
    expect(checkChromeTrace(doc).problems).toEqual([]);
    expect(ofPhase(doc, 'i').find((e) => e.name === 'dropped events')).toMatchObject({ s: 'p', args: { count: 3 } });
    expect(doc.metadata.dropped).toBe(3);
    expect(result.warnings).toEqual([expect.stringContaining('3 events were dropped before it, which may have included its start')]);
  });

  test('a cut-off trace exports up to the cut; what was open ends at the last event', async () => {
    const whole = readFileSync(misusePath);
    const cut = whole.subarray(0, whole.length - 5);
    const { doc, result } = await exportText(cut);
    expect(checkChromeTrace(doc).problems).toEqual([]);
    expect(result.status.problem?.kind).toBe('truncated');
    expect(doc.metadata).toMatchObject({ complete: false, problem: { kind: 'truncated' } });
  });

  test('many repairs: the first 100 warnings word for word, then one line counting the rest', async () => {
    const bytes = synthesize((enc) => {
      for (let i = 0; i < 150; i++) enc.regionEnd(i + 1, 1, 'ghost');
    });
    const { result } = await exportText(bytes);
    expect(result.warnings).toHaveLength(101);
    expect(result.warnings[100]).toBe('50 more warnings like these were left out (50 region ends without a start)');
  });

  test('timestamps that go backwards on a flow are clamped, so B/E stay ordered', async () => {
    const bytes = synthesize((enc, nextBatch) => {
      enc.regionStart(100, 1, 0, 'a', null);
      nextBatch(50); // a batch whose base time is earlier: never written by the runtime
      enc.regionStart(60, 1, 0, 'b', null);
      enc.regionEnd(70, 1, 'b');
      enc.regionEnd(200, 1, 'a');
    });
    const { doc, result } = await exportText(bytes);
    expect(checkChromeTrace(doc).problems).toEqual([]);
    expect(result.warnings[0]).toMatch(/earlier than the one before it/);
  });
});

describe('options and streaming', () => {
  test('taskRows: false leaves out the Tasks pseudo-process', async () => {
    const { doc } = await exportText(servicePath, { taskRows: false });
    expect(doc.traceEvents.some((e) => e.pid >= TASKS_PID_OFFSET)).toBe(false);
    expect(checkChromeTrace(doc).problems).toEqual([]);
  });

  test('onProgress reports bytes read of the file size; a stream of chunks exports the same JSON', async () => {
    const size = readFileSync(servicePath).length;
    const seen: [number, number | null][] = [];
    const fromFile = await exportText(servicePath, { onProgress: (bytes, total) => seen.push([bytes, total]) });
    expect(seen.at(-1)).toEqual([size, size]);
    const bytes = readFileSync(servicePath);
    async function* chunks(): AsyncIterable<Uint8Array> {
      for (let at = 0; at < bytes.length; at += 333) yield bytes.subarray(at, at + 333);
    }
    const fromStream = await exportText(chunks());
    expect(fromStream.text).toBe(fromFile.text);
  });

  test('a missing file rejects; a writer error rejects', async () => {
    await expect(exportText(join(dir, 'missing.trace'))).rejects.toMatchObject({ code: 'ENOENT' });
    const failing = new Writable({
      write(_chunk, _encoding, callback) {
        callback(new Error('disk full'));
      },
    });
    failing.on('error', () => {});
    await expect(exportChrome(servicePath, failing)).rejects.toThrow('disk full');
  });

  test('a trace of a million events exports in bounded memory (a child process with a 64 MB heap)', async () => {
    const path = tempTracePath('big.trace');
    start(path, { gc: false, heap: false, eventLoop: false });
    try {
      for (let t = 0; t < 4700; t++) {
        const [ctx, task] = newTask(background, 'job');
        for (let i = 0; i < 100; i++) {
          const region = startRegion(ctx, 'step');
          if (i % 10 === 0) log(ctx, 'progress', `step ${i}`);
          region.end();
        }
        await withRegion(ctx, 'async', async () => startRegion(current(), 'inner').end());
        task.end();
      }
    } finally {
      await stop();
    }
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'pipe' });
    // The child exports to a slow writer (backpressure) and measures what stays live: the heap in use right
    // after each full collection (heapUsed between collections also counts garbage, and how much of it a
    // heap holds before collecting differs between Node versions).
    const script = `
      import { exportChrome } from ${JSON.stringify(join(root, 'dist/esm/export/export-chrome.js'))};
      import { PerformanceObserver, constants } from 'node:perf_hooks';
      import { Writable } from 'node:stream';
      let bytes = 0, peak = 0, fullGcs = 0;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          if (entry.detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
          fullGcs++;
          peak = Math.max(peak, process.memoryUsage().heapUsed);
        }
      }).observe({ entryTypes: ['gc'] });
      const out = new Writable({ write(chunk, _e, callback) { bytes += chunk.length; setImmediate(callback); } });
      const base = process.memoryUsage().heapUsed;
      const result = await exportChrome(process.argv[1], out);
      await new Promise((resolve) => setImmediate(resolve)); // the observer runs after the collection
      console.log(JSON.stringify({ base, peak, fullGcs, bytes, events: result.events, warnings: result.warnings.length }));
    `;
    const run = spawnSync(process.execPath, ['--max-old-space-size=64', '--input-type=module', '-e', script, path], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const { base, peak, fullGcs, bytes, events, warnings } = JSON.parse(run.stdout) as Record<string, number>;
    const recorded = (await loadTrace(path)).events.length;
    expect(recorded).toBeGreaterThan(1_000_000);
    expect(events).toBeGreaterThan(recorded);
    expect(warnings).toBe(0);
    expect(bytes).toBeGreaterThan(90 * 1024 * 1024); // well over the 64 MB heap (about 100 MB; times vary its digits)
    // 100 MB of output through a 64 MB heap collects fully many times; what stays live each time is bounded.
    expect(fullGcs).toBeGreaterThan(0);
    expect(peak - base, `heap: ${base} bytes before, ${peak} at most after a full collection (${fullGcs}); ${bytes} bytes written`).toBeLessThan(32 * 1024 * 1024);
  }, 240_000);
});

// ---- the command line ------------------------------------------------------------------------------

describe('tstrace export', () => {
  beforeAll(() => {
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'pipe' });
  });

  const tstrace = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: dir, encoding: 'utf8' });

  test('--format chrome -o FILE writes the JSON, then says what it wrote, where, how big; warnings go to stderr; exit 0', () => {
    const out = join(dir, 'misuse.json');
    const run = tstrace('export', misusePath, '--format', 'chrome', '-o', out);
    expect(run.status).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(misuse.text);
    const kib = (statSync(out).size / 1024).toFixed(1);
    expect(run.stdout).toBe(`tstrace export: wrote ${out}: Chrome Trace Event JSON, ${misuse.result.events} events, ${kib} KiB\n`);
    expect(run.stderr.split('\n').filter(Boolean)).toEqual(misuse.result.warnings.map((w) => `tstrace: warning: ${misusePath}: ${w}`));
    expect(existsSync(join(dir, `.misuse.json.${run.pid}.partial`))).toBe(false);
  });

  test('--format go -o FILE: the same line, for the Go trace; --quiet prints nothing', () => {
    const run = tstrace('export', misusePath, '--format', 'go', '-o', 'misuse.go.trace');
    expect(run.status).toBe(0);
    const size = statSync(join(dir, 'misuse.go.trace')).size;
    expect(size).toBeLessThan(1024);
    expect(run.stdout).toMatch(new RegExp(`^tstrace export: wrote misuse\\.go\\.trace: Go execution trace, [1-9]\\d* events, ${size} bytes\n$`));
    const quiet = tstrace('export', misusePath, '--format', 'go', '-o', 'misuse.go.trace', '--quiet');
    expect(quiet.status).toBe(0);
    expect(quiet.stdout + quiet.stderr).toBe('');
  });

  test('-o - writes to stdout, and what it wrote to stderr; --quiet leaves out the warnings and that line', () => {
    const run = tstrace('export', misusePath, '--format', 'chrome', '-o', '-');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(misuse.text);
    expect(run.stderr.split('\n').filter(Boolean).at(-1)).toBe(`tstrace export: wrote stdout: Chrome Trace Event JSON, ${misuse.result.events} events`);
    const quiet = tstrace('export', misusePath, '--format', 'chrome', '-o', '-', '--quiet');
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toBe(misuse.text);
  });

  test.each([
    [['export', 'x.trace', '-o', 'x.json'], /export: missing --format \(chrome, perfetto, go or otlp\)/],
    [['export', 'x.trace', '--format', 'svg', '-o', 'x.json'], /export: unknown format "svg" \(formats: chrome, perfetto, go, otlp\)/],
    [['export', 'x.trace', '--format', 'chrome'], /export: missing -o OUT \(- for stdout\)/],
    [['export', 'x.trace', '--format', 'chrome', '-o', 'x.trace'], /export: -o x\.trace is the trace file itself/],
    [['export', '--format', 'chrome', '-o', 'x.json'], /export: missing FILE/],
    [['stats', 'x.trace', '--format', 'chrome'], /--format does not apply to stats/],
  ])('tstrace %j is a usage error: exit 2', (args, message) => {
    const run = tstrace(...args);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
  });

  test('an unreadable trace or an unwritable output: exit 1, nothing left behind', () => {
    const missing = tstrace('export', 'missing.trace', '--format', 'chrome', '-o', 'out.json');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe('tstrace: error: missing.trace: no such file\n');
    const noDir = tstrace('export', misusePath, '--format', 'chrome', '-o', join(dir, 'no/such/dir/out.json'));
    expect(noDir.status).toBe(1);
    expect(noDir.stderr).toMatch(/out\.json: cannot write: no such directory/);
    writeFileSync(join(dir, 'notes.txt'), 'not a trace\n');
    writeFileSync(join(dir, 'kept.json'), 'an earlier export\n');
    const notTrace = tstrace('export', 'notes.txt', '--format', 'chrome', '-o', 'kept.json');
    expect(notTrace.status).toBe(1);
    expect(notTrace.stderr).toMatch(/^tstrace: error: notes\.txt: no trace to export: not a tstrace file/);
    expect(readFileSync(join(dir, 'kept.json'), 'utf8')).toBe('an earlier export\n');
  });

  test('a damaged trace: the part before the damage is exported, the error on stderr, exit 1', () => {
    const bytes = Buffer.from(readFileSync(servicePath));
    bytes[bytes.length - 20] ^= 0xff;
    writeFileSync(join(dir, 'damaged.trace'), bytes);
    const run = tstrace('export', 'damaged.trace', '--format', 'chrome', '-o', 'damaged.json');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/damaged\.trace is damaged at offset \d+: .*; the export covers the \d+ bytes before it/);
    expect(checkChromeTrace(JSON.parse(readFileSync(join(dir, 'damaged.json'), 'utf8'))).problems).toEqual([]);
  });

  test('--help lists the command', () => {
    expect(tstrace('--help').stdout).toContain('tstrace export FILE --format chrome|perfetto|go|otlp -o OUT [--since T] [--until T] [--task ID] [--type T] [--service NAME] [--quiet]');
  });

  test.skipIf(!existsSync('/usr/bin/script'))('on a terminal, a progress bar on stderr while reading, erased at the end; none with --quiet', () => {
    const command = (quiet: string) => `${process.execPath} ${cli} export ${misusePath} --format chrome -o ${join(dir, 'tty.json')} ${quiet} 2>&1 >/dev/null`;
    const shown = spawnSync('script', ['-qec', command(''), '/dev/null'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '80' } });
    expect(shown.status).toBe(0);
    expect(shown.stdout).toMatch(/\rexporting \S*misuse\.trace \[=+\] 100% {2}0\.0 \/ 0\.0 MiB\x1b\[K\r\x1b\[K/);
    const quiet = spawnSync('script', ['-qec', command('--quiet'), '/dev/null'], { encoding: 'utf8' });
    expect(quiet.stdout).toBe('');
    // Reading for the analysis commands too; their output is unchanged.
    const stats = spawnSync('script', ['-qec', `${process.execPath} ${cli} stats ${misusePath} --json 2>&1`, '/dev/null'], { encoding: 'utf8' });
    expect(stats.stdout).toMatch(/^\rreading \S*misuse\.trace \[=+\] 100% .*\x1b\[K\r\x1b\[K\{/);
    expect(spawnSync('script', ['-qec', `${process.execPath} ${cli} stats ${misusePath} --json --quiet 2>&1`, '/dev/null'], { encoding: 'utf8' }).stdout).toMatch(/^\{/);
  });
});

describe('the progress bar', () => {
  test('bar, percentage and MiB within the width; bytes only when the size is unknown', () => {
    expect(progressLine('exporting t', 5 * 1024 * 1024, 10 * 1024 * 1024, 60)).toBe('exporting t [============>           ]  50%  5.0 / 10.0 MiB');
    expect(progressLine('exporting t', 5 * 1024 * 1024, 10 * 1024 * 1024, 60)).toHaveLength(59);
    expect(progressLine('exporting t', 3 * 1024 * 1024, null, 60)).toBe('exporting t 3.0 MiB');
    expect(progressLine('exporting a-very-long-name.trace', 1, 2, 30).length).toBeLessThanOrEqual(29);
  });

  test('redrawn at most every 100 ms (and at 100%), erased when done', () => {
    let clock = 0;
    const written: string[] = [];
    const bar = terminalProgressBar({ write: (t) => written.push(t), columns: () => 40, label: 'x', now: () => clock });
    bar.update(1, 10);
    clock = 50;
    bar.update(2, 10); // too soon
    clock = 150;
    bar.update(3, 10);
    clock = 160;
    bar.update(10, 10); // complete: drawn at once
    bar.done();
    bar.update(10, 10);
    expect(written.map((t) => /(\d+)%/.exec(t)?.[1] ?? 'erase')).toEqual(['10', '30', '100', 'erase']);
    expect(written.at(-1)).toBe('\r\x1b[K');
  });
});

// ---- real viewers, in Chromium -----------------------------------------------------------------------

const CATAPULT = '/usr/share/go-1.19/src/cmd/trace/static';
const SPEEDSCOPE = join(root, 'node_modules/speedscope/dist/release');

const catapultMissing = missing({
  Chromium: CHROMIUM,
  'the Catapult trace viewer of golang-1.19-src': join(CATAPULT, 'trace_viewer_full.html'),
  'webcomponents.min.js of golang-1.19-src': join(CATAPULT, 'webcomponents.min.js'),
});
const speedscopeMissing = missing({ Chromium: CHROMIUM, 'the speedscope web app (npm speedscope)': join(SPEEDSCOPE, 'index.html') });

/** Tests that need a viewer: skipped with the reason, or failing under CI=true. */
function viewerSuite(name: string, absent: string | null, install: string, body: () => void): void {
  browserSuite('export-chrome.test.ts', name, absent, install, body);
}

/** Serves `files` (path → [body, type]) and anything under `folder` on 127.0.0.1. */
async function serve(files: Record<string, [Buffer | string, string]>, folder?: string): Promise<{ base: string; server: Server }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png', '.woff2': 'font/woff2', '.ico': 'image/x-icon', '.txt': 'text/plain' };
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const file = files[path];
    if (file) {
      response.writeHead(200, { 'content-type': file[1] });
      response.end(file[0]);
      return;
    }
    const onDisk = folder ? join(folder, path === '/' ? 'index.html' : path) : null;
    if (onDisk && onDisk.startsWith(folder!) && existsSync(onDisk) && !path.includes('..')) {
      response.writeHead(200, { 'content-type': types[extname(onDisk)] ?? 'application/octet-stream' });
      response.end(readFileSync(onDisk));
      return;
    }
    response.writeHead(404);
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { base: `http://127.0.0.1:${address.port}`, server };
}

/** Headless Chromium (the system's, never a downloaded one), with a fresh profile. */
function launchChromium() {
  return launchSharedChromium(dir);
}

interface CatapultModel {
  warnings: string[];
  slices: number;
  asyncSlices: number;
  counters: string[];
  flowEvents: number;
  threads: string[];
}

viewerSuite('the Catapult trace viewer (go tool trace, chrome://tracing)', catapultMissing, 'apt-get install -y chromium golang-1.19-src', () => {
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let site: Awaited<ReturnType<typeof serve>>;
  const traces: Record<string, string> = {};
  const page = `<!doctype html><html><head>
<script src="/static/webcomponents.min.js"></script>
<link rel="import" href="/static/trace_viewer_full.html">
<style>html, body { margin: 0; width: 100%; height: 100%; overflow: hidden } #viewer { width: 100%; height: 100% }</style>
</head><body><script>document.addEventListener('WebComponentsReady', () => { window.viewerReady = true; });</script></body></html>`;

  beforeAll(async () => {
    traces['/service.json'] = service.text;
    traces['/misuse.json'] = misuse.text;
    site = await serve({
      '/': [page, 'text/html'],
      '/static/webcomponents.min.js': [readFileSync(join(CATAPULT, 'webcomponents.min.js')), 'text/javascript'],
      '/static/trace_viewer_full.html': [readFileSync(join(CATAPULT, 'trace_viewer_full.html')), 'text/html'],
      ...Object.fromEntries(Object.entries(traces).map(([path, text]) => [path, [text, 'application/json'] as [string, string]])),
    });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    site?.server.close();
  });

  /** Imports the JSON as go tool trace's page does (tr.importer.Import into a tr.Model), shows it, and reads the model. */
  async function importInCatapult(path: string, screenshot: string): Promise<CatapultModel> {
    const tab = await browser.newPage();
    try {
      await tab.goto(`${site.base}/`);
      await tab.waitForFunction(() => (window as unknown as { viewerReady?: boolean }).viewerReady === true, null, { timeout: 60_000 });
      const model = await tab.evaluate(async (url) => {
        /* eslint-disable @typescript-eslint/no-explicit-any */
        const tr = (window as any).tr;
        const text = await (await fetch(url)).text();
        const model = new tr.Model();
        const options = new tr.importer.ImportOptions();
        options.shiftWorldToZero = false;
        new tr.importer.Import(model, options).importTraces([text]);
        let slices = 0;
        let asyncSlices = 0;
        const counters: string[] = [];
        const threads: string[] = [];
        for (const process of Object.values<any>(model.processes)) {
          for (const counter of Object.values<any>(process.counters)) counters.push(`${counter.name}: ${counter.series.map((s: any) => s.name).join(',')}`);
          for (const thread of Object.values<any>(process.threads)) {
            threads.push(thread.name);
            slices += thread.sliceGroup.slices.length;
            for (const slice of thread.asyncSliceGroup.slices) asyncSlices += 1 + slice.subSlices.length;
          }
        }
        const viewer: any = document.createElement('tr-ui-timeline-view');
        const container = document.createElement('track-view-container');
        container.id = 'track_view_container';
        viewer.track_view_container = container;
        (window as any).Polymer.dom(viewer).appendChild(container);
        viewer.id = 'viewer';
        viewer.globalMode = true;
        (window as any).Polymer.dom(document.body).appendChild(viewer);
        viewer.model = model;
        return {
          warnings: model.importWarnings.map((w: any) => `${w.type}: ${w.message}`),
          slices,
          asyncSlices,
          counters: counters.sort(),
          flowEvents: model.flowEvents.length,
          threads: threads.sort(),
        };
      }, path);
      mkdirSync(screenshots, { recursive: true });
      await tab.waitForTimeout(300);
      await tab.screenshot({ path: join(screenshots, screenshot) });
      return model;
    } finally {
      await tab.close();
    }
  }

  const expected = (doc: ChromeDocument) => ({
    slices: ofPhase(doc, 'B').length + ofPhase(doc, 'X').length + doc.traceEvents.filter((e) => e.ph === 'i' && e.s === 't').length,
    asyncSlices: ofPhase(doc, 'b').length + ofPhase(doc, 'n').length,
    flowEvents: ofPhase(doc, 's').length,
  });

  test('a real trace imports with zero warnings: every region, GC and task row a slice, tasks and logs async slices, both counters, every arrow', async () => {
    const model = await importInCatapult('/service.json', 'catapult-service.png');
    expect(model.warnings).toEqual([]);
    expect(model).toMatchObject(expected(service.doc));
    expect(model.counters).toEqual(['event loop: utilization', 'heap: bytes']);
    expect(model.flowEvents).toBeGreaterThan(0);
    expect(model.threads).toContain('GC');
    expect(model.threads.filter((name) => /^flow \d+$/.test(name)).length).toBeGreaterThanOrEqual(9); // 3 requests × (request, load, db)
  }, 120_000);

  test('a repaired misuse trace imports with zero warnings', async () => {
    const model = await importInCatapult('/misuse.json', 'catapult-misuse.png');
    expect(model.warnings).toEqual([]);
    expect(model).toMatchObject(expected(misuse.doc));
  }, 120_000);
});

viewerSuite('speedscope', speedscopeMissing, 'apt-get install -y chromium; npm install', () => {
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let site: Awaited<ReturnType<typeof serve>>;

  beforeAll(async () => {
    site = await serve({ '/service.json': [service.text, 'application/json'], '/misuse.json': [misuse.text, 'application/json'] }, SPEEDSCOPE);
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    site?.server.close();
  });

  /** Opens speedscope on `#profileURL=…`; returns what it logged and showed. */
  async function openInSpeedscope(path: string, screenshot: string): Promise<{ console: string[]; errors: string[]; title: string; heading: string; canvases: number }> {
    const tab = await browser.newPage();
    const messages: string[] = [];
    const errors: string[] = [];
    tab.on('console', (message) => messages.push(`${message.type()}: ${message.text()}`));
    tab.on('pageerror', (error) => errors.push(error.message));
    tab.on('dialog', (dialog) => {
      errors.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    try {
      await tab.goto(`${site.base}/#profileURL=${encodeURIComponent(site.base + path)}`);
      await tab.waitForFunction(() => document.title.endsWith('- speedscope'), null, { timeout: 60_000 });
      await tab.waitForTimeout(500);
      mkdirSync(screenshots, { recursive: true });
      await tab.screenshot({ path: join(screenshots, screenshot) });
      const body = await tab.locator('body').innerText();
      return { console: messages, errors, title: await tab.title(), heading: body, canvases: await tab.locator('canvas').count() };
    } finally {
      await tab.close();
    }
  }

  test.each([
    ['/service.json', 'speedscope-service.png'],
    ['/misuse.json', 'speedscope-misuse.png'],
  ])('%s loads: no error, a thread per flow, canvases drawn, and every B/E pair nests', async (path, screenshot) => {
    const page = await openInSpeedscope(path, screenshot);
    expect(page.errors).toEqual([]);
    expect(page.heading).not.toMatch(/Something went wrong|Unrecognized format/);
    expect(page.title).toBe(`${path.slice(1)} - speedscope`);
    expect(page.heading).toMatch(/flow \d+ \(tid \d+\)/);
    expect(page.canvases).toBeGreaterThan(0);
    expect(page.console).toContain('log: Importing as Trace Event Format profile');
    // speedscope keys frames by name and args: our E carries the args and the B none, which it notes with
    // "Tried to end "X {args}" when "X" was on the top of the stack. Ending X instead." — same name, so
    // the right frame ends. Anything else would be a nesting error.
    const nesting = page.console.filter((m) => /Tried to end|still open at end of profile/.test(m));
    for (const message of nesting) {
      const match = /Tried to end "([^"{]+?)(?: \{.*\})?" when "([^"]+)" was on the top of the stack\. Ending (.+) instead\./.exec(message);
      expect(match, message).not.toBeNull();
      expect(match![2]).toBe(match![1]);
    }
  }, 120_000);
});
