import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiagnosticCode } from '../../transformer/diagnostics.js';
import { build, repoRoot, type MatrixConfig } from './harness.js';

const config: MatrixConfig = { target: 'ES2022', module: 'esm', decorators: 'tc39' };

/** Compiles one source file with the transformer; returns its diagnostics. */
function diagnosticsOf(name: string, source: string, module: MatrixConfig['module'] = 'esm'): string[] {
  const root = join(repoRoot, 'test', '.work', 'diagnostics', name);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'main.ts'), source);
  return build({ ...config, module }, true, ['main.ts'], {}, root).diagnostics;
}

const cases: { code: number; name: string; source: string; line: number; says: RegExp; module?: MatrixConfig['module'] }[] = [
  {
    code: DiagnosticCode.NoBody,
    name: 'directive on an overload signature',
    source: `// trace:region\nexport function f(a: string): void;\nexport function f(a: unknown) {}\n`,
    line: 2,
    says: /has no body to trace/,
  },
  {
    code: DiagnosticCode.DirectiveAttachedToNothing,
    name: 'directive at the end of a block',
    source: `export function f() {\n  return 1;\n  // trace:region\n}\n`,
    line: 3,
    says: /attached to nothing/,
  },
  {
    code: DiagnosticCode.DirectiveOnDeclaration,
    name: 'directive on a variable that is not a function',
    source: `// trace:region\nexport const answer = 42;\n`,
    line: 2,
    says: /without changing its scope/,
  },
  {
    code: DiagnosticCode.UnknownDirective,
    name: 'misspelt directive',
    source: `// trace:regoin\nexport function f() {}\n`,
    line: 1,
    says: /unknown directive "trace:regoin"/,
  },
  {
    code: DiagnosticCode.TracedTwice,
    name: 'a directive on a @traced method',
    source: `import { traced } from 'tstrace';\nexport class A {\n  // trace:region\n  @traced({ err: true }) m() {}\n}\n`,
    line: 4,
    says: /already traced/,
  },
  {
    code: DiagnosticCode.UnknownOption,
    name: 'an unknown @traced option',
    source: `import { traced } from 'tstrace';\nexport class A {\n  @traced({ nam: 'x' }) m() {}\n}\n`,
    line: 3,
    says: /unknown @traced option "nam"/,
  },
  {
    code: DiagnosticCode.OptionNotLiteral,
    name: 'an option that is not a literal',
    source: `import { traced } from 'tstrace';\nconst n = 'x';\nexport class A {\n  @traced({ name: n }) m() {}\n}\n`,
    line: 4,
    says: /must be a string literal/,
  },
  {
    code: DiagnosticCode.UnknownLogParameter,
    name: 'a log entry naming no parameter',
    source: `import { traced } from 'tstrace';\nexport class A {\n  @traced({ log: ['b'] }) m(a: number) { return a; }\n}\n`,
    line: 3,
    says: /"b" is not a parameter/,
  },
  {
    code: DiagnosticCode.NoBody,
    name: '@traced on an abstract method',
    source: `import { traced } from 'tstrace';\nexport abstract class A {\n  @traced abstract m(): void;\n}\n`,
    line: 3,
    says: /has no body/,
  },
  {
    code: DiagnosticCode.AccessorField,
    name: '@traced on an accessor field',
    source: `import { traced } from 'tstrace';\nexport class A {\n  @traced accessor count = 0;\n}\n`,
    line: 3,
    says: /cannot trace an `accessor` field/,
  },
  {
    code: DiagnosticCode.DirectiveAttachedToNothing,
    name: 'a directive at the end of a line before a statement that is not a function',
    source: `export function f() {\n  f(); // trace:region\n  return 1;\n}\n`,
    line: 2,
    says: /attached to nothing\. .*right before a function expression or arrow/,
  },
  {
    code: DiagnosticCode.DirectiveAttachedToNothing,
    name: 'a directive at the end of a function declaration’s first line',
    source: `export function f() { // trace:region\n  return 1;\n}\n`,
    line: 1,
    says: /attached to nothing/,
  },
  {
    code: DiagnosticCode.DirectiveAttachedToNothing,
    name: 'a directive before a call that wraps the function',
    source: `const wrap = <T>(f: T) => f;\nexport const g = wrap(// trace:region\n  wrap(() => 1));\n`,
    line: 2,
    says: /attached to nothing/,
  },
  {
    code: DiagnosticCode.UnknownDirective,
    name: 'a misspelt directive before an arrow argument',
    source: `export const run = (f: () => number) => f();\nrun(// trace:regoin\n  () => 1);\n`,
    line: 2,
    says: /unknown directive "trace:regoin"/,
  },
  {
    code: DiagnosticCode.DirectiveAfterReturn,
    name: 'a directive right after return: the line break ends the statement',
    source: `export function make() {\n  return // trace:region\n    () => 1;\n}\n`,
    line: 2,
    says: /returns undefined and never evaluates what follows\. Open a parenthesis before the directive: `return \( \/\/ trace:region`/,
  },
  {
    code: DiagnosticCode.DirectiveAfterReturn,
    name: 'a directive right after yield',
    source: `export function* make() {\n  yield // trace:task\n    () => 1;\n}\n`,
    line: 2,
    says: /it yields undefined .*`yield \( \/\/ trace:task`/,
  },
  {
    code: DiagnosticCode.ScriptWithoutModule,
    name: 'script compiled to ES modules',
    source: `// trace:region\nfunction f() {}\nf();\n`,
    line: 1,
    says: /is a script/,
  },
];

describe('misuse is a diagnostic with a stable code, the position and what to do', () => {
  for (const c of cases) {
    it(`TS${c.code}: ${c.name}`, () => {
      // TypeScript may add its own error (e.g. a decorator on an abstract member); ours is exactly one.
      const diagnostics = diagnosticsOf(`${c.code}`, c.source, c.module).filter((d) => / TS910\d\d: /.test(d));
      expect(diagnostics).toHaveLength(1);
      expect(diagnostics[0]).toMatch(new RegExp(`^main\\.ts:${c.line} TS${c.code}: tstrace: `));
      expect(diagnostics[0]).toMatch(c.says);
    });
  }

  it('a script with no module option, emitted as an ES module by default, gets the diagnostic too', () => {
    const root = join(repoRoot, 'test', '.work', 'diagnostics', 'script-default-module');
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'main.ts'), `// trace:region\nfunction f() {}\nf();\n`);
    const diagnostics = build(config, true, ['main.ts'], { module: undefined, moduleResolution: undefined }, root).diagnostics;
    expect(diagnostics.filter((d) => d.includes(`TS${DiagnosticCode.ScriptWithoutModule}`))).toHaveLength(1);
  });

  it('a script compiled to CommonJS takes the runtime through require, without a diagnostic', () => {
    expect(diagnosticsOf('script-cjs', `// trace:region\nfunction f() {}\nf();\n`, 'commonjs')).toEqual([]);
  });

  it('a user function named traced, or a type named Context, is left alone', () => {
    const source = [
      `function traced(_options: object) { return (_value: unknown, _context: ClassMethodDecoratorContext) => {}; }`,
      `interface Context { task: null }`,
      `export class A {`,
      `  @traced({ bogus: 1 }) m(ctx: Context) { return ctx; }`,
      `}`,
    ].join('\n');
    expect(diagnosticsOf('user-traced', source)).toEqual([]);
  });
});
