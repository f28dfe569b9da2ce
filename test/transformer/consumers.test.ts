/**
 * CommonJS and ES module consumers compiled with the transformer as Node resolves the package
 * (`module`/`moduleResolution` NodeNext): in a CommonJS project tstrace's declarations come from its
 * dist/cjs build (whose package.json only says `{ "type": "commonjs" }`), in an ES module project from
 * dist/esm. In both, the transformer must recognise its own API there: `@traced` is compiled (not left
 * as the runtime decorator), `// trace:region` is instrumented, and a parameter typed tstrace's
 * `Context` is the context of the region — shown by the trace: the regions belong to the task that was
 * only passed, not made ambient. (test/install.test.ts does the same with npm-installed projects and
 * tspc, without the Context parameter.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from '../../analysis/analysis.js';
import { build, runFixtures } from './harness.js';

const consumers = fileURLToPath(new URL('./consumers', import.meta.url));
const nodeNext: ts.CompilerOptions = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext };

describe.each([
  { flavour: 'cjs', module: 'commonjs', declarations: 'dist/cjs/runtime/index.d.ts' },
  { flavour: 'esm', module: 'esm', declarations: 'dist/esm/runtime/index.d.ts' },
] as const)('a $module consumer, resolving tstrace as Node does', ({ flavour, module, declarations }) => {
  const root = join(consumers, flavour);
  const config = { target: 'ES2022', module, decorators: 'tc39' } as const;

  it('is the same source in both projects', () => {
    expect(readFileSync(join(root, 'main.ts'), 'utf8')).toBe(readFileSync(join(consumers, 'cjs', 'main.ts'), 'utf8'));
  });

  it(`compiles @traced, // trace:region and the Context parameter, against tstrace's ${declarations}`, async () => {
    const traced = build(config, true, ['main.ts'], nodeNext, root);
    expect(traced.diagnostics).toEqual([]);
    const js = traced.files.get('main.js') ?? '';
    // The module format Node gives the file, and the package's declarations it was checked against.
    if (module === 'commonjs') expect(js).toMatch(/require\("tstrace\/instrument"\)/);
    else expect(js).toMatch(/^import \* as __tstrace\w* from "tstrace\/instrument";/m);
    expect(resolvedRuntime(root)).toMatch(new RegExp(`/${declarations.replace(/\./g, '\\.')}$`));
    // @traced compiled: the no-op decorator in its place, the region code in the method, ctx passed on.
    expect(js).toMatch(/__tstrace\w*\)?\.compiled\b/);
    expect(js).toMatch(/\.call\(__tstrace_site_\d+, ctx, 0\)/);
    expect(js).toMatch(/\.enter\(__tstrace_site_\d+, ctx\)/);
    expect(js.match(/\.enter\(__tstrace_site_\d+, ctx\)/g)).toHaveLength(2);

    const run = runFixtures(traced.outDir, ['main.js'], 'on');
    expect(run.observations['main.js:run']).toEqual([
      ['make', 'latte, ambient task none'],
      ['steam', true],
      ['brew', 4],
    ]);
    const analysis = await analyzeTrace(run.tracePath);
    const [order] = analysis.tasks.filter((t) => t.type === 'order');
    expect(analysis.regions.map((r) => [r.type, r.task])).toEqual([
      ['Barista.make', order.id],
      ['steam', order.id],
      ['brew', order.id],
    ]);
    expect(analysis.logs.map((l) => [l.category, l.message, l.task])).toEqual([['order', 'latte', order.id]]);
  });
});

/**
 * The file `import … from 'tstrace'` resolves to from `root`/main.ts under NodeNext (symlinks followed),
 * in the module format the compiler gives main.ts (from the nearest package.json's "type").
 */
function resolvedRuntime(root: string): string | undefined {
  const main = join(root, 'main.ts');
  const mode = ts.getImpliedNodeFormatForFile(main as ts.Path, undefined, ts.sys, nodeNext);
  const resolved = ts.resolveModuleName('tstrace', main, nodeNext, ts.sys, undefined, undefined, mode);
  return resolved.resolvedModule?.resolvedFileName;
}
