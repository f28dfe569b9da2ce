/**
 * `tstrace/rollup`: the tstrace instrumenter as a Rollup plugin — one line in the config:
 *
 * ```ts
 * import tstrace from 'tstrace/rollup';
 * export default { plugins: [tstrace(), typescript()] };   // before the TypeScript plugin
 * ```
 */
import type { RollupPlugin } from 'unplugin';
import type { TstraceBundlerOptions } from './options.js';
import { tstraceUnplugin } from './plugin.js';

export type { TstraceBundlerOptions } from './options.js';

/**
 * A Rollup plugin that compiles `// trace:region`, `// trace:task` and `@traced` into the project's
 * modules (not node_modules) as `tspc` with tstrace/transformer does, before types are stripped,
 * with source maps. Misuse fails the build with file:line:column. Needs unplugin, typescript (5.x or
 * 6.x) and magic-string installed beside Rollup.
 */
export function tstrace(options?: TstraceBundlerOptions): RollupPlugin {
  return tstraceUnplugin('tstrace/rollup').rollup(options);
}

export default tstrace;
