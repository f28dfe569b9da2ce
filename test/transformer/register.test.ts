/**
 * `node --import tstrace/register`: the modules Node loads are instrumented on load (ES modules and
 * CommonJS; TypeScript where Node strips types, or with tsx), and record the regions tspc compiles.
 * Runs on this Node (20) and, when scripts/node24.mjs can provide it, on Node 24 (module.registerHooks).
 * paths.test.ts runs the fixtures and programs through the hook too, beside the other paths.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeTrace } from '../../analysis/analysis.js';
import { build, repoRoot, runFixtures, type MatrixConfig } from './harness.js';
import { node24, regionTree, runScenariosWith } from './source-paths.js';

const programs = fileURLToPath(new URL('./programs', import.meta.url));
const work = join(repoRoot, 'test', '.work', `register-${process.pid}`);
const REGISTER = ['--import', 'tstrace/register'];

/** Observations keyed by module without its extension (`flows:run`), to compare a .ts run with a .js one. */
const byModule = (observations: Record<string, unknown>) => Object.fromEntries(Object.entries(observations).map(([key, value]) => [key.replace(/\.[cm]?[jt]s:/, ':'), value]));

let node24Path: string | null = null;
let node24Why = '';
beforeAll(async () => {
  ({ path: node24Path, why: node24Why } = await node24());
});

/** The region tree and observations of `file` compiled by tspc, run plainly. */
async function viaTspc(config: MatrixConfig, file: string, locations: boolean) {
  const traced = build(config, true, [file], {}, programs);
  expect(traced.diagnostics).toEqual([]);
  const run = runFixtures(traced.outDir, [file.replace(/\.ts$/, '.js')], 'on');
  return { observations: run.observations, tree: regionTree(await analyzeTrace(run.tracePath), { locations }) };
}

async function treeOf(tracePath: string, locations: boolean): Promise<string[]> {
  const analysis = await analyzeTrace(tracePath);
  expect(analysis.status.complete).toBe(true);
  expect(analysis.problems).toEqual([]);
  return regionTree(analysis, { locations });
}

describe('node --import tstrace/register on TypeScript', () => {
  it.each(['flows.ts', 'concurrency.ts'])('runs %s with Node 24 type stripping: the same region tree as tspc, locations included', async (file) => {
    if (!node24Path) return void console.warn(`skipped: ${node24Why}`);
    const config: MatrixConfig = { target: 'ES2022', module: 'esm', decorators: 'tc39' };
    // From the repository, as the tspc harness compiles locations relative to it.
    const run = runScenariosWith(node24Path, ['--no-warnings', ...REGISTER], programs, [file], join(work, 'ts24'), repoRoot);
    const reference = await viaTspc(config, file, true);
    expect(byModule(run.observations)).toEqual(byModule(reference.observations));
    expect(await treeOf(run.tracePath, true)).toEqual(reference.tree);
  });

  it('runs CommonJS TypeScript (require) with Node 24 type stripping', async () => {
    if (!node24Path) return void console.warn(`skipped: ${node24Why}`);
    const dir = join(work, 'cts');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }\n');
    writeFileSync(join(dir, 'lib.ts'), `// trace:region\nfunction mul(a: number, b: number): number { return a * b; }\nmodule.exports = { mul };\n`);
    writeFileSync(
      join(dir, 'main.ts'),
      `const { start, stop } = require('tstrace');\nconst { mul } = require('./lib.ts');\nstart(process.argv[2], { gc: false, heap: false, eventLoop: false });\n// trace:region\nfunction run(): number { return mul(2, 3); }\nconsole.log(run());\nstop();\n`,
    );
    const trace = join(dir, 'trace.out');
    expect(execFileSync(node24Path, ['--no-warnings', ...REGISTER, join(dir, 'main.ts'), trace], { encoding: 'utf8', cwd: dir }).trim()).toBe('6');
    expect(await treeOf(trace, true)).toEqual(['run > mul @lib.ts:2:1 ×1', 'run @main.ts:5:1 ×1']);
  });

  it('runs an ES module TypeScript program (directives, @traced, a derived constructor) with tsx on this Node, when tstrace/register comes first', async () => {
    const dir = join(work, 'tsx');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(
      join(dir, 'main.ts'),
      [
        `import { start, stop, traced } from 'tstrace';`,
        `start(process.argv[2], { gc: false, heap: false, eventLoop: false });`,
        `// trace:region`,
        `async function outer(n: number): Promise<number> { return inner(n) + (await inner(n)); }`,
        `// trace:region`,
        `const inner = (n: number): number => n * 2;`,
        `class Base { constructor(public n: number) {} }`,
        `class Shop extends Base {`,
        `  total = 1;`,
        `  // trace:region`,
        `  constructor(public extra: number) { super(extra * 2); }`,
        `  @traced({ log: ['x'] })`,
        `  add(x: number) { return this.total + x + this.n + this.extra; }`,
        `}`,
        `console.log(await outer(3), new Shop(1).add(2));`,
        `await stop();`,
        '',
      ].join('\n'),
    );
    const trace = join(dir, 'trace.out');
    const output = execFileSync(process.execPath, [...REGISTER, '--import', 'tsx', join(dir, 'main.ts'), trace], { encoding: 'utf8', cwd: dir });
    expect(output.trim()).toBe('12 6');
    // @traced was compiled (located at its decorator, as tspc compiles it), as were the directives.
    expect(await treeOf(trace, true)).toEqual(['Shop.add @main.ts:12:3 ×1', 'Shop.constructor @main.ts:11:3 ×1', 'outer > inner @main.ts:6:15 ×2', 'outer @main.ts:4:1 ×1']);
  });
});

describe('node --import tstrace/register', () => {
  const dir = join(work, 'programs');
  beforeAll(() => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'node_modules', 'dep'), { recursive: true });
    writeFileSync(join(dir, 'node_modules', 'dep', 'index.js'), `// trace:region\nexports.dep = function dep() { return 1; };\n`);
    writeFileSync(join(dir, 'lib.cjs'), `const { dep } = require('dep');\n// trace:region\nfunction add(a, b) { if (a < 0) { throw new Error('negative'); } return a + b + dep(); }\nmodule.exports = { add };\n`);
    writeFileSync(
      join(dir, 'main.cjs'),
      [
        `const { start, stop } = require('tstrace');`,
        `start(process.argv[2], { gc: false, heap: false, eventLoop: false });`,
        `const { add } = require('./lib.cjs');`,
        `// trace:task`,
        `function main() { return add(1, 2); }`,
        `console.log(main());`,
        `try { add(-1, 0); } catch (e) { console.log(e.stack.split('\\n')[1].trim()); }`,
        `stop();`,
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'lib.mjs'), `// trace:region\nexport async function later(n) { await null; if (n < 0) { throw new Error('negative'); } return n; }\n`);
    writeFileSync(
      join(dir, 'main.mjs'),
      [
        `import { start, stop } from 'tstrace';`,
        `import { later } from './lib.mjs';`,
        `start(process.argv[2], { gc: false, heap: false, eventLoop: false });`,
        `console.log(await later(7));`,
        `await later(-1).catch((e) => console.log(e.stack.split('\\n')[1].trim()));`,
        `await stop();`,
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'bad.mjs'), `export const ok = 1;\n  // trace:regoin\nexport function f() {}\n`);
  });

  for (const [name, nodeOf] of [
    ['this Node', () => process.execPath],
    ['Node 24', () => node24Path],
  ] as const) {
    it(`instruments CommonJS (require) and ES modules, not node_modules, with stack traces at the original lines (${name})`, async () => {
      const node = nodeOf();
      if (!node) return void console.warn(`skipped: ${node24Why}`);
      const run = (main: string) => {
        const trace = join(dir, `${main}-${name.replace(' ', '')}.out`);
        const output = execFileSync(node, ['--enable-source-maps', ...REGISTER, join(dir, main), trace], { encoding: 'utf8', cwd: dir }).trim().split('\n');
        return { output, trace };
      };
      const cjs = run('main.cjs');
      expect(cjs.output[0]).toBe('4');
      expect(cjs.output[1]).toContain(`lib.cjs:3:${`function add(a, b) { if (a < 0) { throw new Error`.indexOf('new Error') + 1}`);
      // dep is in node_modules: its directive is left alone.
      expect(await treeOf(cjs.trace, true)).toEqual(['add @lib.cjs:3:1 ×1', 'main > add @lib.cjs:3:1 ×1', 'main @main.cjs:5:1 ×1']);
      const esm = run('main.mjs');
      expect(esm.output[0]).toBe('7');
      expect(esm.output[1]).toContain(`lib.mjs:2:${`export async function later(n) { await null; if (n < 0) { throw new Error`.indexOf('new Error') + 1}`);
      expect(await treeOf(esm.trace, true)).toEqual(['later @lib.mjs:2:1 ×2']);
    });
  }

  it('works as --require tstrace/register too (its hooks then also start in the loader thread: each module is instrumented once)', async () => {
    for (const main of ['main.mjs', 'main.cjs']) {
      const trace = join(dir, `${main}-require.out`);
      const output = execFileSync(process.execPath, ['--require', 'tstrace/register', join(dir, main), trace], { encoding: 'utf8', cwd: dir }).trim().split('\n');
      expect(output[0]).toBe(main === 'main.mjs' ? '7' : '4');
      expect((await treeOf(trace, true)).length).toBe(main === 'main.mjs' ? 1 : 3);
    }
  });

  it('stops loading a module that misuses a directive, with the file, line, column and code', () => {
    const result = spawnSync(process.execPath, [...REGISTER, join(dir, 'bad.mjs')], { encoding: 'utf8', cwd: dir });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(`${join(dir, 'bad.mjs')}:2:3 TS91009 tstrace: unknown directive "trace:regoin"`);
  });
});
