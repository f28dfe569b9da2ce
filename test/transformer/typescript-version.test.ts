/**
 * The transformer says which TypeScript it supports (5.x and 6.x) when another one loads it, before it
 * touches anything else of the compiler it is handed: a build error TS91012 through ts-patch's
 * `addDiagnostic` (files left unchanged), or a thrown error where nothing can report one.
 *
 * TypeScript 7 cannot load it at all: ts-patch dies first (`TypeError: Cannot read properties of
 * undefined (reading 'LineFeed')`), since TypeScript 7's `typescript` module exports only `version` and
 * `versionMajorMinor`. So this hands the transformer that module as it is, and TypeScript 5.9 (this
 * repository's) under other version numbers; and it checks that the install lines of the README and the
 * docs name a TypeScript and a ts-patch that work together.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import tstraceTransformer from '../../transformer/index.js';
import { repoRoot } from './harness.js';

type Extras = NonNullable<Parameters<typeof tstraceTransformer>[2]>;

/** TypeScript 7's `require('typescript')`: node_modules/typescript/lib/version.cjs of 7.0.2, exactly. */
const typescript7 = { version: '7.0.2', versionMajorMinor: '7.0' } as unknown as typeof ts;
/** This repository's TypeScript, saying it is another version. */
const posingAs = (version: string): typeof ts => Object.create(ts, { version: { value: version } }) as typeof ts;

const program = ts.createProgram({ rootNames: [], options: {} });

/**
 * Loads the transformer as ts-patch does, with `compiler`, and runs it on a file with a directive; its
 * diagnostics, the file, and what it made of it.
 */
function load(compiler: typeof ts): { diagnostics: ts.Diagnostic[]; source: ts.SourceFile; transformed: ts.SourceFile } {
  // A new file each time: the transformer instruments a node once, whichever instance it is.
  const source = ts.createSourceFile('main.ts', '// trace:region\nexport function f() {\n  return 1;\n}\n', ts.ScriptTarget.ES2022, true);
  const diagnostics: ts.Diagnostic[] = [];
  const extras: Extras = { ts: compiler, addDiagnostic: (d) => diagnostics.push(d) };
  const factory = tstraceTransformer(program, {}, extras);
  const { transformed } = ts.transform(source, [factory]);
  return { diagnostics, source, transformed: transformed[0] };
}

const SAYS = /^tstrace\/transformer supports TypeScript 5\.x and 6\.x, and was loaded by TypeScript (\S+?)(?: \(.*\))?\. Install a supported one with its ts-patch: npm install -D typescript@5\.9 ts-patch@3 \(or typescript@6 ts-patch@4\)\.$/;

describe('loaded by a TypeScript it does not support', () => {
  for (const [name, compiler, version] of [
    ["TypeScript 7's typescript module (version and versionMajorMinor, nothing else)", typescript7, '7.0.2'],
    ['TypeScript 4.9', posingAs('4.9.5'), '4.9.5'],
    ['a future TypeScript 8', posingAs('8.0.0-dev.20270101'), '8.0.0-dev.20270101'],
  ] as const) {
    it(`${name}: build error TS91012 saying which versions it supports and what to install; no file changed`, () => {
      const { diagnostics, source, transformed } = load(compiler);
      expect(diagnostics).toHaveLength(1);
      const [d] = diagnostics;
      expect({ code: d.code, category: d.category, file: d.file }).toEqual({ code: 91012, category: ts.DiagnosticCategory.Error, file: undefined });
      expect(d.messageText).toMatch(SAYS);
      expect(SAYS.exec(String(d.messageText))?.[1]).toBe(version);
      expect(transformed).toBe(source);
    });
  }

  it('says TypeScript 7 has no transformer API, and that @traced still works without tspc', () => {
    const { diagnostics } = load(typescript7);
    expect(diagnostics[0].messageText).toContain('(TypeScript 7 has no compiler API for transformers; @traced still works as a runtime decorator without tspc)');
  });

  it('throws the message when there is no addDiagnostic to report it with', () => {
    expect(() => tstraceTransformer(program, {}, { ts: typescript7 })).toThrow(SAYS);
  });
});

describe('loaded by a supported TypeScript', () => {
  for (const version of [ts.version, '5.0.4', '6.0.2']) {
    it(`TypeScript ${version}: no diagnostic, the file is instrumented`, () => {
      const { diagnostics, source, transformed } = load(version === ts.version ? ts : posingAs(version));
      expect(diagnostics).toEqual([]);
      expect(transformed).not.toBe(source);
      expect(ts.createPrinter().printFile(transformed)).toMatch(/\.enter\(__tstrace_site_1/);
    });
  }
});

/**
 * The install commands of a markdown text that a reader copies: `npm i`/`npm install` lines of its shell
 * blocks, and inline ones that install dev dependencies (`npm install -D …`), without their comments.
 */
function installCommands(markdown: string): string[] {
  const inBlocks = [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((block) => block[1].split('\n'));
  const inline = [...markdown.matchAll(/`(npm (?:i|install) -D [^`]*)`/g)].map((span) => span[1]);
  return [...inBlocks, ...inline].filter((line) => /^npm (i|install)\b/.test(line)).map((line) => line.replace(/#.*/, '').trim());
}

describe('install lines', () => {
  /** ts-patch's major for each TypeScript major it patches. */
  const tsPatchFor: Record<string, string> = { '5': '3', '6': '4' };
  const documents = ['README.md', ...readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const lines = documents.flatMap((doc) =>
    installCommands(readFileSync(join(repoRoot, doc), 'utf8'))
      .filter((line) => /\b(typescript|ts-patch)\b/.test(line))
      .map((line) => ({ doc, line })),
  );

  it('exist in the README and docs/transformer.md', () => {
    expect(new Set(lines.map((l) => l.doc))).toEqual(new Set(['README.md', 'docs/transformer.md']));
  });

  it('pin TypeScript 5.x or 6.x, each with the ts-patch that patches it (without ts-patch, for tstrace/register and tstrace/source, the parser alone)', () => {
    for (const { doc, line } of lines) {
      const pairs = [...line.matchAll(/typescript@(\d+)(?:\.\d+)?\s+ts-patch@(\d+)/g)];
      if (!/\bts-patch\b/.test(line)) {
        const majors = [...line.matchAll(/typescript@(\d+)/g)].map((m) => m[1]);
        expect(majors.length, `${doc}: ${line}`).toBeGreaterThan(0);
        for (const major of majors) expect(Object.keys(tsPatchFor), `${doc}: ${line}`).toContain(major);
      } else expect(pairs.length, `${doc}: ${line}`).toBe(1);
      expect(line.match(/\btypescript\b(?!@\d)/g) ?? [], `${doc}: an unpinned typescript in ${line}`).toEqual([]);
      for (const [, tsMajor, tsPatchMajor] of pairs) expect(tsPatchFor[tsMajor], `${doc}: ${line}`).toBe(tsPatchMajor);
    }
  });
});
