import { describe, expect, it } from 'vitest';
import { build, configName, expectInstrumentedToMatchPlain, matrix } from './harness.js';

describe.each(matrix.map((config) => [configName(config), config] as const))('%s', (_name, config) => {
  it('instrumented programs do exactly what the uninstrumented ones do, tracing on or off', async () => {
    await expectInstrumentedToMatchPlain(config, (plugin, files) => build(config, plugin, files));
  });
});

describe('the transformer listed twice', () => {
  it.each(['shapes', 'directives'])('instruments each function of %s.ts once', (name) => {
    const config = matrix[0];
    const twice = { plugins: [{ transform: 'tstrace/transformer' }, { transform: 'tstrace/transformer' }] } as unknown as Parameters<typeof build>[3];
    const once = build(config, true, [`${name}.ts`]);
    const result = build(config, true, [`${name}.ts`], twice);
    expect(result.diagnostics).toEqual([]);
    const count = (text: string | undefined) => (text?.match(/\.(enter|call)\(/g) ?? []).length;
    expect(count(once.files.get(`${name}.js`))).toBeGreaterThan(10);
    expect(result.files.get(`${name}.js`)).toBe(once.files.get(`${name}.js`));
  });
});
