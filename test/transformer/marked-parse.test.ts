/**
 * instrumentSource parses only the statements (and class members) that hold marks
 * (transformer/source/marked-text.ts): its result — code, source map, diagnostics — must be exactly
 * what parsing the whole file gives, for every source the transformer tests use, for the bundler
 * benchmark's project, and for files built at random from fragments that are hard to cut right. And the
 * text it parses must really be mostly blank for a typical file.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { instrumentFile } from '../../transformer/source/instrument-file.js';
import type { InstrumentSourceOptions } from '../../transformer/source/instrument-source.js';
import { markedText } from '../../transformer/source/marked-text.js';
import { generateProject } from '../../bench/transformer-project.mjs';
import { cases } from './diagnostic-cases.js';
import { repoRoot } from './harness.js';
import { ts } from './source-paths.js';
import type * as TS from 'typescript';

const here = join(repoRoot, 'test', 'transformer');
const projectDir = mkdtempSync(join(tmpdir(), 'tstrace-marked-'));
generateProject(projectDir, 6000);
afterAll(() => rmSync(projectDir, { recursive: true, force: true }));

/** Both parses give the same result (null, or the same code, map and diagnostics). */
function expectSameAsWholeParse(code: string, options: InstrumentSourceOptions): void {
  const whole = instrumentFile(ts, code, options, 'whole');
  const marked = instrumentFile(ts, code, options, 'marked');
  const view = (r: typeof whole) => r && { code: r.code, map: r.map.toString(), diagnostics: r.diagnostics };
  expect(view(marked), `${options.fileName}:\n${code}`).toEqual(view(whole));
}

const variants: Partial<InstrumentSourceOptions>[] = [{}, { tracedDecorators: 'remove', coverAsyncReturn: false }];
const check = (code: string, fileName: string): void => {
  for (const variant of variants) expectSameAsWholeParse(code, { fileName, rootDir: here, ...variant });
};

/** The string literals of the transformer tests that hold a mark: the sources they instrument. */
function sourcesInTests(): { name: string; code: string }[] {
  const found: { name: string; code: string }[] = [];
  for (const name of readdirSync(here).filter((f) => f.endsWith('.ts') && f !== 'marked-parse.test.ts')) {
    const file = ts.createSourceFile(name, readFileSync(join(here, name), 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: TS.Node): void => {
      if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && /trace/.test(node.text)) found.push({ name: `${name}:${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}`, code: node.text });
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return found;
}

describe('instrumentSource parses the marked statements only, with the result of a whole parse', () => {
  it('for the fixtures and programs of the transformer tests', () => {
    for (const dir of ['fixtures', 'programs']) {
      for (const name of readdirSync(join(here, dir))) check(readFileSync(join(here, dir, name), 'utf8'), join(here, dir, name));
    }
  });

  it('for the diagnostic cases', () => {
    for (const c of cases) check(c.source, join(here, 'main.ts'));
  });

  it('for every source written in the transformer tests', () => {
    const sources = sourcesInTests();
    expect(sources.length).toBeGreaterThan(50);
    for (const { code } of sources) {
      for (const ext of ['.ts', '.js', '.tsx']) check(code, join(here, `main${ext}`));
    }
  });

  it("for the bundler benchmark's project", () => {
    const src = join(projectDir, 'src');
    const names = readdirSync(src);
    expect(names.length).toBeGreaterThan(20);
    for (const name of names) check(readFileSync(join(src, name), 'utf8'), join(src, name));
  });

  it("for this repository's own sources, with a directive before every fifth function", () => {
    let checked = 0;
    for (const folder of ['runtime', 'transformer', 'format', 'analysis', 'reader', 'export', 'report', 'cli', 'viewer', 'otel', 'vitest']) {
      for (const name of readdirSync(join(repoRoot, folder), { recursive: true }).map(String)) {
        if (!/\.(?:ts|mts|cts)$/.test(name) || /\.d\.[mc]?ts$/.test(name)) continue;
        let functions = 0;
        const lines = readFileSync(join(repoRoot, folder, name), 'utf8').split('\n');
        const code = lines.map((line) => (/^\s*(?:export\s+)?(?:async\s+)?function\b|^\s{2}(?:async\s+)?\w+\s*\([^)]*\)\s*(?::\s*[^{]+)?\{\s*$|^\s*(?:const|let)\s+\w+\s*=\s*(?:async\s*)?\(/.test(line) && functions++ % 5 === 0 ? `// trace:region\n${line}` : line)).join('\n');
        if (functions === 0) continue;
        expectSameAsWholeParse(code, { fileName: join(repoRoot, folder, name), rootDir: repoRoot });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('for files built at random from fragments (semicolon-less code, regexes, templates, classes, marks everywhere)', () => {
    fc.assert(
      fc.property(sourceFile, ({ code, ext }) => {
        const blanked = markedText(code, ext === '.ts' ? 'ts' : 'js');
        expect(blanked.length).toBe(code.length);
        expect(blanked.replace(/[^\r\n\u2028\u2029]/g, '')).toBe(code.replace(/[^\r\n\u2028\u2029]/g, ''));
        check(code, join(here, `main${ext}`));
      }),
      { seed: 20261207, numRuns: 400 },
    );
  });
});

describe('markedText', () => {
  it('blanks most of a typical file: its unmarked statements and members', () => {
    const code = readFileSync(join(projectDir, 'src', 'm1.ts'), 'utf8');
    const blanked = markedText(code, 'ts');
    const visible = (text: string) => text.replace(/\s/g, '').length;
    expect(visible(blanked) / visible(code)).toBeLessThan(0.5);
    // Its marked members stay, with their marks; an unmarked member of the same class does not.
    expect(blanked).toContain('@traced({ name: \'invoice1.pay\'');
    expect(blanked).not.toContain('list(status');
    // A file with one marked function of many: nearly all blank.
    const oneMark = `import { x } from './x.js';\n${Array.from({ length: 50 }, (_, k) => `export function f${k}(a: number): number {\n  return a + ${k};\n}\n`).join('')}// trace:region\nexport function g() {}\n`;
    expect(visible(markedText(oneMark, 'ts')) / visible(oneMark)).toBeLessThan(0.1);
  });

  it('keeps every offset: line breaks stay where they were', () => {
    const code = 'const a = 1;\r\nconst b = "x\u2028y";\u2029function f() {}\n// trace:region\nfunction g() {}\n';
    const blanked = markedText(code, 'ts');
    expect(blanked.length).toBe(code.length);
    // The line separator inside the string stays too: TypeScript counts it as a line break.
    expect(blanked).toBe(`const a = 1;\r\n${' '.repeat(12)}\u2028${' '.repeat(3)}\u2029${' '.repeat(15)}\n// trace:region\nfunction g() {}\n`);
  });

  it.each([
    ['JSX', 'const a = 1;\nconst b = <div>{"}"}</div>;\n// trace:region\nfunction g() {}\n', 'js'],
    ['a TSX file', 'const a = 1;\n// trace:region\nfunction g() {}\n', 'jsx'],
    ['unbalanced brackets', 'const a = f(;\n// trace:region\nfunction g() {}\n', 'ts'],
    ['an unterminated string', "const a = 'x;\n// trace:region\nfunction g() {}\n", 'ts'],
  ] as const)('leaves the text as it is when unsure: %s', (_, code, syntax) => {
    expect(markedText(code, syntax)).toBe(code);
  });
});

// ---------------------------------------------------------------------------------------------------
// Files from fragments. `#` in a fragment becomes a number unique in the file.

const imports = [
  `import { traced } from 'tstrace';`,
  `import { traced as t } from 'tstrace';`,
  `import * as tr from 'tstrace';`,
  `import { traced, type Context } from 'tstrace';`,
  `const { traced } = require('tstrace');`,
  `import { helper } from './helper.js';`,
  `import './side-effect.js';`,
];

/** Top-level statements, written without their final semicolon (the file's style adds it or not). */
const statements = [
  'export function f§(a: number) {\n  return a / 2 / 3\n}',
  '// trace:region\nexport function f§(a: number) {\n  if (a) return a\n  return 0\n}',
  '// trace:task job§\nasync function f§() {\n  await Promise.resolve()\n  // trace:region inner§\n  for (const x of [1]) {\n    await x\n  }\n}',
  'export default // trace:region\nfunction () {}',
  '// trace:region\nconst f§ = (x: number) => x * 2',
  'const f§ = function () { return /[}{\'"`]\\/x/g.test("}") }',
  'const re§ = /[/]{2}\\//g',
  'let x§ = a / b / c',
  'const s§ = `a ${ { b: `c ${ "}" } {` }.b } d ${ `}` }`',
  'const r§ = `${/[(]/.test("(") ? `${/[`]/.source}` : 2}`',
  'const o§ = {\n  // trace:region\n  m(x: number) { return x },\n  // trace:region named§\n  p: (y: string) => y,\n  q: async function () {},\n}',
  "app.get('/x', // trace:region\n  (req: unknown) => req)",
  'f(1, // trace:region h§\n  function () {})',
  'setTimeout(( // trace:region\n  () => {}), 1)',
  '// trace:regoin\nfunction bad§() {}',
  'function end§() {\n  return 1\n  // trace:region\n}',
  '// trace:region\nexport const answer§ = 42',
  'export function ret§() {\n  return ( // trace:region\n    () => 1)\n}',
  '// trace:region\n{\n  work()\n}',
  'if (x)\n  y()\nelse\n  z()',
  '// trace:region\nif (x§)\n  work()\nelse\n  rest()',
  '// trace:region\ndo work()\nwhile (x§)',
  '// trace:region\ntry {\n  work()\n}\nfinally {\n  rest()\n}',
  '// trace:region\nfor (const k of [1])\n  work(k)',
  'do y()\nwhile (x)',
  'try {\n  y()\n}\ncatch {\n  z()\n}\nfinally {\n  w()\n}',
  'label§: for (;;) {\n  break label§\n}',
  '/* { */ const c§ = "/* } */" // } \' " {',
  'const d§ = 1 /* a\n b */',
  '(function () {})()',
  '[1, 2].forEach((n) => n)',
  '`tpl${1}`.length',
  '// trace:region\n(async () => {})()',
  'x§ = { a: 1 }',
  'x§\n  .y()',
  'interface I§ {\n  a: string;\n  b(): void\n}',
  'type T§ = { a: 1; b: { c: 2 } }',
  'type G§ = Array<{ a: 1 }>',
  'enum E§ { A, B }',
  'declare const dc§: unique symbol',
  'export { f§ as g§ }',
  'export * as ns§ from "./ns.js"',
  'namespace N§ {\n  // trace:region\n  export function f() {}\n}',
  '@dec(1, { a: [2] })\nexport class D§ {}',
  'const K§ = class {\n  // trace:region\n  m() {}\n}',
  'export const x§ = 1, y§ = { a: `${"{"}` }',
  'const z§ = a\n++b',
  'const w§ = a\n<b>(c)',
  'import.meta.url',
  'const v§ = await import("./dyn.js")',
  'function over§(a: string): void\nfunction over§(a: unknown) {}',
  '// trace:region\nfunction over§(a: string): void\nfunction over§(a: unknown) {}',
  '"a string statement"',
];

/** Class members, written without their final semicolon where a property may omit it. */
const members = [
  'p§ = 1',
  'q§: number',
  'static s§ = { a: 1 }',
  'arrow§ = (x: number) => x',
  '// trace:region\narrow§ = (x: number) => {\n  return x\n}',
  'field§ = ( // trace:region\n  () => 1)',
  // `[0]` goes on with the function expression (an arrow would end before it): the field is `(function () {})[0]`.
  'indexed§ = // trace:region\n  function () {}\n[0]',
  'get g§() { return 1 }',
  'set g§(v: number) {}',
  '@traced\nget h§() { return 1 }',
  'static {\n  init()\n}',
  'm§(a: string): void;\nm§(a: unknown) {}',
  '@traced\nm§(a: string): void;\nm§(a: unknown) {}',
  '@dec({ a: [1, 2] })\nd§() {}',
  '@traced\nmethod§() {}',
  "@traced({ name: 'named§', log: ['a'], err: true })\nasync method§(a: number) { await a }",
  "@traced('n§')\n*gen§() { yield 1 }",
  '@t\naliased§() {}',
  '@tr.traced\nspaced§() {}',
  '[key: string]: unknown',
  "['computed§']() {}",
  '#priv§ = 2',
  '// trace:region\nplain§() {\n  return `}${"{"}`\n}',
  'constructor(a: number) {\n  super()\n}',
  '// trace:region\nconstructor(readonly a: number) {\n  super()\n}',
  'trailing§() {\n  f(x, // trace:region\n    () => 1)\n}',
  'reg§() { return /}/.test("{") }',
  '// trace:region\nabstract ab§(): void',
  '@traced accessor acc§ = 1',
];

/** Between statements or members: nothing, blank lines, comments. */
const gaps = ['\n', '\n', '\n\n', '\n// } a comment {\n', '\n/* { " */\n', ' // trailing }\n', '\n/**\n * doc {\n */\n', '\r\n'];

/** Fragments with marks, and without: most statements of a file hold none. */
const holdsMark = (text: string): boolean => /trace|@t\b/.test(text);
const fragment = (list: readonly string[]) =>
  fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...list.filter((f) => !holdsMark(f))) }, { weight: 1, arbitrary: fc.constantFrom(...list.filter(holdsMark)) });

const classDecl = fc.record({
  header: fc.constantFrom('class', 'export class', 'export default class', 'abstract class', '@traced\nclass', '// trace:region\nclass', '@dec()\nexport class', 'export abstract class', 'declare class', '@dec\nclass'),
  extend: fc.constantFrom('', ' extends Base', ' extends mix({ a: 1 })', '<T extends { a: 1 }>'),
  members: fc.array(fc.record({ member: fragment(members), semi: fc.boolean(), gap: fc.constantFrom(...gaps) }), { maxLength: 10 }),
});

const item = fc.oneof(
  { weight: 3, arbitrary: fc.record({ statement: fragment(statements), gap: fc.constantFrom(...gaps) }) },
  { weight: 1, arbitrary: fc.record({ cls: classDecl, gap: fc.constantFrom(...gaps) }) },
);

const sourceFile = fc
  .record({
    prologue: fc.constantFrom('', '#!/usr/bin/env node\n', '"use strict";\n', "'use strict'\n'use client'\n"),
    imports: fc.subarray(imports),
    items: fc.array(item, { minLength: 1, maxLength: 16 }),
    semicolons: fc.boolean(),
    ext: fc.constantFrom('.ts', '.ts', '.mts', '.js'),
  })
  .map(({ prologue, imports: chosen, items, semicolons, ext }) => {
    let counter = 0;
    const unique = (text: string) => text.replace(/§/g, () => String(++counter));
    // Semicolon-less style: a line that starts with ( [ ` + - / < gets a leading semicolon.
    const statement = (text: string) => (semicolons ? `${text};` : /^[([`+\-/<]/.test(text) ? `;${text}` : text);
    let code = prologue + chosen.map((line) => `${line}\n`).join('');
    for (const it of items) {
      if ('statement' in it) {
        code += statement(unique(it.statement)) + it.gap;
      } else {
        const { header, extend, members: list } = it.cls;
        let body = '';
        let previousOpen = false;
        for (const { member, semi, gap } of list) {
          const text = unique(member);
          // A member starting with [ or * would go on with a property initializer left without `;`.
          body += `${previousOpen && /^[[*]/.test(text) ? ';' : ''}  ${text.replace(/\n/g, '\n  ')}${semi && /[^}]$/.test(text) ? ';' : ''}${gap}`;
          previousOpen = !semi || /}$/.test(text);
        }
        code += `${header} C${++counter}${extend} {\n${body}}${it.gap}`;
      }
    }
    return { code, ext };
  });
