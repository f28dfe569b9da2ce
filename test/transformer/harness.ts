/**
 * Compiles fixture projects with and without the tstrace transformer (through ts-patch's patched
 * compiler, in process) across the matrix of transformer.md, and runs them, so instrumented programs
 * can be compared with uninstrumented ones by what they do ({@link expectInstrumentedToMatchPlain}).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TS from 'typescript';
import { expect } from 'vitest';
import type { TraceAnalysis } from '../../analysis/analysis-types.js';
import { analyzeTrace } from '../../analysis/analysis.js';

const require = createRequire(import.meta.url);
/** TypeScript patched by ts-patch: honours `compilerOptions.plugins` as tspc does. */
const ts = require('ts-patch/compiler') as typeof TS;

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const fixturesDir = fileURLToPath(new URL('./fixtures', import.meta.url));
// One folder per test process: test files run in parallel and must not overwrite each other's output.
const workRoot = join(repoRoot, 'test', '.work', `matrix-${process.pid}`);
process.on('exit', () => rmSync(workRoot, { recursive: true, force: true }));
const runner = fileURLToPath(new URL('./run-fixtures.mjs', import.meta.url));

export interface MatrixConfig {
  readonly target: 'ES2015' | 'ES2022';
  readonly module: 'commonjs' | 'esm';
  /** TC39 decorators, `experimentalDecorators`, or that plus `emitDecoratorMetadata`. */
  readonly decorators: 'tc39' | 'experimental' | 'metadata';
}

export const matrix: MatrixConfig[] = (['ES2015', 'ES2022'] as const).flatMap((target) =>
  (['commonjs', 'esm'] as const).flatMap((module) => (['tc39', 'experimental', 'metadata'] as const).map((decorators) => ({ target, module, decorators }))),
);

export const configName = (c: MatrixConfig): string => `${c.target}-${c.module}-${c.decorators}`;

// Parsed library files are shared by every program of the run (per TypeScript instance: another
// compiler version must not be handed them): most of a compile is parsing lib.d.ts.
const sourceFileCaches = new WeakMap<typeof TS, Map<string, TS.SourceFile>>();

export interface BuildResult {
  readonly outDir: string;
  readonly diagnostics: string[];
  /** Emitted files by path relative to outDir. */
  readonly files: Map<string, string>;
}

/** Compiles `files` (paths in `root`, by default fixturesDir) for one configuration, with or without the transformer. */
export function build(config: MatrixConfig, plugin: boolean, files: readonly string[], extra: TS.CompilerOptions = {}, root = fixturesDir): BuildResult {
  return buildWith(ts, workRoot, config, plugin, files, extra, root);
}

/**
 * `build` with another TypeScript: `ts` is a ts-patch'ed compiler module (e.g. `ts-patch/compiler` of
 * another install), and outputs go under `workDir`, which must be inside the repository (so compiled
 * code resolves `tstrace`) and written by no other test file.
 */
export function buildWith(ts: typeof TS, workDir: string, config: MatrixConfig, plugin: boolean, files: readonly string[], extra: TS.CompilerOptions = {}, root = fixturesDir): BuildResult {
  const sourceFileCache = sourceFileCaches.get(ts) ?? new Map<string, TS.SourceFile>();
  sourceFileCaches.set(ts, sourceFileCache);
  const outDir = join(workDir, root === fixturesDir ? '' : relative(join(repoRoot, 'test'), root).replace(/[\\/]/g, '-'), configName(config), plugin ? 'traced' : 'plain');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const options: TS.CompilerOptions = {
    target: ts.ScriptTarget[config.target],
    module: config.module === 'commonjs' ? ts.ModuleKind.CommonJS : ts.ModuleKind.ES2022,
    moduleResolution: config.module === 'commonjs' ? ts.ModuleResolutionKind.Node10 : ts.ModuleResolutionKind.Bundler,
    experimentalDecorators: config.decorators !== 'tc39',
    emitDecoratorMetadata: config.decorators === 'metadata',
    strict: true,
    // Sloppy-mode CommonJS output, so that losing a function's "use strict" prologue would show.
    alwaysStrict: false,
    skipLibCheck: true,
    declaration: true,
    sourceMap: true,
    types: ['node'],
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts', 'lib.esnext.decorators.d.ts'],
    rootDir: root,
    outDir,
    ...(plugin ? { plugins: [{ transform: 'tstrace/transformer' }] as unknown as TS.PluginImport[] } : {}),
    ...extra,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const shared = fileName.includes('node_modules');
    const key = `${fileName}\0${typeof languageVersion === 'object' ? languageVersion.languageVersion : languageVersion}`;
    const cached = shared ? sourceFileCache.get(key) : undefined;
    if (cached) return cached;
    const file = getSourceFile(fileName, languageVersion, onError, shouldCreate);
    if (file && shared) sourceFileCache.set(key, file);
    return file;
  };
  const emitted = new Map<string, string>();
  host.writeFile = (fileName, text) => {
    mkdirSync(dirname(fileName), { recursive: true });
    writeFileSync(fileName, text);
    emitted.set(relative(outDir, fileName), text);
  };
  const program = ts.createProgram({ rootNames: files.map((f) => join(root, f)), options, host });
  const result = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics].map((d) => {
    const where = d.file && d.start !== undefined ? `${relative(root, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1} ` : '';
    return `${where}TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: config.module === 'esm' ? 'module' : 'commonjs' }));
  return { outDir, diagnostics, files: emitted };
}

export type Mode = 'off' | 'on';

/** Runs every scenario of the compiled fixtures in a fresh process; returns their observations (and the trace path). */
export function runFixtures(outDir: string, modules: readonly string[], mode: Mode): { observations: Record<string, unknown>; tracePath: string } {
  const tracePath = join(outDir, `trace-${mode}.out`);
  const stdout = execFileSync(process.execPath, [runner, outDir, mode, tracePath, ...modules], { encoding: 'utf8', cwd: outDir });
  return { observations: JSON.parse(stdout) as Record<string, unknown>, tracePath };
}

export const fixtureFiles = (): string[] => readdirSync(fixturesDir).filter((f) => f.endsWith('.ts'));

export const readText = (path: string): string => readFileSync(path, 'utf8');

/** Regions the fixtures record for every kind of function, whatever the configuration. */
const FIXTURE_REGIONS = [
  // shapes.ts
  ...['declaredLater', 'plain', 'arrowExpression', 'arrowBlock', 'functionExpression', 'asyncReturnsPromise', 'generator', 'asyncGenerator', 'Derived.constructor', 'Derived.method', 'Derived.get value', 'Derived.create', 'Derived.#secret', 'Derived.arrowField', 'method', 'property'],
  // directives.ts: a directive right before a function expression or arrow, wherever it stands
  ...['getUser', 'logger', 'loadUser', 'formatName', 'increment', 'pair', 'delayed', 'csv', 'json', 'Controller.handle', 'Controller.make', 'Controller.#secret', 'viaArrow', 'counter', 'countdown', 'source', 'cb', 'assigned', 'holder.onDone', 'picked', 'lazy', 'asserted'],
];

/** The regions of the fixtures' `@traced` classes (Shop, Register), sorted. */
const decoratedTypes = (analysis: TraceAnalysis): string[] =>
  analysis.regions
    .map((r) => r.type)
    .filter((t) => /^(Shop|Register)\./.test(t))
    .sort();

/**
 * The execution matrix's check for one configuration, the fixtures compiled by `compile` (a {@link build}
 * or {@link buildWith} for `config`) without and with the transformer:
 * - both compile without diagnostics;
 * - the instrumented programs observe exactly what the uninstrumented ones do, tracing off or on;
 * - traced, they record a complete trace, with no problem, with the region of every kind of function;
 * - uncompiled, `@traced` (the runtime decorator) records the same decorated regions, and tasks;
 * - the declaration files are byte-identical with and without the transformer (but those of `options.
 *   declarationsDifferFor`: the source instrumenter's runtime binding is a global of a TypeScript script).
 */
export async function expectInstrumentedToMatchPlain(
  config: MatrixConfig,
  compile: (plugin: boolean, files: readonly string[]) => BuildResult,
  options: { declarationsDifferFor?: (file: string) => boolean } = {},
): Promise<void> {
  // Scripts (no import/export) can only take the runtime as a CommonJS require.
  const files = fixtureFiles().filter((f) => config.module === 'commonjs' || !f.includes('script'));
  const modules = files.map((f) => f.replace(/\.ts$/, '.js'));
  const plain = compile(false, files);
  const traced = compile(true, files);
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
  for (const expected of FIXTURE_REGIONS) expect(types, expected).toContain(expected);
  if (config.module === 'commonjs') expect(types).toContain('scriptSloppy');
  // Uncompiled, @traced is the runtime decorator: it records the same regions, and tasks.
  const runtimeDecorated = await analyzeTrace(runFixtures(plain.outDir, modules, 'on').tracePath);
  expect(decoratedTypes(analysis).length).toBeGreaterThanOrEqual(10);
  expect(decoratedTypes(runtimeDecorated)).toEqual(decoratedTypes(analysis));
  expect(runtimeDecorated.tasks.map((t) => t.type)).toEqual(analysis.tasks.map((t) => t.type));
  // The declaration files are byte-identical with and without the transformer.
  for (const [file, text] of plain.files) if (file.endsWith('.d.ts') && !options.declarationsDifferFor?.(file)) expect(traced.files.get(file), file).toBe(text);
}
