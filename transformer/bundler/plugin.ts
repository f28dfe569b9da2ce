/**
 * The bundler plugin (through unplugin): `// trace:region`, `// trace:task` and `@traced` compiled
 * into each module before the bundler strips its types, with a source map the bundler chains. One
 * factory for Vite, Rollup, esbuild, webpack and Rspack (tstrace/vite, tstrace/rollup, …).
 */
import type { UnpluginFactory, UnpluginInstance, UnpluginOptions } from 'unplugin';
import type { TstraceBundlerOptions } from './options.js';
import { requirePeer } from './peer.js';
import { CODE_FILE, createModuleInstrumenter, formatDiagnostics, TRANSFORM_FILTER } from './transform-module.js';

export type { TstraceBundlerOptions } from './options.js';

const INSTALL = 'npm install -D unplugin@3 typescript@5.9 magic-string';

/** The plugin's hooks for one build (unplugin calls this once per plugin instance). */
export const tstraceUnpluginFactory: UnpluginFactory<TstraceBundlerOptions | undefined, false> = (options = {}, meta) => {
  // esbuild takes a map only inline (base64 in the module's text) and fills a null sourcesContent from
  // the file on disk, which is the text instrumented: the source is not sent twice (~0.1 s a 170-module build).
  const sourcesFromDisk = meta.framework === 'esbuild';
  // The bundler's root, when it says it before the first module (Vite, webpack, esbuild).
  let bundlerRoot: string | undefined;
  const instrument = createModuleInstrumenter(options, () => bundlerRoot ?? process.cwd());
  const plugin: UnpluginOptions = {
    name: 'tstrace',
    // Before TypeScript is stripped: `@traced` and the `// trace:*` comments are still there.
    enforce: 'pre',
    transform: {
      filter: TRANSFORM_FILTER,
      handler(code, id) {
        const result = instrument(code, id);
        if (result === null) return null;
        if (result.diagnostics.length > 0) {
          const [first] = result.diagnostics;
          // Rollup and Vite throw here; esbuild and webpack collect it and fail the build, keeping the code.
          this.error({
            message: formatDiagnostics(result.diagnostics),
            id: first.fileName,
            plugin: 'tstrace',
            loc: { file: first.fileName, line: first.line, column: first.column - 1 },
          });
        }
        return { code: result.code, map: sourcesFromDisk ? { ...result.map, sourcesContent: [null] } : result.map };
      },
    },
    vite: {
      configResolved(config: { readonly root: string }) {
        bundlerRoot = config.root;
      },
    },
    webpack(compiler) {
      bundlerRoot = compiler.context;
    },
    rspack(compiler) {
      bundlerRoot = compiler.context;
    },
    esbuild: {
      // Only code files come to the plugin (each one a round trip from esbuild's process); others load in esbuild alone.
      onLoadFilter: CODE_FILE,
      config(buildOptions) {
        bundlerRoot = buildOptions.absWorkingDir;
      },
    },
  };
  return plugin;
};

let instance: UnpluginInstance<TstraceBundlerOptions | undefined, false> | undefined;

/** The unplugin instance (unplugin loaded on first use, from the user's project). */
export function tstraceUnplugin(neededBy: string): UnpluginInstance<TstraceBundlerOptions | undefined, false> {
  if (instance) return instance;
  const { createUnplugin } = requirePeer<typeof import('unplugin')>('unplugin', neededBy, INSTALL);
  instance = createUnplugin(tstraceUnpluginFactory);
  return instance;
}
