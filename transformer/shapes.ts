import type * as TS from 'typescript';
import type { TracedFunction } from './plan.js';

/**
 * What both emitters (the tsc transformer's nodes, transformer/emit.ts, and the source instrumenter's
 * text, transformer/source/text-emitter.ts) must agree on about the code they write.
 */

/** FrameKind codes of runtime/instrument.ts. */
export const FRAME = { Sync: 0, Async: 1, Generator: 2, AsyncGenerator: 3, AsyncBlock: 4 } as const;

/** Frame kinds whose suspensions are awaits (`awaiting`/`awaited`), and those whose are yields. */
export const isAsyncKind = (kind: number): boolean => kind === FRAME.Async || kind === FRAME.AsyncGenerator || kind === FRAME.AsyncBlock;
export const isGeneratorKind = (kind: number): boolean => kind === FRAME.Generator || kind === FRAME.AsyncGenerator;

/** The runtime frame kind of a traced function: async or not, generator or not. */
export function frameKindOf(ts: typeof TS, node: TracedFunction): number {
  const isAsync = !!ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword);
  const isGenerator = 'asteriskToken' in node && !!node.asteriskToken;
  return isAsync ? (isGenerator ? FRAME.AsyncGenerator : FRAME.Async) : isGenerator ? FRAME.Generator : FRAME.Sync;
}

/**
 * The frame kind of a statement marked as a region, or null when it holds no suspension of its own
 * function (an `await`, a `for await`, a `yield`: not those of functions nested in it), so that a
 * sync `enter`/`exit` brackets it. A statement that suspends is a frame like its function's, its
 * suspensions bracketed, so its region is never held open while the function is suspended:
 * `AsyncBlock` for awaits (in an async function, or at a module's top level), `Generator` (or
 * `AsyncGenerator`) when it yields — each resumption one occurrence of the region.
 */
export function statementFrameKind(ts: typeof TS, statement: TS.Statement): number | null {
  let awaits = false;
  let yields = false;
  const visit = (node: TS.Node): void => {
    if (ts.isFunctionLike(node) || ts.isClassLike(node)) return;
    if (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier)) awaits = true;
    else if (ts.isYieldExpression(node)) yields = true;
    ts.forEachChild(node, visit);
  };
  visit(statement);
  if (!awaits && !yields) return null;
  let owner: TS.Node | undefined = statement.parent;
  while (owner && !ts.isFunctionLike(owner) && !ts.isSourceFile(owner)) owner = owner.parent;
  const kind = owner && ts.isFunctionLike(owner) ? frameKindOf(ts, owner as TracedFunction) : FRAME.Async;
  return yields ? kind : FRAME.AsyncBlock;
}

/** Whether a statement is part of a directive prologue (`"use strict"` …), which must stay first. */
export const isPrologueDirective = (ts: typeof TS, statement: TS.Statement): boolean => ts.isExpressionStatement(statement) && ts.isStringLiteral(statement.expression);

/**
 * Whether `body` already starts with instrumentation (either emitter's): its first statement after the
 * prologue declares a handle from a `__tstrace…` call. A file processed twice is instrumented once.
 */
export function isInstrumentedBody(ts: typeof TS, body: TS.Node | undefined): boolean {
  if (!body || !ts.isBlock(body)) return false;
  const first = body.statements.find((s) => !isPrologueDirective(ts, s));
  if (!first || !ts.isVariableStatement(first)) return false;
  const init = first.declarationList.declarations[0]?.initializer;
  return !!init && ts.isCallExpression(init) && ts.isPropertyAccessExpression(init.expression) && ts.isIdentifier(init.expression.expression) && /^__tstrace/.test(init.expression.expression.text);
}

/**
 * Whether a marked statement was instrumented already: it starts with instrumentation (the source
 * instrumenter's wrapper, where the directive stays before the block), or it is the statement inside
 * one (tsc's wrapper, where the directive follows the statement into the `try`).
 */
export function isInstrumentedStatement(ts: typeof TS, statement: TS.Statement): boolean {
  if (isInstrumentedBody(ts, statement)) return true;
  const tryBlock = statement.parent;
  const tryStatement = tryBlock?.parent;
  return !!tryStatement && ts.isBlock(tryBlock) && ts.isTryStatement(tryStatement) && tryStatement.tryBlock === tryBlock && isInstrumentedBody(ts, tryStatement.parent);
}

/** `expression` without the parentheses around it (a decorator may have them: `@(traced)`, `@(traced('x'))`). */
export function unparenthesized(ts: typeof TS, expression: TS.Expression): TS.Expression {
  while (ts.isParenthesizedExpression(expression)) expression = expression.expression;
  return expression;
}

/** What a decorator calls or is: `traced` in `@traced`, `@traced(…)`, `@(traced)` and `@(traced(…))`. */
export function decoratorCallee(ts: typeof TS, decorator: TS.Decorator): TS.Expression {
  const expression = unparenthesized(ts, decorator.expression);
  return ts.isCallExpression(expression) ? unparenthesized(ts, expression.expression) : expression;
}

/**
 * Whether the value of `node` (whose parent is `parent`) is unused: a statement of its own, or the left
 * operand of a comma. A yield whose value is unused resumes beside it, `(yield …, resumed(f))`: passed
 * to `yielded(f, …)` it would be contextually typed, and an unannotated generator's inferred `TNext`
 * (so its declaration) would change from `unknown` to `any`.
 */
export function isValueUnused(ts: typeof TS, node: TS.Node, parent: TS.Node | undefined): boolean {
  if (parent === undefined) return false;
  return ts.isExpressionStatement(parent) || (ts.isBinaryExpression(parent) && parent.operatorToken.kind === ts.SyntaxKind.CommaToken && parent.left === node);
}
