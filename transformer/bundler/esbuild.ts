/**
 * `tstrace/esbuild`: the tstrace instrumenter as a esbuild plugin — one line in the config:
 *
 * ```ts
 * import tstrace from 'tstrace/esbuild';
 * export default { plugins: [tstrace()] };
 * ```
 */
import type { EsbuildPlugin } from 'unplugin';
import type { TstraceBundlerOptions } from './options.js';
import { tstraceUnplugin } from './plugin.js';

export type { TstraceBundlerOptions } from './options.js';

/**
 * A esbuild plugin that compiles `// trace:region`, `// trace:task` and `@traced` into the project's
 * modules (not node_modules) as `tspc` with tstrace/transformer does, before types are stripped,
 * with source maps. Misuse fails the build with file:line:column. Needs unplugin, typescript (5.x or
 * 6.x) and magic-string installed beside esbuild.
 */
export function tstrace(options?: TstraceBundlerOptions): EsbuildPlugin {
  return tstraceUnplugin('tstrace/esbuild').esbuild(options);
}

export default tstrace;
