import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type * as TS from 'typescript';
import { decoratorCallee } from './shapes.js';

interface PackageOf {
  readonly root: string;
  readonly name: string;
}
const packageOfDir = new Map<string, PackageOf | null>();

/**
 * The package `dir` belongs to: the nearest package.json above it that names a package (cached). A
 * manifest without a name does not start a package: tstrace's own dist/cjs/package.json only says
 * `{ "type": "commonjs" }`, and its files still belong to the tstrace package above it.
 */
function packageOf(dir: string): PackageOf | null {
  const cached = packageOfDir.get(dir);
  if (cached !== undefined) return cached;
  let found: PackageOf | null = null;
  const name = packageNameIn(dir);
  if (name !== null) {
    found = { root: dir, name };
  } else {
    const parent = dirname(dir);
    found = parent === dir ? null : packageOf(parent);
  }
  packageOfDir.set(dir, found);
  return found;
}

/** The `name` of `dir/package.json`, or null when there is none (no manifest, no name, unreadable). */
function packageNameIn(dir: string): string | null {
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest)) return null;
  try {
    const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
    return typeof name === 'string' && name !== '' ? name : null;
  } catch {
    return null;
  }
}

/** The runtime's own files: `runtime/…` in the tstrace package (its sources or its dist builds). */
const RUNTIME_FILE = /^(?:dist\/(?:esm|cjs)\/)?runtime\/[^/]+\.(?:d\.)?[cm]?ts$/;

function isRuntimeDeclaration(fileName: string): boolean {
  const pkg = packageOf(dirname(fileName));
  if (pkg?.name !== 'tstrace') return false;
  return RUNTIME_FILE.test(relative(pkg.root, fileName).split(sep).join('/'));
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
    return (target.getDeclarations() ?? []).some((d) => isRuntimeDeclaration(d.getSourceFile().fileName));
  };

  return {
    /** `@traced`, `@traced(…)`, `@ns.traced(…)`, also in parentheses (`@(traced)`), where `traced` is tstrace's decorator. */
    isTracedDecorator(decorator: TS.Decorator): boolean {
      const callee = decoratorCallee(ts, decorator);
      const name = ts.isPropertyAccessExpression(callee) ? callee.name : callee;
      return name.pos >= 0 && ts.isIdentifier(name) && isOurs(checker.getSymbolAtLocation(name), 'traced');
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
