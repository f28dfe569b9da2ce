/**
 * The bundler plugins' optional peer dependencies (unplugin, typescript, magic-string), loaded when a
 * plugin is made or first used, as the user's project resolves them: from the working directory, then
 * from tstrace's own folder. tstrace's runtime needs none of them.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { MissingPeerError } from '../source/load-typescript.js';
import { callerFile } from '../source/own-file.js';

export { MissingPeerError };

/** This module's file (a dist/ file): the second place a peer is looked for. */
const ownFile = callerFile();

/**
 * `require(name)` from the user's project (`from`, by default the working directory), else from
 * tstrace's install; a {@link MissingPeerError} naming the package, what needs it and the install
 * line when neither has it. An ES-module-only package (unplugin 3) is loaded through Node's
 * `require(esm)` (Node ≥ 20.19).
 */
export function requirePeer<T>(name: string, neededBy: string, install: string, from: string = process.cwd()): T {
  const bases = [join(from, 'noop.js'), ...(ownFile ? [ownFile] : [])];
  let lastError: unknown;
  for (const base of bases) {
    try {
      return createRequire(base)(name) as T;
    } catch (error) {
      lastError = error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') throw error;
    }
  }
  const why = (lastError as Error | undefined)?.message.split('\n')[0] ?? '';
  throw new MissingPeerError(`${neededBy} needs the package ${name}, which is not installed in ${from}: ${install} (${why})`);
}
