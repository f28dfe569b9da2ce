/**
 * `tstrace/webpack`: the tstrace instrumenter as a webpack plugin — one line in the config:
 *
 * ```ts
 * import tstrace from 'tstrace/webpack';
 * export default { plugins: [tstrace()] };
 * ```
 */
import type { WebpackPluginInstance } from 'unplugin';
import type { TstraceBundlerOptions } from './options.js';
import { tstraceUnplugin } from './plugin.js';

export type { TstraceBundlerOptions } from './options.js';

/**
 * A webpack plugin that compiles `// trace:region`, `// trace:task` and `@traced` into the project's
 * modules (not node_modules) as `tspc` with tstrace/transformer does, before types are stripped,
 * with source maps. Misuse fails the build with file:line:column. Needs unplugin, typescript (5.x or
 * 6.x) and magic-string installed beside webpack.
 */
export function tstrace(options?: TstraceBundlerOptions): WebpackPluginInstance {
  return tstraceUnplugin('tstrace/webpack').webpack(options);
}

export default tstrace;
