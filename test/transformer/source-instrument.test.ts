/**
 * The source instrumenter (`tstrace/source`): the fixtures instrumented as text, then compiled plain by
 * tsc, must do exactly what the plain programs do and record exactly the regions `tspc` compiles (the
 * harness's full check, in the configurations paths.test.ts does not run; that suite compares the
 * region trees of every path); then its API: diagnostics, formats, idempotence, source maps.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiagnosticCode } from '../../transformer/diagnostics.js';
import { instrumentSource, type InstrumentSourceOptions } from '../../transformer/source/instrument-source.js';
import { cases } from './diagnostic-cases.js';
import { build, configName, expectInstrumentedToMatchPlain, fixtureFiles, fixturesDir, repoRoot, type MatrixConfig } from './harness.js';
import { instrumentTree, ts } from './source-paths.js';

const work = join(repoRoot, 'test', '.work', `source-${process.pid}`);

// ES2015: async functions and generators compiled down by tsc after instrumentation (paths.test.ts runs ES2022).
const configs: MatrixConfig[] = [
  { target: 'ES2015', module: 'esm', decorators: 'tc39' },
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

describe('instrumentSource', () => {
  const instrument = (code: string, fileName = join(work, 'main.ts'), options: Partial<InstrumentSourceOptions> = {}) =>
    instrumentSource(ts, code, { fileName, rootDir: work, ...options });

  it('returns null for text with nothing to instrument, without parsing it', () => {
    expect(instrument('export const f = () => 1;\n')).toBeNull();
    // A user's own `traced` (not imported from tstrace) is not ours: nothing to do either.
    expect(instrument(`function traced(..._: unknown[]) {}\nexport class A { @traced m() {} }\n`)).toBeNull();
  });

  it.each(cases.filter((c) => c.code !== DiagnosticCode.ScriptWithoutModule))('reports TS$code ($name) with its position, as tspc does', (c) => {
    const result = instrument(c.source);
    expect(result).not.toBeNull();
    const ours = result!.diagnostics;
    expect(ours.map((d) => [d.code, d.fileName, d.line])).toEqual([[c.code, join(work, 'main.ts'), c.line]]);
    expect(ours[0].message).toMatch(/^tstrace: /);
    expect(ours[0].message).toMatch(c.says);
    const lineStart = c.source.split('\n').slice(0, c.line - 1).join('\n').length + (c.line > 1 ? 1 : 0);
    expect(ours[0].start).toBe(lineStart + ours[0].column - 1);
  });

  it('points a misspelt directive at its own line and column', () => {
    const [d] = instrument(`export function f() {\n  return 1;\n}\n  // trace:regoin\nexport function g() {}\n`)!.diagnostics;
    expect([d.code, d.line, d.column]).toEqual([DiagnosticCode.UnknownDirective, 4, 3]);
  });

  it('takes a script in CommonJS with require, and in ESM with import', () => {
    const script = `// trace:region\nfunction f() { return 1; }\nf();\n`;
    expect(instrument(script, join(work, 'main.js'))!.code).toMatch(/^const __tstrace = require\("tstrace\/instrument"\); var __tstrace_site1 = /);
    expect(instrument(script, join(work, 'main.js'), { format: 'esm' })!.code).toMatch(/^import \* as __tstrace from "tstrace\/instrument"; var __tstrace_site1 = /);
    expect(instrument(script, join(work, 'main.mjs'))!.code).toMatch(/^import \* as __tstrace /);
    expect(instrument(script, join(work, 'main.cjs'), { runtimeModule: 'x/instrument' })!.code).toMatch(/^const __tstrace = require\("x\/instrument"\);/);
  });

  it('keeps a hashbang line and the file prologue first, and every line where it was', () => {
    const source = `#!/usr/bin/env node\n'use strict';\n// trace:region\nfunction f() {\n  'use strict';\n  return 1;\n}\nf();\n`;
    const { code } = instrument(source, join(work, 'cli.js'))!;
    const lines = code.split('\n');
    expect(lines).toHaveLength(source.split('\n').length);
    expect(lines[0]).toBe('#!/usr/bin/env node');
    expect(lines[1]).toMatch(/^'use strict'; const __tstrace = require/);
    expect(lines[4]).toMatch(/^ {2}'use strict'; const __tstrace_region\d+ = __tstrace\.enter\(/);
  });

  it("recognises tstrace's @traced and Context through renamed, namespace and require bindings, and nothing else", () => {
    const sources = [
      `import { traced as t, type Context as C } from 'tstrace';\nexport class A { @t m(ctx: C | undefined) { return ctx; } }\n`,
      `import * as tr from 'tstrace';\nexport class A { @tr.traced() m(ctx: tr.Context) { return ctx; } }\n`,
      `const { traced: t } = require('tstrace');\nclass A { @t m(ctx) { return ctx; } }\nmodule.exports = { A };\n`,
    ];
    for (const source of sources) {
      const { code, diagnostics } = instrument(source, join(work, source.includes('require') ? 'main.cjs' : 'main.ts'))!;
      expect(diagnostics).toEqual([]);
      expect(code).toMatch(/@__tstrace\.compiled m\(ctx/);
      expect(code).toContain(`__tstrace.enter(__tstrace_site1, ${source.includes('require') ? 'void 0' : 'ctx'})`);
    }
    // Another module's `traced`, or a local one shadowing nothing imported: left alone.
    expect(instrument(`import { traced } from './my-tracing';\nexport class A { @traced m() {} }\n`)).toBeNull();
  });

  it('ends an async region when the body returns with coverAsyncReturn: false', () => {
    const source = `// trace:region\nexport async function f() { return g(); }\n// trace:region\nexport const h = async () => g();\ndeclare function g(): Promise<number>;\n`;
    expect(instrument(source)!.code).toContain('__tstrace.returning(');
    const { code } = instrument(source, undefined, { coverAsyncReturn: false })!;
    expect(code).not.toContain('returning(');
    expect(code).toContain('try { return g(); }');
  });

  it('keeps prologue directives without semicolons apart from what follows them', () => {
    const source = `'use strict'\n// trace:region\nfunction f() {\n  'use strict'\n  return typeof this;\n}\nmodule.exports = f;\n`;
    const file = join(work, 'asi.cjs');
    const { code } = instrument(source, file)!;
    mkdirSync(work, { recursive: true });
    writeFileSync(file, code);
    expect(execFileSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(file)})())`], { encoding: 'utf8' }).trim()).toBe('undefined');
  });

  it('picks a runtime name the file does not use', () => {
    const { code } = instrument(`const __tstrace = 1;\n// trace:region\nexport function f() { return __tstrace; }\n`)!;
    expect(code).toMatch(/^import \* as __tstrace1 from "tstrace\/instrument";/);
    expect(code).toContain('__tstrace1.enter(__tstrace1_site1');
  });

  it('instruments a file once, however often it is given it (its own output, or tspc output)', () => {
    for (const file of fixtureFiles().filter((f) => !f.includes('script'))) {
      const first = instrument(readFileSync(join(fixturesDir, file), 'utf8'), join(fixturesDir, file));
      expect(first?.diagnostics).toEqual([]);
      expect(instrument(first!.code, join(fixturesDir, file)), file).toBeNull();
    }
    // A directive on the first line ends up after the header on that line: still instrumented once.
    for (const [name, source] of [['first.mjs', `// trace:task\nexport async function work(n) { await null; return n; }\n`], ['first.cjs', `// trace:region\nexports.f = function () {};\n`]]) {
      const once = instrument(source, join(work, name))!;
      expect(once.diagnostics).toEqual([]);
      expect(instrument(once.code, join(work, name))).toBeNull();
    }
    // ES2022 output keeps async functions as they are (ES2015's helpers move their bodies).
    const compiled = build({ target: 'ES2022', module: 'esm', decorators: 'tc39' }, true, ['shapes.ts']).files.get('shapes.js')!;
    expect(compiled).toContain('// trace:region');
    expect(instrument(compiled, join(work, 'shapes.js'))).toBeNull();
  });

  it('maps an error thrown inside an instrumented function to its original line and column', () => {
    const dir = join(work, 'maps');
    mkdirSync(dir, { recursive: true });
    const source = [`export const ok = 1;`, `// trace:region`, `export function boom(x) { if (x) { throw new Error('boom'); } return ok; }`, `export const later = async () => { await null; throw new Error('later'); };`, ''].join('\n');
    const file = join(dir, 'boom.mjs');
    // The arrow's directive is on the line before: mark it too.
    const marked = source.replace('export const later', '// trace:region\nexport const later');
    const result = instrument(marked, file)!;
    writeFileSync(file, `${result.code}\n//# sourceMappingURL=${result.map.toUrl()}\n`);
    const driver = `import { boom, later } from './boom.mjs';\ntry { boom(1); } catch (e) { console.log(e.stack.split('\\n')[1]); }\nlater().catch((e) => console.log(e.stack.split('\\n')[1]));\n`;
    writeFileSync(join(dir, 'driver.mjs'), driver);
    const run = (flags: string[]) => execFileSync(process.execPath, [...flags, join(dir, 'driver.mjs')], { encoding: 'utf8' }).trim().split('\n');
    const lines = marked.split('\n');
    const boomAt = `boom.mjs:3:${lines[2].indexOf('new Error') + 1}`;
    const laterAt = `boom.mjs:5:${lines[4].indexOf('new Error') + 1}`;
    const mapped = run(['--enable-source-maps']);
    expect(mapped[0]).toContain(boomAt);
    expect(mapped[1]).toContain(laterAt);
    // Without the map, the inserted code moves the columns (this test could tell a wrong map).
    expect(run([])[0]).not.toContain(boomAt);
  });
});

describe('loadTypeScript', () => {
  const load = (cwd: string) =>
    spawnSync(process.execPath, ['-e', `try { require(${JSON.stringify(join(repoRoot, 'dist', 'cjs', 'transformer', 'source', 'instrument-source.js'))}).loadTypeScript(); console.log('loaded'); } catch (e) { console.log(e.name + ': ' + e.message); }`], { cwd, encoding: 'utf8' }).stdout.trim();

  it("finds the project's TypeScript", () => {
    expect(load(repoRoot)).toBe('loaded');
  });

  // With none at all, it says what to install: test/package.test.ts checks it in an installed package
  // (here, the repository's own TypeScript beside tstrace would be found).
  it("says what to install when the project's TypeScript has no compiler API (TypeScript 7)", () => {
    const empty = join(tmpdir(), `tstrace-no-typescript-${process.pid}`);
    // TypeScript 7's package: only a version.
    mkdirSync(join(empty, 'node_modules', 'typescript'), { recursive: true });
    writeFileSync(join(empty, 'node_modules', 'typescript', 'package.json'), '{ "name": "typescript", "version": "7.0.0", "main": "index.js" }');
    writeFileSync(join(empty, 'node_modules', 'typescript', 'index.js'), 'module.exports = { version: "7.0.0", versionMajorMinor: "7.0" };');
    expect(load(empty)).toMatch(/^MissingPeerError: .*found TypeScript 7\.0\.0: npm install -D typescript@5\.9/);
  });
});
