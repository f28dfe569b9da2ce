import type * as TS from 'typescript';

/**
 * Misuse of `@traced` and `// trace:*` directives: each has a stable code, a message that says what to
 * do, and the source position. Codes are documented in docs/transformer.md; never renumber them.
 */
export const DiagnosticCode = {
  /** `@traced` or a directive on a member without a body (abstract, overload signature, `declare`). */
  NoBody: 91001,
  /** `@traced` on an `accessor` field. */
  AccessorField: 91002,
  /** An unknown key in `@traced({ … })` options. */
  UnknownOption: 91003,
  /** An option value that is not a literal the compiler can read. */
  OptionNotLiteral: 91004,
  /** A `log` entry naming no parameter of the function. */
  UnknownLogParameter: 91005,
  /** A `// trace:*` directive attached to nothing that can be traced. */
  DirectiveAttachedToNothing: 91006,
  /** A directive on a declaration that cannot become a region without changing its scope. */
  DirectiveOnDeclaration: 91007,
  /** A script file (no import/export) compiled to ES modules: the runtime cannot be imported. */
  ScriptWithoutModule: 91008,
  /** A malformed directive (e.g. `// trace:regoin`). */
  UnknownDirective: 91009,
  /** A function marked twice (`@traced` and a directive): one would silently override the other. */
  TracedTwice: 91010,
  /** A directive after `return` or `yield` and a line break: JavaScript ends the statement there. */
  DirectiveAfterReturn: 91011,
  /** The transformer was loaded by a TypeScript it does not support (not 5.x or 6.x). */
  UnsupportedTypeScript: 91012,
} as const;

export interface TracerDiagnostic {
  readonly code: number;
  readonly node: TS.Node | { readonly pos: number; readonly end: number };
  readonly message: string;
}

export function toTsDiagnostic(ts: typeof TS, file: TS.SourceFile, d: TracerDiagnostic): TS.Diagnostic {
  const start = 'getStart' in d.node ? (d.node as TS.Node).getStart(file) : d.node.pos;
  return {
    file,
    start,
    length: Math.max(1, d.node.end - start),
    messageText: `tstrace: ${d.message}`,
    category: ts.DiagnosticCategory.Error,
    code: d.code,
    source: 'tstrace',
  };
}
