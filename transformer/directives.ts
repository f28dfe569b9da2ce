import type * as TS from 'typescript';

/** A `// trace:region [name]` or `// trace:task [name]` comment. */
export interface Directive {
  readonly kind: 'region' | 'task';
  readonly name: string | undefined;
  /** The comment's text range, to report or mark it as used. */
  readonly pos: number;
  readonly end: number;
}

// Exact and anchored, as istanbul's hints are: `trace:` then the kind, then an optional name.
const DIRECTIVE = /^\/\/\s*trace:(region|task)(?:\s+(\S(?:.*\S)?))?\s*$/;
const ANY_TRACE_COMMENT = /^\/\/\s*trace:(\S*)/;

/** What the comments at some place hold: a directive, or a `trace:` comment that is not one. */
export interface DirectiveLookup {
  readonly directive?: Directive;
  readonly malformed?: { readonly pos: number; readonly end: number; readonly word: string };
}

/** The directive in the comments leading `node`, if any; or the text of a `trace:` comment that is not one. */
export function leadingDirective(ts: typeof TS, file: TS.SourceFile, node: TS.Node): DirectiveLookup {
  return directiveAmong(file, lineComments(ts, ts.getLeadingCommentRanges(file.text, node.getFullStart()) ?? []));
}

/**
 * The directive among the comments right before a token whose full start is one of `positions`: the
 * comments on the lines above it, and those after the previous token on its line (`f(x, // trace:region`).
 * Used for what a directive may end a line before: a function expression or arrow wherever it stands.
 */
export function directiveBefore(ts: typeof TS, file: TS.SourceFile, positions: readonly number[]): DirectiveLookup {
  const ranges = new Map<number, TS.CommentRange>();
  for (const at of positions) {
    for (const range of [...(ts.getTrailingCommentRanges(file.text, at) ?? []), ...(ts.getLeadingCommentRanges(file.text, at) ?? [])]) ranges.set(range.pos, range);
  }
  return directiveAmong(file, lineComments(ts, [...ranges.values()].sort((a, b) => a.pos - b.pos)));
}

const lineComments = (ts: typeof TS, ranges: readonly TS.CommentRange[]): TS.CommentRange[] => ranges.filter((range) => range.kind === ts.SyntaxKind.SingleLineCommentTrivia);

/** The last directive (or malformed `trace:` comment) of `ranges`, in source order: the one nearest the code. */
function directiveAmong(file: TS.SourceFile, ranges: readonly TS.CommentRange[]): DirectiveLookup {
  for (let i = ranges.length - 1; i >= 0; i--) {
    const range = ranges[i];
    const text = file.text.slice(range.pos, range.end);
    const match = DIRECTIVE.exec(text);
    if (match) return { directive: { kind: match[1] as 'region' | 'task', name: match[2], pos: range.pos, end: range.end } };
    const loose = ANY_TRACE_COMMENT.exec(text);
    if (loose) return { malformed: { pos: range.pos, end: range.end, word: loose[1] } };
  }
  return {};
}

/**
 * Every `// trace:…` comment of a file (from the trivia between tokens, never inside strings): on lines
 * of their own, and at the ends of lines.
 */
export function allTraceComments(ts: typeof TS, file: TS.SourceFile): { pos: number; end: number }[] {
  const found = new Map<number, { pos: number; end: number }>();
  const collect = (at: number): void => {
    for (const range of [...(ts.getLeadingCommentRanges(file.text, at) ?? []), ...(ts.getTrailingCommentRanges(file.text, at) ?? [])]) {
      if (range.kind === ts.SyntaxKind.SingleLineCommentTrivia && ANY_TRACE_COMMENT.test(file.text.slice(range.pos, range.end))) {
        found.set(range.pos, { pos: range.pos, end: range.end });
      }
    }
  };
  // Where `trace:` occurs: a node whose text holds none has no such comment inside it (comments between its
  // tokens lie within it), so its children are not visited; most nodes of a file are skipped so.
  const occurrences: number[] = [];
  for (let at = file.text.indexOf('trace:'); at >= 0; at = file.text.indexOf('trace:', at + 6)) occurrences.push(at);
  let next = 0; // the first occurrence not before the node visited (nodes come in source order)
  const visit = (node: TS.Node): void => {
    if (node.pos >= 0) {
      collect(node.pos);
      collect(node.end);
    }
    while (next < occurrences.length && occurrences[next] < node.pos) next++;
    if (next < occurrences.length && occurrences[next] < node.end) ts.forEachChild(node, visit);
  };
  if (occurrences.length > 0) visit(file);
  return [...found.values()];
}
