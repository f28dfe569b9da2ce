/**
 * The analysis (`tstrace/reader`'s analyzeTrace): what `go tool trace` computes for tasks, regions and
 * logs, specified on traces the runtime writes, and on synthesized traces where exact timestamps matter.
 */
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { sleep, traceOf } from './helpers/trace.js';
import { BatchEncoder, encodeFileStart, encodeFooter } from '../format/encode.js';
import type { SourceLocation } from '../format/events.js';
import { FORMAT_VERSION } from '../format/spec.js';
import { background, current, log, newTask, startRegion, withContext, withRegion, type StartOptions } from '../runtime/index.js';
import {
  analyzeTrace,
  bucketLowerBound,
  durationStats,
  EXACT_VALUES,
  latencyBucket,
  LISTED_PROBLEMS,
  nearestRank,
  summarizeTrace,
  type RegionInfo,
  type TaskInfo,
  type TraceAnalysis,
} from '../reader/index.js';

/** Runs `body` while tracing to a fresh file (no sampled execution events) and analyses the trace. */
async function traceAndAnalyze(body: () => unknown, options: StartOptions = {}): Promise<TraceAnalysis> {
  return analyzeTrace((await traceOf(body, options)).path);
}

/** A trace with exactly the events `write` encodes (one batch, timestamps must not decrease), and a footer ending at `endTs` unless it is null. */
function synthesize(write: (batch: BatchEncoder) => void, endTs: number | null, footerDropped = 0): Uint8Array {
  const encoder = new BatchEncoder();
  encoder.begin(0);
  write(encoder);
  const parts = [
    encodeFileStart({ version: 1, wallClockOriginNs: 1_700_000_000_000_000_000n, hrtimeOriginNs: 0n, pid: 42, nodeVersion: 'v20.0.0', command: 'node synth' }),
    encoder.finish(),
  ];
  if (endTs !== null) parts.push(encodeFooter({ events: 0, dropped: footerDropped, endTs }));
  return Buffer.concat(parts);
}

const taskOfType = (analysis: TraceAnalysis, type: string): TaskInfo => {
  const task = analysis.tasks.find((t) => t.type === type);
  if (!task) throw new Error(`no task of type ${type}`);
  return task;
};
const regionOfType = (analysis: TraceAnalysis, type: string): RegionInfo => {
  const region = analysis.regions.find((r) => r.type === type);
  if (!region) throw new Error(`no region of type ${type}`);
  return region;
};

describe('tasks', () => {
  test("task tree: parents, children and regions per task (Go's TestAnalyzeAnnotationTaskTree)", async () => {
    const analysis = await traceAndAnalyze(() => {
      const [ctx1, task1] = newTask(background, 'task1');
      withRegion(ctx1, 'task1.region', () => {
        const [ctx2, task2] = newTask(ctx1, 'task2');
        withRegion(ctx2, 'task2.region', () => {
          const [ctx3, task3] = newTask(ctx2, 'task3');
          withRegion(ctx3, 'task3.region', () => {});
          task3.end();
        });
        task2.end();
      });
      task1.end();
    });

    const task1 = taskOfType(analysis, 'task1');
    const task2 = taskOfType(analysis, 'task2');
    const task3 = taskOfType(analysis, 'task3');
    const typeOf = (id: number): string => analysis.tasks.find((t) => t.id === id)!.type;
    const regionTypes = (task: TaskInfo): string[] => task.regions.map((id) => analysis.regions.at(id - 1)!.type);

    expect(task1.parent).toBe(0);
    expect(task1.children.map(typeOf)).toEqual(['task2']);
    expect(regionTypes(task1)).toEqual(['task1.region']);
    expect(task2.parent).toBe(task1.id);
    expect(task2.children.map(typeOf)).toEqual(['task3']);
    expect(regionTypes(task2)).toEqual(['task2.region']);
    expect(task3.parent).toBe(task2.id);
    expect(task3.children).toEqual([]);
    expect(regionTypes(task3)).toEqual(['task3.region']);
    for (const task of [task1, task2, task3]) expect(task.complete).toBe(true);
    // The regions nest like the calls: task3.region ⊂ task2.region ⊂ task1.region.
    expect(regionOfType(analysis, 'task1.region').parent).toBeNull();
    expect(regionOfType(analysis, 'task2.region').parent).toBe(regionOfType(analysis, 'task1.region').id);
    expect(regionOfType(analysis, 'task3.region').parent).toBe(regionOfType(analysis, 'task2.region').id);
    expect(analysis.problems).toEqual([]);
  });

  test("a task's history is in time order: creation, region start with its duration, log, region end, end — and a log after the end still belongs to it", async () => {
    const analysis = await traceAndAnalyze(async () => {
      const [ctx, task] = newTask(background, 'order');
      await withRegion(ctx, 'brew', async () => {
        await sleep(2);
        log(current(), 'step', 'brewed');
      });
      task.end();
      log(ctx, 'late', 'after the end');
    });

    const task = taskOfType(analysis, 'order');
    const brew = regionOfType(analysis, 'brew');
    expect(task.events.map((e) => e.kind)).toEqual(['create', 'regionStart', 'log', 'regionEnd', 'end', 'log']);
    expect(task.events[1]).toMatchObject({ kind: 'regionStart', region: brew.id, type: 'brew', duration: brew.end - brew.start, complete: true });
    expect(task.events[2]).toMatchObject({ kind: 'log', category: 'step', message: 'brewed' });
    expect(task.events[5]).toMatchObject({ kind: 'log', category: 'late', message: 'after the end' });
    const times = task.events.map((e) => e.ts);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // The log after the end does not move the end: latency is creation → end.
    expect(task.latency).toBe(task.events[4].ts - task.events[0].ts);
    expect(brew.duration).toBeGreaterThanOrEqual(1_000_000);
    // The region of an async function runs on a flow forked for it: the task touched both flows.
    expect(task.flows).toEqual([...new Set([task.events[0].flow, brew.flow])].sort((a, b) => a - b));
    expect(task.flows).toHaveLength(2);
    expect(analysis.logCategories).toEqual([
      { category: 'late', count: 1 },
      { category: 'step', count: 1 },
    ]);
  });

  test('incomplete tasks: the trace end stands in for a missing end, the trace start for a missing creation; counts include them, latency stats do not', async () => {
    const bytes = synthesize((b) => {
      b.taskCreate(100, 1, 1, 0, 'A', null);
      b.taskCreate(200, 1, 2, 0, 'A', null); // never ends
      b.taskEnd(300, 1, 3, null); // created before the trace started
      b.taskEnd(600, 1, 1, null);
    }, 1000);
    const analysis = await analyzeTrace(bytes);

    expect(analysis.summary.duration).toBe(1000);
    const [t1, t2, t3] = analysis.tasks;
    expect(t1).toMatchObject({ id: 1, type: 'A', complete: true, start: 100, end: 600, latency: 500 });
    expect(t2).toMatchObject({ id: 2, type: 'A', complete: false, created: true, ended: false, start: 200, end: 1000, latency: 800 });
    expect(t3).toMatchObject({ id: 3, type: '', parent: null, complete: false, created: false, ended: true, start: 0, end: 300, latency: 300 });
    expect(analysis.taskTypes).toEqual([
      { type: '', count: 1, complete: 0, latency: null, histogram: [] },
      {
        type: 'A',
        count: 2,
        complete: 1,
        latency: { min: 500, p50: 500, p90: 500, p99: 500, max: 500, exact: true },
        histogram: [{ bucket: 13, lowerBound: 398, count: 1 }],
      },
    ]);
    // A task without creation is incomplete, not a problem.
    expect(analysis.problems).toEqual([]);
  });

  test('without a footer the trace ends at its last event', async () => {
    const bytes = synthesize((b) => {
      b.taskCreate(100, 1, 1, 0, 'A', null);
      b.log(700, 1, 1, 'c', 'last', null);
    }, null);
    const analysis = await analyzeTrace(bytes);
    expect(analysis.status.problem?.kind).toBe('unfinished');
    expect(analysis.summary.duration).toBe(700);
    expect(analysis.tasks.at(0)).toMatchObject({ complete: false, end: 700, latency: 600 });
  });

  test('only the first end counts; another one is reported', async () => {
    const bytes = synthesize((b) => {
      b.taskCreate(100, 1, 1, 0, 'A', null);
      b.taskEnd(400, 1, 1, null);
      b.taskEnd(900, 2, 1, null);
    }, 1000);
    const analysis = await analyzeTrace(bytes);
    expect(analysis.tasks.at(0)).toMatchObject({ end: 400, latency: 300, complete: true });
    expect(analysis.tasks.at(0)!.events.map((e) => e.kind)).toEqual(['create', 'end']);
    expect(analysis.problems).toEqual([expect.objectContaining({ kind: 'taskEndedTwice', source: 'reader', task: 1, ts: 900, flow: 2 })]);
  });

  test('a parent created before the trace is listed as an incomplete task with its children', async () => {
    const bytes = synthesize((b) => {
      b.taskCreate(100, 1, 8, 7, 'child', null);
      b.taskEnd(200, 1, 8, null);
    }, 300);
    const analysis = await analyzeTrace(bytes);
    expect(analysis.tasks.map((t) => [t.id, t.type, t.complete, t.children])).toEqual([
      [7, '', false, [8]],
      [8, 'child', true, []],
    ]);
  });
});

describe('the lists of an analysis', () => {
  test('read like a read-only array: length, at (negative from the end), iteration, map/filter/find, slice, JSON, console.log', async () => {
    const bytes = synthesize((b) => {
      for (let i = 0; i < 12; i++) {
        b.regionStart(10 * i, 1, 0, i % 2 ? 'odd' : 'even', null);
        b.regionEnd(10 * i + 5, 1, i % 2 ? 'odd' : 'even');
      }
    }, 200);
    const { regions } = await analyzeTrace(bytes);
    const all = regions.toArray();
    expect(regions.length).toBe(12);
    expect(all.map((r) => r.id)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(regions.at(0)).toEqual(all[0]);
    expect(regions.at(-1)).toEqual(all[11]);
    expect(regions.at(12)).toBeUndefined();
    expect(regions.at(-13)).toBeUndefined();
    expect([...regions]).toEqual(all);
    expect(regions.filter((r) => r.type === 'odd').map((r) => r.id)).toEqual([2, 4, 6, 8, 10, 12]);
    expect(regions.find((r) => r.start === 30)?.id).toBe(4);
    expect(regions.findIndex((r) => r.start === 999)).toBe(-1);
    expect(regions.some((r) => r.duration !== 5)).toBe(false);
    expect(regions.every((r) => r.complete)).toBe(true);
    expect(regions.reduce((sum, r) => sum + r.duration, 0)).toBe(60);
    expect(regions.slice(-2).map((r) => r.id)).toEqual([11, 12]);
    expect(regions.slice(3, 5).map((r) => r.id)).toEqual([4, 5]);
    expect(JSON.parse(JSON.stringify({ regions }))).toEqual({ regions: all });
    const shown = inspect(regions, { depth: 3 });
    expect(shown).toMatch(/^ItemList\(12\) \[/);
    expect(shown).toContain("type: 'even'");
    expect(shown).toContain('… 2 more');
  });
});

describe('latency histograms: five buckets per power of ten', () => {
  test('bucket(d) = floor(ln(d) / ln(10^(1/5))), lower bound floor(10^(b/5)), by hand', () => {
    // 5 · log10(d): 1000 → 15 exactly; 1500 → 15.88; 1584 → 15.9995; 1585 → 16.00004.
    expect(latencyBucket(1000)).toBe(15);
    expect(bucketLowerBound(15)).toBe(1000);
    expect(latencyBucket(1500)).toBe(15);
    expect(latencyBucket(1584)).toBe(15);
    expect(latencyBucket(1585)).toBe(16);
    expect(bucketLowerBound(16)).toBe(1584); // 10^3.2 = 1584.89…
    expect(latencyBucket(999)).toBe(14);
    expect(bucketLowerBound(14)).toBe(630); // 10^2.8 = 630.96…
    expect(latencyBucket(10)).toBe(5);
    expect(latencyBucket(2)).toBe(1); // 10^0.2 = 1.58…
    expect(bucketLowerBound(1)).toBe(1);
    expect(latencyBucket(1_000_000)).toBe(30);
    expect(latencyBucket(999_999)).toBe(29);
    expect(latencyBucket(1_000_000_000)).toBe(45);
    expect(bucketLowerBound(45)).toBe(1_000_000_000);
    expect(latencyBucket(3_600_000_000_000)).toBe(62); // one hour: 5 · log10(3.6e12) = 5 · 12.556 = 62.8
  });

  test('durations under 2ns, zero and negative ones go to bucket 0, whose lower bound is 0', () => {
    expect(latencyBucket(1)).toBe(0);
    expect(latencyBucket(0)).toBe(0);
    expect(latencyBucket(-5)).toBe(0);
    expect(bucketLowerBound(0)).toBe(0);
  });

  test('every duration is at least its bucket lower bound and below the next one', () => {
    for (let d = 1; d < 200_000; d += 1 + Math.floor(d / 100)) {
      const b = latencyBucket(d);
      expect(d).toBeGreaterThanOrEqual(bucketLowerBound(b));
      expect(d).toBeLessThan(Math.ceil(10 ** ((b + 1) / 5)));
    }
  });

  test('task latencies and region durations are counted into the non-empty buckets', async () => {
    const latencies = [1000, 1500, 1585, 10_000, 10_000];
    const bytes = synthesize((b) => {
      latencies.forEach((_, i) => b.taskCreate(i, 1, i + 1, 0, 'T', null));
      latencies.forEach((_, i) => b.regionStart(10 + i, 1, 0, 'R', null));
      // Task i ends `latency` after its creation; ends are written in time order.
      const ends = latencies.map((latency, i) => ({ i, at: i + latency })).sort((x, y) => x.at - y.at);
      for (const { i, at } of ends) b.taskEnd(at, 1, i + 1, null);
      for (let i = latencies.length - 1; i >= 0; i--) b.regionEnd(100_000 + (latencies.length - 1 - i), 1, 'R');
    }, 200_000);
    const analysis = await analyzeTrace(bytes);
    expect(analysis.taskTypes[0].histogram).toEqual([
      { bucket: 15, lowerBound: 1000, count: 2 },
      { bucket: 16, lowerBound: 1584, count: 1 },
      { bucket: 20, lowerBound: 10_000, count: 2 },
    ]);
    // Regions started at 10..14, ended at 100,000..100,004 (innermost first): all just under 100µs, bucket 24.
    expect(analysis.regionGroups[0].histogram).toEqual([{ bucket: 24, lowerBound: 63_095, count: 5 }]);
  });
});

describe('percentiles (nearest rank)', () => {
  test('p-th percentile of n sorted values is the value at rank ceil(p/100 · n)', () => {
    expect(nearestRank([10, 20, 30], 50)).toBe(20);
    expect(nearestRank([10, 20, 30], 90)).toBe(30);
    expect(nearestRank([10, 20, 30], 1)).toBe(10);
    expect(nearestRank([10, 20, 30, 40], 50)).toBe(20);
    expect(durationStats([])).toBeNull();
    expect(durationStats([5, 1, 3])).toEqual({ min: 1, p50: 3, p90: 5, p99: 5, max: 5, exact: true });
  });

  test('past 65,536 durations, percentiles come from a sketch: within 1/2048 of the exact ones, exact under 2048 ns; min and max stay exact', () => {
    // Whole-ns durations spread over 1 ns..10 s on a log scale, in a scrambled order.
    const n = EXACT_VALUES * 3;
    const values = Array.from({ length: n }, (_, k) => Math.floor(10 ** (((k * 7919) % n) / (n / 10))));
    const stats = durationStats(values)!;
    const sorted = Float64Array.from(values).sort();
    expect(stats.exact).toBe(false);
    expect(stats.min).toBe(sorted[0]);
    expect(stats.max).toBe(sorted[n - 1]);
    for (const p of [50, 90, 99] as const) {
      const exact = nearestRank(sorted, p);
      expect(Math.abs(stats[`p${p}`] - exact)).toBeLessThanOrEqual(exact / 2048);
    }
    // Short durations are counted to the nanosecond.
    const short = Array.from({ length: n }, (_, k) => (k * 31) % 2048);
    const shortSorted = Float64Array.from(short).sort();
    expect(durationStats(short)).toEqual({ min: 0, p50: nearestRank(shortSorted, 50), p90: nearestRank(shortSorted, 90), p99: nearestRank(shortSorted, 99), max: 2047, exact: false });
    // Up to the limit they are exact.
    expect(durationStats(values.slice(0, EXACT_VALUES))!.exact).toBe(true);
  });

  test('task latency min/p50/p90/p99/max over 100 complete tasks of 1..100µs', async () => {
    // Task `id` lasts id µs; the tasks are created in a shuffled order of ids, at 0, 1, 2… ns.
    const ids = Array.from({ length: 100 }, (_, k) => ((k * 37) % 100) + 1);
    const bytes = synthesize((b) => {
      ids.forEach((id, k) => b.taskCreate(k, 1, id, 0, 'T', null));
      const ends = ids.map((id, k) => ({ id, at: k + id * 1000 })).sort((x, y) => x.at - y.at);
      for (const { id, at } of ends) b.taskEnd(at, 1, id, null);
    }, 1_000_000);
    const analysis = await analyzeTrace(bytes);
    expect(analysis.taskTypes[0]).toMatchObject({
      count: 100,
      complete: 100,
      latency: { min: 1000, p50: 50_000, p90: 90_000, p99: 99_000, max: 100_000 },
    });
  });
});

describe('regions', () => {
  test('ids in start order from 1; an open region at the end is incomplete and ends at the trace end', async () => {
    const bytes = synthesize((b) => {
      b.regionStart(10, 1, 0, 'outer', null);
      b.regionStart(20, 1, 0, 'inner', null);
      b.regionEnd(50, 1, 'inner');
    }, 100);
    const analysis = await analyzeTrace(bytes);
    expect(analysis.regions.toArray()).toEqual([
      { id: 1, type: 'outer', task: 0, flow: 1, thread: 0, parent: null, start: 10, end: 100, complete: false, duration: 90, location: null, beganBefore: null },
      { id: 2, type: 'inner', task: 0, flow: 1, thread: 0, parent: 1, start: 20, end: 50, complete: true, duration: 30, location: null, beganBefore: null },
    ]);
    expect(analysis.regionGroups.find((g) => g.type === 'outer')).toMatchObject({ count: 1, complete: 0, duration: null, histogram: [] });
  });

  test('a forked flow starts under the region open on its parent flow at the fork', async () => {
    const bytes = synthesize((b) => {
      b.regionStart(10, 1, 0, 'A', null);
      b.flowStart(11, 2, 1); // forked inside A
      b.regionStart(12, 2, 0, 'B', null);
      b.flowStart(13, 3, 2); // forked inside B
      b.regionStart(14, 3, 0, 'C', null);
      b.regionEnd(15, 3, 'C');
      b.regionEnd(16, 2, 'B');
      b.flowStart(17, 4, 2); // forked from flow 2 after B ended: under A, where flow 2 itself began
      b.regionStart(18, 4, 0, 'D', null);
      b.regionStart(19, 2, 0, 'E', null); // flow 2 again: its regions still start under A
      b.regionEnd(20, 4, 'D');
      b.regionEnd(21, 2, 'E');
      b.regionEnd(22, 1, 'A');
    }, 30);
    const analysis = await analyzeTrace(bytes);
    const parentType = (type: string): string | null => {
      const parent = regionOfType(analysis, type).parent;
      return parent === null ? null : analysis.regions.at(parent - 1)!.type;
    };
    expect(['A', 'B', 'C', 'D', 'E'].map(parentType)).toEqual([null, 'A', 'B', 'A', 'A']);
    expect(analysis.regions.every((r) => r.complete)).toBe(true);
    expect(analysis.problems).toEqual([]);
  });

  test('nested regions of 50 concurrent async withRegion calls get the right parents', async () => {
    const random = (): number => Math.floor(Math.random() * 4);
    const analysis = await traceAndAnalyze(async () => {
      const [ctx, task] = newTask(background, 'fanout');
      await withRegion(ctx, 'all', async () => {
        await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            withRegion(current(), `call-${i}`, async () => {
              await sleep(random());
              withRegion(current(), `sync-${i}`, () => {});
              await withRegion(current(), `inner-${i}`, async () => {
                await sleep(random());
                await withRegion(current(), `innermost-${i}`, async () => sleep(random()));
              });
            }),
          ),
        );
      });
      task.end();
    });

    const all = regionOfType(analysis, 'all');
    for (let i = 0; i < 50; i++) {
      const call = regionOfType(analysis, `call-${i}`);
      expect(call.parent).toBe(all.id);
      expect(regionOfType(analysis, `sync-${i}`).parent).toBe(call.id);
      const inner = regionOfType(analysis, `inner-${i}`);
      expect(inner.parent).toBe(call.id);
      expect(regionOfType(analysis, `innermost-${i}`).parent).toBe(inner.id);
    }
    expect(analysis.regions).toHaveLength(1 + 50 * 4);
    expect(analysis.regions.every((r) => r.complete)).toBe(true);
    expect(analysis.problems).toEqual([]);
    // Every region belongs to the task, which touched the flows of all of them.
    const task = taskOfType(analysis, 'fanout');
    expect(task.regions).toHaveLength(analysis.regions.length);
    expect(task.flows).toEqual([...new Set(analysis.regions.map((r) => r.flow).concat(task.events[0].flow))].sort((a, b) => a - b));
  });

  test('grouped by (type, location): same type at two call sites makes two groups', async () => {
    const step = (site: 'first' | 'second'): void => {
      if (site === 'first') startRegion(background, 'step').end();
      else startRegion(background, 'step').end();
    };
    const analysis = await traceAndAnalyze(
      () => {
        for (let i = 0; i < 3; i++) step('first');
        for (let i = 0; i < 2; i++) step('second');
        startRegion(background, 'other').end();
      },
      { captureLocations: true },
    );
    const steps = analysis.regionGroups.filter((g) => g.type === 'step');
    expect(steps.map((g) => g.count).sort()).toEqual([2, 3]);
    const [a, b] = steps.map((g) => g.location as SourceLocation);
    expect(a.file).toBe(b.file);
    expect(a.file.endsWith('analysis.test.ts')).toBe(true);
    expect(a.line).not.toBe(b.line);
    // Each group is exactly the regions of its location.
    for (const group of steps) {
      const members = analysis.regions.filter((r) => r.type === 'step' && r.location === group.location);
      expect(members).toHaveLength(group.count);
      expect(group.complete).toBe(group.count);
      expect(group.duration!.max).toBe(Math.max(...members.map((r) => r.duration)));
    }
    expect(analysis.regionGroups.map((g) => g.type)).toEqual(['other', 'step', 'step']);
  });
});

describe('problems', () => {
  test("the runtime's misuse records are reported with the region's location, once each", async () => {
    let crossFlow = 0;
    const analysis = await traceAndAnalyze(
      async () => {
        const outer = startRegion(background, 'outer');
        const inner = startRegion(background, 'inner');
        outer.end(); // before inner: out of order
        inner.end();
        outer.end(); // twice
        let cross: { end(): void } | null = null;
        // A timer scheduled before the region began: another chain of execution ends it.
        const elsewhere = new Promise<void>((resolve) =>
          setTimeout(() => {
            crossFlow++;
            cross?.end();
            resolve();
          }, 1),
        );
        cross = startRegion(background, 'cross');
        await elsewhere;
      },
      { captureLocations: true },
    );
    expect(crossFlow).toBe(1);
    const location = (type: string): SourceLocation | null => regionOfType(analysis, type).location;
    expect(analysis.problems.map((p) => [p.kind, p.source, p.regionType, p.location])).toEqual([
      ['regionEndedOutOfOrder', 'runtime', 'outer', location('outer')],
      ['regionEndedTwice', 'runtime', 'outer', location('outer')],
      ['regionEndedOnOtherFlow', 'runtime', 'cross', location('cross')],
    ]);
    for (const type of ['outer', 'cross']) expect(location(type)?.file.endsWith('analysis.test.ts')).toBe(true);
    expect(location('outer')!.line).not.toBe(location('cross')!.line);
    // The regions themselves are still paired: inner stays nested in outer, all complete.
    expect(regionOfType(analysis, 'inner').parent).toBe(regionOfType(analysis, 'outer').id);
    expect(analysis.regions.every((r) => r.complete)).toBe(true);
    expect(analysis.problems.every((p) => p.message.includes(`"${p.regionType}"`))).toBe(true);
  });

  test('the reader reports a region end with no open region of its type, mentioning dropped events', async () => {
    const bytes = synthesize((b) => {
      b.regionStart(10, 1, 0, 'kept', null);
      b.regionEnd(20, 2, 'kept'); // other flow: no open "kept" there
      b.dropped(30, 5);
      b.regionEnd(40, 1, 'lost');
      b.regionEnd(50, 1, 'kept');
    }, 100);
    const analysis = await analyzeTrace(bytes);
    expect(analysis.problems.map((p) => [p.kind, p.source, p.ts, p.flow, p.regionType])).toEqual([
      ['regionEndUnmatched', 'reader', 20, 2, 'kept'],
      ['regionEndUnmatched', 'reader', 40, 1, 'lost'],
    ]);
    expect(analysis.problems[0].message).not.toMatch(/dropped/);
    expect(analysis.problems[1].message).toMatch(/5 events were dropped/);
    expect(analysis.regions.toArray()).toMatchObject([{ type: 'kept', complete: true, end: 50 }]);
  });

  test('the reader reports an out-of-order end the runtime did not record, with the region location', async () => {
    const here: SourceLocation = { file: '/src/app.ts', line: 3, column: 5, function: 'main' };
    const bytes = synthesize((b) => {
      b.regionStart(10, 1, 0, 'outer', here);
      b.regionStart(20, 1, 0, 'inner', null);
      b.regionEnd(30, 1, 'outer');
      b.regionEnd(40, 1, 'inner');
    }, 100);
    const analysis = await analyzeTrace(bytes);
    expect(analysis.problems).toEqual([
      expect.objectContaining({ kind: 'regionEndedOutOfOrder', source: 'reader', ts: 30, flow: 1, regionType: 'outer', location: here }),
    ]);
    expect(analysis.regions.map((r) => [r.type, r.end])).toEqual([
      ['outer', 30],
      ['inner', 40],
    ]);
  });
});

describe('summary', () => {
  test('duration, events, garbage collections (whose start may precede earlier events) and dropped events', async () => {
    const withFooter = synthesize((b) => {
      b.log(100, 1, 0, 'c', 'm', null);
      b.gc(200, 150, 30, 1); // started at 50
      b.dropped(300, 4);
      b.gc(400, 0, 12, 2);
      b.dropped(500, 3);
    }, 600, 9);
    const a = await analyzeTrace(withFooter);
    expect(a.summary).toMatchObject({ duration: 600, events: 5, gcCount: 2, gcTime: 42, dropped: 9, logs: 1, tasks: 0, regions: 0, pid: 42 });
    expect(a.summary.startTime).toBe('2023-11-14T22:13:20.000Z');
    expect(a.logs.toArray()).toEqual([{ ts: 100, flow: 1, thread: 0, task: 0, category: 'c', message: 'm', location: null }]);

    // Without a footer, the dropped events are summed.
    const withoutFooter = withFooter.subarray(0, withFooter.length - encodeFooter({ events: 0, dropped: 9, endTs: 600 }).length);
    const b = await analyzeTrace(withoutFooter);
    expect(b.summary).toMatchObject({ duration: 500, dropped: 7 });
  });

  test('summarizeTrace computes the same statistics as analyzeTrace, without the lists', async () => {
    const { path } = await traceOf(
      async () => {
        const [ctx, task] = newTask(background, 'request');
        const [, child] = newTask(ctx, 'child'); // never ends
        void child;
        await withRegion(ctx, 'handle', async () => {
          log(current(), 'db', 'query');
          await sleep(1);
        });
        startRegion(ctx, 'parse').end();
        const outer = startRegion(background, 'outer');
        startRegion(background, 'inner');
        outer.end(); // out of order; inner stays open
        task.end();
      },
      { captureLocations: true },
    );
    const analysis = await analyzeTrace(path);
    const stats = await summarizeTrace(path);
    const { tasks, regions, logs, ...analysisStats } = analysis;
    expect(stats).toEqual(analysisStats);
    expect(stats.summary).toMatchObject({ tasks: 2, regions: 4, logs: 1 });
    expect(stats.taskTypes.map((t) => [t.type, t.count, t.complete])).toEqual([
      ['child', 1, 0],
      ['request', 1, 1],
    ]);
    expect(stats.problems.map((p) => p.kind)).toEqual(['regionEndedOutOfOrder']);
    expect([tasks.length, regions.length, logs.length]).toEqual([2, 4, 1]);
  });

  test('summarizeTrace lists the first 1000 problems and counts the rest', async () => {
    const bytes = synthesize((b) => {
      for (let i = 0; i < LISTED_PROBLEMS + 5; i++) b.regionEnd(i, 1, 'orphan');
    }, 5000);
    const stats = await summarizeTrace(bytes);
    expect(stats.problems).toHaveLength(LISTED_PROBLEMS);
    expect(stats.problemsLeftOut).toBe(5);
    expect(stats.problems[LISTED_PROBLEMS - 1].ts).toBe(LISTED_PROBLEMS - 1);
    const analysis = await analyzeTrace(bytes);
    expect([analysis.problems.length, analysis.problemsLeftOut]).toEqual([LISTED_PROBLEMS + 5, 0]);
  });

  test('a task ended before its creation in file order is still measured, as the analysis does', async () => {
    const bytes = synthesize((b) => {
      b.taskEnd(50, 1, 7, null);
      b.taskCreate(60, 1, 7, 0, 'late', null);
    }, 100);
    const stats = await summarizeTrace(bytes);
    const { tasks, regions, logs, ...analysisStats } = await analyzeTrace(bytes);
    expect(stats).toEqual(analysisStats);
    expect(stats.taskTypes).toMatchObject([{ type: 'late', count: 1, complete: 1, latency: { min: -10 } }]);
    void [tasks, regions, logs];
  });

  test("the tables' tasks are measured as summarizeTrace measures them, whatever the order of their creations and ends", async () => {
    // A few task ids created (some carried into a snapshot), ended, twice or never, in any order; the
    // tables keep the open tasks in their columns, summarizeTrace in a map of its own.
    const step = fc.record({ end: fc.boolean(), task: fc.integer({ min: 1, max: 6 }), parent: fc.integer({ min: 0, max: 6 }), carried: fc.boolean(), type: fc.constantFrom('a', 'b') });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 30 }), async (steps) => {
        const encoder = new BatchEncoder();
        encoder.begin(0);
        steps.forEach((s, i) => {
          if (s.end) return encoder.taskEnd(i * 10, 1, s.task, null);
          if (s.carried) encoder.beganBefore(i * 10, 5);
          encoder.taskCreate(i * 10, 1, s.task, s.parent, s.type, null);
        });
        const header = { version: FORMAT_VERSION, wallClockOriginNs: 0n, hrtimeOriginNs: 0n, pid: 1, nodeVersion: 'v24.0.0', command: 'node synth' };
        const bytes = Buffer.concat([encodeFileStart(header), encoder.finish(), encodeFooter({ events: 0, dropped: 0, endTs: steps.length * 10 })]);
        const { tasks, regions, logs, ...analysisStats } = await analyzeTrace(bytes);
        expect(analysisStats).toEqual(await summarizeTrace(bytes));
        expect(tasks.length).toBe(analysisStats.summary.tasks);
        void [regions, logs];
      }),
      { seed: 14, numRuns: 300 },
    );
  });

  test('every log keeps its own message: repeated, distinct past the tables\' sharing of short ones, and long', async () => {
    const messages = ['ok', 'x'.repeat(65), 'ok'];
    for (let i = 0; i < 70_000; i++) messages.push(i % 3 === 0 ? 'ok' : `req ${i}`);
    messages.push('ok', 'y'.repeat(64), 'req 1');
    const bytes = synthesize((b) => messages.forEach((message, i) => b.log(i, 1, 0, 'c', message, null)), messages.length);
    const { logs } = await analyzeTrace(bytes);
    expect(logs.toArray().map((l) => l.message)).toEqual(messages);
  });

  test('a damaged trace is analysed up to the damage', async () => {
    const good = synthesize((b) => b.taskCreate(100, 1, 1, 0, 'A', null), null);
    const encoder = new BatchEncoder();
    encoder.begin(200);
    encoder.taskEnd(200, 1, 1, null);
    const damaged = encoder.finish();
    damaged[damaged.length - 1] ^= 0xff;
    const analysis = await analyzeTrace(Buffer.concat([good, damaged]));
    expect(analysis.status.problem).toMatchObject({ kind: 'corrupt', offset: good.length });
    expect(analysis.tasks.toArray()).toMatchObject([{ id: 1, type: 'A', complete: false }]);
  });
});

describe('tasks and regions that began before the trace (a flight-recorder snapshot)', () => {
  /** What a snapshot's preamble holds: a task and a region carried over, marked BeganBefore (format version 3). */
  const carried = (b: BatchEncoder): void => {
    b.beganBefore(0, 5_000);
    b.taskCreate(0, 1, 7, 3, 'request', null);
    b.beganBefore(0, 4_000);
    b.regionStart(0, 1, 7, 'handle', null);
  };

  test('carry their type and parent, are marked beganBefore, and are not created: the trace start stands in', async () => {
    const bytes = synthesize((b) => {
      carried(b);
      b.regionStart(10, 1, 7, 'db', null);
      b.regionEnd(30, 1, 'db');
      b.regionEnd(40, 1, 'handle');
      b.taskEnd(50, 1, 7, null);
    }, 100);
    const analysis = await analyzeTrace(bytes);
    expect(analysis.status.complete).toBe(true);
    expect(analysis.problems).toEqual([]);
    expect(analysis.tasks.toArray()).toMatchObject([
      { id: 3, type: '', beganBefore: null, created: false },
      { id: 7, type: 'request', parent: 3, beganBefore: 5_000, created: false, ended: true, complete: false, start: 0, end: 50, latency: 50 },
    ]);
    expect(analysis.tasks.at(1).events.map((e) => e.kind)).toEqual(['regionStart', 'regionStart', 'regionEnd', 'regionEnd', 'end']);
    expect(analysis.regions.toArray()).toMatchObject([
      { id: 1, type: 'handle', parent: null, start: 0, end: 40, complete: true, beganBefore: 4_000 },
      { id: 2, type: 'db', parent: 1, start: 10, end: 30, complete: true, beganBefore: null },
    ]);
  });

  test('give no latency or duration sample (their durations are partial), but count in their type', async () => {
    const bytes = synthesize((b) => {
      carried(b);
      b.regionEnd(40, 1, 'handle');
      b.taskEnd(50, 1, 7, null);
      b.taskCreate(60, 1, 8, 0, 'request', null);
      b.regionStart(61, 1, 8, 'handle', null);
      b.regionEnd(71, 1, 'handle');
      b.taskEnd(80, 1, 8, null);
    }, 100);
    const analysis = await analyzeTrace(bytes);
    expect(analysis.taskTypes.find((t) => t.type === 'request')).toMatchObject({ count: 2, complete: 1, latency: { min: 20, max: 20 } });
    expect(analysis.regionGroups).toMatchObject([{ type: 'handle', count: 2, complete: 1, duration: { min: 10, max: 10 } }]);
    expect((await summarizeTrace(bytes)).taskTypes.map((t) => t.type)).toEqual(['', 'request']);
  });

  test('a BeganBefore event must be followed by a task creation or region start', async () => {
    const bytes = synthesize((b) => {
      b.beganBefore(0, 5);
      b.log(1, 1, 0, 'c', 'm', null);
    }, 10);
    const analysis = await analyzeTrace(bytes);
    expect(analysis.status.problem).toMatchObject({ kind: 'corrupt', reason: 'a BeganBefore event must be followed by a TaskCreate or RegionStart event' });
  });
});
