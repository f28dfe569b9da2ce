import { PerformanceObserver, performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { EventType } from '../format/spec.js';
import { flush, now, record } from './recorder.js';

export interface ExecutionEventOptions {
  gc: boolean;
  heap: boolean;
  eventLoop: boolean;
  /** Milliseconds between event-loop samples and background flushes. */
  sampleInterval: number;
}

/**
 * Starts the cheap execution events (GC, heap after GC, event-loop utilization) and the background
 * flush; returns the function that stops them.
 */
export function startExecutionEvents(options: ExecutionEventOptions): () => void {
  let observer: PerformanceObserver | null = null;
  if (options.gc || options.heap) {
    observer = new PerformanceObserver((list) => {
      const observedAt = now();
      for (const entry of list.getEntries()) {
        if (!options.gc) continue;
        const kind = (entry as { detail?: { kind?: number } }).detail?.kind ?? 0;
        record(EventType.GC, -1, kind, observedAt - entry.startTime, entry.duration, undefined);
      }
      if (options.heap) record(EventType.Heap, -1, -1, getHeapStatistics().used_heap_size, 0, undefined);
    });
    observer.observe({ entryTypes: ['gc'] });
  }

  let lastElu: EventLoopUtilization = performance.eventLoopUtilization();
  let lastSample = now();
  const timer = setInterval(() => {
    if (options.eventLoop) {
      const elu = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(elu, lastElu);
      const t = now();
      record(EventType.EventLoop, -1, -1, Math.round(delta.utilization * 1e6), t - lastSample, undefined);
      lastElu = elu;
      lastSample = t;
    }
    flush();
  }, options.sampleInterval);
  // The tracer must never keep a program alive.
  timer.unref();

  return () => {
    clearInterval(timer);
    observer?.disconnect();
  };
}
