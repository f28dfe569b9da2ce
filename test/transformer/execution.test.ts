import { describe, expect, it } from 'vitest';
import { analyzeTrace } from '../../tool/analysis.js';
import { build, configName, fixtureFiles, matrix, runFixtures } from './harness.js';

describe.each(matrix.map((config) => [configName(config), config] as const))('%s', (_name, config) => {
  // Scripts (no import/export) can only take the runtime as a CommonJS require.
  const files = fixtureFiles().filter((f) => config.module === 'commonjs' || !f.includes('script'));
  const modules = files.map((f) => f.replace(/\.ts$/, '.js'));

  it('instrumented programs do exactly what the uninstrumented ones do, tracing on or off', async () => {
    const plain = build(config, false, files);
    const traced = build(config, true, files);
    expect(plain.diagnostics).toEqual([]);
    expect(traced.diagnostics).toEqual([]);

    const reference = runFixtures(plain.outDir, modules, 'off').observations;
    expect(Object.keys(reference).length).toBeGreaterThan(5);
    expect(runFixtures(traced.outDir, modules, 'off').observations).toEqual(reference);
    const on = runFixtures(traced.outDir, modules, 'on');
    expect(on.observations).toEqual(reference);

    const analysis = await analyzeTrace(on.tracePath);
    expect(analysis.status.complete).toBe(true);
    expect(analysis.problems).toEqual([]);
    const types = new Set(analysis.regions.map((r) => r.type));
    for (const expected of ['declaredLater', 'plain', 'arrowExpression', 'arrowBlock', 'functionExpression', 'asyncReturnsPromise', 'generator', 'asyncGenerator', 'Derived.constructor', 'Derived.method', 'Derived.get value', 'Derived.create', 'Derived.#secret', 'Derived.arrowField', 'method', 'property']) {
      expect(types, expected).toContain(expected);
    }
    // Uncompiled, @traced is the runtime decorator: it records the same regions, and tasks.
    const runtimeDecorated = await analyzeTrace(runFixtures(plain.outDir, modules, 'on').tracePath);
    const decoratedTypes = (a: typeof analysis) =>
      a.regions
        .map((r) => r.type)
        .filter((t) => /^(Shop|Register)\./.test(t))
        .sort();
    expect(decoratedTypes(analysis).length).toBeGreaterThanOrEqual(10);
    expect(decoratedTypes(runtimeDecorated)).toEqual(decoratedTypes(analysis));
    expect(runtimeDecorated.tasks.map((t) => t.type)).toEqual(analysis.tasks.map((t) => t.type));
    // The declaration files are byte-identical with and without the transformer.
    for (const [file, text] of plain.files) if (file.endsWith('.d.ts')) expect(traced.files.get(file), file).toBe(text);
  });
});

describe('the transformer listed twice', () => {
  it('instruments each function once', () => {
    const config = matrix[0];
    const twice = { plugins: [{ transform: 'tstrace/transformer' }, { transform: 'tstrace/transformer' }] } as unknown as Parameters<typeof build>[3];
    const once = build(config, true, ['shapes.ts']);
    const result = build(config, true, ['shapes.ts'], twice);
    expect(result.diagnostics).toEqual([]);
    const count = (text: string | undefined) => (text?.match(/\.(enter|call)\(/g) ?? []).length;
    expect(count(once.files.get('shapes.js'))).toBeGreaterThan(10);
    expect(result.files.get('shapes.js')).toBe(once.files.get('shapes.js'));
  });
});
