import type MagicString from 'magic-string';
import type * as TS from 'typescript';
import type { Plan, Target } from '../plan.js';
import { FRAME, frameKindOf, isAsyncKind, isGeneratorKind, isPrologueDirective, isValueUnused, statementFrameKind } from '../shapes.js';

/** The suspensions of one traced function being rewritten: its frame variable and kind. */
interface Suspending {
  readonly frame: string;
  readonly kind: number;
}

export interface TextEmitSettings {
  /** The runtime namespace's local name (unique in the file); every name we add starts with it. */
  readonly runtime: string;
  readonly coverAsyncReturn: boolean;
  /** `@traced` becomes the runtime's no-op `compiled` decorator (`compiled`), or is deleted (`remove`). */
  readonly tracedDecorators: 'compiled' | 'remove';
}

/**
 * Writes a {@link Plan} into the text of its file as edits (magic-string), producing the shapes the
 * tsc emitter (transformer/emit.ts) builds as nodes: each traced body is rewritten where it stands,
 * `const r = enter(site); try { <original body> } finally { exit(r) }`, so every original character
 * keeps its place in the source map.
 *
 * Edits are made children first (post-order): an opening text is `prependRight`ed and a closing one
 * `appendLeft`ed, so at a shared position an enclosing rewrite's opening lands before an inner one's
 * and its closing after. Returns the site declarations to put at the top of the file.
 */
export function emitPlanAsText(ts: typeof TS, file: TS.SourceFile, plan: Plan, targets: ReadonlyMap<TS.Node, Target>, out: MagicString, settings: TextEmitSettings): string[] {
  const rt = settings.runtime;
  const sites: string[] = [];
  let counter = 0;
  const start = (node: TS.Node): number => node.getStart(file);
  const call = (name: string, args: string): string => `${rt}.${name}(${args}`;

  const siteOf = (target: Target): string => {
    const name = `${rt}_site${++counter}`;
    const { location, options } = target;
    const args = [options.name, location.file, location.line, location.column, location.function, options.task].map((v) => JSON.stringify(v)).join(', ');
    // `var`: hoisted, so a hoisted function called during a circular import sees `undefined`, not a TDZ error.
    sites.push(`var ${name} = ${call('site', args)});`);
    return name;
  };

  const isPlain = (target: Extract<Target, { kind: 'function' }>, kind: number): boolean =>
    kind === FRAME.Sync && !target.options.task && target.options.log.length === 0 && !target.options.err;

  /** Wraps `node` in an opening and a closing text. */
  const wrap = (node: TS.Node, open: string, close: string): void => {
    out.prependRight(start(node), open);
    out.appendLeft(node.end, close);
  };
  /** Inserts `text` right after the opening brace of `block`. */
  const atBlockTop = (block: TS.Block, text: string): void => {
    out.appendLeft(start(block) + 1, text);
  };

  /**
   * The rewrites of one suspension point for the frames it suspends, outermost first: the traced
   * function's, then those of the statements marked around it (transformer/emit.ts rewriteSuspensions,
   * applied once per frame from the innermost out). Suspending, the innermost frame goes first;
   * resuming, the outermost.
   */
  const rewriteSuspension = (node: TS.Node, frames: readonly Suspending[]): void => {
    // Called for every node of a traced body: only these kinds are rewritten.
    if (!ts.isAwaitExpression(node) && !ts.isYieldExpression(node) && !ts.isReturnStatement(node) && !ts.isCatchClause(node) && !ts.isTryStatement(node) && !ts.isForOfStatement(node)) return;
    const awaiting = frames.filter((s) => isAsyncKind(s.kind));
    const yielding = frames.filter((s) => isGeneratorKind(s.kind));
    // Every frame but a sync one (a task or logging function's): its catch and finally blocks resume.
    const suspends = frames.filter((s) => s.kind !== FRAME.Sync);
    /** `name(f1, name(f2, ` for `order`, and as many closing parentheses. */
    const nested = (name: string, order: readonly Suspending[]): string => order.map((s) => call(name, `${s.frame}, `)).join('');
    const closing = (order: readonly Suspending[]): string => ')'.repeat(order.length);
    const resumedAll = (order: readonly Suspending[]): string => order.map((s) => ` ${call('resumed', s.frame)});`).join('');
    const innerFirst = (order: readonly Suspending[]): Suspending[] => [...order].reverse();
    if (awaiting.length > 0 && ts.isAwaitExpression(node)) {
      out.prependRight(start(node), nested('awaited', innerFirst(awaiting)));
      wrap(node.expression, nested('awaiting', awaiting), closing(awaiting));
      out.appendLeft(node.end, closing(awaiting));
    } else if (yielding.length > 0 && ts.isYieldExpression(node)) {
      // Its value unused, `(yield …, resumed(fOuter), resumed(fInner))` (see isValueUnused).
      const unused = isValueUnused(ts, node, node.parent);
      out.prependRight(start(node), unused ? '(' : nested('yielded', innerFirst(yielding)));
      if (node.expression) wrap(node.expression, nested('yielding', yielding), closing(yielding));
      else out.appendLeft(node.end, ` ${nested('yielding', yielding)}void 0${closing(yielding)}`);
      out.appendLeft(node.end, unused ? `${yielding.map((s) => `, ${call('resumed', s.frame)})`).join('')})` : closing(yielding));
    } else if (ts.isReturnStatement(node)) {
      const returning = frames.filter((s) => s.kind === FRAME.Async);
      if (node.expression && settings.coverAsyncReturn && returning.length > 0) wrap(node.expression, nested('returning', returning), closing(returning));
    } else if (ts.isCatchClause(node) && suspends.length > 0) {
      atBlockTop(node.block, resumedAll(suspends));
    } else if (ts.isTryStatement(node) && node.finallyBlock && suspends.length > 0) {
      // A finally block may be entered by an await that threw, with the caller's scope, or by a
      // generator's return() or throw() at a yield, which the yield's own bracketing never sees.
      atBlockTop(node.finallyBlock, resumedAll(suspends));
    } else if (awaiting.length > 0 && ts.isForOfStatement(node) && node.awaitModifier) {
      // Each iteration resumes after an implicit await, whose `next` calls give the caller its context back.
      wrap(node.expression, nested('awaitingEach', awaiting), closing(awaiting));
      if (ts.isBlock(node.statement)) atBlockTop(node.statement, resumedAll(awaiting));
      else wrap(node.statement, `{${resumedAll(awaiting)} `, ' }');
      // …and so does the code after the loop (a labelled loop stays its label's statement).
      let outer: TS.Statement = node;
      while (ts.isLabeledStatement(outer.parent)) outer = outer.parent;
      wrap(outer, '{ ', `${resumedAll(awaiting)} }`);
    }
  };

  /** The directive prologue ("use strict" …) of a body: it stays first. */
  const prologueOf = (block: TS.Block): TS.Statement[] => {
    const prologue: TS.Statement[] = [];
    for (const statement of block.statements) {
      if (!isPrologueDirective(ts, statement)) break;
      prologue.push(statement);
    }
    return prologue;
  };

  const instrumentFunction = (target: Extract<Target, { kind: 'function' }>, handle: string, kind: number): void => {
    const node = target.node;
    const body = node.body;
    if (!body) return;
    const { options } = target;
    const plain = isPlain(target, kind);
    const site = siteOf(target);
    const ctx = target.contextParameter ? target.contextParameter.text : 'void 0';
    const begin = plain ? call('enter', `${site}, ${ctx})`) : call('call', `${site}, ${ctx}, ${kind})`);
    const logs = options.log.map((param) => ` ${call('param', `${handle}, ${JSON.stringify(param)}, ${param}`)});`).join('');
    const error = `${rt}_error${counter}`;
    const onError = options.err ? ` catch (${error}) { ${call('thrown', `${handle}, ${error}`)}); throw ${error}; }` : '';
    const end = `${onError} finally { ${call(plain ? 'exit' : 'finish', handle)}); }`;
    if (ts.isBlock(body)) {
      const prologue = prologueOf(body);
      const at = prologue.length > 0 ? prologue[prologue.length - 1].end : start(body) + 1;
      // A prologue directive without its semicolon would run into the declaration on the same line.
      const separator = prologue.length > 0 && file.text[at - 1] !== ';' ? ';' : '';
      const open = `${separator} const ${handle} = ${begin}; try {${logs}`;
      const close = ` }${end} `;
      // An empty body (`{}`, or nothing after its prologue): both at one position, in order.
      if (at === body.end - 1) out.appendLeft(at, open + close);
      else {
        out.prependRight(at, open);
        out.appendLeft(body.end - 1, close);
      }
    } else {
      // An expression body becomes a block returning it (`() => ({})` still returns the object).
      const returning = kind === FRAME.Async && settings.coverAsyncReturn;
      wrap(body, `{ const ${handle} = ${begin}; try {${logs} return ${returning ? call('returning', `${handle}, `) : ''}`, `${returning ? ')' : ''}; }${end} }`);
    }
  };

  /** A statement marked as a region: `enter`/`exit`, or a frame when it is a task or suspends (`frame`, its suspensions rewritten already). */
  const instrumentStatement = (target: Extract<Target, { kind: 'statement' }>, frame: Suspending | null): void => {
    const site = siteOf(target);
    const isFrame = frame !== null || target.options.task;
    const handle = frame?.frame ?? `${rt}_region${++handles}`;
    const begin = isFrame ? call('call', `${site}, void 0, ${frame?.kind ?? FRAME.Sync})`) : call('enter', `${site}, void 0)`);
    wrap(target.node, `{ const ${handle} = ${begin}; try { `, ` } finally { ${call(isFrame ? 'finish' : 'exit', handle)}); } }`);
  };

  let handles = 0;
  /** `suspending`: the frames an `await` or `yield` here suspends, outermost first (a traced function's, and statements' marked around it). */
  const visit = (node: TS.Node, suspending: readonly Suspending[]): void => {
    const target = targets.get(node);
    if (target?.kind === 'function') {
      const fn = target.node;
      const kind = frameKindOf(ts, fn);
      const handle = `${rt}_${isPlain(target, kind) ? 'region' : 'frame'}${++handles}`;
      // Default parameter values run before the body: not part of the function's suspensions.
      ts.forEachChild(node, (child) => visit(child, child === fn.body && !isPlain(target, kind) ? [{ frame: handle, kind }] : []));
      instrumentFunction(target, handle, kind);
      return;
    }
    let inner = ts.isFunctionLike(node) || ts.isClassLike(node) ? [] : suspending;
    let statementFrame: Suspending | null = null;
    if (target?.kind === 'statement') {
      const kind = statementFrameKind(ts, target.node);
      if (kind !== null) {
        statementFrame = { frame: `${rt}_frame${++handles}`, kind };
        inner = [...suspending, statementFrame];
      }
    }
    ts.forEachChild(node, (child) => visit(child, inner));
    // A marked `for await` (or `try`) statement is itself a suspension of its own frame too.
    const own = statementFrame ? inner : suspending;
    if (own.length > 0) rewriteSuspension(node, own);
    if (target?.kind === 'statement') instrumentStatement(target, statementFrame);
    if (ts.isDecorator(node) && plan.tracedDecorators.has(node)) {
      if (settings.tracedDecorators === 'remove') {
        // With the spaces after it on its line: no line moves, and no decorator is left to lower.
        let end = node.end;
        while (end < file.text.length && (file.text[end] === ' ' || file.text[end] === '\t')) end++;
        out.remove(start(node), end);
      } else {
        // The runtime's no-op decorator: decorator metadata stays exactly what it was.
        out.overwrite(start(node.expression), node.expression.end, `${rt}.compiled`);
      }
    }
  };
  visit(file, []);
  return sites;
}
