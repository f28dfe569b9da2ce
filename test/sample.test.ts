// The cappuccino sample (`npm start`), run end to end: what it prints, and what its trace says. The
// sample has no hand-written region code: `// trace:task` and `// trace:region` comments, compiled by
// tspc with tstrace's transformer, make its tasks and regions.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceEvent } from '../format/events.js';
import type { RegionInfo, TaskInfo, TraceAnalysis } from '../analysis/analysis-types.js';
import { analyzeTrace } from '../analysis/analysis.js';
import { loadTrace } from '../analysis/reader.js';
import { removeSampleRun, runSample, samplePath, type SampleRun } from './helpers/sample.js';

const ORDERS = 8;
const BARISTAS = 3;
const STEPS = ['steamMilk', 'extractCoffee', 'mixMilkCoffee'];

/** The line (1-based) of `async function name(` in the sample's main.ts. */
function declarationLine(name: string): number {
  const lines = readFileSync(samplePath('cappuccino', 'main.ts'), 'utf8').split('\n');
  const index = lines.findIndex((line) => line.startsWith(`async function ${name}(`));
  expect(index, `async function ${name} in main.ts`).toBeGreaterThanOrEqual(0);
  return index + 1;
}

describe('samples/cappuccino (npm start)', () => {
  let run: SampleRun;
  let events: TraceEvent[];
  let trace: TraceAnalysis;

  beforeAll(async () => {
    run = await runSample('cappuccino');
    ({ events } = await loadTrace(run.trace));
    trace = await analyzeTrace(run.trace);
  }, 120_000);

  afterAll(() => removeSampleRun(run));

  /** The task's own region (a `// trace:task` function is also a region) and the regions of its steps. */
  function regionsOf(task: TaskInfo): { order: RegionInfo; steps: Map<string, RegionInfo> } {
    const regions = task.regions.map((id) => trace.regions.at(id - 1)!);
    const order = regions.find((r) => r.type === 'makeCappuccino')!;
    const steps = new Map(regions.filter((r) => r !== order).map((r) => [r.type, r]));
    return { order, steps };
  }

  it('prints what was traced, then the stats table, then where to look next', () => {
    expect(run.code, `run.mjs failed:\n${run.stderr}`).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`Traced ${ORDERS} cappuccino orders made by ${BARISTAS} baristas: the trace is in trace.out`);
    expect(lines.slice(-2)).toEqual(["Each order's timeline: npx tstrace tasks trace.out", 'All of it in a browser: npx tstrace view trace.out --open']);
    const table = lines.slice(1, -2).join('\n');
    expect(table).toContain('makeCappuccino');
    expect(table).toContain('main.ts');
  });

  it('writes a complete trace, with no misuse, no problem and nothing dropped', () => {
    expect(trace.status.problem).toBeNull();
    expect(trace.status.complete).toBe(true);
    expect(trace.summary.dropped).toBe(0);
    expect(trace.problems).toEqual([]);
    expect(events.filter((e) => e.kind === 'misuse' || e.kind === 'dropped')).toEqual([]);
  });

  it(`records ${ORDERS} complete makeCappuccino tasks, each with one orderID log`, () => {
    expect(trace.tasks.map((t) => [t.type, t.parent, t.complete])).toEqual(Array(ORDERS).fill(['makeCappuccino', 0, true]));
    for (const task of trace.tasks) {
      const logs = task.events.filter((e) => e.kind === 'log');
      expect(logs.map((e) => e.category), `logs of task ${task.id}`).toEqual(['orderID']);
    }
    const orderIDs = trace.logs.map((l) => l.message);
    expect(orderIDs).toHaveLength(ORDERS);
    expect(new Set(orderIDs)).toEqual(new Set(Array.from({ length: ORDERS }, (_, i) => `order-${i + 1}`)));
  });

  it('puts every region of an order in its task: the order, and in it one steamMilk, one extractCoffee, one mixMilkCoffee', () => {
    expect(trace.regions).toHaveLength(4 * ORDERS);
    expect(trace.regions.every((r) => r.complete)).toBe(true);
    for (const task of trace.tasks) {
      const types = task.regions.map((id) => trace.regions.at(id - 1)!.type);
      expect(types.sort(), `regions of task ${task.id}`).toEqual([...STEPS, 'makeCappuccino'].sort());
      const { order, steps } = regionsOf(task);
      expect(order.parent, 'the order region is at the top level').toBeNull();
      for (const step of steps.values()) expect(step.parent, `parent of ${step.type}`).toBe(order.id);
    }
  });

  it('steams milk and extracts coffee at the same time, on different flows, and mixes after both', () => {
    for (const task of trace.tasks) {
      const { order, steps } = regionsOf(task);
      const milk = steps.get('steamMilk')!;
      const coffee = steps.get('extractCoffee')!;
      const mix = steps.get('mixMilkCoffee')!;
      expect(new Set([order.flow, milk.flow, coffee.flow, mix.flow]).size, 'each async call on a flow of its own').toBe(4);
      expect(milk.start).toBeLessThan(coffee.end);
      expect(coffee.start).toBeLessThan(milk.end);
      expect(mix.start).toBeGreaterThanOrEqual(Math.max(milk.end, coffee.end));
      expect(order.start).toBeGreaterThanOrEqual(task.start);
      expect(Math.min(milk.start, coffee.start)).toBeGreaterThanOrEqual(order.start);
      expect(order.end).toBeGreaterThanOrEqual(mix.end);
      expect(task.end).toBeGreaterThanOrEqual(order.end);
    }
  });

  it('gives every task and region its location in main.ts, compiled in by the transformer', () => {
    const expected = (name: string) => ({ file: 'main.ts', line: declarationLine(name), column: 1, function: name });
    for (const region of trace.regions) expect(region.location, `region ${region.id}`).toEqual(expected(region.type));
    for (const task of trace.tasks) {
      const create = task.events.find((e) => e.kind === 'create')!;
      expect(create.location, `task ${task.id}`).toEqual(expected('makeCappuccino'));
    }
  });

  it(`makes orders concurrently, at most ${BARISTAS} at a time`, () => {
    let inProgress = 0;
    let most = 0;
    for (const e of events) {
      if (e.kind === 'taskCreate') most = Math.max(most, ++inProgress);
      if (e.kind === 'taskEnd') inProgress--;
    }
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(BARISTAS);
  });
});
