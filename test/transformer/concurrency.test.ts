// Instrumented code in the shapes of real concurrency (programs/concurrency.ts): no problem, and each
// region inside the one that enclosed it in its own chain of calls.
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RegionInfo, TraceAnalysis } from '../../analysis/analysis-types.js';
import { analyzeTrace } from '../../analysis/analysis.js';
import { build, runFixtures } from './harness.js';

const programs = fileURLToPath(new URL('./programs', import.meta.url));

describe('instrumented code under real concurrency', () => {
  let analysis: TraceAnalysis;
  let observations: Record<string, unknown>;
  let plainObservations: Record<string, unknown>;

  beforeAll(async () => {
    const traced = build({ target: 'ES2022', module: 'esm', decorators: 'tc39' }, true, ['concurrency.ts'], {}, programs);
    expect(traced.diagnostics).toEqual([]);
    const run = runFixtures(traced.outDir, ['concurrency.js'], 'on');
    observations = run.observations;
    const plain = build({ target: 'ES2022', module: 'esm', decorators: 'tc39' }, false, ['concurrency.ts'], {}, programs);
    plainObservations = runFixtures(plain.outDir, ['concurrency.js'], 'off').observations;
    analysis = await analyzeTrace(run.tracePath);
  });

  const parentType = (r: RegionInfo): string | null => {
    if (r.parent === null) return null;
    return analysis.regions.find((p) => p.id === r.parent)!.type;
  };
  const regionsOf = (type: string) => analysis.regions.filter((r) => r.type === type);

  it('runs as the plain program does, and records no problem', () => {
    expect(observations['concurrency.js:run']).toEqual([
      ['served', 200],
      ['items', 100],
    ]);
    expect(observations['concurrency.js:statements']).toEqual([
      ['consumed', 5],
      ['closed early', [true, true, 'closed', 1]],
    ]);
    expect(observations).toEqual(plainObservations);
    expect(analysis.problems).toEqual([]);
  });

  it('a node:http server: each query and render inside its own request, in its task', () => {
    const requests = regionsOf('request');
    expect(requests).toHaveLength(200);
    const byId = new Map(analysis.regions.map((r) => [r.id, r]));
    for (const type of ['query', 'render']) {
      for (const r of regionsOf(type)) {
        const parent = byId.get(r.parent!)!;
        expect(parent.type).toBe('request');
        expect(parent.task).toBe(r.task);
      }
    }
    expect(regionsOf('query')).toHaveLength(400);
    expect(new Set(requests.map((r) => r.flow)).size).toBe(200);
  });

  it('Promise.all over instrumented calls: each innerStep inside its own item', () => {
    const byId = new Map(analysis.regions.map((r) => [r.id, r]));
    for (const r of regionsOf('innerStep')) {
      const parent = byId.get(r.parent!)!;
      expect(parent.type).toBe('item');
      expect(parent.task).toBe(r.task);
    }
  });

  it('a statement region around an await is its own chain\'s, never open while its function is suspended', () => {
    expect(regionsOf('step')).toHaveLength(20);
    for (const r of regionsOf('step')) expect(parentType(r)).toBeNull();
    expect(regionsOf('tracedStep')).toHaveLength(20);
    const byId = new Map(analysis.regions.map((r) => [r.id, r]));
    for (const r of regionsOf('tracedStep')) {
      expect(parentType(r)).toBe('tracedHandler');
      // The call awaited in the statement is inside it.
      expect(analysis.regions.filter((q) => q.parent === r.id).map((q) => q.type)).toEqual(['lookup']);
    }
    // After the statement, back in the function's own region (or none).
    for (const r of regionsOf('afterStep')) expect([null, 'tracedHandler']).toContain(r.parent === null ? null : byId.get(r.parent)!.type);
    expect(regionsOf('afterStep').filter((r) => parentType(r) === 'tracedHandler')).toHaveLength(20);
    expect(new Set(regionsOf('tracedHandler').map((r) => r.flow)).size).toBe(20);
  });

  it('a statement region around a yield: one occurrence per resumption, none holding the consumer\'s work', () => {
    expect(regionsOf('produceStep')).toHaveLength(4);
    for (const r of regionsOf('consume')) expect(parentType(r)).toBeNull();
    expect(regionsOf('produceStep').every((r) => r.end !== null)).toBe(true);
  });

  it('a generator closed early by return(), throw() or break: that resumption is an occurrence, its finally inside it', () => {
    // Each of the three: the first next() and the closing resumption.
    expect(regionsOf('closable')).toHaveLength(6);
    expect(regionsOf('cleanup')).toHaveLength(3);
    for (const r of regionsOf('cleanup')) expect(parentType(r)).toBe('closable');
    // Without a finally block too.
    expect(regionsOf('bare')).toHaveLength(2);
  });

  it("the cappuccino's plain functions returning promises: concurrent steps of one order, each inside it", () => {
    for (const type of ['steamMilk', 'extractCoffee', 'mixMilkCoffee']) {
      expect(regionsOf(type)).toHaveLength(5);
      for (const r of regionsOf(type)) expect(parentType(r)).toBe('makeCappuccino');
    }
    for (const order of regionsOf('makeCappuccino')) {
      const steps = analysis.regions.filter((r) => r.parent === order.id).map((r) => r.type).sort();
      expect(steps).toEqual(['extractCoffee', 'mixMilkCoffee', 'steamMilk']);
    }
  });
});
