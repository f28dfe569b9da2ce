import type MagicString from 'magic-string';
import type * as TS from 'typescript';
import type { Plan, Target } from '../plan.js';
import { FRAME, frameKindOf, isPrologueDirective } from '../shapes.js';

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

  /** The rewrites of one suspension point of the traced function `s` (transformer/emit.ts rewriteSuspensions). */
  const rewriteSuspension = (node: TS.Node, s: Suspending): void => {
    const isAsync = s.kind === FRAME.Async || s.kind === FRAME.AsyncGenerator;
    const isGenerator = s.kind === FRAME.Generator || s.kind === FRAME.AsyncGenerator;
    const f = s.frame;
    if (isAsync && ts.isAwaitExpression(node)) {
      out.prependRight(start(node), call('awaited', `${f}, `));
      wrap(node.expression, call('awaiting', `${f}, `), ')');
      out.appendLeft(node.end, ')');
    } else if (isGenerator && ts.isYieldExpression(node)) {
      out.prependRight(start(node), call('yielded', `${f}, `));
      if (node.expression) wrap(node.expression, call('yielding', `${f}, `), ')');
      else out.appendLeft(node.end, ` ${call('yielding', `${f}, void 0`)})`);
      out.appendLeft(node.end, ')');
    } else if (s.kind === FRAME.Async && settings.coverAsyncReturn && ts.isReturnStatement(node) && node.expression) {
      wrap(node.expression, call('returning', `${f}, `), ')');
    } else if ((isAsync || isGenerator) && ts.isCatchClause(node)) {
      atBlockTop(node.block, ` ${call('resumed', f)});`);
    } else if (s.kind === FRAME.Async && ts.isTryStatement(node) && node.finallyBlock) {
      // A finally block may be entered by an await that threw, with the caller's scope.
      atBlockTop(node.finallyBlock, ` ${call('resumed', f)});`);
    } else if (isAsync && ts.isForOfStatement(node) && node.awaitModifier) {
      // Each iteration resumes after an implicit await, whose `next` calls give the caller its context back.
      wrap(node.expression, call('awaitingEach', `${f}, `), ')');
      if (ts.isBlock(node.statement)) atBlockTop(node.statement, ` ${call('resumed', f)});`);
      else wrap(node.statement, `{ ${call('resumed', f)}); `, ' }');
      // …and so does the code after the loop (a labelled loop stays its label's statement).
      let outer: TS.Statement = node;
      while (ts.isLabeledStatement(outer.parent)) outer = outer.parent;
      wrap(outer, '{ ', ` ${call('resumed', f)}); }`);
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

  const instrumentStatement = (target: Extract<Target, { kind: 'statement' }>, handle: string): void => {
    const site = siteOf(target);
    const begin = target.options.task ? call('call', `${site}, void 0, ${FRAME.Sync})`) : call('enter', `${site}, void 0)`);
    wrap(target.node, `{ const ${handle} = ${begin}; try { `, ` } finally { ${call(target.options.task ? 'finish' : 'exit', handle)}); } }`);
  };

  let handles = 0;
  const visit = (node: TS.Node, suspending: Suspending | null): void => {
    const target = targets.get(node);
    if (target?.kind === 'function') {
      const fn = target.node;
      const kind = frameKindOf(ts, fn);
      const handle = `${rt}_${isPlain(target, kind) ? 'region' : 'frame'}${++handles}`;
      // Default parameter values run before the body: not part of the function's suspensions.
      ts.forEachChild(node, (child) => visit(child, child === fn.body && !isPlain(target, kind) ? { frame: handle, kind } : null));
      instrumentFunction(target, handle, kind);
      return;
    }
    const inner = ts.isFunctionLike(node) || ts.isClassLike(node) ? null : suspending;
    ts.forEachChild(node, (child) => visit(child, inner));
    if (suspending) rewriteSuspension(node, suspending);
    if (target?.kind === 'statement') instrumentStatement(target, `${rt}_region${++handles}`);
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
  visit(file, null);
  return sites;
}
