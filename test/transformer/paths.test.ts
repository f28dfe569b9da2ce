/**
 * One program, every path: run plain, compiled by tspc, instrumented as text by instrumentSource (then
 * compiled plain), and instrumented on load by `node --import tstrace/register` (on this Node, and on
 * Node 24 when scripts/node24.mjs provides it). Every path must observe what the plain program does
 * (results, errors, `this`, `arguments`, names, lengths, order of effects: the fixtures' scenarios),
 * and record the same region tree (names, nesting, counts) as tspc.
 *
 * Where paths differ by design: the hook instruments what Node loads, here tsc's plain JavaScript, so
 * its locations (and the `<file>:<line>` names of anonymous functions) are those of the .js files, and
 * `@traced` in that JavaScript is tstrace's runtime decorator (the same regions, uncompiled).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeTrace } from '../../analysis/analysis.js';
import { build, configName, fixtureFiles, fixturesDir, repoRoot, runFixtures, type MatrixConfig } from './harness.js';
import { instrumentTree, node24, regionTree, runScenariosWith } from './source-paths.js';

const programsDir = fileURLToPath(new URL('./programs', import.meta.url));
const work = join(repoRoot, 'test', '.work', `paths-${process.pid}`);

let node24Path: string | null = null;
let node24Why = '';
beforeAll(async () => {
  ({ path: node24Path, why: node24Why } = await node24());
});

/** A region tree without locations, with `<file>:<line>` names (anonymous functions) made file-independent. */
const shapeOf = (tree: readonly string[]): string[] => tree.map((line) => line.replace(/[\w./-]+\.[cm]?[jt]s:\d+/g, '<file:line>')).sort();

/**
 * {@link shapeOf} without the regions of anonymous functions (`<file:line>`), their children counted
 * under their own parents: tsc's CommonJS output drops the comment of `export default // trace:region`
 * (`exports.default = async () => …`), so the hook never sees that directive.
 */
const namedShapeOf = (tree: readonly string[]): string[] => {
  const counts = new Map<string, number>();
  for (const line of shapeOf(tree)) {
    const [, path, n] = /^(.*) ×(\d+)$/.exec(line)!;
    const named = path.split(' > ').filter((name) => name !== '<file:line>').join(' > ');
    if (named !== '') counts.set(named, (counts.get(named) ?? 0) + Number(n));
  }
  return [...counts].map(([path, n]) => `${path} ×${n}`).sort();
};

/**
 * The fixtures observe the same instrumented or not; the programs observe what tracing gives them (a
 * task's context in its callees), so they are compared with tspc's run.
 */
const sets: { name: string; root: string; files: (config: MatrixConfig) => string[]; observesTracing: boolean }[] = [
  // Scripts (no import/export) can only take the runtime as a CommonJS require.
  { name: 'fixtures', root: fixturesDir, files: (config) => fixtureFiles().filter((f) => config.module === 'commonjs' || !f.includes('script')), observesTracing: false },
  { name: 'programs', root: programsDir, files: () => ['flows.ts', 'concurrency.ts', 'callbacks.ts'], observesTracing: true },
];
const configs: MatrixConfig[] = [
  { target: 'ES2022', module: 'esm', decorators: 'tc39' },
  { target: 'ES2022', module: 'commonjs', decorators: 'experimental' },
];

describe.each(configs.flatMap((config) => sets.map((set) => [`${set.name}, ${configName(config)}`, set, config] as const)))('%s', (_name, set, config) => {
  const files = set.files(config);
  const modules = files.map((f) => f.replace(/\.ts$/, '.js'));
  let plain: { outDir: string; observations: Record<string, unknown> };
  let tspc: { outDir: string; observations: Record<string, unknown>; tree: string[]; shape: string[] };
  /** What an instrumented run must observe. */
  const reference = () => (set.observesTracing ? tspc.observations : plain.observations);

  beforeAll(async () => {
    const built = build(config, false, files, {}, set.root);
    expect(built.diagnostics).toEqual([]);
    plain = { outDir: built.outDir, observations: runFixtures(built.outDir, modules, 'off').observations };
    const traced = build(config, true, files, {}, set.root);
    expect(traced.diagnostics).toEqual([]);
    const run = runFixtures(traced.outDir, modules, 'on');
    const analysis = await analyzeTrace(run.tracePath);
    tspc = { outDir: traced.outDir, observations: run.observations, tree: regionTree(analysis), shape: shapeOf(regionTree(analysis, { locations: false })) };
  });

  const cleanTree = async (tracePath: string, locations = true) => {
    const analysis = await analyzeTrace(tracePath);
    expect(analysis.status.complete).toBe(true);
    expect(analysis.problems).toEqual([]);
    return regionTree(analysis, { locations });
  };

  it('tspc: the plain observations, and a region tree', () => {
    expect(Object.keys(plain.observations).length).toBeGreaterThan(0);
    expect(tspc.observations).toEqual(reference());
    expect(tspc.tree.length).toBeGreaterThan(5);
  });

  it('instrumentSource: the plain observations, and the region tree of tspc, locations included', async () => {
    const instrumented = join(work, set.name, configName(config));
    instrumentTree(set.root, files, instrumented);
    const runtimeTypes = { paths: { 'tstrace/instrument': [join(repoRoot, 'dist', 'cjs', 'runtime', 'instrument.d.ts')] } };
    const built = build(config, false, files, { noCheck: true, ...runtimeTypes }, instrumented);
    expect(built.diagnostics).toEqual([]);
    const run = runFixtures(built.outDir, modules, 'on');
    expect(run.observations).toEqual(reference());
    expect(await cleanTree(run.tracePath)).toEqual(tspc.tree);
  });

  // Node 24 on the ES module output only, to keep the suite short (register.test.ts requires CommonJS there).
  const nodes: [string, () => string | null][] = [['this Node', () => process.execPath], ...(config.module === 'esm' ? [['Node 24', () => node24Path] as [string, () => string | null]] : [])];
  it.each(nodes)('node --import tstrace/register (%s) on the plain JavaScript: the plain observations, and the region tree of tspc', async (_node, nodeOf) => {
    const node = nodeOf();
    if (!node) return void console.warn(`skipped: ${node24Why}`);
    const traces = join(work, 'register', configName(config));
    const run = runScenariosWith(node, ['--import', 'tstrace/register'], plain.outDir, modules, traces);
    // What tspc's output observes on the same Node (error messages differ between Node versions).
    expect(run.observations).toEqual(node === process.execPath ? reference() : runScenariosWith(node, [], tspc.outDir, modules, traces).observations);
    const tree = await cleanTree(run.tracePath, false);
    if (config.module === 'esm') expect(shapeOf(tree)).toEqual(tspc.shape);
    else expect(namedShapeOf(tree)).toEqual(namedShapeOf(tspc.shape));
  });
});
