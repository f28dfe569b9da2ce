/**
 * The instrumenter's results kept on disk between builds and runs, as babel-loader's `cacheDirectory`
 * and Jest's transform cache keep theirs: a module whose text and options are the same as last time
 * is not parsed again, and TypeScript is not even loaded when no marked module changed.
 *
 * Entries are JSON files named by a hash of what they depend on, in a folder named by a hash of the
 * instrumenter's own code and the TypeScript it parses with (another tstrace or TypeScript never
 * reads them). Writes are atomic (a temporary file renamed), so builds running at once share it.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { callerFile } from './own-file.js';

/** A key → JSON store on disk; reads and writes never throw (a damaged entry reads as absent). */
export interface ResultStore {
  /** The key of an entry of `kind` that depends on `parts` (texts, options). */
  keyOf(kind: string, ...parts: readonly string[]): string;
  /** The value kept for `key`, or undefined. */
  get(key: string): unknown;
  /** Keeps `value` for `key`. The first failure to write turns writing off for this process, with one warning on stderr. */
  set(key: string, value: unknown): void;
}

/** How long an entry or another version's folder is kept without being written again (a module used longer is made again once). */
const KEEP_MS = 7 * 24 * 3600 * 1000;
/** Old entries are looked for at most once a day. */
const PRUNE_EVERY_MS = 24 * 3600 * 1000;

/**
 * The store's folder for a project at `from`: `TSTRACE_CACHE` when set (`off`, `0` or `false`: none),
 * else `node_modules/.cache/tstrace` in the nearest node_modules above `from` (as babel-loader and
 * terser do), else none.
 */
export function storeDirFor(from: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const setting = env.TSTRACE_CACHE?.trim();
  if (setting) return /^(?:off|0|false|no)$/i.test(setting) ? null : setting;
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules'))) return join(dir, 'node_modules', '.cache', 'tstrace');
    if (dirname(dir) === dir) return null;
  }
}

/** The sha256 (hex) of `parts`, each ended by a NUL: what keys and fingerprints are made of. */
export const sha256 = (...parts: readonly (string | Uint8Array)[]): string => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex');
};

/** A hash of the instrumenter's code (this folder's parent, `transformer/`): a changed tstrace never reads an older one's entries. */
let fingerprint: string | undefined;
function instrumenterFingerprint(): string {
  if (fingerprint !== undefined) return fingerprint;
  const here = callerFile();
  const hash = createHash('sha256');
  if (here !== null) {
    const root = dirname(dirname(here));
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(?:[cm]?js|ts)$/.test(f) && !f.endsWith('.d.ts')).sort();
    for (const file of files) hash.update(file).update('\0').update(readFileSync(join(root, file))).update('\0');
  }
  return (fingerprint = hash.digest('hex'));
}

/**
 * The store in `dir` for results made with `versions` (e.g. TypeScript's and magic-string's), or null
 * when `dir` is null.
 */
export function openResultStore(dir: string | null, versions: readonly string[]): ResultStore | null {
  if (dir === null) return null;
  const folder = join(dir, sha256(instrumenterFingerprint(), ...versions).slice(0, 16));
  let writable = true;
  let pruned = false;
  const fileOf = (key: string): string => join(folder, `${key}.json`);
  return {
    keyOf: (kind, ...parts) => sha256(kind, ...parts),
    get(key) {
      try {
        return JSON.parse(readFileSync(fileOf(key), 'utf8')) as unknown;
      } catch {
        return undefined; // absent, unreadable or damaged: made again
      }
    },
    set(key, value) {
      if (!writable) return;
      try {
        mkdirSync(folder, { recursive: true });
        if (!pruned) {
          pruneOld(dir, folder);
          pruned = true;
        }
        const file = fileOf(key);
        const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
        writeFileSync(temporary, JSON.stringify(value));
        renameSync(temporary, file);
      } catch (error) {
        writable = false;
        process.emitWarning(`the cache folder ${dir} cannot be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); instrumenting goes on without keeping results. Set TSTRACE_CACHE=off to say so, or another folder.`, { code: 'TSTRACE_CACHE' });
      }
    },
  };
}

/** Removes, at most once a day, entries and other versions' folders not written for 7 days. */
function pruneOld(dir: string, current: string): void {
  const stamp = join(current, '.pruned');
  const now = Date.now();
  try {
    if (now - statSync(stamp).mtimeMs < PRUNE_EVERY_MS) return;
  } catch {
    // never pruned
  }
  writeFileSync(stamp, '');
  const removeIfOld = (path: string): void => {
    try {
      if (now - statSync(path).mtimeMs > KEEP_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // removed by another process meanwhile
    }
  };
  for (const name of readdirSync(dir)) if (join(dir, name) !== current) removeIfOld(join(dir, name));
  for (const name of readdirSync(current)) if (name.endsWith('.json') || name.endsWith('.tmp')) removeIfOld(join(current, name));
}
