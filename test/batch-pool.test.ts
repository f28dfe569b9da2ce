/**
 * Batch buffers used again (runtime/batch-pool.ts): a trace streamed to a file while the program runs
 * and yields, its buffers recycled many times over, reads back event for event; the pool takes back
 * only its own buffers, once each.
 */
import { describe, expect, it } from 'vitest';
import { loadTrace } from '../analysis/reader.js';
import { acquireBatch, idleBatchBuffers, releaseBatch } from '../runtime/batch-pool.js';
import { background, newTask, start, startRegion, stop } from '../runtime/index.js';
import { enter, exit, site } from '../runtime/instrument.js';
import { tempTracePath } from './helpers/trace.js';

describe('batch buffers used again', () => {
  it('a trace of many batches, written while the program yields, holds every event as recorded', async () => {
    const path = tempTracePath();
    start(path, { gc: false, heap: false, eventLoop: false });
    const [ctx] = newTask(background, 'pool');
    const sites = Array.from({ length: 7 }, (_, k) => site(`compiled${k}`, 'pool.ts', k + 1, 1, `compiled${k}`));
    const expected: string[] = [];
    // 40 chunks of 5,000 pairs (about 10,000 events, more than a batch, so that batches wait in the
    // file's queue while another is written), each name sequence different from the one before.
    for (let chunk = 0; chunk < 40; chunk++) {
      for (let i = 0; i < 5000; i++) {
        const k = (chunk * 31 + i) % 7;
        if (i % 2 === 0) {
          const name = `r${chunk}-${k}`;
          startRegion(ctx, name).end();
          expected.push(name);
        } else {
          exit(enter(sites[k], ctx));
          expected.push(`compiled${k}`);
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Buffers came back from the file and were used again.
    expect(idleBatchBuffers()).toBeGreaterThan(0);
    await stop();
    const { events, status } = await loadTrace(path);
    expect(status.complete).toBe(true);
    expect(status.footer?.dropped).toBe(0);
    const starts = events.filter((e) => e.kind === 'regionStart');
    expect(starts.map((e) => (e as { type: string }).type)).toEqual(expected);
    expect(events.filter((e) => e.kind === 'regionEnd')).toHaveLength(expected.length);
    // Time never goes back: no batch holds bytes of another.
    for (let i = 1; i < events.length; i++) expect(events[i].ts).toBeGreaterThanOrEqual(events[i - 1].ts);
  });

  it('takes back only its own buffers, each once', () => {
    // Empty the pool first (the test before filled it).
    while (idleBatchBuffers() > 0) acquireBatch(1);
    const before = 0;
    const a = acquireBatch(100);
    expect(a.length).toBe(100);
    releaseBatch(a);
    releaseBatch(a);
    expect(idleBatchBuffers()).toBe(before + 1);
    releaseBatch(new Uint8Array(100)); // not the pool's
    releaseBatch(acquireBatch(1 << 20)); // too big to be pooled
    expect(idleBatchBuffers()).toBe(before + 1);
    // The next batch uses the idle buffer; two batches at once never share one.
    const b = acquireBatch(10);
    const c = acquireBatch(10);
    expect(b.buffer).not.toBe(c.buffer);
    expect(b.buffer === a.buffer || c.buffer === a.buffer).toBe(true);
  });

  it('serves a batch only from a buffer that holds it, and follows the batches as they grow', () => {
    while (idleBatchBuffers() > 0) acquireBatch(1);
    // 16 buffers for small batches wait; a bigger batch fits none of them and gets fresh memory.
    const small = Array.from({ length: 16 }, () => acquireBatch(1000));
    for (const batch of small) releaseBatch(batch);
    expect(idleBatchBuffers()).toBe(16);
    const smallBuffers = new Set(small.map((batch) => batch.buffer));
    const big = acquireBatch(60_000);
    expect(big.length).toBe(60_000);
    expect(smallBuffers.has(big.buffer as ArrayBuffer)).toBe(false);
    // The oldest small one made room for it: released, the big buffer is pooled and used again.
    expect(idleBatchBuffers()).toBe(15);
    releaseBatch(big);
    expect(acquireBatch(50_000).buffer).toBe(big.buffer);
    // A small batch still takes a small buffer.
    expect(smallBuffers.has(acquireBatch(900).buffer as ArrayBuffer)).toBe(true);
  });
});
