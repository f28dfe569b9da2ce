/**
 * OpenTelemetry, offline: `tstrace export --format otlp` writes OTLP/JSON that an OTLP/HTTP receiver
 * (started here: `POST /v1/traces`, JSON, as a Collector's receiver takes it, decoded with
 * OpenTelemetry's generated protobuf code: helpers/otlp-receiver.ts) accepts and decodes — one
 * span per task and region of the cappuccino sample, with the right parents, times from the header's
 * wall clock, and the same ids in every export. And the way in: a task made by `newTaskFromTraceparent`
 * records the request's trace id and parent span id; `tstrace tasks --trace-id` finds it, its subtasks
 * inherit the trace id, and the export puts its spans in that trace, under that span.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { analyzeTrace } from '../analysis/analysis.js';
import { loadTrace } from '../analysis/reader.js';
import { background, log, newTask, newTaskFromTraceparent, startRegion, withRegion } from '../runtime/index.js';
import { parseTraceparent } from '../format/trace-context.js';
import { loadViewerModel, taskJson } from '../viewer/model.js';
import { exec } from './helpers/exec.js';
import { attribute, decodeOtlpJson, OtlpReceiver, postJson, spansOf, type OtlpRequest } from './helpers/otlp-receiver.js';
import { removeSampleRun, runSample, type SampleRun } from './helpers/sample.js';
import { tempTracePath, traceOf } from './helpers/trace.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/esm/cli/cli.js');

async function exportOtlpFile(trace: string, name: string, extra: string[] = []): Promise<Buffer> {
  const out = tempTracePath(name);
  const result = await exec(process.execPath, [cli, 'export', trace, '--format', 'otlp', '-o', out, ...extra], root);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/wrote .*: OTLP\/JSON \(OpenTelemetry\), \d+ spans/);
  return readFileSync(out);
}

// ---- the cappuccino sample -----------------------------------------------------------------------

describe('export --format otlp of the cappuccino sample', () => {
  let sample: SampleRun | undefined;
  const receiver = new OtlpReceiver();
  beforeAll(async () => {
    sample = await runSample('cappuccino');
    await receiver.start();
  }, 120_000);
  afterAll(async () => {
    removeSampleRun(sample);
    await receiver.stop();
  });

  test('is accepted by an OTLP/HTTP receiver: one span per task and region, with the right parents and times', async () => {
    const file = await exportOtlpFile(sample!.trace, 'cappuccino.json', ['--service', 'cafe']);
    const { status, answer } = await postJson(receiver.url, file);
    expect(status).toBe(200);
    expect(answer).toEqual({}); // no partialSuccess: every span accepted
    const document = receiver.requests.at(-1)!;
    expect(attribute(document.resourceSpans[0].resource.attributes, 'service.name')).toEqual({ stringValue: 'cafe' });
    expect(document.resourceSpans[0].scopeSpans[0].scope.name).toBe('tstrace');

    const analysis = await analyzeTrace(sample!.trace);
    const { status: read } = await loadTrace(sample!.trace);
    const origin = read.header!.wallClockOriginNs;
    const tasks = analysis.tasks.toArray();
    const regions = analysis.regions.toArray();
    expect(tasks.length).toBe(8);
    expect(regions.length).toBe(32);
    const spans = spansOf(document);
    expect(spans.length).toBe(tasks.length + regions.length);
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(spans.length);

    const taskSpan = new Map(spans.filter((s) => attribute(s.attributes, 'tstrace.region.id') === undefined).map((s) => [Number(attribute(s.attributes, 'tstrace.task.id')!.intValue), s]));
    const regionSpan = new Map(spans.filter((s) => attribute(s.attributes, 'tstrace.region.id') !== undefined).map((s) => [Number(attribute(s.attributes, 'tstrace.region.id')!.intValue), s]));
    expect(taskSpan.size).toBe(tasks.length);
    expect(regionSpan.size).toBe(regions.length);
    for (const task of tasks) {
      const span = taskSpan.get(task.id)!;
      expect(span.name).toBe('makeCappuccino');
      expect(span.parentSpanId).toBeUndefined(); // a root: each order is a trace of its own
      expect(BigInt(span.startTimeUnixNano)).toBe(origin + BigInt(task.start));
      expect(BigInt(span.endTimeUnixNano)).toBe(origin + BigInt(task.end));
      // The orderID log is a span event (of the task's makeCappuccino region, open when it was logged).
      const events = spans.filter((s) => s.traceId === span.traceId).flatMap((s) => s.events ?? []);
      expect(events.map((e) => e.name)).toEqual(['orderID']);
      expect(attribute(events[0].attributes, 'log.message')?.stringValue).toMatch(/^order-\d$/);
    }
    for (const region of regions) {
      const span = regionSpan.get(region.id)!;
      expect(span.name).toBe(region.type);
      const task = taskSpan.get(region.task)!;
      expect(span.traceId).toBe(task.traceId);
      // Parent: the enclosing region (the task's makeCappuccino region), else the task.
      const parent = region.parent === null ? task : regionSpan.get(region.parent)!;
      expect(span.parentSpanId).toBe(parent.spanId);
      expect(BigInt(span.startTimeUnixNano)).toBe(origin + BigInt(region.start));
      expect(BigInt(span.endTimeUnixNano)).toBe(origin + BigInt(region.end));
      expect(attribute(span.attributes, 'code.file.path')?.stringValue).toMatch(/main\.ts$/);
    }
  });

  test('the receiver decodes with OpenTelemetry\'s definitions: what is not OTLP is refused, saying where', async () => {
    const file = (await exportOtlpFile(sample!.trace, 'tamper.json')).toString();
    const tampered = (change: (span: Record<string, unknown>) => void): string => {
      const document = JSON.parse(file) as { resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[] };
      change(document.resourceSpans[0].scopeSpans[0].spans[1]);
      return JSON.stringify(document);
    };
    const refused = async (body: string): Promise<string> => {
      const { status, answer } = await postJson(receiver.url, body);
      expect(status).toBe(400);
      return String(answer.message);
    };
    // A field OTLP does not have (a typo) would be dropped silently by a lenient reader.
    expect(await refused(tampered((span) => { span.startTimeUnixNanos = span.startTimeUnixNano; delete span.startTimeUnixNano; }))).toMatch(/spans\[1\]\.startTimeUnixNanos: not a field/);
    // Enums are numbers in OTLP/JSON; ids are hex, not base64; lists are lists.
    expect(await refused(tampered((span) => { span.kind = 'SPAN_KIND_INTERNAL'; }))).toMatch(/spans\[1\]\.kind/);
    expect(await refused(tampered((span) => { span.spanId = Buffer.from(String(span.spanId), 'hex').toString('base64'); }))).toMatch(/spanId/);
    expect(await refused(tampered((span) => { span.attributes = { key: 'x' }; }))).toMatch(/attributes/);
    // Decodable but invalid: a span id of zeros is accepted as a message and its span rejected.
    const { status, answer } = await postJson(receiver.url, tampered((span) => { span.spanId = '0000000000000000'; }));
    expect(status).toBe(200);
    expect(answer).toMatchObject({ partialSuccess: { rejectedSpans: '1', errorMessage: 'bad spanId 0000000000000000' } });
    // And the export itself, untouched, decodes to the same number of spans.
    expect(spansOf(decodeOtlpJson(file)).length).toBe(spansOf(JSON.parse(file) as OtlpRequest).length);
  });

  test('gives the same ids in every export of a trace, also of a part of it (--task)', async () => {
    const first = await exportOtlpFile(sample!.trace, 'a.json');
    const second = await exportOtlpFile(sample!.trace, 'b.json');
    expect(second.equals(first)).toBe(true);
    const filtered = JSON.parse((await exportOtlpFile(sample!.trace, 'c.json', ['--task', '3'])).toString()) as OtlpRequest;
    const all = spansOf(JSON.parse(first.toString()) as OtlpRequest);
    const some = spansOf(filtered);
    expect(some.length).toBe(5); // task 3 and its four regions
    for (const span of some) {
      const same = all.find((s) => s.spanId === span.spanId)!;
      expect([same.traceId, same.parentSpanId, same.name]).toEqual([span.traceId, span.parentSpanId, span.name]);
    }
  });

  test('--service applies to otlp only', async () => {
    const result = await exec(process.execPath, [cli, 'export', sample!.trace, '--format', 'chrome', '-o', tempTracePath('x.json'), '--service', 'x'], root);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--service applies to --format otlp only');
  });
});

// ---- traceparent into tasks ----------------------------------------------------------------------

describe('a task from a traceparent header', () => {
  const header = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  test('parseTraceparent takes valid W3C headers only', () => {
    expect(parseTraceparent(header)).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: 1 });
    expect(parseTraceparent([header])).not.toBeNull();
    for (const bad of [undefined, '', [header, header], header.toUpperCase(), `ff${header.slice(2)}`, `${header}-x`, '00-00000000000000000000000000000000-00f067aa0ba902b7-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01']) {
      expect(parseTraceparent(bad as string | undefined)).toBeNull();
    }
    expect(parseTraceparent(`01${header.slice(2)}-future`)).not.toBeNull(); // a later version may add fields
  });

  test('records the trace id and parent span id; subtasks inherit the trace id; tasks --trace-id and the export use them', async () => {
    const { path } = await traceOf(async () => {
      const [ctx, task] = newTaskFromTraceparent(background, 'request', header);
      await withRegion(ctx, 'handle', async () => {
        const [sub, subtask] = newTask(ctx, 'query');
        startRegion(sub, 'db').end();
        subtask.end();
        log(ctx, 'error', 'it failed');
      });
      task.end();
      newTaskFromTraceparent(background, 'no header', undefined)[1].end();
      newTaskFromTraceparent(background, 'bad header', 'nonsense')[1].end();
    });
    const analysis = await analyzeTrace(path);
    const [request, query, none, bad] = analysis.tasks.toArray();
    expect(request).toMatchObject({ type: 'request', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7' });
    expect(query).toMatchObject({ type: 'query', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: null });
    expect(none).toMatchObject({ traceId: null, parentSpanId: null });
    expect(bad).toMatchObject({ traceId: null, parentSpanId: null });

    const listed = await exec(process.execPath, [cli, 'tasks', path, '--trace-id', '4BF92F3577B34DA6A3CE929D0E0E4736', '--json'], root);
    expect(listed.code).toBe(0);
    const document = JSON.parse(listed.stdout) as { tasks: { id: number; traceId: string; parentSpanId: string | null }[] };
    expect(document.tasks.map((t) => [t.id, t.traceId, t.parentSpanId])).toEqual([
      [request.id, '4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7'],
      [query.id, '4bf92f3577b34da6a3ce929d0e0e4736', null],
    ]);
    const text = await exec(process.execPath, [cli, 'tasks', path, '--trace-id', '4bf92f3577b34da6a3ce929d0e0e4736'], root);
    expect(text.stdout).toContain('trace id  4bf92f3577b34da6a3ce929d0e0e4736 (parent span 00f067aa0ba902b7)');
    const usage = await exec(process.execPath, [cli, 'tasks', path, '--trace-id', 'xyz'], root);
    expect(usage.code).toBe(2);
    // The viewer's task page gets them (and shows them as "Trace id" and "Parent span").
    const model = await loadViewerModel(path, root);
    expect(taskJson(model, request.id)).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7' });

    const spans = spansOf(decodeOtlpJson((await exportOtlpFile(path, 'traceparent.json')).toString()));
    const byName = new Map(spans.map((s) => [s.name, s]));
    expect(byName.get('request')).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7' });
    for (const name of ['handle', 'query', 'db']) expect(byName.get(name)!.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(byName.get('handle')!.parentSpanId).toBe(byName.get('request')!.spanId);
    expect(byName.get('query')!.parentSpanId).toBe(byName.get('request')!.spanId);
    expect(byName.get('db')!.parentSpanId).toBe(byName.get('query')!.spanId);
    // The error log: an event of the region open when it was logged, and that span's status.
    expect(byName.get('handle')!.status).toEqual({ code: 2, message: 'it failed' });
    // The otel.trace log is no span event; tasks without a valid header are traces of their own.
    expect(spans.flatMap((s) => s.events ?? []).map((e) => e.name)).toEqual(['error']);
    expect(byName.get('no header')!.traceId).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(byName.get('no header')!.parentSpanId).toBeUndefined();

    // The Chrome export: on the task's end (its args are merged into the slice) and its Tasks row.
    const chromeFile = tempTracePath('traceparent.chrome.json');
    expect((await exec(process.execPath, [cli, 'export', path, '--format', 'chrome', '-o', chromeFile, '-q'], root)).code).toBe(0);
    const chrome = JSON.parse(readFileSync(chromeFile, 'utf8')) as { traceEvents: { ph: string; name: string; args?: Record<string, unknown> }[] };
    const ends = chrome.traceEvents.filter((e) => e.name === 'request' && (e.ph === 'e' || e.ph === 'X'));
    expect(ends.length).toBe(2);
    for (const e of ends) expect(e.args).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7' });
    expect(chrome.traceEvents.filter((e) => e.name === 'query' && e.args?.traceId !== undefined)).toEqual([]);
  });
});
