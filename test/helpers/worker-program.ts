// Programs with worker threads, run as processes of their own: a main.mjs and a worker.mjs whose
// imports name the built runtime.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The URL of a module of the build (`dist/esm/<path>`), quoted for an `import … from` line. */
export const distUrl = (path: string): string => JSON.stringify(pathToFileURL(join(import.meta.dirname, '..', '..', 'dist/esm', path)).href);

/** Writes `main.mjs` and `worker.mjs` into `at`, with `RUNTIME` and `HTTP` standing for the built runtime's and its HTTP module's URLs. */
export function writeWorkerProgram(at: string, main: string, worker: string): void {
  const withUrls = (code: string): string => code.replaceAll('RUNTIME', distUrl('runtime/index.js')).replaceAll('HTTP', distUrl('runtime/http.js'));
  writeFileSync(join(at, 'main.mjs'), withUrls(main));
  writeFileSync(join(at, 'worker.mjs'), withUrls(worker));
}
