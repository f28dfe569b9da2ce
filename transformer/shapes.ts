import type * as TS from 'typescript';
import type { TracedFunction } from './plan.js';

/**
 * What both emitters (the tsc transformer's nodes, transformer/emit.ts, and the source instrumenter's
 * text, transformer/source/text-emitter.ts) must agree on about the code they write.
 */

/** FrameKind codes of runtime/instrument.ts. */
export const FRAME = { Sync: 0, Async: 1, Generator: 2, AsyncGenerator: 3 } as const;

/** The runtime frame kind of a traced function: async or not, generator or not. */
export function frameKindOf(ts: typeof TS, node: TracedFunction): number {
  const isAsync = !!ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword);
  const isGenerator = 'asteriskToken' in node && !!node.asteriskToken;
  return isAsync ? (isGenerator ? FRAME.AsyncGenerator : FRAME.Async) : isGenerator ? FRAME.Generator : FRAME.Sync;
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
