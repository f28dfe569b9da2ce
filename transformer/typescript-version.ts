import type * as TS from 'typescript';

/** The TypeScript major versions the transformer is built for and tested with (5.9 and 6.0 in CI). */
export const SUPPORTED_TYPESCRIPT_MAJORS: readonly number[] = [5, 6];

/** What to install instead, as the README and docs/transformer.md say it. */
const INSTALL = 'npm install -D typescript@5.9 ts-patch@3 (or typescript@6 ts-patch@4)';

/**
 * Why the compiler `ts` (the instance the transformer is handed) cannot run the transformer, or
 * undefined when it can. Reads nothing but `ts.version`: an unsupported compiler may lack everything
 * else (TypeScript 7's `typescript` module exports only `version` and `versionMajorMinor`).
 */
export function unsupportedTypeScript(ts: Pick<typeof TS, 'version'>): string | undefined {
  const version: unknown = ts.version;
  const major = typeof version === 'string' ? Number(/^(\d+)\./.exec(version)?.[1]) : NaN;
  if (SUPPORTED_TYPESCRIPT_MAJORS.includes(major)) return undefined;
  const which = typeof version === 'string' ? `TypeScript ${version}` : 'a TypeScript that does not say its version';
  const noApi = major >= 7 ? ` (TypeScript ${major} has no compiler API for transformers; @traced still works as a runtime decorator without tspc)` : '';
  return `tstrace/transformer supports TypeScript 5.x and 6.x, and was loaded by ${which}${noApi}. Install a supported one with its ts-patch: ${INSTALL}.`;
}
