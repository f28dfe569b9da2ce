/**
 * tstrace's bundler plugin (tstrace/vite, /esbuild, /rollup, /webpack, /rspack): the harness's
 * fixtures and programs, bundled by each bundler with the plugin and run with node, do what the plain programs do
 * and record the region tree tspc compiles; an error thrown in an instrumented function has a stack
 * pointing at its .ts line; a misuse fails the build with file:line:column; TC39 `@traced` leaves no
 * decorator for the bundler to lower.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeTrace } from '../../analysis/analysis.js';
import { build, fixtureFiles, fixturesDir, repoRoot, type MatrixConfig } from './harness.js';
import { bundle, bundlers, loadBundlers, type Bundler, type Entries } from './bundler-builds.js';
import { fixtureRunner, regionTree } from './source-paths.js';

const programsDir = fileURLToPath(new URL('./programs', import.meta.url));
const work = join(repoRoot, 'test', '.work', `bundlers-${process.pid}`);
// Removed when the file's tests are done (a Vitest worker thread does not see its process exit).
afterAll(() => rmSync(work, { recursive: true, force: true }));
// ES modules, TC39 decorators (the repository's tsconfig.json has no experimentalDecorators), as the bundlers see them.
const config: MatrixConfig = { target: 'ES2022', module: 'esm', decorators: 'tc39' };
const fixtures = fixtureFiles().filter((f) => !f.includes('script'));
const programs = ['flows.ts', 'concurrency.ts', 'callbacks.ts'];
const entries: Entries = Object.fromEntries([...fixtures.map((f) => [f.replace(/\.ts$/, ''), join(fixturesDir, f)]), ...programs.map((f) => [f.replace(/\.ts$/, ''), join(programsDir, f)])]);

interface Run {
  readonly observations: Record<string, unknown>;
  readonly tree: string[];
  readonly tasks: string[];
}

/** Runs the scenarios of `modules` (paths relative to `dir`) traced, in a child process; observations keyed by module file name. */
async function runTraced(dir: string, modules: readonly string[], name: string, flags: readonly string[] = []): Promise<Run> {
  const trace = join(work, `${name}.out`);
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [...flags, fixtureRunner, dir, 'on', trace, ...modules], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 }, (error, out, err) => (error ? reject(new Error(`${name}: ${error.message}\n${err}`)) : resolve(out))),
  );
  const raw = JSON.parse(stdout) as Record<string, unknown>;
  const observations = Object.fromEntries(Object.entries(raw).map(([key, value]) => [key.replace(/^.*\//, ''), value]));
  const analysis = await analyzeTrace(trace);
  expect(analysis.problems, name).toEqual([]);
  expect(analysis.status.complete, name).toBe(true);
  return { observations, tree: regionTree(analysis), tasks: analysis.tasks.map((t) => t.type).sort() };
}

describe('the bundler plugin: the same programs bundled by Vite, esbuild, Rollup, webpack and Rspack', () => {
  let plain: Record<string, unknown>;
  let tspc: Run;
  const built = new Map<Bundler, Promise<void>>();

  beforeAll(async () => {
    mkdirSync(work, { recursive: true });
    // The bundles build while tsc compiles the references, one bundler after the other: Node 20's loader
    // can fail ("reading 'getStatus'", nodejs/node 55782) when one module is imported and required at
    // once, as webpack and Rspack may do with unplugin's loaders (.mjs) when they build together.
    let previous: Promise<unknown> = loadBundlers();
    for (const bundler of bundlers) {
      const done = previous
        .catch(() => {})
        .then(() => bundle(bundler, entries, join(work, bundler), repoRoot))
        .then(() => bundle(bundler, entries, join(work, `${bundler}-plain`), repoRoot, null));
      built.set(bundler, done);
      previous = done;
    }
    for (const b of built.values()) b.catch(() => {});
    const plainBuild = build(config, false, fixtures);
    const tspcFixtures = build(config, true, fixtures);
    const tspcPrograms = build(config, true, programs, {}, programsDir);
    for (const b of [plainBuild, tspcFixtures, tspcPrograms]) expect(b.diagnostics).toEqual([]);
    // tspc's outputs are in another work folder (the harness's): run from the repository.
    const plainRun = new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [fixtureRunner, plainBuild.outDir, 'off', join(work, 'plain.out'), ...fixtures.map((f) => f.replace(/\.ts$/, '.js'))], { encoding: 'utf8' }, (e, out) => (e ? reject(e) : resolve(out))),
    );
    const [plainOut, tspcFixturesRun, tspcProgramsRun] = await Promise.all([
      plainRun,
      runTraced(tspcFixtures.outDir, fixtures.map((f) => f.replace(/\.ts$/, '.js')), 'tspc-fixtures'),
      runTraced(tspcPrograms.outDir, programs.map((f) => f.replace(/\.ts$/, '.js')), 'tspc-programs'),
    ]);
    plain = JSON.parse(plainOut) as Record<string, unknown>;
    tspc = {
      observations: { ...tspcFixturesRun.observations, ...tspcProgramsRun.observations },
      tree: [...tspcFixturesRun.tree, ...tspcProgramsRun.tree].sort(),
      tasks: [...tspcFixturesRun.tasks, ...tspcProgramsRun.tasks].sort(),
    };
  }, 120_000);

  it.each(bundlers)('%s: the bundles do what the plain bundles and programs do, and record the region tree (with locations) and tasks tspc compiles', async (bundler) => {
    await built.get(bundler);
    const out = join(work, bundler);
    const modules = Object.keys(entries).map((name) => `${name}.js`);
    const fixtureModules = fixtures.map((f) => f.replace(/\.ts$/, '.js'));
    // The plain bundle, a module per process: some do not load.
    const [run, ...plainModules] = await Promise.all([
      runTraced(out, modules, bundler),
      ...fixtureModules.map((m) => runTraced(join(work, `${bundler}-plain`), [m], `${bundler}-plain-${m}`).catch((error: Error) => error)),
    ]);
    const plainBundle = { observations: {} as Record<string, unknown> };
    const unloadable: string[] = [];
    fixtureModules.forEach((m, i) => {
      const result = plainModules[i];
      if (result instanceof Error) unloadable.push(`${m}: ${/\n(\w*Error: .*)/.exec(result.message)?.[1] ?? result.message}`);
      else Object.assign(plainBundle.observations, result.observations);
    });
    // Vite 8 and esbuild (target esnext) leave TC39 decorators for the engine, which cannot run them:
    // without the plugin the `@traced` module does not load; with it, nothing is left to lower.
    // webpack's ES module output of a module that imports itself, and nothing else, calls its runtime
    // before defining it (directives.ts; with the plugin the module imports the runtime and is fine).
    const expectedUnloadable = { vite: ['decorated.js: SyntaxError'], esbuild: ['decorated.js: SyntaxError'], rollup: [], webpack: ['directives.js: TypeError'], rspack: [] as string[] }[bundler];
    expect(unloadable.map((u) => u.replace(/^(\S+ \w+Error).*$/, '$1'))).toEqual(expectedUnloadable);
    for (const [key, value] of Object.entries(plain)) if (!(key in plainBundle.observations)) plainBundle.observations[key] = value;
    if (bundler === 'webpack') {
      // webpack names an anonymous `export default function` `__WEBPACK_DEFAULT_EXPORT__` (Node: "default").
      const [[label, [result, fn]]] = plain['directives.js:defaultExport'] as [string, [number, { function: string; length: number }]][];
      plainBundle.observations['directives.js:defaultExport'] = [[label, [result, { ...fn, function: '__WEBPACK_DEFAULT_EXPORT__' }]]];
    }
    let expectedTree = tspc.tree;
    if (bundler === 'vite') {
      // Known gap: Vite 8's TypeScript transform (Oxc) writes a parameter property's assignment
      // (`constructor(…, public readonly extra)`) at the top of a derived constructor when `super()` is
      // not a top-level statement, as in the instrumented body (`try { …; super(label); … }`): `this`
      // before `super()`. tsc, esbuild and TypeScript's transpileModule place it after `super()`.
      expect(run.observations['shapes.js:classes']).toEqual([['uncaught', { error: 'ReferenceError', message: expect.stringMatching(/super constructor/) as unknown }]]);
      run.observations['shapes.js:classes'] = plainBundle.observations['shapes.js:classes'];
      expectedTree = tspc.tree.filter((entry) => !/(^| > )Derived\./.test(entry));
    }
    // What the plain bundle observes (with the bundler's own renamings: esbuild's `class _Derived`, an
    // anonymous default export named after its module), else the plain program: the plugin changes nothing the program sees.
    for (const key of Object.keys(plainBundle.observations)) expect(run.observations[key], key).toEqual(plainBundle.observations[key]);
    expect(Object.keys(plainBundle.observations).sort()).toEqual(Object.keys(plain).sort());
    for (const key of programs.map((f) => f.replace(/\.ts$/, '.js'))) {
      for (const [name, value] of Object.entries(tspc.observations)) if (name.startsWith(`${key}:`)) expect(run.observations[name], name).toEqual(value);
    }
    expect(tspc.tree.length).toBeGreaterThan(40);
    expect(run.tree).toEqual(expectedTree);
    expect(run.tasks).toEqual(tspc.tasks);
    // TC39 decorators: @traced was deleted, not left for the bundler to lower (Vite 8 and esbuild at esnext pass decorators through).
    const decorated = readFileSync(join(out, 'decorated.js'), 'utf8');
    expect(decorated).not.toMatch(/^\s*@/m);
    expect(decorated).not.toMatch(/\.compiled\b/);
  });
});

describe('the bundler plugin: source maps and misuse', () => {
  const boom = [
    `import { traced } from 'tstrace';`,
    ``,
    `// trace:region`,
    `export function boom(x: number): number {`,
    `  if (x > 0) throw new Error('boom');`,
    `  return x;`,
    `}`,
    ``,
    `export class Kettle {`,
    `  @traced`,
    `  async whistle(): Promise<void> {`,
    `    await null;`,
    `    throw new Error('whistle');`,
    `  }`,
    `}`,
    ``,
  ].join('\n');
  const misuse = [`export const ok = 1;`, `  // trace:regoin`, `export function f(): number {`, `  return ok;`, `}`, ``].join('\n');

  it.each(bundlers)('%s: an error thrown in an instrumented function points at its .ts line (--enable-source-maps); misuse fails the build with file:line:column', async (bundler) => {
    const src = join(work, `maps-src-${bundler}`);
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'boom.ts'), boom);
    writeFileSync(join(src, 'misuse.ts'), misuse);
    const out = join(work, `maps-${bundler}`);
    await bundle(bundler, { boom: join(src, 'boom.ts') }, out, repoRoot);
    expect(readFileSync(join(out, 'boom.js'), 'utf8')).toMatch(/\.enter\(__tstrace_site1\b/);
    const driver = join(out, 'driver.mjs');
    writeFileSync(driver, `import { boom, Kettle } from './boom.js';\ntry { boom(1); } catch (e) { console.log(e.stack.split('\\n')[1]); }\nawait new Kettle().whistle().catch((e) => console.log(e.stack.split('\\n')[1]));\n`);
    const stacks = await new Promise<string[]>((resolve, reject) =>
      execFile(process.execPath, ['--enable-source-maps', driver], { encoding: 'utf8', cwd: out }, (e, stdout) => (e ? reject(e) : resolve(stdout.trim().split('\n')))),
    );
    const lines = boom.split('\n');
    expect(stacks[0]).toContain(`boom.ts:5:${lines[4].indexOf('new Error') + 1}`);
    expect(stacks[1]).toContain(`boom.ts:13:${lines[12].indexOf('new Error') + 1}`);
    // A debugger shows the user's source, as the map carries it: the text written, not the instrumented one.
    const map = JSON.parse(readFileSync(join(out, 'boom.js.map'), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
    const source = map.sources.findIndex((s) => s.endsWith('boom.ts'));
    expect(map.sourcesContent?.[source]).toBe(boom);

    const failed = await bundle(bundler, { misuse: join(src, 'misuse.ts') }, join(work, `misuse-${bundler}`), repoRoot).then(
      () => null,
      (error: unknown) => error as Error & { errors?: { text: string }[] },
    );
    expect(failed, 'the build must fail').not.toBeNull();
    const message = [failed!.message, ...(failed!.errors ?? []).map((e) => e.text)].join('\n');
    expect(message).toContain(`${join(src, 'misuse.ts')}:2:3 TS91009`);
    expect(message).toContain('tstrace: ');
  });
});

describe('the bundler plugin without its peer dependencies', () => {
  it('says which package is missing, what needs it, and the install line', async () => {
    const { requirePeer, MissingPeerError } = await import('../../transformer/bundler/peer.js');
    const missing = (): unknown => requirePeer('tstrace-no-such-peer', 'tstrace/vite', 'npm install -D unplugin@3 typescript@5.9 magic-string', work);
    expect(missing).toThrow(MissingPeerError);
    expect(missing).toThrow(/^tstrace\/vite needs the package tstrace-no-such-peer, which is not installed in .*: npm install -D unplugin@3 typescript@5\.9 magic-string \(Cannot find module/);
  });
});
