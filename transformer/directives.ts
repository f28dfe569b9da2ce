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

/** The directive in the comments leading `node`, if any; or the text of a `trace:` comment that is not one. */
export function leadingDirective(
  ts: typeof TS,
  file: TS.SourceFile,
  node: TS.Node,
): { directive?: Directive; malformed?: { pos: number; end: number; word: string } } {
  const ranges = ts.getLeadingCommentRanges(file.text, node.getFullStart()) ?? [];
  for (let i = ranges.length - 1; i >= 0; i--) {
    const range = ranges[i];
    if (range.kind !== ts.SyntaxKind.SingleLineCommentTrivia) continue;
    const text = file.text.slice(range.pos, range.end);
    const match = DIRECTIVE.exec(text);
    if (match) return { directive: { kind: match[1] as 'region' | 'task', name: match[2], pos: range.pos, end: range.end } };
    const loose = ANY_TRACE_COMMENT.exec(text);
    if (loose) return { malformed: { pos: range.pos, end: range.end, word: loose[1] } };
  }
  return {};
}

/** Every `// trace:…` comment of a file (from the trivia between tokens, never inside strings). */
export function allTraceComments(ts: typeof TS, file: TS.SourceFile): { pos: number; end: number }[] {
  const found = new Map<number, { pos: number; end: number }>();
  const collect = (at: number): void => {
    for (const range of ts.getLeadingCommentRanges(file.text, at) ?? []) {
      if (range.kind === ts.SyntaxKind.SingleLineCommentTrivia && ANY_TRACE_COMMENT.test(file.text.slice(range.pos, range.end))) {
        found.set(range.pos, { pos: range.pos, end: range.end });
      }
    }
  };
  const visit = (node: TS.Node): void => {
    if (node.pos >= 0) {
      collect(node.pos);
      collect(node.end);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return [...found.values()];
}
