/**
 * What the Node hook (`tstrace/register`) does to one module it loads: shared by the in-thread hooks
 * (`module.registerHooks`), the loader thread's hooks (`module.register`) and the CommonJS loader patch.
 */
import { dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TS from 'typescript';
import { createCachedInstrumenter, openInstrumenterStore, sourceMapUrl } from './cached-instrument.js';
import { mayHaveMarks } from './instrument-file.js';
import { callerFile } from './own-file.js';
import { loadTypeScript } from './load-typescript.js';
import { storeDirFor, type ResultStore } from './result-store.js';

/** Misuse of a directive or of `@traced` in a module Node is loading: it stops the load, as tspc stops a build. */
export class InstrumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InstrumentError';
  }
}

/** Formats a load hook may hand over whose text is JavaScript or TypeScript (Node's type stripping). */
const FORMATS: Readonly<Record<string, 'esm' | 'cjs'>> = {
  module: 'esm',
  'module-typescript': 'esm',
  commonjs: 'cjs',
  'commonjs-typescript': 'cjs',
};

/** The tstrace package's own dist/ folder (it holds this file): never instrumented. */
const ownDist = ((): string | null => {
  const here = callerFile();
  const at = here === null ? -1 : here.lastIndexOf(`${sep}dist${sep}`);
  return at < 0 ? null : here!.slice(0, at + 6);
})();

let ts: typeof TS | undefined;
let store: ResultStore | null | undefined;
/** The first file instrumented: its project's TypeScript and result store serve every later file (the current directory may be elsewhere). */
let firstDir: string | undefined;
const instrument = createCachedInstrumenter(
  () => (ts ??= loadTypeScript(firstDir)),
  () => (store !== undefined ? store : (store = openInstrumenterStore(storeDirFor(firstDir!), firstDir!))),
);

/** Whether a module may be instrumented, before its text is read: a file of the user's, in a format of code. */
export function mayInstrument(url: string, format: string | null | undefined): boolean {
  if (!url.startsWith('file:') || !format || !(format in FORMATS)) return false;
  const fileName = fileURLToPath(url);
  return !fileName.includes(`${sep}node_modules${sep}`) && !(ownDist !== null && fileName.startsWith(ownDist));
}

/**
 * The instrumented text of the module at `url` (source `text`, loaded in `format`), with an inline
 * source map; undefined when it is left as it is: not a file, in node_modules or tstrace itself, a
 * format that is not code, or nothing marked. Throws {@link InstrumentError} listing each misuse as
 * `file:line:column TS910xx message`.
 */
export function instrumentModule(url: string, text: string, format: string | null | undefined): string | undefined {
  if (!mayInstrument(url, format)) return undefined;
  const kind = FORMATS[format!];
  const fileName = fileURLToPath(url);
  if (mayHaveMarks(text)) firstDir ??= dirname(fileName);
  const result = instrument(text, { fileName, rootDir: process.cwd(), format: kind });
  if (!result) return undefined;
  if (result.diagnostics.length > 0) {
    throw new InstrumentError(`tstrace/register: ${result.diagnostics.map((d) => `${d.fileName}:${d.line}:${d.column} TS${d.code} ${d.message}`).join('\n')}`);
  }
  return `${result.code}\n//# sourceMappingURL=${sourceMapUrl(result.map)}\n`;
}

/** A load hook's source as text (hooks may hand over a Buffer or a typed array). */
export function sourceText(source: string | ArrayBuffer | ArrayBufferView | null | undefined): string | undefined {
  if (source === null || source === undefined) return undefined;
  if (typeof source === 'string') return source;
  const bytes = ArrayBuffer.isView(source) ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength) : new Uint8Array(source);
  return new TextDecoder().decode(bytes);
}
