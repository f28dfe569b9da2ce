/**
 * instrumentSource's work (transformer/source/instrument-source.ts documents it), with the choice of
 * what to parse: the marked statements only (what instrumentSource does), or the whole text (for the
 * test that both give the same result).
 */
import { extname } from 'node:path';
import type * as TS from 'typescript';
import { toTsDiagnostic } from '../diagnostics.js';
import { planFile, type Target } from '../plan.js';
import { isInstrumentedBody, isInstrumentedStatement, isPrologueDirective } from '../shapes.js';
import type { InstrumentDiagnostic, InstrumentSourceOptions, InstrumentSourceResult } from './instrument-source.js';
import { loadMagicString } from './load-typescript.js';
import { markedText, markedTextSyntaxOf } from './marked-text.js';
import { createSyntacticApiSymbols } from './syntactic-api.js';
import { emitPlanAsText } from './text-emitter.js';

/** What TypeScript parses: the statements that hold marks ({@link markedText}), or the whole text. */
export type ParseScope = 'marked' | 'whole';

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

/** The cheap text check: a text that says neither `trace:` nor `traced` has nothing to instrument and is not parsed. */
export const mayHaveMarks = (code: string): boolean => code.includes('trace:') || code.includes('traced');

/** instrumentSource (which see), parsing `parse`. */
export function instrumentFile(ts: typeof TS, code: string, options: InstrumentSourceOptions, parse: ParseScope): InstrumentSourceResult | null {
  if (!mayHaveMarks(code)) return null;
  const { fileName, rootDir } = options;
  // Only what the plan reads is parsed; the edits are made to the whole text (same offsets).
  const text = parse === 'whole' ? code : markedText(code, markedTextSyntaxOf(extname(fileName)));
  // JSDoc is not parsed: the plan reads no JSDoc (directives are found in the text), and parsing it
  // costs a third of the parse of well-documented code.
  const file = ts.createSourceFile(fileName, text, { languageVersion: ts.ScriptTarget.Latest, jsDocParsingMode: ts.JSDocParsingMode.ParseNone }, true, scriptKindOf(ts, fileName));
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
    const done = target.kind === 'function' ? isInstrumentedBody(ts, target.node.body) : isInstrumentedStatement(ts, target.node);
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
