/**
 * Instrumented modules kept between builds and runs (transformer/source/result-store.ts): a module whose
 * text, options, tstrace and TypeScript are unchanged is served from the store without TypeScript; any
 * change is instrumented again; a damaged or unwritable store never changes a result or fails a build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as TS from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { DiagnosticCode } from '../../transformer/diagnostics.js';
import { createCachedInstrumenter } from '../../transformer/source/cached-instrument.js';
import { instrumentSource, type InstrumentSourceOptions } from '../../transformer/source/instrument-source.js';
import { openResultStore, storeDirFor, type ResultStore } from '../../transformer/source/result-store.js';
import { bundle, loadBundlers } from './bundler-builds.js';
import { repoRoot } from './harness.js';
import { ts } from './source-paths.js';

const work = join(repoRoot, 'test', '.work', `result-store-${process.pid}`);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const MARKED = `// trace:region\nexport function add(a: number, b: number): number {\n  return a + b;\n}\n`;
const options: InstrumentSourceOptions = { fileName: join(work, 'src', 'add.ts'), rootDir: work };

/** A TypeScript thunk that counts how often it is asked for. */
function countingTypeScript(): { typescript: () => typeof TS; asked: () => number } {
  let asked = 0;
  return { typescript: () => (asked++, ts), asked: () => asked };
}

/** A fresh instrumenter (as a new build process has) over the store in `dir`. */
function instrumenterOver(dir: string, versions = ['typescript@test']) {
  const counting = countingTypeScript();
  const store = openResultStore(dir, versions);
  return { instrument: createCachedInstrumenter(counting.typescript, () => store), asked: counting.asked };
}

/** The entry files of a store folder (one folder per tstrace and TypeScript version). */
function entriesIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json')).map((f) => join(dir, f));
}

describe('the result store, under the instrumenter', () => {
  it('serves an unchanged module without asking for TypeScript, with the same code and map', () => {
    const dir = join(work, 'same');
    const first = instrumenterOver(dir);
    const made = first.instrument(MARKED, options);
    expect(first.asked()).toBe(1);
    expect(made?.code).toContain('__tstrace');
    const again = instrumenterOver(dir);
    const served = again.instrument(MARKED, options);
    expect(again.asked()).toBe(0);
    expect(served?.code).toBe(made?.code);
    expect(JSON.parse(JSON.stringify(served?.map))).toEqual(JSON.parse(JSON.stringify(made?.map)));
    // What the store serves is what instrumentSource makes.
    expect(served?.code).toBe(instrumentSource(ts, MARKED, options)?.code);
  });

  it('instruments again when the text, an option, or the TypeScript version changed', () => {
    const dir = join(work, 'changes');
    instrumenterOver(dir).instrument(MARKED, options);
    const edited = MARKED.replace('a + b', 'b + a');
    const changes: [string, (i: ReturnType<typeof instrumenterOver>['instrument']) => unknown, string[]?][] = [
      ['text', (i) => i(edited, options)],
      ['runtime module', (i) => i(MARKED, { ...options, runtimeModule: 'my-runtime' })],
      ['root folder (locations)', (i) => i(MARKED, { ...options, rootDir: join(work, 'src') })],
      ['TypeScript version', (i) => i(MARKED, options), ['typescript@other']],
    ];
    for (const [what, run, versions] of changes) {
      const fresh = instrumenterOver(dir, versions);
      const result = run(fresh.instrument) as { code: string };
      expect(fresh.asked(), what).toBe(1);
      expect(result.code).toContain('__tstrace');
    }
    const edit = instrumenterOver(dir).instrument(edited, options);
    expect(edit?.code).toContain('b + a');
    expect(instrumenterOver(dir).instrument(MARKED, { ...options, runtimeModule: 'my-runtime' })?.code).toContain('"my-runtime"');
  });

  it('keeps "nothing to instrument" too: a text that only mentions the marks is not parsed again', () => {
    const dir = join(work, 'none');
    const text = `export const help = 'write // trace: before a function, or @traced';\n`;
    const first = instrumenterOver(dir);
    expect(first.instrument(text, options)).toBeNull();
    expect(first.asked()).toBe(1);
    const again = instrumenterOver(dir);
    expect(again.instrument(text, options)).toBeNull();
    expect(again.asked()).toBe(0);
  });

  it('never keeps a result with misuse: every build reports it', () => {
    const dir = join(work, 'misuse');
    const misuse = `// trace:regoin\nexport function f() {}\n`;
    for (let build = 0; build < 2; build++) {
      const fresh = instrumenterOver(dir);
      const result = fresh.instrument(misuse, options);
      expect(fresh.asked()).toBe(1);
      expect(result?.diagnostics.map((d) => d.code)).toEqual([DiagnosticCode.UnknownDirective]);
    }
  });

  it('reads a damaged entry as absent, and mends it', () => {
    const dir = join(work, 'damaged');
    const made = instrumenterOver(dir).instrument(MARKED, options);
    const [entry] = entriesIn(dir);
    for (const damage of ['{"code":', '{"code":"x","map":{}}', 'null', '']) {
      writeFileSync(entry, damage);
      const fresh = instrumenterOver(dir);
      expect(fresh.instrument(MARKED, options)?.code).toBe(made?.code);
      expect(fresh.asked(), damage).toBe(1);
    }
    const mended = instrumenterOver(dir);
    expect(mended.instrument(MARKED, options)?.code).toBe(made?.code);
    expect(mended.asked()).toBe(0);
  });

  it('goes on without keeping results when the folder cannot be written, with one warning', async () => {
    const blocked = join(work, 'blocked');
    mkdirSync(work, { recursive: true });
    writeFileSync(blocked, 'a file where the folder should be');
    const warnings: string[] = [];
    const listener = (warning: Error) => warnings.push(warning.message);
    process.on('warning', listener);
    try {
      const { instrument } = instrumenterOver(blocked);
      expect(instrument(MARKED, options)?.code).toContain('__tstrace');
      expect(instrument(MARKED.replace('add', 'sum'), options)?.code).toContain('sum');
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', listener);
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`the cache folder ${blocked} cannot be written (ENOTDIR)`);
  });

  it('lives in node_modules/.cache/tstrace above the project, or where TSTRACE_CACHE says', () => {
    const project = join(work, 'project', 'packages', 'app');
    mkdirSync(join(work, 'project', 'node_modules'), { recursive: true });
    mkdirSync(project, { recursive: true });
    expect(storeDirFor(project, {})).toBe(join(work, 'project', 'node_modules', '.cache', 'tstrace'));
    expect(storeDirFor(project, { TSTRACE_CACHE: '/elsewhere' })).toBe('/elsewhere');
    for (const off of ['off', '0', 'false', 'OFF']) expect(storeDirFor(project, { TSTRACE_CACHE: off })).toBeNull();
  });
});

describe('the result store, under the bundler plugin', () => {
  const MODULE = `import { traced } from 'tstrace';\nexport class Kettle {\n  @traced\n  boil(n: number): number {\n    return n + 1;\n  }\n}\n// trace:region\nexport function pour(n: number): number {\n  return new Kettle().boil(n) * 2;\n}\n`;

  /** A project with one marked module and a tsconfig.json; returns its folder. */
  function project(name: string, experimentalDecorators: boolean): string {
    const dir = join(work, name);
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'src', 'kettle.ts'), MODULE);
    writeFileSync(join(dir, 'tsconfig.json'), `{\n  // comments, as tsconfig files have them\n  "compilerOptions": { "experimentalDecorators": ${experimentalDecorators} }\n}\n`);
    return dir;
  }

  it.each(['esbuild', 'vite'] as const)('%s: a rebuild gives the same bundle and map, served from the store', async (bundler) => {
    await loadBundlers();
    const dir = project(`bundle-${bundler}`, false);
    const store = join(dir, 'store');
    const entries = { kettle: join(dir, 'src', 'kettle.ts') };
    const out = (n: number) => join(dir, `out-${n}`);
    const files = (n: number) => ['kettle.js', 'kettle.js.map'].map((f) => readFileSync(join(out(n), f), 'utf8'));
    await bundle(bundler, entries, out(1), dir, { cache: store });
    const plain = join(dir, 'out-plain');
    await bundle(bundler, entries, plain, dir, { cache: false });
    expect(files(1)).toEqual(['kettle.js', 'kettle.js.map'].map((f) => readFileSync(join(plain, f), 'utf8')));
    expect(files(1)[0]).toContain('__tstrace');
    await bundle(bundler, entries, out(2), dir, { cache: store });
    expect(files(2)).toEqual(files(1));
    // The rebuild's module came from the store: what is planted there shows in the bundle.
    const [entry] = entriesIn(store).filter((f) => JSON.parse(readFileSync(f, 'utf8')).code !== undefined);
    const kept = JSON.parse(readFileSync(entry, 'utf8')) as { code: string };
    writeFileSync(entry, JSON.stringify({ ...kept, code: kept.code.replace('return n + 1', 'return n + 1 + "planted"') }));
    await bundle(bundler, entries, out(3), dir, { cache: store });
    expect(files(3)[0]).toContain('planted');
  });

  it('notices a changed tsconfig.json (experimentalDecorators), also through extends, and a changed module', async () => {
    await loadBundlers();
    const dir = project('tsconfig-change', false);
    const store = join(dir, 'store');
    const entries = { kettle: join(dir, 'src', 'kettle.ts') };
    const bundleText = async (n: string) => {
      await bundle('esbuild', entries, join(dir, `out-${n}`), dir, { cache: store });
      return readFileSync(join(dir, `out-${n}`, 'kettle.js'), 'utf8');
    };
    const tc39 = await bundleText('tc39');
    // TC39: `@traced` removed; experimental: replaced by the runtime's no-op `compiled`.
    expect(tc39).not.toMatch(/compiled/);
    project('tsconfig-change', true);
    expect(await bundleText('experimental')).toMatch(/__tstrace\w*\.compiled/);
    project('tsconfig-change', false);
    expect(await bundleText('tc39-again')).toBe(tc39);
    // Through `extends`: a change in the extended file counts.
    writeFileSync(join(dir, 'tsconfig.json'), '{ "extends": "./base.json" }\n');
    writeFileSync(join(dir, 'base.json'), '{ "compilerOptions": { "experimentalDecorators": false } }\n');
    expect(await bundleText('base-tc39')).toBe(tc39);
    writeFileSync(join(dir, 'base.json'), '{ "compilerOptions": { "experimentalDecorators": true } }\n');
    expect(await bundleText('base-experimental')).toMatch(/__tstrace\w*\.compiled/);
    writeFileSync(join(dir, 'src', 'kettle.ts'), MODULE.replace('* 2', '* 3'));
    expect(await bundleText('edited')).toContain('* 3');
  });
});

describe('the result store, under node --import tstrace/register', () => {
  it('a second run is served from the store, with the same output', () => {
    const dir = join(work, 'register');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(dir, 'app.js'), `import { instrumentedFunctionCount } from './count.js';\n// trace:region\nfunction work(n) {\n  return n * 2;\n}\nconsole.log(work(21), instrumentedFunctionCount(work));\n`);
    writeFileSync(join(dir, 'count.js'), `export const instrumentedFunctionCount = (f) => (String(f).includes('__tstrace') ? 1 : 0);\n`);
    const store = join(dir, 'store');
    const run = () => {
      const child = spawnSync(process.execPath, ['--no-warnings', '--import', 'tstrace/register', join(dir, 'app.js')], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, TSTRACE_CACHE: store } });
      expect(child.stderr).toBe('');
      return child.stdout.trim();
    };
    expect(run()).toBe('42 1');
    expect(existsSync(store)).toBe(true);
    expect(run()).toBe('42 1');
    const [entry] = entriesIn(store).filter((f) => JSON.parse(readFileSync(f, 'utf8')).code !== undefined);
    const kept = JSON.parse(readFileSync(entry, 'utf8')) as { code: string };
    writeFileSync(entry, JSON.stringify({ ...kept, code: kept.code.replace('return n * 2', 'return n * 3') }));
    expect(run()).toBe('63 1');
  });
});

// The store's own contract, without the instrumenter.
describe('openResultStore', () => {
  it('keeps JSON by key, separately for each set of versions', () => {
    const dir = join(work, 'plain');
    const a = openResultStore(dir, ['x@1']) as ResultStore;
    const b = openResultStore(dir, ['x@2']) as ResultStore;
    const key = a.keyOf('kind', 'text');
    expect(key).toBe(b.keyOf('kind', 'text'));
    expect(key).not.toBe(a.keyOf('kind', 'text2'));
    expect(a.keyOf('k', 'ab', 'c')).not.toBe(a.keyOf('k', 'a', 'bc'));
    a.set(key, { value: 1 });
    expect(a.get(key)).toEqual({ value: 1 });
    expect(b.get(key)).toBeUndefined();
    expect(openResultStore(null, ['x@1'])).toBeNull();
  });

  it('removes, once a day, entries and other versions not written for 7 days', () => {
    const dir = join(work, 'prune');
    const current = openResultStore(dir, ['x@1']) as ResultStore;
    const other = openResultStore(dir, ['x@0']) as ResultStore;
    other.set(other.keyOf('k', 'old'), 1);
    current.set(current.keyOf('k', 'old'), 1); // the first write prunes (nothing old yet)
    current.set(current.keyOf('k', 'recent'), 2);
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    const folderOf = (value: number, not?: string) => dirname(entriesIn(dir).find((f) => JSON.parse(readFileSync(f, 'utf8')) === value && dirname(f) !== not)!);
    const currentFolder = folderOf(2);
    const otherFolder = folderOf(1, currentFolder);
    utimesSync(join(currentFolder, `${current.keyOf('k', 'old')}.json`), eightDaysAgo, eightDaysAgo);
    utimesSync(otherFolder, eightDaysAgo, eightDaysAgo);
    // Pruned at most once a day: a new process's first write within the day leaves them.
    const sameDay = openResultStore(dir, ['x@1']) as ResultStore;
    sameDay.set(sameDay.keyOf('k', 'new'), 3);
    expect(existsSync(otherFolder)).toBe(true);
    // A day later (the stamp aged), the next process's first write removes them; recent entries stay.
    utimesSync(join(currentFolder, '.pruned'), eightDaysAgo, eightDaysAgo);
    const nextDay = openResultStore(dir, ['x@1']) as ResultStore;
    nextDay.set(nextDay.keyOf('k', 'newer'), 4);
    expect(existsSync(otherFolder)).toBe(false);
    expect(nextDay.get(nextDay.keyOf('k', 'old'))).toBeUndefined();
    expect(nextDay.get(nextDay.keyOf('k', 'recent'))).toBe(2);
    expect(nextDay.get(nextDay.keyOf('k', 'newer'))).toBe(4);
  });
});
