/**
 * The source instrumenter (`tstrace/source`): `// trace:region`, `// trace:task` and `@traced` compiled
 * into a file's text, for the toolchains that do not run tsc transformers (Node's loader, tsx, Vite,
 * esbuild, webpack, TypeScript 7). It decides with the tsc transformer's planner (transformer/plan.ts)
 * and writes the same shapes as its emitter, as text edits with a source map.
 */
import { extname } from 'node:path';
import type { SourceMap } from 'magic-string';
import type * as TS from 'typescript';
import { toTsDiagnostic } from '../diagnostics.js';
import { planFile, type Target } from '../plan.js';
import { loadMagicString } from './load-typescript.js';
import { createSyntacticApiSymbols } from './syntactic-api.js';
import { isInstrumentedBody, isPrologueDirective } from '../shapes.js';
import { emitPlanAsText } from './text-emitter.js';

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

const DEFAULT_RUNTIME = 'tstrace/instrument';
/** The start of the header instrumentSource writes (after a hashbang and a prologue). */
const HEADER = /^[; ]*(?:import \* as __tstrace\d* from "[^"]*";|const __tstrace\d* = require\("[^"]*"\);) var __tstrace\d*_site1 = /;

/** The parser's script kind for a file name (unknown extensions are read as TypeScript). */
function scriptKindOf(ts: typeof TS, fileName: string): TS.ScriptKind {
  switch (extname(fileName).toLowerCase()) {
    case '.js':
    case '.mjs':
    case '.cjs':
      return ts.ScriptKind.JS;
    case '.jsx':
      return ts.ScriptKind.JSX;
    case '.tsx':
      return ts.ScriptKind.TSX;
    default:
      return ts.ScriptKind.TS;
  }
}

/** The runtime's local name: `__tstrace`, or `__tstrace<N>` when the text already says `__tstrace` (every name we add starts with it). */
function runtimeName(code: string): string {
  if (!code.includes('__tstrace')) return '__tstrace';
  let n = 1;
  while (code.includes(`__tstrace${n}`)) n++;
  return `__tstrace${n}`;
}

/** Where the header goes: after a hashbang line and the file's directive prologue, on the same line (no line moves). */
function headerPosition(ts: typeof TS, file: TS.SourceFile): number {
  let at = 0;
  for (const statement of file.statements) {
    if (!isPrologueDirective(ts, statement)) break;
    at = statement.end;
  }
  if (at === 0 && file.text.startsWith('#!')) {
    const lineEnd = file.text.search(/\r?\n/);
    return lineEnd < 0 ? file.text.length : lineEnd + (file.text[lineEnd] === '\r' ? 2 : 1);
  }
  return at;
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
 *   instrumenting twice is instrumenting once). Text without `trace:` or `traced` is not even parsed.
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
  if (!code.includes('trace:') && !code.includes('traced')) return null;
  const { fileName, rootDir } = options;
  const file = ts.createSourceFile(fileName, code, ts.ScriptTarget.Latest, true, scriptKindOf(ts, fileName));
  // Our own header: the file was instrumented already (its first line's directive now follows the header).
  if (HEADER.test(code.slice(headerPosition(ts, file)))) return null;
  const plan = planFile(ts, file, createSyntacticApiSymbols(ts, file), rootDir);
  const diagnostics = plan.diagnostics.map((d): InstrumentDiagnostic => {
    const diagnostic = toTsDiagnostic(ts, file, d);
    const start = diagnostic.start ?? 0;
    const { line, character } = file.getLineAndCharacterOfPosition(start);
    return { code: d.code, message: String(diagnostic.messageText), fileName, line: line + 1, column: character + 1, start, end: start + (diagnostic.length ?? 1) };
  });
  // A body (or a statement block) that starts with instrumentation already: the file was processed before.
  const targets = new Map<TS.Node, Target>();
  for (const [node, target] of plan.targets) {
    const done = target.kind === 'function' ? isInstrumentedBody(ts, target.node.body) : isInstrumentedBody(ts, target.node);
    if (!done) targets.set(node, target);
  }
  if (targets.size === 0 && plan.tracedDecorators.size === 0 && diagnostics.length === 0) return null;

  const MagicString = loadMagicString();
  const out = new MagicString(code);
  const runtime = runtimeName(code);
  const sites = emitPlanAsText(ts, file, plan, targets, out, { runtime, coverAsyncReturn: options.coverAsyncReturn ?? true, tracedDecorators: options.tracedDecorators ?? 'compiled' });
  if (sites.length > 0 || plan.tracedDecorators.size > 0) {
    const ext = extname(fileName).toLowerCase();
    const format = options.format ?? (ext === '.mjs' || ext === '.mts' ? 'esm' : ext === '.cjs' || ext === '.cts' ? 'cjs' : ts.isExternalModule(file) ? 'esm' : 'cjs');
    const module = JSON.stringify(options.runtimeModule ?? DEFAULT_RUNTIME);
    // A namespace import: a synthesized named import breaks under CommonJS output.
    const load = format === 'esm' ? `import * as ${runtime} from ${module};` : `const ${runtime} = require(${module});`;
    const at = headerPosition(ts, file);
    // After a prologue directive: on its line, after its semicolon (one is added if it has none).
    const before = at === 0 || /[\r\n]$/.test(code.slice(0, at)) ? '' : code[at - 1] === ';' ? ' ' : '; ';
    out.prependLeft(at, `${before}${load} ${sites.join(' ')}${at === 0 ? ' ' : ''}`);
  }
  return { code: out.toString(), map: out.generateMap({ hires: 'boundary', source: fileName, includeContent: true }), diagnostics };
}
