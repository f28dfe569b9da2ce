// What the flight recorder keeps of the batches that leave its window (runtime/window-start.ts): the
// tasks and regions still open, written at the start of a snapshot; and a batch it cannot read never
// stops the program.
import { describe, expect, test } from 'vitest';
import { scanBatch } from '../format/batch-scan.js';
import { BatchEncoder } from '../format/encode.js';
import { FlightRing } from '../runtime/flight-ring.js';
import { WindowStart } from '../runtime/window-start.js';

/** The regions a preamble batch opens, as `flow:type`. */
function openedBy(preamble: Uint8Array): string[] {
  const definitions = { strings: [''], locations: [null] };
  const opened: string[] = [];
  const ignore = (): void => {};
  scanBatch(preamble, definitions, {
    taskCreate: ignore,
    taskEnd: ignore,
    flowStart: ignore,
    regionStart: (_ts, flow, _task, type) => opened.push(`${flow}:${definitions.strings[type]}`),
    regionEnd: ignore,
    endedOutOfOrder: ignore,
  });
  return opened;
}

describe('the window start', () => {
  test('keeps a region open on a new flow even when that flow is the one that makes it sweep its flows', () => {
    // 1,024 flows, each with a region still open when its batch leaves the window: the 1,024th new
    // flow is the one at which the window start looks for flows it can forget.
    const e = new BatchEncoder();
    e.begin(0);
    for (let flow = 2; flow < 2 + 1024; flow++) e.regionStart(flow, flow, 0, 'handle', null);
    const window = new WindowStart();
    window.pass(e.finish());
    const opened = openedBy(window.preamble(10_000));
    expect(opened).toHaveLength(1024);
    expect(opened.at(-1)).toBe('1025:handle');
  });

  test('logs in a batch leaving the window are stepped over: the regions after them stay open', () => {
    const e = new BatchEncoder();
    e.begin(0);
    e.log(1, 1, 0, 'url', '/orders/17 for task 3', null);
    e.regionStart(2, 1, 0, 'handle', null);
    e.log(3, 1, 0, 'status', '200', null);
    const window = new WindowStart();
    window.pass(e.finish());
    expect(openedBy(window.preamble(10))).toEqual(['1:handle']);
  });
});

describe('a batch the flight recorder cannot read as it leaves the window', () => {
  test('the program goes on, with one warning that says what its snapshots may lack', async () => {
    const ring = new FlightRing({ t0: performance.now(), wallNs: 0n, hrtimeNs: 0n }, 0, 0, 1);
    // An events frame whose only event has a type no version defines.
    const e = new BatchEncoder();
    e.begin(0);
    e.heap(5, 100);
    const bad = e.finish();
    bad[10] = 0x3f;
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      // Each batch held is more than maxBytes (1): it leaves the window at once.
      expect(() => ring.take(bad, 0, 1)).not.toThrow();
      expect(() => ring.take(bad, 0, 1)).not.toThrow();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: 'TSTRACE_FLIGHT', message: expect.stringContaining('unknown event type 63 at byte 10') });
    expect(warnings[0].message).toContain('may lack tasks and regions that began before their window');
  });
});
