/**
 * OpenTelemetry, live (`tstrace/otel`), against the real SDK (`@opentelemetry/sdk-trace-base`, an
 * in-memory exporter): tasks become spans, regions child spans with the right parents, logs span events,
 * with the trace's own times to the nanosecond, attributes, and status ERROR on failure; the sampler
 * decides (an unsampled task costs no spans); `enableOtelContext` records the active span's trace id
 * with a task; nothing is bridged once disabled.
 */
import { context, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AlwaysOffSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { analyzeTrace } from '../analysis/analysis.js';
import { loadTrace } from '../analysis/reader.js';
import { enableOtelBridge, enableOtelContext } from '../otel/index.js';
import { background, log, newTask, newTaskFromTraceparent, startRegion, withRegion } from '../runtime/index.js';
import { sleep, traceOf } from './helpers/trace.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  context.disable();
});
afterEach(() => exporter.reset());

const ns = (time: [number, number]): bigint => BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);
const byName = (spans: ReadableSpan[]): Map<string, ReadableSpan> => new Map(spans.map((s) => [s.name, s]));
const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;

describe('enableOtelBridge', () => {
  test('tasks are spans, regions child spans, logs events; the times are the trace’s, to the nanosecond', async () => {
    const bridge = enableOtelBridge({ tracerProvider: provider });
    let path: string;
    try {
      ({ path } = await traceOf(async () => {
        const [ctx, task] = newTask(background, 'order');
        await withRegion(ctx, 'brew', async () => {
          await sleep(2);
          const [sub, subtask] = newTask(ctx, 'grind');
          const r = startRegion(sub, 'beans');
          log(sub, 'weight', '18g');
          r.end();
          subtask.end();
        });
        withRegion(ctx, 'serve', () => log(ctx, 'table', '7'));
        task.end();
      }));
    } finally {
      bridge.disable();
    }
    const spans = byName(exporter.getFinishedSpans());
    expect([...spans.keys()].sort()).toEqual(['beans', 'brew', 'grind', 'order', 'serve']);
    const order = spans.get('order')!;
    expect(parentOf(order)).toBeUndefined();
    expect(order.instrumentationScope.name).toBe('tstrace');
    for (const name of ['brew', 'serve', 'grind']) expect(parentOf(spans.get(name)!)).toBe(order.spanContext().spanId);
    expect(parentOf(spans.get('beans')!)).toBe(spans.get('grind')!.spanContext().spanId);
    expect(new Set([...spans.values()].map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(order.attributes['tstrace.task.id']).toBeTypeOf('number');
    expect(spans.get('beans')!.events.map((e) => [e.name, e.attributes?.['log.message']])).toEqual([['weight', '18g']]);
    expect(spans.get('serve')!.events.map((e) => [e.name, e.attributes?.['log.message']])).toEqual([['table', '7']]);

    // The trace file's times: header origin + event time, exactly.
    const analysis = await analyzeTrace(path!);
    const origin = (await loadTrace(path!)).status.header!.wallClockOriginNs;
    const tasks = analysis.tasks.toArray();
    const regions = analysis.regions.toArray();
    for (const task of tasks) {
      const span = spans.get(task.type)!;
      expect(ns(span.startTime)).toBe(origin + BigInt(task.start));
      expect(ns(span.endTime)).toBe(origin + BigInt(task.end));
    }
    for (const region of regions) {
      const span = spans.get(region.type)!;
      expect(ns(span.startTime)).toBe(origin + BigInt(region.start));
      expect(ns(span.endTime)).toBe(origin + BigInt(region.end));
    }
    const weight = analysis.logs.toArray().find((l) => l.category === 'weight')!;
    expect(ns(spans.get('beans')!.events[0].time)).toBe(origin + BigInt(weight.ts));
  });

  test('a region that throws gets the exception and status ERROR; an error log sets ERROR too', async () => {
    const bridge = enableOtelBridge({ tracerProvider: provider });
    try {
      await traceOf(async () => {
        const [ctx, task] = newTask(background, 'order');
        await withRegion(ctx, 'pay', async () => {
          throw new TypeError('card declined');
        }).catch(() => {});
        expect(() => withRegion(ctx, 'sync', () => {
          throw new Error('boom');
        })).toThrow('boom');
        log(ctx, 'error', 'gave up');
        task.end();
      });
    } finally {
      bridge.disable();
    }
    const spans = byName(exporter.getFinishedSpans());
    expect(spans.get('pay')!.status).toEqual({ code: 2, message: 'card declined' });
    expect(spans.get('pay')!.events[0]).toMatchObject({ name: 'exception', attributes: { 'exception.type': 'TypeError', 'exception.message': 'card declined' } });
    expect(spans.get('sync')!.status).toEqual({ code: 2, message: 'boom' });
    expect(spans.get('order')!.status).toEqual({ code: 2, message: 'gave up' });
  });

  test('regions as events of the task span, by option', async () => {
    const bridge = enableOtelBridge({ tracerProvider: provider, regions: 'events' });
    try {
      await traceOf(async () => {
        const [ctx, task] = newTask(background, 'order');
        await withRegion(ctx, 'brew', () => sleep(1));
        task.end();
      });
    } finally {
      bridge.disable();
    }
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['order']);
    expect(spans[0].events.map((e) => e.name)).toEqual(['brew']);
    expect(spans[0].events[0].attributes!['tstrace.region.duration_ns']).toBeGreaterThanOrEqual(1e6);
  });

  test('the sampler decides: an unsampled task makes no spans, for it nor its regions', async () => {
    const off = new BasicTracerProvider({ sampler: new AlwaysOffSampler(), spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const bridge = enableOtelBridge({ tracerProvider: off });
    try {
      await traceOf(async () => {
        const [ctx, task] = newTask(background, 'order');
        await withRegion(ctx, 'brew', () => sleep(1));
        log(ctx, 'x', 'y');
        task.end();
      });
    } finally {
      bridge.disable();
    }
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  test('a task from a traceparent is a span of that trace, under that span; disabled, nothing is bridged', async () => {
    const bridge = enableOtelBridge({ tracerProvider: provider });
    await traceOf(async () => {
      const [ctx, task] = newTaskFromTraceparent(background, 'request', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
      withRegion(ctx, 'handle', () => {});
      task.end();
      bridge.disable();
      newTask(background, 'after')[1].end();
    });
    const spans = byName(exporter.getFinishedSpans());
    expect([...spans.keys()].sort()).toEqual(['handle', 'request']);
    expect(spans.get('request')!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(parentOf(spans.get('request')!)).toBe('00f067aa0ba902b7');
  });
});

describe('enableOtelContext', () => {
  test('a task created in an active span records its trace id and span id; its spans go under it', async () => {
    const tracer = provider.getTracer('app');
    const disable = enableOtelContext();
    const bridge = enableOtelBridge({ tracerProvider: provider });
    let outer: Span | undefined;
    let path: string;
    try {
      ({ path } = await traceOf(async () => {
        await tracer.startActiveSpan('GET /order', async (span) => {
          outer = span;
          const [ctx, task] = newTask(background, 'order');
          const [, subtask] = newTask(ctx, 'sub');
          subtask.end();
          task.end();
          span.end();
        });
        newTask(background, 'outside')[1].end();
      }));
    } finally {
      bridge.disable();
      disable();
    }
    const { traceId, spanId } = outer!.spanContext();
    const tasks = (await analyzeTrace(path!)).tasks.toArray();
    expect(tasks.map((t) => [t.type, t.traceId, t.parentSpanId])).toEqual([
      ['order', traceId, spanId],
      ['sub', traceId, null],
      ['outside', null, null],
    ]);
    const spans = byName(exporter.getFinishedSpans());
    expect(parentOf(spans.get('order')!)).toBe(spanId);
    expect(spans.get('order')!.spanContext().traceId).toBe(traceId);
    expect(parentOf(spans.get('sub')!)).toBe(spans.get('order')!.spanContext().spanId);
    expect(parentOf(spans.get('outside')!)).toBeUndefined();
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});
