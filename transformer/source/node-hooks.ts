/**
 * The asynchronous load hook that `tstrace/register` gives `module.register()` where Node has no
 * `module.registerHooks()` (Node 20, and 22 before 22.15): it runs on the loader's thread and
 * instruments ES modules (and CommonJS modules whose source the loader hands over).
 */
import { instrumentModule, sourceText } from './node-instrument.js';

interface LoadResult {
  format?: string | null;
  source?: string | ArrayBuffer | ArrayBufferView | null;
  shortCircuit?: boolean;
}
type NextLoad = (url: string, context?: object) => Promise<LoadResult>;

export async function load(url: string, context: { format?: string | null }, nextLoad: NextLoad): Promise<LoadResult> {
  const result = await nextLoad(url, context);
  const text = sourceText(result.source);
  // A CommonJS module without source is read by the CommonJS loader, which register.ts patches.
  if (text === undefined) return result;
  const code = instrumentModule(url, text, result.format);
  return code === undefined ? result : { ...result, source: code };
}
