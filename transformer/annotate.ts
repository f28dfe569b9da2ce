/**
 * `tstrace annotate`: a codemod that puts a `// trace:region` line before every function and method of
 * TypeScript files, so the tstrace transformer traces a whole module; `--remove` takes those lines out
 * again. It only ever inserts or deletes whole comment lines: every other byte of a file stays as it was.
 *
 * It parses with ts-morph, an optional peer dependency loaded only here, when the command runs.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, isAbsolute, relative, resolve } from 'node:path';
import type * as Morph from 'ts-morph';
import type * as TS from 'typescript';
import { decoratorCallee } from './shapes.js';
import { leadingDirective } from './directives.js';

/** The line annotate adds (and the only kind of line `--remove` deletes): a region named by default. */
export const REGION_DIRECTIVE = '// trace:region';

export interface AnnotateOptions {
  /** Remove the unnamed `// trace:region` lines of functions and methods instead of adding them. */
  readonly remove?: boolean;
}

/** A comment line added or removed. */
export interface AnnotationLine {
  /**
   * 1-based line number in the input text: for an added line, the line it is inserted before; for a
   * removed line, its own line.
   */
  readonly line: number;
  /** The line, indentation included, without its line break. */
  readonly text: string;
  /** What the line annotates, for people: `function total`, `method Cart.add`, `const handler`… */
  readonly target: string;
}

export interface AnnotateResult {
  /** The new text: the input with the lines added or removed, and nothing else changed. */
  readonly text: string;
  readonly added: AnnotationLine[];
  readonly removed: AnnotationLine[];
}

/** ts-morph is not installed where tstrace runs. */
export class TsMorphMissingError extends Error {
  constructor() {
    super('tstrace annotate needs ts-morph: npm install -D ts-morph');
    this.name = 'TsMorphMissingError';
  }
}

type TsMorph = typeof Morph;
let loading: Promise<TsMorph> | undefined;

/** Loads ts-morph on first use; rejects with TsMorphMissingError when it is not installed. */
export function loadTsMorph(): Promise<TsMorph> {
  loading ??= import('ts-morph').then(
    (loaded) => ('Project' in loaded ? loaded : (loaded as { default: TsMorph }).default),
    (error: unknown) => {
      loading = undefined;
      const { code, message } = (error ?? {}) as { code?: string; message?: string };
      if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && /'ts-morph'/.test(message ?? '')) throw new TsMorphMissingError();
      throw error;
    },
  );
  return loading;
}

let project: Morph.Project | undefined;

/**
 * Adds a `// trace:region` line before every function and method of `text` that has none, or with
 * `remove`, deletes the unnamed `// trace:region` lines of functions and methods. `fileName` only
 * chooses the syntax (`.ts`, `.tsx`, `.mts`, `.cts`); nothing is read or written.
 *
 * Guarantees: only whole lines are inserted or deleted; an inserted line has the indentation of the
 * line it precedes and the line break of that line (it goes above comments that tools apply to the next
 * line, such as `// eslint-disable-next-line`); running it twice adds nothing the second time; and
 * removing what it added gives back the input byte for byte (`remove` cannot tell a hand-written
 * unnamed `// trace:region` before a function from an added one: it removes those too).
 *
 * Functions and methods are: function declarations; methods, getters, setters and constructors with
 * bodies, in classes and object literals; `const f = () => …` / `const f = function …` statements with
 * one declaration; class fields and object properties whose value is an arrow or function expression;
 * `export default` arrows and function expressions. Skipped: functions that already have a
 * `// trace:…` comment; methods already traced by `@traced` or by a directive on their class; functions
 * without a body (overloads, abstract, `declare`); functions that do not start their line; and functions
 * that are not one of those shapes, such as callbacks passed as arguments.
 */
export async function annotateSource(text: string, fileName: string, options: AnnotateOptions = {}): Promise<AnnotateResult> {
  const morph = await loadTsMorph();
  project ??= new morph.Project({ useInMemoryFileSystem: true, skipFileDependencyResolution: true, compilerOptions: { allowJs: false } });
  // ts-morph drops a byte order mark: work on the text after it, and put it back.
  const bom = text.startsWith('\uFEFF') ? '\uFEFF' : '';
  const body = text.slice(bom.length);
  const file = project.createSourceFile(`/annotate/${basename(fileName)}`, body, { overwrite: true });
  try {
    if (file.getFullText() !== body) throw new Error(`ts-morph changed the text of ${fileName} while parsing it`);
    const parsed: Parsed = { morph, file, ts: morph.ts as unknown as typeof TS, source: file.compilerNode as unknown as TS.SourceFile, text: body };
    const result = options.remove ? removeDirectives(parsed) : addDirectives(parsed);
    return { ...result, text: bom + result.text };
  } finally {
    project.removeSourceFile(file);
  }
}

/** One parsed file: ts-morph's view, and the compiler's (for transformer/directives.ts). */
interface Parsed {
  readonly morph: TsMorph;
  readonly file: Morph.SourceFile;
  /** ts-morph's own TypeScript, whose nodes `source` has. */
  readonly ts: typeof TS;
  readonly source: TS.SourceFile;
  readonly text: string;
}

/** A node a directive can stand before, for one of the function shapes annotate handles. */
interface Host {
  readonly node: Morph.Node;
  readonly target: string;
  /** Already traced some other way (`@traced`, a directive on its class): nothing to add. */
  readonly tracedElsewhere: boolean;
}

/** A `// trace:region` line before each function that has no `// trace:…` comment. */
function addDirectives(parsed: Parsed): AnnotateResult {
  const { ts, source, text } = parsed;
  const inserts = new Map<number, AnnotationLine & { edit: Edit }>();
  for (const host of hostsOf(parsed)) {
    if (host.tracedElsewhere) continue;
    const { directive, malformed } = leadingDirective(ts, source, host.node.compilerNode as unknown as TS.Node);
    if (directive || malformed) continue;
    const start = host.node.getStart();
    const fullStart = host.node.getFullStart();
    let at = ownLineStart(text, start);
    if (at === undefined || at < fullStart) continue; // It shares its line with code before it.
    at = aboveNextLinePragmas(ts, text, fullStart, at);
    if (inserts.has(at)) continue;
    const indent = text.slice(at, indentEnd(text, at));
    const line = source.getLineAndCharacterOfPosition(at).line + 1;
    const insert = indent + REGION_DIRECTIVE + lineBreakAt(text, at);
    inserts.set(at, { line, text: indent + REGION_DIRECTIVE, target: host.target, edit: { at, end: at, insert } });
  }
  const lines = [...inserts.values()].sort((a, b) => a.edit.at - b.edit.at);
  return { text: applyEdits(text, lines.map((l) => l.edit)), added: lines.map(publicLine), removed: [] };
}

/** Deletes the unnamed `// trace:region` lines of functions: what addDirectives adds. */
function removeDirectives(parsed: Parsed): AnnotateResult {
  const { ts, source, text } = parsed;
  const deletions = new Map<number, AnnotationLine & { edit: Edit }>();
  for (const host of hostsOf(parsed)) {
    const { directive } = leadingDirective(ts, source, host.node.compilerNode as unknown as TS.Node);
    // Only what annotate adds: a region without a name, alone on its line.
    if (!directive || directive.kind !== 'region' || directive.name !== undefined) continue;
    const at = ownLineStart(text, directive.pos);
    if (at === undefined || deletions.has(at)) continue;
    const end = directive.end + lineBreakLength(text, directive.end);
    const line = source.getLineAndCharacterOfPosition(at).line + 1;
    deletions.set(at, { line, text: text.slice(at, directive.end), target: host.target, edit: { at, end, insert: '' } });
  }
  const lines = [...deletions.values()].sort((a, b) => a.edit.at - b.edit.at);
  return { text: applyEdits(text, lines.map((l) => l.edit)), added: [], removed: lines.map(publicLine) };
}

/** Replace text[at, end) by insert; edits sorted by position, not overlapping. */
interface Edit {
  readonly at: number;
  readonly end: number;
  readonly insert: string;
}

function applyEdits(text: string, edits: readonly Edit[]): string {
  let out = '';
  let from = 0;
  for (const { at, end, insert } of edits) {
    out += text.slice(from, at) + insert;
    from = end;
  }
  return out + text.slice(from);
}

const publicLine = ({ line, text, target }: AnnotationLine): AnnotationLine => ({ line, text, target });

/** Every function and method annotate handles, in source order. */
function hostsOf({ morph, file, ts, source }: Parsed): Host[] {
  const { Node } = morph;
  const tracedNames = tracedDecoratorNames(file);
  const isTracedDecorator = (decorator: Morph.Decorator): boolean => {
    const callee = decoratorCallee(ts, decorator.compilerNode as unknown as TS.Decorator);
    if (ts.isIdentifier(callee)) return tracedNames.has(callee.text);
    return ts.isPropertyAccessExpression(callee) && callee.name.text === 'traced';
  };
  const hasTracedDecorator = (node: Morph.Node): boolean => Node.isDecoratable(node) && node.getDecorators().some(isTracedDecorator);
  /** A class whose methods are all traced already: `@traced` on it, or a directive before it. */
  const isTracedClass = (cls: Morph.Node): boolean => {
    if (hasTracedDecorator(cls)) return true;
    const hasDirective = (node: Morph.Node) => leadingDirective(ts, source, node.compilerNode as unknown as TS.Node).directive !== undefined;
    if (Node.isClassDeclaration(cls)) return hasDirective(cls);
    const statement = cls.getParent()?.getParent()?.getParent(); // class expression → declaration → list → statement
    return Node.isVariableStatement(statement) && statement.getDeclarations().length === 1 && hasDirective(statement);
  };
  const isFunctionValue = (node: Morph.Node | undefined): boolean => Node.isArrowFunction(node) || Node.isFunctionExpression(node);
  const memberName = (node: Morph.Node): string => {
    const name = (node as Morph.Node & { getNameNode?: () => Morph.Node | undefined }).getNameNode?.();
    return name ? name.getText() : '<anonymous>';
  };
  const className = (cls: Morph.Node): string => {
    if (Node.isClassDeclaration(cls) || Node.isClassExpression(cls)) {
      const own = cls.getName();
      if (own) return own;
      const parent = cls.getParent();
      if (Node.isVariableDeclaration(parent)) return parent.getName();
    }
    return '<class>';
  };

  const hosts: Host[] = [];
  file.forEachDescendant((node) => {
    const parent = node.getParent();
    const inClass = parent !== undefined && (Node.isClassDeclaration(parent) || Node.isClassExpression(parent));
    const owner = inClass ? `${className(parent)}.` : '';
    if (Node.isFunctionDeclaration(node)) {
      if (node.hasBody()) hosts.push({ node, target: `function ${node.getName() ?? 'default'}`, tracedElsewhere: false });
    } else if (Node.isMethodDeclaration(node) || Node.isGetAccessorDeclaration(node) || Node.isSetAccessorDeclaration(node)) {
      if (!node.hasBody()) return;
      const kind = Node.isMethodDeclaration(node) ? 'method' : Node.isGetAccessorDeclaration(node) ? 'get' : 'set';
      const tracedElsewhere = inClass && (hasTracedDecorator(node) || isTracedClass(parent));
      hosts.push({ node, target: `${kind} ${owner}${memberName(node)}`, tracedElsewhere });
    } else if (Node.isConstructorDeclaration(node)) {
      if (node.hasBody()) hosts.push({ node, target: `constructor ${inClass ? className(parent) : '<class>'}`, tracedElsewhere: false });
    } else if (Node.isPropertyDeclaration(node)) {
      if (isFunctionValue(node.getInitializer())) hosts.push({ node, target: `field ${owner}${memberName(node)}`, tracedElsewhere: hasTracedDecorator(node) });
    } else if (Node.isPropertyAssignment(node)) {
      if (isFunctionValue(node.getInitializer())) hosts.push({ node, target: `property ${memberName(node)}`, tracedElsewhere: false });
    } else if (Node.isVariableStatement(node)) {
      const declarations = node.getDeclarations();
      if (declarations.length === 1 && isFunctionValue(declarations[0].getInitializer())) {
        hosts.push({ node, target: `${node.getDeclarationKind()} ${declarations[0].getName()}`, tracedElsewhere: false });
      }
    } else if (Node.isExportAssignment(node)) {
      if (isFunctionValue(node.getExpression())) hosts.push({ node, target: node.isExportEquals() ? 'export =' : 'export default', tracedElsewhere: false });
    }
  });
  return hosts;
}

/** Local names under which tstrace's `traced` decorator is imported (`traced` itself, and renamings). */
function tracedDecoratorNames(file: Morph.SourceFile): Set<string> {
  const names = new Set(['traced']);
  for (const declaration of file.getImportDeclarations()) {
    if (!/^tstrace(\/|$)/.test(declaration.getModuleSpecifierValue())) continue;
    for (const specifier of declaration.getNamedImports()) {
      if (specifier.getName() === 'traced') names.add(specifier.getAliasNode()?.getText() ?? 'traced');
    }
  }
  return names;
}

// Lines before a function that tools apply to "the next line": a directive must go above them, not
// between them and the function (c8 would ignore the comment instead of the function, eslint would
// disable nothing).
const NEXT_LINE_PRAGMA =
  /^(?:\/\/|\/\*)\s*(?:eslint-disable-next-line|oxlint-disable-next-line|tslint:disable-next-line|biome-ignore|deno-lint-ignore|prettier-ignore|dprint-ignore|(?:c8|v8|istanbul|node:coverage)\s+ignore\s+next)\b/;

/** Where to insert before the line at `at`: above the next-line pragma comments right above it, if any. */
function aboveNextLinePragmas(ts: typeof TS, text: string, fullStart: number, at: number): number {
  const ranges = ts.getLeadingCommentRanges(text, fullStart) ?? [];
  for (let i = ranges.length - 1; i >= 0; i--) {
    const { pos, end } = ranges[i];
    const comment = text.slice(pos, end);
    if (/[\r\n\u2028\u2029]/.test(comment) || !NEXT_LINE_PRAGMA.test(comment)) break;
    const gap = text.slice(end, at);
    if (!/^[^\S\r\n\u2028\u2029]*(?:\r\n|[\r\n\u2028\u2029])$/.test(gap)) break;
    const lineStart = ownLineStart(text, pos);
    if (lineStart === undefined || lineStart < fullStart) break;
    at = lineStart;
  }
  return at;
}

const isLineBreak = (code: number): boolean => code === 0x0a || code === 0x0d || code === 0x2028 || code === 0x2029;
/** Indentation: whitespace that is not a line break (nor a byte order mark). */
const isIndent = (code: number): boolean => !isLineBreak(code) && code !== 0xfeff && /\s/.test(String.fromCharCode(code));

/** The start of the line of `pos` if only indentation precedes `pos` on it. */
function ownLineStart(text: string, pos: number): number | undefined {
  let at = pos;
  while (at > 0 && isIndent(text.charCodeAt(at - 1))) at--;
  if (at === 0) return 0;
  return isLineBreak(text.charCodeAt(at - 1)) ? at : undefined;
}

function indentEnd(text: string, at: number): number {
  while (at < text.length && isIndent(text.charCodeAt(at))) at++;
  return at;
}

function lineBreakLength(text: string, at: number): number {
  if (text.startsWith('\r\n', at)) return 2;
  return at < text.length && isLineBreak(text.charCodeAt(at)) ? 1 : 0;
}

/** The line break to end a line inserted at `at`: the one that ends that line, else the one before it, else `\n`. */
function lineBreakAt(text: string, at: number): string {
  const next = /\r\n|[\r\n\u2028\u2029]/.exec(text.slice(at));
  if (next) return next[0];
  const before = /(\r\n|[\r\n\u2028\u2029])[^\r\n\u2028\u2029]*$/.exec(text.slice(0, at));
  return before ? before[1] : '\n';
}

// ---------------------------------------------------------------------------------------------------
// The command: files and folders.

const TS_FILE = /\.(?:ts|tsx|mts|cts)$/;
const DECLARATION_FILE = /\.d(?:\.[^.\\/]+)?\.(?:ts|mts|cts)$/;

export const isAnnotatableFile = (path: string): boolean => TS_FILE.test(path) && !DECLARATION_FILE.test(path);

/** A file annotate changed (or, with `dryRun`, would change). */
export interface FileAnnotation {
  /** As given, or found below a folder given. */
  readonly path: string;
  readonly added: AnnotationLine[];
  readonly removed: AnnotationLine[];
}

export interface AnnotatePathsResult {
  /** TypeScript files looked at. */
  readonly checked: number;
  /** Files with lines added or removed, in path order. */
  readonly changed: FileAnnotation[];
  /** Paths that could not be used (`PATH: reason`); when there is any, nothing was written. */
  readonly errors: string[];
}

export interface AnnotatePathsOptions extends AnnotateOptions {
  /** Compute the changes, write nothing. */
  readonly dryRun?: boolean;
  /** Relative paths are resolved from here. */
  readonly cwd: string;
}

/**
 * Annotates (or with `remove`, un-annotates) the given files and every .ts/.tsx/.mts/.cts file below the
 * given folders (not in node_modules, not .d.ts; links to folders are not followed). Every path is
 * checked and every file read before anything is written: when any path is missing, unreadable, not a
 * TypeScript file or not UTF-8, the result has errors and no file is changed. Rejects with
 * TsMorphMissingError when ts-morph is not installed.
 */
export async function annotatePaths(paths: readonly string[], options: AnnotatePathsOptions): Promise<AnnotatePathsResult> {
  await loadTsMorph(); // Without it, say so before looking at anything.
  const errors: string[] = [];
  const files = new Map<string, string>(); // absolute path → path to print
  for (const path of paths) {
    const absolute = resolve(options.cwd, path);
    let info;
    try {
      info = await stat(absolute);
    } catch (error) {
      errors.push(`${path}: ${fileErrorText(error)}`);
      continue;
    }
    if (info.isDirectory()) {
      for (const found of await filesBelow(absolute)) if (!files.has(found)) files.set(found, displayPath(options.cwd, found));
    } else if (DECLARATION_FILE.test(absolute)) {
      errors.push(`${path}: is a declaration file (.d.ts): it has no function bodies to annotate`);
    } else if (!TS_FILE.test(absolute)) {
      errors.push(`${path}: not a TypeScript file (.ts, .tsx, .mts or .cts)`);
    } else if (!files.has(absolute)) {
      files.set(absolute, path);
    }
  }

  const texts = new Map<string, string>();
  for (const absolute of [...files.keys()].sort()) {
    try {
      const bytes = await readFile(absolute);
      const text = bytes.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(bytes)) errors.push(`${files.get(absolute)}: not UTF-8 text`);
      else texts.set(absolute, text);
    } catch (error) {
      errors.push(`${files.get(absolute)}: ${fileErrorText(error)}`);
    }
  }
  if (errors.length > 0) return { checked: 0, changed: [], errors };

  const changed: FileAnnotation[] = [];
  for (const [absolute, text] of texts) {
    const result = await annotateSource(text, absolute, { remove: options.remove });
    if (result.text === text) continue;
    if (!options.dryRun) {
      try {
        await writeFile(absolute, result.text);
      } catch (error) {
        errors.push(`${files.get(absolute)}: ${fileErrorText(error)}`);
        continue;
      }
    }
    changed.push({ path: files.get(absolute)!, added: result.added, removed: result.removed });
  }
  return { checked: texts.size, changed, errors };
}

/** The TypeScript files below `folder`, skipping node_modules and links to folders. */
async function filesBelow(folder: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = resolve(folder, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') found.push(...(await filesBelow(path)));
    } else if (isAnnotatableFile(entry.name)) {
      if (entry.isFile() || (entry.isSymbolicLink() && (await stat(path).catch(() => undefined))?.isFile())) found.push(path);
    }
  }
  return found;
}

function displayPath(cwd: string, absolute: string): string {
  const path = relative(cwd, absolute);
  return path === '' || path.startsWith('..') || isAbsolute(path) ? absolute : path;
}

function fileErrorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return error instanceof Error ? error.message : String(error);
}

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/**
 * What annotate did, for people: one line per changed file with its count, and with `dryRun` the lines
 * it would add or remove (`line N:` is the line in the file as it is now), then a total.
 */
export function annotateReportText(result: AnnotatePathsResult, options: { remove?: boolean; dryRun?: boolean }): string {
  const verb = options.remove ? (options.dryRun ? 'to remove' : 'removed') : options.dryRun ? 'to add' : 'added';
  let out = '';
  let total = 0;
  for (const file of result.changed) {
    const lines = options.remove ? file.removed : file.added;
    total += lines.length;
    out += `${file.path}: ${lines.length} ${verb}\n`;
    if (options.dryRun) {
      for (const l of lines) out += `  ${options.remove ? 'line' : 'before line'} ${l.line}: ${l.text.trim()}  (${l.target})\n`;
    }
  }
  out += `${count(total, 'line')} ${verb} in ${count(result.changed.length, 'file')} (${count(result.checked, 'file')} checked)`;
  out += options.dryRun ? '; --dry-run: nothing written\n' : '\n';
  return out;
}
