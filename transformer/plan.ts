import { relative, sep } from 'node:path';
import type * as TS from 'typescript';
import type { ApiSymbols } from './api-symbols.js';
import { DiagnosticCode, type TracerDiagnostic } from './diagnostics.js';
import { allTraceComments, leadingDirective, type Directive } from './directives.js';

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
    return undefined;
  };
  const classNameOf = (cls: TS.ClassLikeDeclaration): string => {
    const own = nameOf(cls.name);
    if (own) return own;
    if (ts.isVariableDeclaration(cls.parent)) return nameOf(cls.parent.name) ?? '<class>';
    return '<class>';
  };
  /** transformer.md's default names: `Class.method`, the function's or variable's name, else `<file>:<line>`. */
  const defaultName = (node: TracedFunction, hostName?: string, classPrefix?: string): string => {
    const parent = node.parent;
    if (ts.isClassLike(parent)) {
      const cls = classPrefix ?? classNameOf(parent);
      if (ts.isConstructorDeclaration(node)) return `${cls}.constructor`;
      const member = nameOf(node.name) ?? '<computed>';
      const prefix = ts.isGetAccessorDeclaration(node) ? 'get ' : ts.isSetAccessorDeclaration(node) ? 'set ' : '';
      return `${cls}.${prefix}${member}`;
    }
    if (hostName) return hostName;
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
    const expression = decorator.expression;
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
        if (!targets.has(method) && !tracedDecoratorOf(method)) addFunction(method, { ...classWide, name: defaultName(method, undefined, classWide.name) }, method);
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
    const { directive, malformed } = isDirectiveHost(ts, node) ? leadingDirective(ts, file, node) : {};
    if (malformed && !usedComments.has(malformed.pos)) {
      usedComments.add(malformed.pos);
      diagnostics.push({ code: DiagnosticCode.UnknownDirective, node: malformed, message: `unknown directive "trace:${malformed.word}". Write "// trace:region [name]" or "// trace:task [name]".` });
    }
    if (directive && !usedComments.has(directive.pos)) {
      usedComments.add(directive.pos);
      planDirective(node, directive);
    }
    ts.forEachChild(node, visit);
  };

  const planDirective = (node: TS.Node, d: Directive): void => {
    const fn = functionOfHost(ts, node);
    if (fn) {
      if (ts.isClassLike(fn)) {
        for (const method of methodsOf(fn)) if (!targets.has(method)) addFunction(method, fromDirective({ ...d, name: undefined }, defaultName(method)), method);
        return;
      }
      const hostName = hostNameOf(ts, node, nameOf);
      addFunction(fn, fromDirective(d, defaultName(fn, hostName)), node);
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
        message: 'this trace directive is attached to nothing. Put it on the line right before a function, method, arrow, class or statement.',
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

/** The function a directive host stands for: itself, or its function/arrow initializer. */
function functionOfHost(ts: typeof TS, node: TS.Node): TracedFunction | TS.ClassLikeDeclaration | undefined {
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

function hostNameOf(ts: typeof TS, node: TS.Node, nameOf: (n: TS.PropertyName | TS.BindingName | undefined) => string | undefined): string | undefined {
  if (ts.isVariableStatement(node)) return nameOf(node.declarationList.declarations[0].name);
  if (ts.isPropertyAssignment(node)) return nameOf(node.name);
  if (ts.isPropertyDeclaration(node) && ts.isClassLike(node.parent)) {
    const cls = node.parent.name?.text ?? '<class>';
    return `${cls}.${nameOf(node.name) ?? '<computed>'}`;
  }
  return undefined;
}
