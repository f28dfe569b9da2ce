/**
 * The source instrumenter (`tstrace/source`): the fixtures instrumented as text, then compiled plain by
 * tsc, must do exactly what the plain programs do and record exactly the regions `tspc` compiles.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from '../../analysis/analysis.js';
import { build, configName, expectInstrumentedToMatchPlain, fixtureFiles, fixturesDir, repoRoot, runFixtures, type MatrixConfig } from './harness.js';
import { instrumentTree, regionTree } from './source-paths.js';

const programs = fileURLToPath(new URL('./programs', import.meta.url));
const work = join(repoRoot, 'test', '.work', `source-${process.pid}`);

const configs: MatrixConfig[] = [
  { target: 'ES2022', module: 'esm', decorators: 'tc39' },
  { target: 'ES2022', module: 'commonjs', decorators: 'experimental' },
  { target: 'ES2015', module: 'commonjs', decorators: 'metadata' },
];

describe.each(configs.map((config) => [configName(config), config] as const))('instrumentSource, then tsc: %s', (name, config) => {
  it('instrumented programs do exactly what the uninstrumented ones do, and record every region', async () => {
    const instrumented = join(work, name, 'fixtures');
    instrumentTree(fixturesDir, fixtureFiles(), instrumented);
    // Compiled as esbuild, Vite or Node compile what the instrumenter writes: without type checking
    // (its output is not for tsc to check). Node10 resolution does not read package exports: the
    // runtime's types are mapped, so that inferred types (and so the declarations) are the same.
    const runtimeTypes = { paths: { 'tstrace/instrument': [join(repoRoot, 'dist', 'cjs', 'runtime', 'instrument.d.ts')] } };
    await expectInstrumentedToMatchPlain(config, (traced, files) => (traced ? build(config, false, files, { noCheck: true, ...runtimeTypes }, instrumented) : build(config, false, files)), {
      // A TypeScript script's top-level names are globals to tsc: the runtime's binding and sites show in its .d.ts.
      declarationsDifferFor: (file) => file.includes('script'),
    });
  });
});

describe('instrumentSource and tspc', () => {
  it.each(['flows.ts', 'concurrency.ts', 'callbacks.ts'])('record the same region tree for %s', async (file) => {
    const config = configs[0];
    const module = file.replace(/\.ts$/, '.js');
    const viaTspc = build(config, true, [file], {}, programs);
    expect(viaTspc.diagnostics).toEqual([]);
    const instrumented = join(work, 'programs');
    instrumentTree(programs, [file], instrumented);
    const viaSource = build(config, false, [file], { noCheck: true }, instrumented);
    expect(viaSource.diagnostics).toEqual([]);
    const tspcRun = runFixtures(viaTspc.outDir, [module], 'on');
    const sourceRun = runFixtures(viaSource.outDir, [module], 'on');
    expect(sourceRun.observations).toEqual(tspcRun.observations);
    const [tspcTrace, sourceTrace] = await Promise.all([analyzeTrace(tspcRun.tracePath), analyzeTrace(sourceRun.tracePath)]);
    expect(sourceTrace.problems).toEqual([]);
    const tree = regionTree(tspcTrace);
    expect(tree.length).toBeGreaterThan(3);
    expect(regionTree(sourceTrace)).toEqual(tree);
    expect(sourceTrace.tasks.map((t) => t.type).sort()).toEqual(tspcTrace.tasks.map((t) => t.type).sort());
  });
});
