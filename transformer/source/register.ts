/**
 * `node --import tstrace/register app.js`: instruments `// trace:region`, `// trace:task` and `@traced`
 * in the modules Node loads (ES modules and CommonJS, JavaScript and, where Node strips types,
 * TypeScript), as `tspc` with tstrace/transformer compiles them, with inline source maps for
 * `--enable-source-maps`. Files in node_modules are left alone.
 *
 * - Node ≥ 22.15 / 23.5 (`module.registerHooks`): one synchronous load hook, in this thread, sees every
 *   `import` and `require`.
 * - Node 20 (and 22 before 22.15): an asynchronous hook (`module.register`) for ES modules, and the
 *   CommonJS loader's `Module.prototype._compile` for `require`d modules (the asynchronous hooks do not
 *   see those).
 */
import { readFileSync } from 'node:fs';
import * as Module from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { callerFile } from './own-file.js';
import { instrumentModule, mayInstrument, sourceText } from './node-instrument.js';

interface SyncLoadResult {
  format?: string | null;
  source?: string | ArrayBuffer | ArrayBufferView | null;
  shortCircuit?: boolean;
}
/** `module.registerHooks` (Node ≥ 22.15), not in @types/node 20. */
type RegisterHooks = (hooks: { load(url: string, context: { format?: string | null }, nextLoad: (url: string, context?: object) => SyncLoadResult): SyncLoadResult }) => unknown;
/** The CommonJS loader's compile step (internal, stable since Node 0.x; not in @types/node). */
type Compile = (this: unknown, content: string, filename: string, ...rest: unknown[]) => unknown;

const INSTALLED = Symbol.for('tstrace.register.installed');

function install(): void {
  const state = globalThis as { [INSTALLED]?: true };
  if (state[INSTALLED]) return;
  state[INSTALLED] = true;
  const registerHooks = (Module as unknown as { registerHooks?: RegisterHooks }).registerHooks;
  if (typeof registerHooks === 'function') {
    registerHooks({
      load(url, context, nextLoad) {
        const result = nextLoad(url, context);
        if (!mayInstrument(url, result.format)) return result;
        let text = sourceText(result.source);
        // A CommonJS module's source may be left for the loader to read: read it here.
        if (text === undefined && (result.format === 'commonjs' || result.format === 'commonjs-typescript')) {
          text = readFileSync(fileURLToPath(url), 'utf8');
        }
        const code = text === undefined ? undefined : instrumentModule(url, text, result.format);
        return code === undefined ? result : { ...result, source: code };
      },
    });
    return;
  }
  const here = callerFile();
  if (here === null) throw new Error('tstrace/register: cannot find its own module');
  Module.register(new URL('./node-hooks.js', pathToFileURL(here)).href);
  const prototype = (Module as unknown as { Module: { prototype: { _compile: Compile } } }).Module.prototype;
  const compile = prototype._compile;
  prototype._compile = function (this: unknown, content: string, filename: string, ...rest: unknown[]) {
    const format = /\.[cm]?ts$/.test(filename) ? 'commonjs-typescript' : 'commonjs';
    const code = typeof content === 'string' ? instrumentModule(pathToFileURL(filename).href, content, format) : undefined;
    return compile.call(this, code ?? content, filename, ...rest);
  };
}

install();
