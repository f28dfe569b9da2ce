/**
 * The parts of a file's text that the planner (transformer/plan.ts) reads, for the source instrumenter
 * to parse instead of the whole file: every top-level statement (and, in a class declaration that
 * holds a mark, every member) without a mark becomes spaces. Line breaks stay, so every offset, line
 * and column is the same in both texts, and the statements kept parse to the same nodes.
 */

/** How a file's text may be scanned: TypeScript, JavaScript (which TypeScript reads with JSX), or JSX/TSX. */
export type MarkedTextSyntax = 'ts' | 'js' | 'jsx';

/** Whether a file's extension makes it TypeScript, JavaScript (which may hold JSX) or JSX. */
export function markedTextSyntaxOf(extension: string): MarkedTextSyntax {
  switch (extension.toLowerCase()) {
    case '.js':
    case '.mjs':
    case '.cjs':
      return 'js';
    case '.jsx':
    case '.tsx':
      return 'jsx';
    default:
      return 'ts';
  }
}

/**
 * `code` with what cannot matter to the plan replaced by spaces (line breaks kept): the top-level
 * statements that do not mention `trace` (no directive, no `@traced`, no tstrace import) nor a local
 * name of tstrace's `traced` or namespace; inside a class declaration that has such a member but no
 * mark in its header, the other members. Always kept: the first statements (hashbang, prologue),
 * import declarations, the first export (TypeScript decides from them whether the file is a module),
 * `import.meta`, and statements with escapes in names or strings (`\u0074raced`).
 *
 * Statements are told apart by a scanner of their own (strings, templates, comments, regular
 * expressions, brackets), which cuts only where a statement certainly ends: a line starting with a
 * word (or a decorator) after `;`, `}` or the end of an expression. Where it is unsure (JSX, brackets
 * that do not match, an unterminated literal) it returns `code` as it is.
 *
 * A kept statement parses exactly as in the whole text, provided the whole text parses without
 * errors: with a syntax error outside the kept statements, the plan may differ (the bundler then
 * reports that error itself).
 */
export function markedText(code: string, syntax: MarkedTextSyntax): string {
  if (syntax === 'jsx') return code;
  const scan = scanStatements(code, syntax === 'js');
  if (!scan || scan.segments.length < 2) return code;
  return blankUnmarked(code, scan.segments);
}

// ---------------------------------------------------------------------------------------------------
// The scanner: top-level statements, and the members of class declarations.

interface ClassBody {
  /** Offsets of the class body's `{` and `}`. */
  readonly open: number;
  readonly close: number;
  /** Where members start on a new line: each is a safe place to cut the body. */
  readonly cuts: readonly number[];
}

/** A run of whole top-level statements. */
interface Segment {
  readonly start: number;
  end: number;
  /** Import declarations, `import.meta`, escapes: keep whatever else it holds. */
  mustKeep: boolean;
  /** Holds an `export` modifier or declaration (a module indicator to TypeScript). */
  exports: boolean;
  /** Set when the segment is one class declaration, whose members may be kept one by one. */
  classBody?: ClassBody;
}

// Opening brackets on the scanner's stack.
const PAREN = 1;
const CONTROL_PAREN = 2; // the head of if/for/while/with: a statement follows its `)`
const BRACKET = 3;
const BRACE = 4;
const TEMPLATE = 5; // a template literal's `${`

// Kinds of the previous significant token.
const NONE = 0;
const WORD = 1; // an identifier or a keyword
const LITERAL = 2; // string, number, template, regular expression
const PUNCT = 3;

/** Words after which a `/` starts a regular expression. */
const REGEX_AFTER = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await', 'extends']);

/** Words that may go on with what the previous line left (`} else`, `x\n in y`): never cut before one. */
const CONTINUING = new Set(['else', 'catch', 'finally', 'while', 'from', 'extends', 'implements', 'as', 'satisfies', 'in', 'instanceof', 'of', 'is', 'keyof', 'infer', 'with', 'assert', 'asserts']);

/**
 * Words that cannot end an expression, or that change what follows on the next line: after one of
 * them, no cut (`true`, `false`, `null` and `this` end expressions and are not here).
 */
const KEYWORDS = new Set([
  'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else', 'enum', 'export', 'extends', 'finally', 'for',
  'function', 'if', 'import', 'in', 'instanceof', 'new', 'return', 'super', 'switch', 'throw', 'try', 'typeof', 'var', 'void', 'while', 'with', 'yield',
  'let', 'static', 'implements', 'interface', 'package', 'private', 'protected', 'public', 'abstract', 'accessor', 'as', 'asserts', 'assert', 'async',
  'await', 'declare', 'from', 'get', 'set', 'global', 'infer', 'is', 'keyof', 'module', 'namespace', 'of', 'out', 'override', 'readonly', 'satisfies',
  'type', 'unique', 'using',
]);

/** Words before `class` in a class declaration's header. */
const CLASS_MODIFIERS = new Set(['export', 'default', 'declare', 'abstract']);

const isLineBreak = (c: number): boolean => c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;
const isSpace = (c: number): boolean =>
  c === 0x20 || c === 0x09 || c === 0x0b || c === 0x0c || c === 0x85 || c === 0xa0 || c === 0xfeff || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x202f || c === 0x205f || c === 0x3000;
const isWordChar = (c: number): boolean =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x24 || c === 0x5c || (c >= 0x80 && !isLineBreak(c) && !isSpace(c));
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** Thrown inside the scanner when it is unsure: the caller keeps the whole text. */
class Unsure extends Error {}

/**
 * The file's top-level statements, cut where it is certainly safe; null when unsure. With `jsxPossible`
 * (JavaScript, which TypeScript parses with JSX), any sign of JSX makes it unsure.
 */
function scanStatements(code: string, jsxPossible: boolean): { segments: Segment[] } | null {
  try {
    return { segments: new StatementScanner(code, jsxPossible).run() };
  } catch (error) {
    if (error instanceof Unsure) return null;
    throw error;
  }
}

class StatementScanner {
  private i = 0;
  private readonly stack: number[] = [];
  private prevKind = NONE;
  private prevText = ''; // the word, or the punctuator
  private prevControl = false; // the previous token is the `)` of a control statement's head
  /** Where the line after the previous token starts: -1 before a line break, -2 when a block comment spans it. */
  private lineAfterPrev = -1;

  private readonly segments: Segment[] = [];
  private segment: Segment = { start: 0, end: 0, mustKeep: false, exports: false };
  /** 0 header so far (decorators, modifiers), 1 in a decorator, 2 after `class`, 3 not a class declaration. */
  private classState = 0;
  private bodyOpen = -1;
  private bodyClose = -1;
  private memberCuts: number[] = [];
  private lastTokenStart = 0;
  /** A top-level decorator waits for its class: no cut before it. */
  private pendingDecorator = false;
  /** An `import` (at this depth) or an `export` whose next token tells what it is. */
  private pendingImport = -1;
  private pendingExport = false;
  /** The token being scanned has an escape that may spell a name or a module (`'ts\x74race'`). */
  private escaped = false;

  constructor(
    private readonly code: string,
    private readonly jsxPossible: boolean,
  ) {}

  run(): Segment[] {
    const { code } = this;
    const n = code.length;
    if (code.startsWith('#!')) {
      while (this.i < n && !isLineBreak(code.charCodeAt(this.i))) this.i++;
    }
    while (this.i < n) {
      const c = code.charCodeAt(this.i);
      if (isLineBreak(c)) {
        this.i += c === 0x0d && code.charCodeAt(this.i + 1) === 0x0a ? 2 : 1;
        if (this.lineAfterPrev === -1) this.lineAfterPrev = this.i;
        continue;
      }
      if (isSpace(c)) {
        this.i++;
        continue;
      }
      if (c === 0x2f /* / */) {
        const next = code.charCodeAt(this.i + 1);
        if (next === 0x2f) {
          while (this.i < n && !isLineBreak(code.charCodeAt(this.i))) this.i++;
          continue;
        }
        if (next === 0x2a /* * */) {
          const end = code.indexOf('*/', this.i + 2);
          if (end < 0) throw new Unsure();
          if (this.lineAfterPrev === -1 && /[\r\n\u2028\u2029]/.test(code.slice(this.i, end))) this.lineAfterPrev = -2;
          this.i = end + 2;
          continue;
        }
      }
      this.token(c);
    }
    if (this.stack.length > 0) throw new Unsure();
    this.endSegment(n);
    return this.segments;
  }

  /** Scans the significant token at `i` (first character `c`), after deciding whether to cut before it. */
  private token(c: number): void {
    const { code } = this;
    const start = this.i;
    let kind: number;
    let text: string;
    this.escaped = false;
    if (isWordChar(c) || (c === 0x23 /* # */ && isWordChar(code.charCodeAt(start + 1))) || (c === 0x2e /* . */ && isDigit(code.charCodeAt(start + 1)))) {
      this.i++;
      while (this.i < code.length && (isWordChar(code.charCodeAt(this.i)) || (isDigit(c) && code.charCodeAt(this.i) === 0x2e))) this.i++;
      text = code.slice(start, this.i);
      if (text.includes('\\')) this.escaped = true; // `\u0074raced` is `traced`
      kind = isDigit(c) || c === 0x2e ? LITERAL : WORD;
    } else if (c === 0x27 || c === 0x22 /* ' " */) {
      this.skipString(c);
      kind = LITERAL;
      text = '';
    } else if (c === 0x60 /* ` */) {
      this.i++;
      // Into its first `${`, a template literal is an opening bracket (after which a regular expression may come).
      kind = this.skipTemplate() ? LITERAL : PUNCT;
      text = kind === LITERAL ? '' : '${';
    } else if (c === 0x2f /* / */ && this.regexAllowed()) {
      this.skipRegex();
      kind = LITERAL;
      text = '';
    } else {
      const next = code.charCodeAt(start + 1);
      if ((c === 0x2b || c === 0x2d) && next === c) text = code.slice(start, start + 2); // ++ --
      else if (c === 0x3d && next === 0x3e) text = '=>';
      else if (c === 0x3f && next === 0x2e && !isDigit(code.charCodeAt(start + 2))) text = '.'; // ?. reads as .
      else text = code[start];
      this.i = start + (text === '.' && c === 0x3f ? 2 : text.length);
      kind = PUNCT;
      if (this.jsxPossible && ((c === 0x3c /* < */ && (this.regexAllowed() || next === 0x2f)) || (c === 0x2f && next === 0x3e))) throw new Unsure();
    }

    const depth = this.stack.length;
    if (depth === 0) this.atTopLevel(start, kind, text);
    else if (depth === 1 && this.classState === 2 && this.stack[0] === BRACE && this.bodyOpen >= 0) this.inClassBody(start, kind, text);
    this.afterImportOrExport(kind, text);

    // A `}` that closes a template literal's `${…}` goes on to the literal's end (or its next `${`).
    const template = kind === PUNCT ? this.bracket(text, start) : 'none';
    if (template === 'ended') kind = LITERAL;
    else if (template === 'continued') text = '${';
    if (this.escaped) this.segment.mustKeep = true;
    this.escaped = false;
    if (kind === WORD && (text === 'import' || text === 'export') && !(this.prevKind === PUNCT && this.prevText === '.')) {
      if (text === 'import') this.pendingImport = depth;
      else if (depth === 0) this.pendingExport = true;
    }
    if (this.prevControl && !(kind === PUNCT && text === ')')) this.prevControl = false;
    this.prevKind = kind;
    this.prevText = text;
    this.lineAfterPrev = -1;
    this.lastTokenStart = start;
  }

  /** What an `import` or `export` turned out to be, from the token after it. */
  private afterImportOrExport(kind: number, text: string): void {
    if (this.pendingImport >= 0) {
      if (kind === PUNCT && text === '.') this.segment.mustKeep = true; // import.meta
      else if (!(kind === PUNCT && text === '(') && this.pendingImport === 0) this.segment.mustKeep = true; // an import declaration
      this.pendingImport = -1;
    }
    if (this.pendingExport) {
      if (!(kind === WORD && text === 'as')) this.segment.exports = true; // not `export as namespace`
      this.pendingExport = false;
    }
  }

  /** A token at the top level: maybe a new statement (and segment); the class header's state. */
  private atTopLevel(start: number, kind: number, text: string): void {
    if (this.lineAfterPrev >= 0 && !this.pendingDecorator && this.startsStatement(kind, text)) {
      this.endSegment(this.lineAfterPrev);
      this.segment = { start: this.lineAfterPrev, end: 0, mustKeep: false, exports: false };
      this.classState = 0;
      this.bodyOpen = -1;
      this.bodyClose = -1;
      this.memberCuts = [];
    }
    if (kind === PUNCT && text === '@') {
      this.pendingDecorator = true;
      if (this.classState === 0) this.classState = 1;
      return;
    }
    if (kind === WORD) {
      if (text === 'class') this.pendingDecorator = false;
      const afterDecoratorName = this.classState === 1 && this.prevKind === PUNCT && (this.prevText === '@' || this.prevText === '.');
      if (!afterDecoratorName && (this.classState === 0 || this.classState === 1)) this.classState = text === 'class' ? 2 : CLASS_MODIFIERS.has(text) ? 0 : 3;
      return;
    }
    if (this.classState === 0 || (this.classState === 1 && !(kind === PUNCT && (text === '.' || text === '(' || text === ')')))) this.classState = 3;
    if (this.classState === 2 && kind === PUNCT && text === '{') {
      this.bodyOpen = start;
      this.bodyClose = -1;
      this.memberCuts = [];
    }
  }

  /**
   * Whether a top-level token on a new line certainly starts a statement, whatever the previous kept
   * statement ended with (`;`, `}` or an expression's end): a word that cannot go on with an
   * expression, or a decorator.
   */
  private startsStatement(kind: number, text: string): boolean {
    const next = (kind === WORD && !text.startsWith('#') && !CONTINUING.has(text)) || (kind === PUNCT && text === '@');
    if (!next) return false;
    if (this.prevKind === PUNCT) {
      if (this.prevText === ';' || this.prevText === '}' || this.prevText === ']') return true;
      return this.prevText === ')' && !this.prevControl;
    }
    if (this.prevKind === LITERAL) return true;
    return this.prevKind === WORD && !KEYWORDS.has(this.prevText);
  }

  /** A token right inside a class declaration's body: maybe a new member. */
  private inClassBody(start: number, kind: number, text: string): void {
    if (this.lineAfterPrev < 0 || this.prevKind !== PUNCT || (this.prevText !== ';' && this.prevText !== '}')) return;
    if (kind === PUNCT && text === '}') return; // the body's end
    // Only what cannot go on with an expression (a property's initializer may end in `}`), as the member
    // kept before this one may end in `;` or `}` once the members between are blank.
    const member = (kind === WORD && !CONTINUING.has(text)) || (kind === LITERAL && this.code.charCodeAt(start) !== 0x60) || (kind === PUNCT && text === '@');
    if (member) this.memberCuts.push(this.lineAfterPrev);
  }

  /**
   * Pushes or pops the stack for a bracket. For a `}` that closes a template literal's `${`: whether
   * the literal then ended, or went into its next `${`.
   */
  private bracket(text: string, start: number): 'none' | 'ended' | 'continued' {
    const { stack } = this;
    switch (text) {
      case '(':
        stack.push(this.prevKind === WORD && (this.prevText === 'if' || this.prevText === 'for' || this.prevText === 'while' || this.prevText === 'with' || this.prevText === 'await') ? CONTROL_PAREN : PAREN);
        return 'none';
      case '[':
        stack.push(BRACKET);
        return 'none';
      case '{':
        stack.push(BRACE);
        return 'none';
      case ')': {
        const open = stack.pop();
        if (open !== PAREN && open !== CONTROL_PAREN) throw new Unsure();
        this.prevControl = open === CONTROL_PAREN;
        return 'none';
      }
      case ']':
        if (stack.pop() !== BRACKET) throw new Unsure();
        return 'none';
      case '}': {
        const open = stack.pop();
        if (open === TEMPLATE) return this.skipTemplate() ? 'ended' : 'continued';
        if (open !== BRACE) throw new Unsure();
        if (stack.length === 0 && this.classState === 2 && this.bodyOpen >= 0) this.bodyClose = start;
        return 'none';
      }
    }
    return 'none';
  }

  /** Closes the current segment at `end`, noting its class body when it is exactly one class declaration. */
  private endSegment(end: number): void {
    const segment = this.segment;
    segment.end = end;
    if (this.classState === 2 && this.bodyOpen >= 0 && this.bodyClose === this.lastTokenStart) {
      segment.classBody = { open: this.bodyOpen, close: this.bodyClose, cuts: this.memberCuts };
    }
    this.segments.push(segment);
  }

  private regexAllowed(): boolean {
    if (this.prevKind === NONE) return true;
    if (this.prevKind === LITERAL) return false;
    if (this.prevKind === WORD) return REGEX_AFTER.has(this.prevText);
    return !(this.prevText === ')' || this.prevText === ']' || this.prevText === '++' || this.prevText === '--');
  }

  private skipString(quote: number): void {
    const { code } = this;
    this.i++;
    while (this.i < code.length) {
      const c = code.charCodeAt(this.i);
      if (c === quote) {
        this.i++;
        return;
      }
      if (c === 0x5c /* \ */) {
        this.noteEscape(code.charCodeAt(this.i + 1));
        this.i += code.charCodeAt(this.i + 1) === 0x0d && code.charCodeAt(this.i + 2) === 0x0a ? 3 : 2;
        continue;
      }
      if (c === 0x0a || c === 0x0d) throw new Unsure();
      this.i++;
    }
    throw new Unsure();
  }

  /** From inside a template literal (after its `` ` `` or a `${…}`): to its end (true), or into its next `${` (false). */
  private skipTemplate(): boolean {
    const { code } = this;
    while (this.i < code.length) {
      const c = code.charCodeAt(this.i);
      if (c === 0x60) {
        this.i++;
        return true;
      }
      if (c === 0x5c) {
        this.noteEscape(code.charCodeAt(this.i + 1));
        this.i += 2;
        continue;
      }
      if (c === 0x24 /* $ */ && code.charCodeAt(this.i + 1) === 0x7b /* { */) {
        this.i += 2;
        this.stack.push(TEMPLATE);
        return false;
      }
      this.i++;
    }
    throw new Unsure();
  }

  /** An escape that may spell a name or a module (`'ts\x74race'`): the segment is kept. */
  private noteEscape(c: number): void {
    if (c === 0x78 /* x */ || c === 0x75 /* u */ || isLineBreak(c) || isDigit(c)) this.escaped = true;
  }

  private skipRegex(): void {
    const { code } = this;
    let inClass = false;
    this.i++;
    while (this.i < code.length) {
      const c = code.charCodeAt(this.i);
      if (isLineBreak(c)) throw new Unsure();
      if (c === 0x5c) {
        if (isLineBreak(code.charCodeAt(this.i + 1))) throw new Unsure();
        this.i += 2;
        continue;
      }
      if (c === 0x5b) inClass = true;
      else if (c === 0x5d) inClass = false;
      else if (c === 0x2f && !inClass) {
        this.i++;
        while (this.i < code.length && isWordChar(code.charCodeAt(this.i))) this.i++;
        return;
      }
      this.i++;
    }
    throw new Unsure();
  }
}

// ---------------------------------------------------------------------------------------------------
// What is kept.

/** Names under which a tstrace import or require binds `traced` or the namespace, when they do not say `trace` themselves. */
function aliasesOf(text: string): string[] {
  const names: string[] = [];
  const bare = text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\r\n\u2028\u2029]*/g, ' ');
  const name = '([\\p{ID_Start}$_][\\p{ID_Continue}$\\u200c\\u200d]*)';
  for (const pattern of [`\\*\\s*as\\s+${name}`, `\\btraced\\s*(?:as\\s|:)\\s*${name}`, `\\b(?:const|let|var|import)\\s+${name}\\s*=`]) {
    for (const match of bare.matchAll(new RegExp(pattern, 'gu'))) if (!match[1].includes('trace')) names.push(match[1]);
  }
  return names;
}

function blankUnmarked(code: string, segments: readonly Segment[]): string {
  // Every mark says `trace` (`trace:`, `traced`, `tstrace`): where it does, sorted.
  const traceAt: number[] = [];
  for (let at = code.indexOf('trace'); at >= 0; at = code.indexOf('trace', at + 5)) traceAt.push(at);
  const aliases = new Set<string>();
  // The first `trace` at or after `start`.
  const firstTraceFrom = (start: number): number => {
    let lo = 0;
    let hi = traceAt.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (traceAt[mid] < start) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const mentions = (start: number, end: number): boolean => {
    const k = firstTraceFrom(start);
    return k < traceAt.length && traceAt[k] + 5 <= end;
  };
  for (const { start, end } of segments) {
    for (let k = firstTraceFrom(start + 2); k < traceAt.length && traceAt[k] + 5 <= end; k++) {
      if (code.startsWith('ts', traceAt[k] - 2)) {
        for (const alias of aliasesOf(code.slice(start, end))) aliases.add(alias);
        break;
      }
    }
  }
  const aliasPattern = aliases.size > 0 ? new RegExp(`(?<![\\p{ID_Continue}$\\u200c\\u200d])(?:${[...aliases].map((a) => a.replace(/\$/g, '\\$')).join('|')})(?![\\p{ID_Continue}$\\u200c\\u200d])`, 'u') : undefined;
  const marked = (start: number, end: number): boolean => mentions(start, end) || (aliasPattern !== undefined && aliasPattern.test(code.slice(start, end)));

  const parts: string[] = [];
  const keep = (start: number, end: number): void => {
    parts.push(code.slice(start, end));
  };
  const blank = (start: number, end: number): void => {
    let run = start;
    for (let at = start; at < end; at++) {
      if (!isLineBreak(code.charCodeAt(at))) continue;
      if (at > run) parts.push(' '.repeat(at - run));
      parts.push(code[at]);
      run = at + 1;
    }
    if (end > run) parts.push(' '.repeat(end - run));
  };
  let exportKept = false;
  segments.forEach((segment, index) => {
    const { start, end, classBody } = segment;
    const first = index === 0 || (segment.exports && !exportKept);
    if (segment.exports && first) exportKept = true;
    if (first || segment.mustKeep) return keep(start, end);
    if (!marked(start, end)) return blank(start, end);
    if (!classBody || classBody.cuts.length === 0 || marked(start, classBody.open + 1)) return keep(start, end);
    // A class with a marked member and no mark in its header: its header, its marked members, its end.
    keep(start, classBody.open + 1);
    const bounds = [classBody.open + 1, ...classBody.cuts, classBody.close];
    for (let k = 0; k + 1 < bounds.length; k++) (marked(bounds[k], bounds[k + 1]) ? keep : blank)(bounds[k], bounds[k + 1]);
    keep(classBody.close, end);
  });
  return parts.join('');
}
