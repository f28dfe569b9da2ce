import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as TS from 'typescript';

const packageNameOfDir = new Map<string, string | null>();

/** The name in the nearest package.json above `dir` (cached). */
function packageName(dir: string): string | null {
  const cached = packageNameOfDir.get(dir);
  if (cached !== undefined) return cached;
  let name: string | null = null;
  const manifest = join(dir, 'package.json');
  if (existsSync(manifest)) {
    try {
      name = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name ?? null;
    } catch {
      name = null;
    }
  } else {
    const parent = dirname(dir);
    name = parent === dir ? null : packageName(parent);
  }
  packageNameOfDir.set(dir, name);
  return name;
}

/**
 * Recognises tstrace's own API through the type checker, never by name alone: a user's own `traced`
 * or `Context` is left alone. A declaration is ours when it lives in the `tstrace` package.
 */
export function createApiSymbols(ts: typeof TS, checker: TS.TypeChecker) {
  const isOurs = (symbol: TS.Symbol | undefined, name: string): boolean => {
    if (!symbol) return false;
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    if (target.getName() !== name) return false;
    return (target.getDeclarations() ?? []).some((d) => packageName(dirname(d.getSourceFile().fileName)) === 'tstrace');
  };

  return {
    /** `@traced`, `@traced(…)`, `@ns.traced(…)` where `traced` is tstrace's decorator. */
    isTracedDecorator(decorator: TS.Decorator): boolean {
      let callee = decorator.expression;
      if (ts.isCallExpression(callee)) callee = callee.expression;
      const name = ts.isPropertyAccessExpression(callee) ? callee.name : callee;
      return ts.isIdentifier(name) && isOurs(checker.getSymbolAtLocation(name), 'traced');
    },

    /** A parameter declared with tstrace's `Context` type (directly, or through an alias or `Context | undefined`). */
    isContextParameter(parameter: TS.ParameterDeclaration): boolean {
      if (!parameter.type || !ts.isIdentifier(parameter.name)) return false;
      const type = checker.getTypeFromTypeNode(parameter.type);
      const candidates = type.isUnion() ? type.types : [type];
      return candidates.some((t) => isOurs(t.aliasSymbol ?? t.getSymbol(), 'Context'));
    },
  };
}

export type ApiSymbols = ReturnType<typeof createApiSymbols>;
