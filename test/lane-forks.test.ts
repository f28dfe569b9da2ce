// A region that starts on a lane of its own (every async call, every async withRegion) is recorded as
// one event, ForkedRegionStart (format version 7): the lane's fork and the region's start, read back
// as the FlowStart and the RegionStart they stand for.
import { crc32 } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { loadTrace } from '../analysis/reader.js';
import { scanBatch, type BatchVisitor } from '../format/batch-scan.js';
import { BatchEncoder } from '../format/encode.js';
import type { TraceEvent } from '../format/events.js';
import { FORMAT_VERSION, FRAME_HEADER_BYTES, MAGIC } from '../format/spec.js';
import { background, newTask, withRegion } from '../runtime/index.js';
import { encodedTrace, sleep, traceOf } from './helpers/trace.js';

const header = (version: number) => ({ version, wallClockOriginNs: 0n, hrtimeOriginNs: 0n, pid: 1, nodeVersion: 'v24', command: 'x' });
const here = { file: '/srv/orders.ts', line: 12, column: 3, function: 'Orders.fetch' };
const forked = (e: BatchEncoder): void => {
  e.regionStart(1_000, 1, 2, 'handle', null);
  e.forkedRegionStart(2_000, 5, 2, 'Orders.fetch', here, 1, 0);
  e.regionEnd(9_000, 5, 'Orders.fetch');
};

describe('ForkedRegionStart in the format', () => {
  test('reads back as the fork of the lane and the start of its region, at one time', async () => {
    const { events, status } = await loadTrace(encodedTrace(header(FORMAT_VERSION), forked));
    expect(status.problem).toBeNull();
    expect(events).toEqual([
      { kind: 'regionStart', ts: 1_000, flow: 1, task: 2, type: 'handle', location: null },
      { kind: 'flowStart', ts: 2_000, flow: 5, parentFlow: 1, regionsAbove: 0 },
      { kind: 'regionStart', ts: 2_000, flow: 5, task: 2, type: 'Orders.fetch', location: here },
      { kind: 'regionEnd', ts: 9_000, flow: 5, type: 'Orders.fetch' },
    ]);
  });

  test('the flight recorder’s scan of a batch sees the same fork and start', () => {
    const e = new BatchEncoder();
    e.begin(0);
    forked(e);
    const seen: string[] = [];
    const visitor: BatchVisitor = {
      taskCreate: () => seen.push('taskCreate'),
      taskEnd: () => seen.push('taskEnd'),
      flowStart: (flow, parentFlow, regionsAbove) => seen.push(`flowStart ${flow} from ${parentFlow} above ${regionsAbove}`),
      regionStart: (ts, flow, task) => seen.push(`regionStart ${ts} flow ${flow} task ${task}`),
      regionEnd: (flow) => seen.push(`regionEnd ${flow}`),
      endedOutOfOrder: () => seen.push('endedOutOfOrder'),
    };
    scanBatch(e.finish(), { strings: [''], locations: [null] }, visitor);
    expect(seen).toEqual(['regionStart 1000 flow 1 task 2', 'flowStart 5 from 1 above 0', 'regionStart 2000 flow 5 task 2', 'regionEnd 5']);
  });

  test('in a trace of version 6, which has no such event, it is corruption with a clear message', async () => {
    const bytes = asVersion(6, encodedTrace(header(FORMAT_VERSION), forked));
    const { events, status } = await loadTrace(bytes);
    expect(status.problem).toMatchObject({ kind: 'corrupt', reason: expect.stringContaining('unknown event type 16') });
    expect(events).toEqual([]);
    expect((await loadTrace(asVersion(7, bytes))).status.problem).toBeNull();
  });
});

/** `trace` with the version its header says changed to `version` (the header frame's crc made again). */
function asVersion(version: number, trace: Buffer): Buffer {
  const bytes = Buffer.from(trace);
  const frame = MAGIC.length;
  const payloadLength = bytes.readUInt32LE(frame);
  // The header's payload starts with the version, a one-byte varint.
  bytes[frame + FRAME_HEADER_BYTES] = version;
  bytes.writeUInt32LE(crc32(bytes.subarray(frame + 8, frame + FRAME_HEADER_BYTES + payloadLength)), frame + 4);
  return bytes;
}

describe('what the runtime records for lanes of their own', () => {
  test('concurrent async regions: each lane forked under its enclosing region, one event each in the file', async () => {
    const [ctx, task] = newTask(background, 'order');
    const { events, status } = await traceOf(async () => {
      await withRegion(ctx, 'order.prepare', async () => {
        await Promise.all(
          ['grind', 'steam', 'pour'].map((step) =>
            withRegion(ctx, step, async () => {
              await sleep(1);
            }),
          ),
        );
      });
      task.end();
    });
    expect(status.problem).toBeNull();
    const starts = events.filter((e): e is Extract<TraceEvent, { kind: 'regionStart' }> => e.kind === 'regionStart');
    const forks = events.filter((e): e is Extract<TraceEvent, { kind: 'flowStart' }> => e.kind === 'flowStart');
    const outer = starts.find((s) => s.type === 'order.prepare')!;
    // The outer region (async too) and each step are forked, each at its region's own time, right before it.
    expect(forks).toHaveLength(4);
    for (const step of ['grind', 'steam', 'pour']) {
      const start = starts.find((s) => s.type === step)!;
      const fork = events[events.indexOf(start) - 1];
      expect(fork).toEqual({ kind: 'flowStart', ts: start.ts, flow: start.flow, parentFlow: outer.flow, regionsAbove: 0 });
    }
    // Recorded (the footer counts what the runtime recorded): one event per fork and region start, not two.
    expect(status.footer?.events).toBe(events.length - forks.length);
  });
});
