import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiagnosticCode } from '../../transformer/diagnostics.js';
import { cases } from './diagnostic-cases.js';
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
