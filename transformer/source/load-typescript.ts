import { readFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as TS from 'typescript';
import { unsupportedTypeScript } from '../typescript-version.js';
import { callerFile } from './own-file.js';

/** TypeScript (its parser) or magic-string is not installed where the source instrumenter runs. */
export class MissingPeerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingPeerError';
  }
}

const loaded = new Map<string, unknown>();

/** This module's file: peers installed beside tstrace resolve from it. */
const here = callerFile();

/** Where a peer is looked for: from `from`, then from the script node runs, then from tstrace's own folder. */
const peerBases = (from: string): string[] => [join(from, 'noop.js'), ...(process.argv[1] ? [process.argv[1]] : []), ...(here ? [here] : [])];

/**
 * A peer dependency as the user's project resolves it: from `from` (a folder, by default the current
 * directory), then from the script node runs, then from tstrace's own folder (a peer is installed
 * beside it). Cached by name and folder.
 */
function loadPeer<T>(name: string, install: string, from: string = process.cwd()): T {
  const key = `${name}\0${from}`;
  if (loaded.has(key)) return loaded.get(key) as T;
  const bases = peerBases(from);
  let lastError: unknown;
  for (const base of bases) {
    try {
      const value = createRequire(base)(name) as T;
      loaded.set(key, value);
      return value;
    } catch (error) {
      lastError = error;
      if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    }
  }
  throw new MissingPeerError(`tstrace/source needs ${name}, which is not installed here (${from}): ${install}. (${(lastError as Error | undefined)?.message.split('\n')[0] ?? ''})`);
}

/**
 * The version of a peer dependency as {@link loadPeer} would find it from `from`, read from its
 * package.json without loading the package; null when it is not installed.
 */
export function peerVersion(name: string, from: string = process.cwd()): string | null {
  for (const base of peerBases(from)) {
    try {
      const { version } = JSON.parse(readFileSync(createRequire(base).resolve(`${name}/package.json`), 'utf8')) as { version?: unknown };
      return typeof version === 'string' ? version : null;
    } catch {
      // Not found from this base (or not readable): try the next, as loadPeer does.
    }
  }
  return null;
}

/**
 * Turns on Node's on-disk compile cache (Node ≥ 22.1), as tsc's and Vite's own bins do, for a build
 * process (the bundler plugin) to call before {@link loadTypeScript}: TypeScript's 9 MB of JavaScript
 * then load from compiled code after the first build. It stays on for the modules the process loads
 * afterwards, as with those bins; Node leaves it off when NODE_DISABLE_COMPILE_CACHE is set, and where
 * the cache folder cannot be written. Not for a program's own process (`--import tstrace/register`).
 */
export function enableCompileCache(): void {
  (nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
}

const INSTALL_TYPESCRIPT = 'npm install -D typescript@5.9 (or typescript@6)';

/**
 * The user's `typescript` (an optional peer dependency of tstrace), found from `from` (default: the
 * current directory): its parser reads the sources to instrument. Throws {@link MissingPeerError} when
 * it is not installed, or when it is not 5.x or 6.x (TypeScript 7's package has no compiler API: it
 * exports only `version`), with the line to install one that works. TypeScript 5.9 or 6 may sit beside
 * TypeScript 7 under another name; pass that module to instrumentSource yourself.
 */
export function loadTypeScript(from?: string): typeof TS {
  const ts = loadPeer<typeof TS>('typescript', INSTALL_TYPESCRIPT, from);
  if (unsupportedTypeScript(ts) !== undefined || typeof ts.createSourceFile !== 'function') {
    throw new MissingPeerError(`tstrace/source parses with the compiler API of TypeScript 5.x or 6.x, and found TypeScript ${String(ts.version)}: ${INSTALL_TYPESCRIPT}.`);
  }
  return ts;
}

/** magic-string's class, from the user's install (an optional peer dependency of tstrace). */
export function loadMagicString(from?: string): typeof import('magic-string').default {
  const loadedModule = loadPeer<typeof import('magic-string') & { default?: unknown }>('magic-string', 'npm install -D magic-string', from);
  // Its CommonJS build exports the class itself, with `.default` pointing at it too.
  return (typeof loadedModule === 'function' ? loadedModule : loadedModule.default) as typeof import('magic-string').default;
}
