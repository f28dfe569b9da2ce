// Which build of the runtime the bench measures: this checkout's dist/esm, or another build (for A/B
// comparisons of a change) given as TSTRACE_BENCH_DIST=/path/to/dist/esm.
import { pathToFileURL } from 'node:url';

export const runtimeDir = process.env.TSTRACE_BENCH_DIST
  ? pathToFileURL(process.env.TSTRACE_BENCH_DIST).href.replace(/\/$/, '')
  : new URL('../dist/esm', import.meta.url).href;
