import type * as TS from 'typescript';
import type { Target, TracedFunction } from './plan.js';
import { FRAME, frameKindOf, isAsyncKind, isGeneratorKind, isInstrumentedBody, isPrologueDirective, isValueUnused, statementFrameKind } from './shapes.js';

/**
 * How instrumented code is written: each traced body is rewritten where it stands —
 * `const r = enter(site); try { <original body> } finally { exit(r) }` — never moved into a nested
 * function, so `this`, `arguments`, `super`, `new.target`, names, lengths and hoisting are untouched.
 */
export function createEmitter(ts: typeof TS, factory: TS.NodeFactory, runtime: TS.Identifier, settings: { coverAsyncReturn: boolean }) {
  const rt = (name: string, args: TS.Expression[]): TS.CallExpression =>
    factory.createCallExpression(factory.createPropertyAccessExpression(runtime, name), undefined, args);
  const statement = (e: TS.Expression): TS.Statement => factory.createExpressionStatement(e);
  const constant = (name: TS.Identifier, init: TS.Expression): TS.Statement =>
    factory.createVariableStatement(undefined, factory.createVariableDeclarationList([factory.createVariableDeclaration(name, undefined, undefined, init)], ts.NodeFlags.Const));

  /** The site declaration placed at the top of the file: `var s = rt.site(type, file, line, column, fn, task)`. */
  function siteDeclaration(name: TS.Identifier, target: Target): TS.Statement {
    const { location, options } = target;
    const init = rt('site', [
      factory.createStringLiteral(options.name),
      factory.createStringLiteral(location.file),
      factory.createNumericLiteral(location.line),
      factory.createNumericLiteral(location.column),
      factory.createStringLiteral(location.function),
      options.task ? factory.createTrue() : factory.createFalse(),
    ]);
    // `var`: hoisted, so a hoisted function called during a circular import sees `undefined`, not a TDZ error.
    return factory.createVariableStatement(undefined, factory.createVariableDeclarationList([factory.createVariableDeclaration(name, undefined, undefined, init)], ts.NodeFlags.None));
  }


  const isForAwait = (node: TS.Statement): boolean => ts.isForOfStatement(node) && node.awaitModifier !== undefined;
  /** The statement a chain of labels labels. */
  const innermostStatement = (node: TS.LabeledStatement): TS.Statement => (ts.isLabeledStatement(node.statement) ? innermostStatement(node.statement) : node.statement);

  /** Splits off the directive prologue ("use strict" …): it must stay first. */
  const splitPrologue = (statements: readonly TS.Statement[]): [TS.Statement[], TS.Statement[]] => {
    let i = 0;
    while (i < statements.length && isPrologueDirective(ts, statements[i])) i++;
    return [statements.slice(0, i), statements.slice(i)];
  };

  /**
   * Rewrites the suspension points that belong to this function (not to nested functions): awaits,
   * yields, returns of async functions, `for await` loops, and catch clauses and (in async functions)
   * finally blocks, since a suspension can end by a throw.
   */
  function rewriteSuspensions(body: TS.Block, frame: TS.Identifier, kind: number, context: TS.TransformationContext): TS.Block {
    const isAsync = isAsyncKind(kind);
    const isGenerator = isGeneratorKind(kind);
    // The parents of the node visited, as this walk goes: nodes made by an inner rewrite have no `parent`.
    const parents: TS.Node[] = [body];
    const visit = (node: TS.Node): TS.VisitResult<TS.Node> => {
      if (ts.isFunctionLike(node) || ts.isClassLike(node)) return node;
      const parent = parents[parents.length - 1];
      parents.push(node);
      const visited = ts.visitEachChild(node, visit, context);
      parents.pop();
      if (isAsync && ts.isAwaitExpression(visited)) {
        return rt('awaited', [frame, factory.updateAwaitExpression(visited, rt('awaiting', [frame, visited.expression]))]);
      }
      if (isGenerator && ts.isYieldExpression(visited)) {
        const value = visited.expression ?? factory.createVoidZero();
        const yielded = factory.updateYieldExpression(visited, visited.asteriskToken, rt('yielding', [frame, value]));
        if (isValueUnused(ts, node, parent)) return factory.createParenthesizedExpression(factory.createComma(yielded, rt('resumed', [frame])));
        return rt('yielded', [frame, yielded]);
      }
      if (kind === FRAME.Async && settings.coverAsyncReturn && ts.isReturnStatement(visited) && visited.expression) {
        return factory.updateReturnStatement(visited, rt('returning', [frame, visited.expression]));
      }
      if ((isAsync || isGenerator) && ts.isCatchClause(visited)) {
        const statements = ts.setTextRange(factory.createNodeArray([statement(rt('resumed', [frame])), ...visited.block.statements]), visited.block.statements);
        return factory.updateCatchClause(visited, visited.variableDeclaration, factory.updateBlock(visited.block, statements));
      }
      if (kind !== FRAME.Sync && ts.isTryStatement(visited) && visited.finallyBlock) {
        // A finally block may be entered by an await that threw, with the caller's scope, or by a
        // generator's return() or throw() at a yield, which the yield's own bracketing never sees.
        const block = visited.finallyBlock;
        const statements = ts.setTextRange(factory.createNodeArray([statement(rt('resumed', [frame])), ...block.statements]), block.statements);
        return factory.updateTryStatement(visited, visited.tryBlock, visited.catchClause, factory.updateBlock(block, statements));
      }
      if (isAsync && ts.isLabeledStatement(visited) && !ts.isLabeledStatement(parent) && isForAwait(innermostStatement(visited))) {
        // The code after a labelled `for await` resumes too (the loop itself must stay the label's statement).
        return [visited, statement(rt('resumed', [frame]))];
      }
      if (isAsync && ts.isForOfStatement(visited) && visited.awaitModifier) {
        // Each iteration of `for await` resumes after an implicit await: its `next` calls give the caller
        // its context back, as a written await does.
        const iterable = ts.setTextRange(rt('awaitingEach', [frame, visited.expression]), visited.expression);
        // The body keeps its braces' positions for the source map.
        const resume = statement(rt('resumed', [frame]));
        const body = ts.isBlock(visited.statement)
          ? factory.updateBlock(visited.statement, ts.setTextRange(factory.createNodeArray([resume, ...visited.statement.statements]), visited.statement.statements))
          : ts.setTextRange(factory.createBlock([resume, visited.statement], true), visited.statement);
        const loop = factory.updateForOfStatement(visited, visited.awaitModifier, visited.initializer, iterable, body);
        // …and so does the code after the loop; a labelled loop must stay the label's statement.
        return ts.isLabeledStatement(parent) ? loop : [loop, statement(rt('resumed', [frame]))];
      }
      return visited;
    };
    return ts.visitEachChild(body, visit, context);
  }

  /** The instrumented body of a traced function. */
  function instrumentFunctionBody(target: Extract<Target, { kind: 'function' }>, node: TracedFunction, body: TS.ConciseBody, site: TS.Identifier, context: TS.TransformationContext): TS.Block {
    const block = ts.isBlock(body) ? body : factory.createBlock([factory.createReturnStatement(body)], true);
    const kind = frameKindOf(ts, node);
    const ctxArg: TS.Expression = target.contextParameter ? factory.createIdentifier(target.contextParameter.text) : factory.createVoidZero();
    const { options } = target;
    const plain = kind === FRAME.Sync && !options.task && options.log.length === 0 && !options.err;
    const handle = factory.createUniqueName(plain ? '__tstrace_region' : '__tstrace_frame');
    const inner = plain ? block : rewriteSuspensions(block, handle, kind, context);
    const [prologue, rest] = splitPrologue(inner.statements);
    const begin = plain ? rt('enter', [site, ctxArg]) : rt('call', [site, ctxArg, factory.createNumericLiteral(kind)]);
    const logs = options.log.map((param) => statement(rt('param', [handle, factory.createStringLiteral(param), factory.createIdentifier(param)])));
    const error = factory.createUniqueName('__tstrace_error');
    const catchClause = options.err
      ? factory.createCatchClause(factory.createVariableDeclaration(error), factory.createBlock([statement(rt('thrown', [handle, error])), factory.createThrowStatement(error)], true))
      : undefined;
    const tryStatement = factory.createTryStatement(
      factory.createBlock([...logs, ...rest], true),
      catchClause,
      factory.createBlock([statement(rt(plain ? 'exit' : 'finish', [handle]))], true),
    );
    // The statement list keeps the original's range, so the closing brace keeps its source mapping.
    const statements = ts.setTextRange(factory.createNodeArray([...prologue, constant(handle, begin), tryStatement]), block.statements);
    return factory.updateBlock(block, statements);
  }

  /**
   * A statement marked `// trace:region`: `{ const r = enter(site); try { <statement> } finally { exit(r) } }`;
   * a task, or a statement that suspends its function (statementFrameKind), is a frame instead, its
   * suspensions bracketed (those of the enclosing traced function wrap these later).
   */
  function instrumentStatement(target: Extract<Target, { kind: 'statement' }>, node: TS.Statement, site: TS.Identifier, context: TS.TransformationContext): TS.Statement {
    const kind = statementFrameKind(ts, target.node);
    const block = factory.createBlock([node], true);
    if (kind === null && !target.options.task) {
      const handle = factory.createUniqueName('__tstrace_region');
      return factory.createBlock([constant(handle, rt('enter', [site, factory.createVoidZero()])), factory.createTryStatement(block, undefined, factory.createBlock([statement(rt('exit', [handle]))], true))], true);
    }
    const frame = factory.createUniqueName('__tstrace_frame');
    const body = kind === null ? block : rewriteSuspensions(block, frame, kind, context);
    return factory.createBlock([constant(frame, rt('call', [site, factory.createVoidZero(), factory.createNumericLiteral(kind ?? FRAME.Sync)])), factory.createTryStatement(body, undefined, factory.createBlock([statement(rt('finish', [frame]))], true))], true);
  }

  /** Whether a body already starts with our instrumentation (a file processed twice is instrumented once). */
  const isInstrumented = (body: TS.ConciseBody | undefined): boolean => isInstrumentedBody(ts, body);

  return { siteDeclaration, instrumentFunctionBody, instrumentStatement, isInstrumented, rt };
}
