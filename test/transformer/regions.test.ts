import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeTrace } from '../../analysis/analysis.js';
import type { TraceAnalysis } from '../../analysis/analysis-types.js';
import { build, runFixtures } from './harness.js';

const programs = fileURLToPath(new URL('./programs', import.meta.url));

describe('regions of instrumented code', () => {
  let analysis: TraceAnalysis;
  let observations: Record<string, unknown>;

  beforeAll(async () => {
    const traced = build({ target: 'ES2022', module: 'esm', decorators: 'tc39' }, true, ['flows.ts'], {}, programs);
    expect(traced.diagnostics).toEqual([]);
    const run = runFixtures(traced.outDir, ['flows.js'], 'on');
    observations = run.observations;
    analysis = await analyzeTrace(run.tracePath);
  });

  const regionsOf = (type: string) => analysis.regions.filter((r) => r.type === type);
  const byId = () => new Map(analysis.regions.map((r) => [r.id, r]));

  it('records a clean trace', () => {
    expect(analysis.status.complete).toBe(true);
    expect(analysis.problems).toEqual([]);
    expect(observations['flows.js:run']).toContainEqual(['root', 1000]);
  });

  it('nests 1,000 interleaved async calls correctly: each call its own flow, callees under their caller', () => {
    const ids = byId();
    const [root] = regionsOf('root');
    const outers = regionsOf('outer');
    expect(outers).toHaveLength(1000);
    expect(new Set(outers.map((r) => r.flow)).size).toBe(1000);
    const children = new Map<number, number[]>();
    for (const r of analysis.regions) if (r.parent !== null) children.set(r.parent, [...(children.get(r.parent) ?? []), r.id]);
    for (const outer of outers) {
      expect(outer.parent).toBe(root.id);
      const kids = (children.get(outer.id) ?? []).map((id) => ids.get(id)!);
      expect(kids.map((k) => k.type)).toEqual(['leaf']);
      const leaf = kids[0];
      expect(leaf.start).toBeGreaterThanOrEqual(outer.start);
      expect(leaf.end).toBeLessThanOrEqual(outer.end);
      const grandchildren = (children.get(leaf.id) ?? []).map((id) => ids.get(id)!);
      expect(grandchildren.map((k) => k.type)).toEqual(['inner']);
      expect(grandchildren[0].flow).toBe(leaf.flow);
    }
  });

  it('ends an async region when its returned promise settles', () => {
    const [slow] = regionsOf('slowReturn');
    expect(slow.duration).toBeGreaterThanOrEqual(9_500_000);
  });

  it("keeps the caller's region and context while a callee is suspended", () => {
    const ids = byId();
    const [caller] = regionsOf('caller');
    const [callee] = regionsOf('callee');
    expect(callee.parent).toBe(caller.id);
    for (const type of ['afterCall', 'afterAwait']) {
      const [r] = regionsOf(type);
      expect(ids.get(r.parent!)?.type, type).toBe('caller');
      expect(r.flow).toBe(caller.flow);
    }
  });

  it("gives the caller its context back while a callee waits in a `for await` loop; the loop's body and the code after it are the callee's again", () => {
    const ids = byId();
    expect(observations['flows.js:run']).toContainEqual(['stream', 3]);
    const [caller] = regionsOf('streamCaller');
    const [callee] = regionsOf('streamCallee');
    expect(callee.parent).toBe(caller.id);
    for (const type of ['whileStreaming', 'afterStream']) {
      const [r] = regionsOf(type);
      expect(ids.get(r.parent!)?.type, type).toBe('streamCaller');
      expect(r.flow, type).toBe(caller.flow);
    }
    const inLoop = regionsOf('inLoop');
    expect(inLoop).toHaveLength(3);
    for (const r of [...inLoop, ...regionsOf('afterLoop')]) {
      expect(r.parent).toBe(callee.id);
      expect(r.flow).toBe(callee.flow);
    }
  });

  it('is back in the callee after a loop left for an enclosing one, after a labelled loop, and in a finally block entered by a throw', () => {
    const [callee] = regionsOf('labelledLoopCallee');
    expect(regionsOf('neverHere')).toEqual([]);
    for (const type of ['afterOuter', 'afterLabelled', 'inFinally']) {
      const [r] = regionsOf(type);
      expect(r?.parent, type).toBe(callee.id);
      expect(r.flow, type).toBe(callee.flow);
    }
  });

  it('does so over a sync iterable of promises too', () => {
    const ids = byId();
    expect(observations['flows.js:run']).toContainEqual(['promises', 3]);
    const [caller] = regionsOf('promisesCaller');
    const [callee] = regionsOf('promisesCallee');
    const [whilePromises] = regionsOf('whilePromises');
    expect(ids.get(whilePromises.parent!)?.type).toBe('promisesCaller');
    expect(whilePromises.flow).toBe(caller.flow);
    expect(regionsOf('inPromisesLoop').map((r) => [r.parent, r.flow])).toEqual([
      [callee.id, callee.flow],
      [callee.id, callee.flow],
    ]);
  });

  it('makes each call of a task function a task whose context callees see', () => {
    expect(observations['flows.js:run']).toContainEqual(['handle', [[true, true], [true, true]]]);
    const handles = analysis.tasks.filter((t) => t.type === 'handle');
    expect(handles).toHaveLength(2);
    for (const task of handles) {
      expect(task.complete).toBe(true);
      expect(task.events.filter((e) => e.kind === 'log').map((e) => e.kind === 'log' && e.category)).toEqual(['id']);
      expect(task.regions.map((id) => byId().get(id)!.type)).toEqual(['handle']);
    }
  });

  it('records the static source location of every instrumented function', () => {
    const [outer] = regionsOf('outer');
    // Paths are relative to the directory tspc ran in (here the repository).
    expect(outer.location).toEqual({ file: 'test/transformer/programs/flows.ts', line: 19, column: 1, function: 'outer' });
  });
});

describe('plugin option coverAsyncReturn: false', () => {
  it('ends an async region when the body returns, not when the returned promise settles', async () => {
    const plugins = [{ transform: 'tstrace/transformer', coverAsyncReturn: false }] as unknown as Parameters<typeof build>[3]['plugins'];
    const traced = build({ target: 'ES2015', module: 'esm', decorators: 'tc39' }, true, ['flows.ts'], { plugins }, programs);
    expect(traced.diagnostics).toEqual([]);
    const analysis = await analyzeTrace(runFixtures(traced.outDir, ['flows.js'], 'on').tracePath);
    const [slow] = analysis.regions.filter((r) => r.type === 'slowReturn');
    // Covering the returned promise would make it at least 10 ms (slowReturn returns atLeast(10)); the body
    // itself returns at once — under 10 ms whatever a loaded machine's stalls add.
    expect(slow.duration).toBeLessThan(10_000_000);
  });
});
