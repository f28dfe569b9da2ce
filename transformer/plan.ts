import { relative, sep } from 'node:path';
import type * as TS from 'typescript';
import type { ApiSymbols } from './api-symbols.js';
import { DiagnosticCode, type TracerDiagnostic } from './diagnostics.js';
import { allTraceComments, directiveBefore, leadingDirective, type Directive, type DirectiveLookup } from './directives.js';
import { unparenthesized } from './shapes.js';

/** Function-like nodes the instrumenter can rewrite. */
export type TracedFunction =
  | TS.FunctionDeclaration
  | TS.FunctionExpression
  | TS.ArrowFunction
  | TS.MethodDeclaration
  | TS.GetAccessorDeclaration
  | TS.SetAccessorDeclaration
  | TS.ConstructorDeclaration;

export interface TraceOptions {
  /** Region (or task) type. */
  readonly name: string;
  /** Each call is a task. */
  readonly task: boolean;
  /** Parameters recorded as logs at entry. */
  readonly log: readonly string[];
  /** A thrown error's message is logged in category "error". */
  readonly err: boolean;
}

export interface Location {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly function: string;
}

export type Target =
  | { readonly kind: 'function'; readonly node: TracedFunction; readonly options: TraceOptions; readonly location: Location; readonly contextParameter: TS.Identifier | undefined }
  | { readonly kind: 'statement'; readonly node: TS.Statement; readonly options: TraceOptions; readonly location: Location };

export interface Plan {
  /** Targets by their (original) node. */
  readonly targets: Map<TS.Node, Target>;
  /** `@traced` decorators to replace by the runtime's no-op `compiled` decorator. */
  readonly tracedDecorators: Set<TS.Decorator>;
  readonly diagnostics: TracerDiagnostic[];
}

const OPTION_KEYS = new Set(['name', 'task', 'log', 'err']);

const isFunctionLike = (ts: typeof TS, node: TS.Node | undefined): node is TS.FunctionExpression | TS.ArrowFunction =>
  !!node && (ts.isArrowFunction(node) || ts.isFunctionExpression(node));

/**
 * Decides what to instrument in one file, separately from how: the same plan could drive the tsc
 * transformer and a source-to-source instrumenter.
 */
export function planFile(ts: typeof TS, file: TS.SourceFile, api: ApiSymbols, rootDir: string): Plan {
  const targets = new Map<TS.Node, Target>();
  const tracedDecorators = new Set<TS.Decorator>();
  const diagnostics: TracerDiagnostic[] = [];
  const usedComments = new Set<number>();
  const displayFile = relative(rootDir, file.fileName).split(sep).join('/') || file.fileName;

  const locate = (node: TS.Node, fn: string): Location => {
    const { line, character } = file.getLineAndCharacterOfPosition(node.getStart(file));
    return { file: displayFile, line: line + 1, column: character + 1, function: fn };
  };
  const nameOf = (name: TS.PropertyName | TS.BindingName | undefined): string | undefined => {
    if (!name) return undefined;
    if (ts.isIdentifier(name) || ts.isPrivateIdentifier(name)) return name.text;
    if (ts.isStringLiteral(name) || ts.isNumericLiteral(name)) return name.text;
    if (ts.isComputedPropertyName(name)) {
      const key = name.expression;
      if (ts.isStringLiteralLike(key) || ts.isNumericLiteral(key)) return key.text;
      // A well-known symbol, named as V8 (and the runtime decorator) name its method: `[Symbol.iterator]`.
      if (ts.isPropertyAccessExpression(key) && ts.isIdentifier(key.expression) && key.expression.text === 'Symbol' && ts.isIdentifier(key.name)) return `[Symbol.${key.name.text}]`;
    }
    return undefined;
  };
  const classNameOf = (cls: TS.ClassLikeDeclaration): string => {
    const own = nameOf(cls.name);
    if (own) return own;
    if (ts.isVariableDeclaration(cls.parent)) return nameOf(cls.parent.name) ?? '<class>';
    return '<class>';
  };
  /**
   * The name a function expression or arrow gets from where it stands, as JavaScript names anonymous
   * functions (and V8's stack traces show them): the variable, parameter or destructured binding it
   * initialises, the property it is the value of, `Class.field` for a class field, or the target it is
   * assigned to (`handler`, `exports.handler`). Parentheses and type assertions around it do not count.
   * None for a call argument, a return value or a default export.
   */
  const bindingNameOf = (fn: TS.FunctionExpression | TS.ArrowFunction): string | undefined => {
    const node = outermostExpression(ts, fn);
    const parent = node.parent;
    if (!parent) return undefined;
    if ((ts.isVariableDeclaration(parent) || ts.isParameter(parent) || ts.isBindingElement(parent)) && parent.initializer === node) {
      return ts.isIdentifier(parent.name) ? parent.name.text : undefined;
    }
    if (ts.isPropertyAssignment(parent) && parent.initializer === node) return nameOf(parent.name);
    if (ts.isPropertyDeclaration(parent) && parent.initializer === node && ts.isClassLike(parent.parent)) {
      return `${classNameOf(parent.parent)}.${nameOf(parent.name) ?? '<computed>'}`;
    }
    if (ts.isBinaryExpression(parent) && parent.right === node && isNamingAssignment(ts, parent.operatorToken.kind)) return accessPath(ts, parent.left);
    return undefined;
  };

  /**
   * transformer.md's default names: `Class.method`; for a function expression or arrow the name of what
   * it is bound to ({@link bindingNameOf}); the function's own name; else `<file>:<line>`.
   */
  const defaultName = (node: TracedFunction, classPrefix?: string): string => {
    const parent = node.parent;
    if (ts.isClassLike(parent)) {
      const cls = classPrefix ?? classNameOf(parent);
      if (ts.isConstructorDeclaration(node)) return `${cls}.constructor`;
      const member = nameOf(node.name) ?? '<computed>';
      const prefix = ts.isGetAccessorDeclaration(node) ? 'get ' : ts.isSetAccessorDeclaration(node) ? 'set ' : '';
      return `${cls}.${prefix}${member}`;
    }
    const bound = isFunctionLike(ts, node) ? bindingNameOf(node) : undefined;
    if (bound) return bound;
    const own = 'name' in node && node.name ? nameOf(node.name as TS.PropertyName) : undefined;
    if (own) return own;
    return `${displayFile}:${locate(node, '').line}`;
  };

  const hasBody = (node: TracedFunction): boolean => node.body !== undefined;

  const addFunction = (node: TracedFunction, options: TraceOptions, anchor: TS.Node): void => {
    const existing = targets.get(node);
    if (existing) {
      diagnostics.push({
        code: DiagnosticCode.TracedTwice,
        node: anchor,
        message: `"${existing.options.name}" is already traced (by @traced or another directive). Keep one of them.`,
      });
      return;
    }
    if (!hasBody(node)) {
      diagnostics.push({ code: DiagnosticCode.NoBody, node: anchor, message: `"${options.name}" has no body to trace (abstract, overload signature or declare). Put @traced on the implementation.` });
      return;
    }
    const parameterNames = new Set(node.parameters.map((p) => (ts.isIdentifier(p.name) ? p.name.text : '')));
    for (const param of options.log) {
      if (!parameterNames.has(param)) {
        diagnostics.push({
          code: DiagnosticCode.UnknownLogParameter,
          node: anchor,
          message: `log: "${param}" is not a parameter of "${options.name}". Use one of: ${[...parameterNames].filter(Boolean).join(', ') || '(no named parameters)'}.`,
        });
        return;
      }
    }
    const contextParameter = node.parameters.find((p) => api.isContextParameter(p))?.name as TS.Identifier | undefined;
    targets.set(node, { kind: 'function', node, options, location: locate(node, options.name), contextParameter });
  };

  const fromDirective = (d: Directive, fallback: string): TraceOptions => ({ name: d.name ?? fallback, task: d.kind === 'task', log: [], err: false });

  /** `@traced` arguments: nothing, a string literal (the name), or an object literal of literals. */
  const readDecoratorOptions = (decorator: TS.Decorator, fallback: string): TraceOptions | null => {
    const expression = unparenthesized(ts, decorator.expression);
    if (!ts.isCallExpression(expression)) return { name: fallback, task: false, log: [], err: false };
    const [arg] = expression.arguments;
    if (!arg) return { name: fallback, task: false, log: [], err: false };
    if (ts.isStringLiteralLike(arg)) return { name: arg.text, task: false, log: [], err: false };
    if (!ts.isObjectLiteralExpression(arg)) {
      diagnostics.push({ code: DiagnosticCode.OptionNotLiteral, node: arg, message: '@traced takes a string literal (the name) or an object literal of options { name, task, log, err }.' });
      return null;
    }
    let name = fallback;
    let task = false;
    let err = false;
    let log: string[] = [];
    for (const property of arg.properties) {
      const key = ts.isPropertyAssignment(property) || ts.isShorthandPropertyAssignment(property) ? nameOf(property.name) : undefined;
      if (!key || !OPTION_KEYS.has(key) || !ts.isPropertyAssignment(property)) {
        diagnostics.push({ code: DiagnosticCode.UnknownOption, node: property, message: `unknown @traced option${key ? ` "${key}"` : ''}. The options are name, task, log and err.` });
        return null;
      }
      const value = property.initializer;
      const literal = (ok: boolean, what: string): boolean => {
        if (!ok) diagnostics.push({ code: DiagnosticCode.OptionNotLiteral, node: value, message: `@traced option "${key}" must be ${what} written in place, so the compiler can read it.` });
        return ok;
      };
      if (key === 'name') {
        if (!literal(ts.isStringLiteralLike(value), 'a string literal')) return null;
        name = (value as TS.StringLiteral).text;
      } else if (key === 'task' || key === 'err') {
        const isBool = value.kind === ts.SyntaxKind.TrueKeyword || value.kind === ts.SyntaxKind.FalseKeyword;
        if (!literal(isBool, 'true or false')) return null;
        if (key === 'task') task = value.kind === ts.SyntaxKind.TrueKeyword;
        else err = value.kind === ts.SyntaxKind.TrueKeyword;
      } else {
        const ok = ts.isArrayLiteralExpression(value) && value.elements.every((e) => ts.isStringLiteralLike(e));
        if (!literal(ok, 'an array of parameter names (string literals)')) return null;
        log = (value as TS.ArrayLiteralExpression).elements.map((e) => (e as TS.StringLiteral).text);
      }
    }
    return { name, task, log, err };
  };

  const tracedDecoratorOf = (node: TS.Node): TS.Decorator | undefined =>
    ts.canHaveDecorators(node) ? ts.getDecorators(node)?.find((d) => api.isTracedDecorator(d)) : undefined;

  const methodsOf = (cls: TS.ClassLikeDeclaration): TracedFunction[] =>
    cls.members.filter(
      (m): m is TS.MethodDeclaration | TS.GetAccessorDeclaration | TS.SetAccessorDeclaration =>
        (ts.isMethodDeclaration(m) || ts.isGetAccessorDeclaration(m) || ts.isSetAccessorDeclaration(m)) && m.body !== undefined,
    );

  /** Class members: `@traced` on them, or on the class (all its methods). */
  const planClass = (cls: TS.ClassLikeDeclaration, classWide: TraceOptions | null): void => {
    for (const member of cls.members) {
      const decorator = tracedDecoratorOf(member);
      if (decorator) {
        tracedDecorators.add(decorator);
        if (ts.isPropertyDeclaration(member) && member.modifiers?.some((m) => m.kind === ts.SyntaxKind.AccessorKeyword)) {
          diagnostics.push({ code: DiagnosticCode.AccessorField, node: decorator, message: '@traced cannot trace an `accessor` field. Trace the methods that use it instead.' });
          continue;
        }
        if (!(ts.isMethodDeclaration(member) || ts.isGetAccessorDeclaration(member) || ts.isSetAccessorDeclaration(member))) {
          diagnostics.push({ code: DiagnosticCode.NoBody, node: decorator, message: '@traced goes on methods, getters, setters or a class.' });
          continue;
        }
        const options = readDecoratorOptions(decorator, defaultName(member));
        if (options) addFunction(member, options, decorator);
      }
    }
    if (classWide) {
      for (const method of methodsOf(cls)) {
        // On a class, `name` stands for the class name in its methods' names (as the runtime decorator does).
        if (!targets.has(method) && !tracedDecoratorOf(method)) addFunction(method, { ...classWide, name: defaultName(method, classWide.name) }, method);
      }
    }
  };

  const visit = (node: TS.Node): void => {
    // Nodes made by a transformer (ours, run before) have no source position: nothing to plan there.
    if (node.pos < 0) {
      ts.forEachChild(node, visit);
      return;
    }
    if (ts.isClassLike(node)) {
      const decorator = tracedDecoratorOf(node);
      let classWide: TraceOptions | null = null;
      if (decorator) {
        tracedDecorators.add(decorator);
        const options = readDecoratorOptions(decorator, classNameOf(node));
        if (options) classWide = options;
      }
      planClass(node, classWide);
    }
    if (isDirectiveHost(ts, node)) consider(node, directiveOfHost(node));
    // Right before a function expression or arrow, wherever it stands (after its own host's directive).
    if (isFunctionLike(ts, node)) consider(node, directiveBefore(ts, file, startsBefore(ts, node)));
    ts.forEachChild(node, visit);
  };

  /** Plans a directive found before `node`, or reports a malformed one; each comment counts once. */
  const consider = (node: TS.Node, { directive, malformed }: DirectiveLookup): void => {
    if (malformed && !usedComments.has(malformed.pos)) {
      usedComments.add(malformed.pos);
      diagnostics.push({ code: DiagnosticCode.UnknownDirective, node: malformed, message: `unknown directive "trace:${malformed.word}". Write "// trace:region [name]" or "// trace:task [name]".` });
    }
    if (directive && !usedComments.has(directive.pos)) {
      usedComments.add(directive.pos);
      planDirective(node, directive);
    }
  };

  /**
   * The directive of a declaration, member or statement: on the lines above it; for a function or class
   * declaration also after its modifiers (`export default // trace:region`).
   */
  const directiveOfHost = (node: TS.Node): DirectiveLookup => {
    const leading = leadingDirective(ts, file, node);
    if (leading.directive || leading.malformed) return leading;
    if ((ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node)) && node.modifiers) return directiveBefore(ts, file, node.modifiers.map((m) => m.end));
    return {};
  };

  const planDirective = (node: TS.Node, d: Directive): void => {
    const cutShort = bareReturnBefore(ts, file, node);
    if (cutShort) {
      const result = cutShort === 'return' ? 'returns' : 'yields';
      diagnostics.push({
        code: DiagnosticCode.DirectiveAfterReturn,
        node: d,
        message: `"// trace:${d.kind}" puts a line break right after \`${cutShort}\`, so JavaScript ends the statement there: it ${result} undefined and never evaluates what follows. Open a parenthesis before the directive: \`${cutShort} ( // trace:${d.kind}\`, the function on the next line, then \`);\`.`,
      });
      return;
    }
    const fn = functionOfHost(ts, node);
    if (fn) {
      if (ts.isClassLike(fn)) {
        for (const method of methodsOf(fn)) if (!targets.has(method)) addFunction(method, fromDirective({ ...d, name: undefined }, defaultName(method)), method);
        return;
      }
      addFunction(fn, fromDirective(d, defaultName(fn)), node);
      return;
    }
    if (ts.isVariableStatement(node) || ts.isClassLike(node) || ts.isImportDeclaration(node) || ts.isTypeAliasDeclaration(node) || ts.isInterfaceDeclaration(node) || ts.isModuleDeclaration(node)) {
      diagnostics.push({
        code: DiagnosticCode.DirectiveOnDeclaration,
        node,
        message: `"// trace:${d.kind}" cannot make this declaration a region without changing its scope. Put the statements to trace in a block ({ … }) or a function, and the directive before that.`,
      });
      return;
    }
    if (ts.isStatement(node) && !ts.isFunctionDeclaration(node)) {
      const name = d.name ?? `${displayFile}:${locate(node, '').line}`;
      targets.set(node, { kind: 'statement', node, options: fromDirective(d, name), location: locate(node, name) });
    }
  };

  visit(file);
  for (const comment of allTraceComments(ts, file)) {
    if (!usedComments.has(comment.pos)) {
      diagnostics.push({
        code: DiagnosticCode.DirectiveAttachedToNothing,
        node: comment,
        message: 'this trace directive is attached to nothing. Put it on the line right before a function, method, class or statement, or right before a function expression or arrow, wherever it stands (`app.get(path, // trace:region`).',
      });
    }
  }
  return { targets, tracedDecorators, diagnostics };
}

/** Nodes whose leading comments may hold a directive. */
function isDirectiveHost(ts: typeof TS, node: TS.Node): boolean {
  return (
    ts.isStatement(node) ||
    ts.isClassElement(node) ||
    ts.isPropertyAssignment(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isClassLike(node)
  );
}

/** The function a directive host stands for: itself (a function or class), or its function/arrow initializer. */
function functionOfHost(ts: typeof TS, node: TS.Node): TracedFunction | TS.ClassLikeDeclaration | undefined {
  if (isFunctionLike(ts, node)) return node;
  if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isGetAccessorDeclaration(node) || ts.isSetAccessorDeclaration(node) || ts.isConstructorDeclaration(node)) return node;
  if (ts.isClassDeclaration(node)) return node;
  if (ts.isVariableStatement(node)) {
    const declarations = node.declarationList.declarations;
    const init = declarations.length === 1 ? declarations[0].initializer : undefined;
    if (init && ts.isClassExpression(init)) return init;
    return init && isFunctionLike(ts, init) ? init : undefined;
  }
  if ((ts.isPropertyAssignment(node) || ts.isPropertyDeclaration(node)) && isFunctionLike(ts, node.initializer)) return node.initializer;
  if (ts.isExportAssignment(node) && isFunctionLike(ts, node.expression)) return node.expression;
  return undefined;
}

/** Assignments that name an anonymous function on their right in JavaScript: `=`, `||=`, `&&=`, `??=`. */
function isNamingAssignment(ts: typeof TS, operator: TS.SyntaxKind): boolean {
  const kinds = ts.SyntaxKind;
  return operator === kinds.EqualsToken || operator === kinds.BarBarEqualsToken || operator === kinds.AmpersandAmpersandEqualsToken || operator === kinds.QuestionQuestionEqualsToken;
}

/** `name`, `this.name`, `a.b.name` as written; undefined for anything else (`a[0].b`, a call). */
function accessPath(ts: typeof TS, node: TS.Expression): string | undefined {
  if (ts.isIdentifier(node)) return node.text;
  if (node.kind === ts.SyntaxKind.ThisKeyword) return 'this';
  if (ts.isPropertyAccessExpression(node)) {
    const base = accessPath(ts, node.expression);
    return base === undefined ? undefined : `${base}.${node.name.text}`;
  }
  return undefined;
}

/** Parentheses and type-only wrappers around an expression: they do not change what it is. */
function isTransparent(ts: typeof TS, node: TS.Node | undefined): node is TS.ParenthesizedExpression | TS.AsExpression | TS.SatisfiesExpression | TS.NonNullExpression | TS.TypeAssertion {
  return !!node && (ts.isParenthesizedExpression(node) || ts.isAsExpression(node) || ts.isSatisfiesExpression(node) || ts.isNonNullExpression(node) || ts.isTypeAssertionExpression(node));
}

/**
 * `node` with the parentheses and type assertions around it, in the source's tree (a transformer run
 * before us may have rebuilt the nodes around it, which then have no parent).
 */
function outermostExpression(ts: typeof TS, node: TS.Expression): TS.Expression {
  let outer = ts.getOriginalNode(node) as TS.Expression;
  while (isTransparent(ts, outer.parent)) outer = outer.parent;
  return outer;
}

/**
 * Full starts of the tokens a directive right before a function expression may precede: the
 * function's own, and those of the parentheses opened around it (`( // trace:region` then the arrow).
 */
function startsBefore(ts: typeof TS, fn: TS.FunctionExpression | TS.ArrowFunction): number[] {
  const starts = [fn.pos];
  for (let node = ts.getOriginalNode(fn); node.parent && ts.isParenthesizedExpression(node.parent); node = node.parent) starts.push(node.parent.pos);
  return starts;
}

/**
 * The `return` or `yield` that a line break ended right before `node` (an expression statement, or a
 * function standing as one), by automatic semicolon insertion: `node` is never evaluated.
 */
function bareReturnBefore(ts: typeof TS, file: TS.SourceFile, node: TS.Node): 'return' | 'yield' | undefined {
  const outer = ts.isExpression(node) ? outermostExpression(ts, node) : ts.getOriginalNode(node);
  const statement = ts.isExpressionStatement(outer) ? outer : outer.parent && ts.isExpressionStatement(outer.parent) ? outer.parent : undefined;
  if (!statement?.parent) return undefined;
  const siblings = statementsAround(ts, statement);
  const previous = siblings?.[siblings.indexOf(statement) - 1];
  if (!previous || file.text[previous.end - 1] === ';') return undefined;
  if (ts.isReturnStatement(previous) && previous.expression === undefined) return 'return';
  if (ts.isExpressionStatement(previous) && ts.isYieldExpression(previous.expression) && previous.expression.expression === undefined) return 'yield';
  return undefined;
}

/** The statement list `statement` is part of. */
function statementsAround(ts: typeof TS, statement: TS.Statement): readonly TS.Statement[] | undefined {
  const parent = statement.parent;
  if (ts.isBlock(parent) || ts.isSourceFile(parent) || ts.isModuleBlock(parent) || ts.isCaseClause(parent) || ts.isDefaultClause(parent)) return parent.statements;
  return undefined;
}
