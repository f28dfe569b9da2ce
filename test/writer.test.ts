import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { background, log, newTask, start, startRegion, stop, withRegion } from '../runtime/index.js';
import { loadTrace } from '../analysis/reader.js';
import { sleep } from './helpers/trace.js';

/** A Writable that keeps what it was given, calling back after `delayMs` (0 = at once). */
function collectingWriter(options: { delayMs?: number; failAfterBytes?: number; highWaterMark?: number } = {}) {
  const chunks: Buffer[] = [];
  let bytes = 0;
  const stream = new Writable({
    highWaterMark: options.highWaterMark ?? 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      if (options.failAfterBytes !== undefined && bytes + chunk.length > options.failAfterBytes) {
        callback(new Error('disk full (simulated)'));
        return;
      }
      chunks.push(chunk);
      bytes += chunk.length;
      if (options.delayMs) setTimeout(callback, options.delayMs);
      else callback();
    },
  });
  return { stream, bytes: () => Buffer.concat(chunks) };
}

function burst(n: number): void {
  const [ctx, task] = newTask(background, 'burst');
  for (let i = 0; i < n; i++) {
    const region = startRegion(ctx, 'r');
    log(ctx, 'i', String(i));
    region.end();
  }
  task.end();
}

describe('writers', () => {
  it('streams to a Writable; stop() resolves once every byte reached it', async () => {
    const writer = collectingWriter({ delayMs: 1 });
    start(writer.stream, { gc: false, heap: false, eventLoop: false });
    burst(20_000);
    await stop();
    const { events, status } = await loadTrace(writer.bytes());
    expect(status.complete).toBe(true);
    expect(events.filter((e) => e.kind === 'log')).toHaveLength(20_000);
  });

  it('a failing writer never throws into the program; stop() rejects with its error; what was written reads', async () => {
    const writer = collectingWriter({ failAfterBytes: 100_000 });
    start(writer.stream, { gc: false, heap: false, eventLoop: false, sampleInterval: 1 });
    for (let round = 0; round < 20; round++) {
      expect(() => burst(5_000)).not.toThrow();
      await sleep(2);
    }
    expect(withRegion(background, 'still works', () => 7)).toBe(7);
    await expect(stop()).rejects.toThrow('disk full (simulated)');
    const { events, status } = await loadTrace(writer.bytes());
    expect(status.complete).toBe(false);
    expect(status.problem?.kind).toBe('unfinished');
    const logs = events.filter((e) => e.kind === 'log');
    expect(logs.length).toBeGreaterThan(0);
    logs.forEach((e, i) => expect(e).toMatchObject({ message: String(i) }));
  });

  it('a writer slower than the event rate costs bounded memory: events are dropped, counted and reported', async () => {
    const writer = collectingWriter({ delayMs: 20, highWaterMark: 1024 });
    const bound = 256 * 1024;
    start(writer.stream, { gc: false, heap: false, eventLoop: false, maxBufferedBytes: bound, sampleInterval: 1 });
    const total = 2_000_000;
    let maxQueued = 0;
    const tracer = (globalThis as Record<symbol, { trace: { sink: { queuedBytes: number } } | null }>)[Symbol.for('tstrace.tracer.v3')];
    for (let round = 0; round < total / 100_000; round++) {
      burst(100_000 / 3);
      maxQueued = Math.max(maxQueued, tracer.trace!.sink.queuedBytes);
      await sleep(0);
    }
    await stop();
    // The bound holds up to one batch of slack (a batch is cut at 64 KiB; a hot buffer is at most ~8k events).
    expect(maxQueued).toBeLessThan(bound + 512 * 1024);
    const { events, status } = await loadTrace(writer.bytes());
    expect(status.complete).toBe(true);
    const droppedInEvents = events.reduce((sum, e) => sum + (e.kind === 'dropped' ? e.count : 0), 0);
    expect(status.footer!.dropped).toBeGreaterThan(0);
    expect(droppedInEvents).toBe(status.footer!.dropped);
    const kept = events.filter((e) => e.kind !== 'dropped').length;
    expect(kept + status.footer!.dropped).toBe(status.footer!.events);
  });
});
