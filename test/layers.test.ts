/**
 * The folders are the layers (docs/design.md, "Layers"), and their imports point one way: down. Every
 * relative import of every source file (type-only imports and re-exports included) is checked against
 * the table below; a new folder has to be placed in it before it builds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/** What each folder may import besides itself, top of the stack first. */
const mayImport: Readonly<Record<string, readonly string[]>> = {
  // The Vitest integration: its runner records (runtime/) in the workers, its global setup merges the
  // workers' traces (export/) in Vitest's main process. Nothing below imports it (nor vitest).
  vitest: ['runtime', 'export', 'analysis', 'format'],
  // `tstrace/otel`: the OpenTelemetry context hook and bridge, on the runtime's listener seam.
  otel: ['runtime', 'format'],
  cli: ['viewer', 'export', 'report', 'analysis', 'format', 'transformer'],
  // The `tstrace/reader` entry: only re-exports the public API of analysis/ and export/.
  reader: ['analysis', 'export', 'format'],
  // Sideways to export/: the viewer's download is the Chrome export. export/ never imports viewer/.
  viewer: ['export', 'report', 'analysis', 'format'],
  export: ['analysis', 'format'],
  report: ['analysis', 'format'],
  analysis: ['format'],
  transformer: ['runtime', 'format'],
  runtime: ['format'],
  format: [],
};

interface BadArrow {
  readonly file: string;
  readonly imports: string;
}

/** The relative imports of `text` (a file of folder `layer`) that reach a folder it may not import. */
function badArrows(file: string, text: string): BadArrow[] {
  const layer = file.split('/')[0]!;
  const allowed = new Set([layer, ...(mayImport[layer] ?? [])]);
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((imported) => imported.fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .filter((specifier) => !allowed.has(posix.normalize(posix.join(posix.dirname(file), specifier)).split('/')[0]!))
    .map((imports) => ({ file, imports }));
}

/** The TypeScript files under `dir`, as paths relative to the repository with `/` separators. */
function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.[mc]?ts$/.test(entry.name))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'));
}

describe('layers', () => {
  test('every folder tsconfig.json compiles has a place in the table', () => {
    const { include } = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as { include: string[] };
    expect([...include].sort()).toEqual(Object.keys(mayImport).sort());
  });

  test('no import points up (or sideways where the table does not say so)', () => {
    const files = Object.keys(mayImport).flatMap(sourceFiles);
    expect(files.length).toBeGreaterThan(40);
    const bad = files.flatMap((file) => badArrows(file, readFileSync(join(root, file), 'utf8')));
    expect(bad).toEqual([]);
  });

  test('the check sees imports, re-exports and dynamic imports that point up', () => {
    const text = [
      "import { runCli } from '../cli/cli-run.js';",
      "import type { Viewer } from '../viewer/server.js';",
      "export { exportGo } from '../export/export-go.js';",
      "const later = import('../report/text-report.js');",
      "import { readTrace } from './reader.js';",
      "import type { Nanos } from '../format/events.js';",
    ].join('\n');
    expect(badArrows('analysis/planted.ts', text).map((arrow) => arrow.imports)).toEqual([
      '../cli/cli-run.js',
      '../viewer/server.js',
      '../export/export-go.js',
      '../report/text-report.js',
    ]);
    expect(badArrows('runtime/planted.ts', "import { analyzeTrace } from '../analysis/analysis.js';")).toHaveLength(1);
    expect(badArrows('export/planted.ts', "import { startViewer } from '../viewer/server.js';")).toHaveLength(1);
    expect(badArrows('runtime/planted.ts', "import { TracingRunner } from '../vitest/runner.js';")).toHaveLength(1);
    expect(badArrows('cli/planted.ts', "import { traceVitest } from '../vitest/plugin.js';")).toHaveLength(1);
  });
});
