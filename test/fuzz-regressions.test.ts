// Bugs the fuzzer found (npm run fuzz, docs/fuzzing.md), each on the smallest trace that shows it. The
// traces are built by hand from docs/format.md (fuzz/frames.mjs).
import { analyzeTrace, summarizeTrace } from 'tstrace/reader';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript module without declarations
import { encodeTrace, TYPE } from '../fuzz/frames.mjs';

const ev = (type: number, dt: number, flow: number | undefined, task: number | undefined, ...args: unknown[]) => ({ type, dt, flow, task, args });
const statsOnly = <T extends { status: unknown }>(stats: T) => JSON.stringify({ ...stats, status: null, tasks: undefined, regions: undefined, logs: undefined });

describe('fuzz regressions', () => {
  it('a flow started twice keeps its open regions: analyzeTrace has the statistics of summarizeTrace', async () => {
    // Flow 2 is forked, opens "a", is forked again (a damaged or spliced trace), then ends "a".
    const bytes = encodeTrace({
      header: {},
      batches: [
        {
          baseTs: 0,
          events: [
            ev(TYPE.FlowStart, 1, 2, undefined, 1),
            ev(TYPE.RegionStart, 1, 2, 0, { s: 'a' }, { loc: null }),
            ev(TYPE.FlowStart, 1, 2, undefined, 1),
            ev(TYPE.RegionEnd, 5, 2, undefined, { s: 'a' }),
          ],
        },
      ],
      footer: { events: 4, dropped: 0, endTs: 10 },
    });
    const summary = await summarizeTrace(bytes);
    const analysis = await analyzeTrace(bytes);
    expect(summary.regionGroups).toMatchObject([{ type: 'a', count: 1, complete: 1 }]);
    expect(analysis.problems).toEqual([]);
    expect(analysis.regions).toMatchObject([{ id: 1, type: 'a', flow: 2, complete: true, start: 2, end: 8 }]);
    expect(statsOnly(analysis)).toBe(statsOnly(summary));
  });
});
