/**
 * The source instrumenter (`tstrace/source`): `// trace:region`, `// trace:task` and `@traced` compiled
 * into a file's text, for the toolchains that do not run tsc transformers (Node's loader, tsx, Vite,
 * esbuild, webpack, TypeScript 7). It decides with the tsc transformer's planner (transformer/plan.ts)
 * and writes the same shapes as its emitter, as text edits with a source map.
 */
import type { SourceMap } from 'magic-string';
import type * as TS from 'typescript';
import { instrumentFile } from './instrument-file.js';

export { loadTypeScript, loadMagicString, MissingPeerError } from './load-typescript.js';

export interface InstrumentSourceOptions {
  /** The file's path (absolute, or relative to `rootDir`): its syntax comes from the extension, and locations and the source map name it. */
  readonly fileName: string;
  /** Compiled-in file names are relative to this folder (the tsc path uses the tsconfig's folder). */
  readonly rootDir: string;
  /** Module the instrumented code imports its runtime from. Default "tstrace/instrument". */
  readonly runtimeModule?: string;
  /** An async function's region also covers a promise it returns (default true), as with tspc. */
  readonly coverAsyncReturn?: boolean;
  /**
   * How the runtime is brought in: `esm`, an `import * as` (also right for a TypeScript file that a
   * later step compiles to CommonJS); `cjs`, a `require` (only for files that are run as CommonJS).
   * Default: by extension (`.mjs`/`.mts` esm, `.cjs`/`.cts` cjs), else esm for a file with
   * `import`/`export`, cjs for one without (a script).
   */
  readonly format?: 'esm' | 'cjs';
  /**
   * What becomes of `@traced` once its method is instrumented. `compiled` (default): the runtime's
   * no-op `compiled` decorator, so decorator metadata (`emitDecoratorMetadata`) stays exactly what it
   * was — right for `experimentalDecorators`. `remove`: deleted, leaving no decorator for the next step
   * to lower — right for TC39 decorators, which esbuild (target esnext) and Vite 8 pass through to a
   * runtime that cannot run them, and which carry no metadata.
   */
  readonly tracedDecorators?: 'compiled' | 'remove';
}

/** A misuse of `@traced` or of a directive: the tsc path's error, with its code (TS91001…) and position. */
export interface InstrumentDiagnostic {
  /** The stable code, as `tspc` reports it (91001 is TS91001). */
  readonly code: number;
  /** What is wrong and what to do, starting with "tstrace: ". */
  readonly message: string;
  readonly fileName: string;
  /** 1-based line and column of the problem's start. */
  readonly line: number;
  readonly column: number;
  /** Offsets in the input text. */
  readonly start: number;
  readonly end: number;
}

export interface InstrumentSourceResult {
  /** The instrumented text: the input with insertions only (and `@traced` replaced by the runtime's no-op `compiled`). */
  readonly code: string;
  /** Source map (v3) from `code` to the input, with the input's text included. */
  readonly map: SourceMap;
  /** Misuses found: a build should stop on them (the valid marks are instrumented all the same). */
  readonly diagnostics: InstrumentDiagnostic[];
}

/**
 * Instruments one file's text: the functions and statements marked `// trace:region [name]` or
 * `// trace:task [name]`, and the methods (and classes) decorated with tstrace's `@traced`, become
 * regions (tasks) exactly as `tspc` with `tstrace/transformer` compiles them — same runtime calls into
 * `tstrace/instrument`, same region names, locations and shapes (sync, async with each `await`
 * bracketed, generators per resumption, constructors before `super()`, `@traced` options).
 *
 * - `ts` is the TypeScript module to parse with (5.x or 6.x; {@link loadTypeScript} finds the user's).
 * - Returns null when there is nothing to instrument (no mark, or the file was instrumented already:
 *   instrumenting twice is instrumenting once). Text without `trace:` or `traced` is not even parsed;
 *   of a file with marks, only the statements (and class members) that hold them, and the imports, are
 *   parsed — the result is the same as with the whole file parsed, for text without syntax errors.
 * - Text is only inserted (and `@traced` replaced by the runtime's no-op `compiled`, which keeps
 *   decorator metadata), on existing lines: line numbers stay as they were even without the map, and
 *   `map` maps every original token (each word boundary) to its place.
 * - `@traced` is recognised from the file's imports of `tstrace` (no type checker): a renamed import
 *   and a namespace import count; an alias of it defined in another module of the user's does not.
 *   Likewise for a `Context` parameter.
 * - Misuse is reported in `diagnostics` (codes of the tsc path, file:line:column), never thrown.
 *
 * This signature is what the bundler plugins build on: keep it stable.
 */
export function instrumentSource(ts: typeof TS, code: string, options: InstrumentSourceOptions): InstrumentSourceResult | null {
  return instrumentFile(ts, code, options, 'marked');
}
