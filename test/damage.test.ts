import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { background, log, newTask, withRegion } from '../runtime/index.js';
import type { ReadStatus, TraceEvent } from '../format/events.js';
import { loadTrace, readTrace } from '../analysis/reader.js';
import { traceOf } from './helpers/trace.js';

/** A small real trace with several batches (a batch is cut every 64 KiB). */
async function sampleTrace(): Promise<{ bytes: Buffer; events: TraceEvent[] }> {
  const { path, events } = await traceOf(() => {
    for (let i = 0; i < 4_000; i++) {
      const [ctx, task] = newTask(background, `task-${i % 7}`);
      withRegion(ctx, 'region', () => log(ctx, 'category', `message ${i} ${'·'.repeat(i % 13)}`));
      task.end();
    }
  });
  return { bytes: readFileSync(path), events };
}

/** Asserts `read` is a prefix of `all` (compared as JSON, fast enough for thousands of reads). */
function same(read: TraceEvent[], all: TraceEvent[]): void {
  expect(read.length).toBeLessThanOrEqual(all.length);
  const mismatch = read.findIndex((e, i) => JSON.stringify(e) !== JSON.stringify(all[i]));
  expect(mismatch).toBe(-1);
}

describe('damaged traces', () => {
  it('a file cut at any byte reads up to its last complete batch and says where and why it stopped', async () => {
    const { bytes, events: all } = await sampleTrace();
    const cuts = new Set<number>();
    for (let cut = 0; cut < 200; cut++) cuts.add(cut);
    for (let cut = 200; cut < bytes.length; cut += 1999) cuts.add(cut);
    let previousCount = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      const { events, status } = await loadTrace(bytes.subarray(0, cut));
      same(events, all);
      expect(events.length).toBeGreaterThanOrEqual(previousCount);
      previousCount = events.length;
      expect(status.complete).toBe(false);
      expect(status.problem!.kind === 'truncated' || status.problem!.kind === 'unfinished').toBe(true);
      expect(status.problem!.offset).toBe(status.bytesRead);
      expect(status.bytesRead).toBeLessThanOrEqual(cut);
      expect(status.problem!.reason).toMatch(/ends|footer|too short/);
      if (cut > 0 && cut < 8) expect(status.problem!.reason).toBe(`the file is ${cut} byte${cut === 1 ? '' : 's'}, too short for a trace header`);
    }
    expect(previousCount).toBeGreaterThan(all.length / 2);
  });

  it('a flipped bit anywhere gives a clear error with its offset, and every batch before it', async () => {
    const { bytes, events: all } = await sampleTrace();
    const positions = [0, 3, 8, 9, 12, 17, 20, 40, 100];
    for (let at = 200; at < bytes.length; at += 3001) positions.push(at);
    positions.push(bytes.length - 1);
    for (const at of positions) {
      for (const bit of [0, 3, 7]) {
        const damaged = Buffer.from(bytes);
        damaged[at] ^= 1 << bit;
        const { events, status } = await loadTrace(damaged);
        same(events, all);
        expect(status.complete, `flip at ${at} bit ${bit}`).toBe(false);
        expect(status.problem!.offset).toBeLessThanOrEqual(at);
        expect(status.problem!.reason.length).toBeGreaterThan(10);
      }
    }
  });

  it('does not trust length fields: a frame claiming 4 GiB is reported, not allocated', async () => {
    const { bytes } = await sampleTrace();
    const damaged = Buffer.from(bytes);
    damaged.writeUInt32LE(0xffff_fff0, 8); // the header frame's length
    const { status } = await loadTrace(damaged);
    expect(status.problem).toMatchObject({ kind: 'corrupt', offset: 8 });
    expect(status.problem!.reason).toMatch(/declares 4294967280 bytes/);
  });

  it('says plainly when a file is not a trace at all', async () => {
    const { status, events } = await loadTrace(Buffer.from('{"traceEvents": []}\n'));
    expect(events).toEqual([]);
    expect(status.problem).toMatchObject({ kind: 'corrupt', offset: 0 });
    expect(status.problem!.reason).toMatch(/not a tstrace file/);
  });

  it('reads the same events from a stream of tiny chunks as from the whole file', async () => {
    const { bytes, events: all } = await sampleTrace();
    async function* chunks() {
      for (let at = 0; at < bytes.length; at += 7) yield bytes.subarray(at, at + 7);
    }
    const events: TraceEvent[] = [];
    const status: ReadStatus = await readTrace(chunks(), (e) => events.push(e));
    expect(status.complete).toBe(true);
    expect(events).toEqual(all);
  });
});
