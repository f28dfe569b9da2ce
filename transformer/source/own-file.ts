import { fileURLToPath } from 'node:url';

/**
 * The file of the module that calls this function, as Node loaded it (a dist/ file), even when a
 * source-map tool (tsx, `--enable-source-maps`) rewrites stack traces to the original sources: read
 * from V8's call sites, not from the stack's text. (The modules are compiled to CommonJS too, so they
 * cannot say `import.meta.url`.)
 */
export function callerFile(): string | null {
  const prepare = Error.prepareStackTrace;
  try {
    Error.prepareStackTrace = (_error, sites) => sites;
    const sites = new Error().stack as unknown as NodeJS.CallSite[];
    const name = sites[1]?.getFileName() ?? null;
    return name === null ? null : name.startsWith('file:') ? fileURLToPath(name) : name;
  } finally {
    Error.prepareStackTrace = prepare;
  }
}
