/**
 * What the bundler plugin does to one module: decides whether to look at it (a JavaScript or
 * TypeScript file outside node_modules and tstrace itself, whose text mentions `trace:` or `traced`),
 * and instruments it with the source instrumenter, or takes the result kept from an earlier build.
 */
import { sep } from 'node:path';
import type * as TS from 'typescript';
import { createCachedInstrumenter, openInstrumenterStore, type InstrumentedModule } from '../source/cached-instrument.js';
import { mayHaveMarks } from '../source/instrument-file.js';
import type { InstrumentDiagnostic } from '../source/instrument-source.js';
import { enableCompileCache, loadTypeScript } from '../source/load-typescript.js';
import { storeDirFor, type ResultStore } from '../source/result-store.js';
import { callerFile } from '../source/own-file.js';
import type { TstraceBundlerOptions } from './options.js';
import { createProjectSettingsLookup } from './tsconfig-lookup.js';

/** The extensions the plugin instruments. */
export const CODE_FILE = /\.(?:[cm]?[jt]s|[jt]sx)$/i;
const NODE_MODULES = /[\\/]node_modules[\\/]/;

/**
 * The transform hook's filter, which the bundler applies before calling the plugin (Vite 8 and Rolldown
 * natively): a code file's id (with or without a query) outside node_modules, whose text mentions a mark.
 */
export const TRANSFORM_FILTER = {
  id: { include: [/\.(?:[cm]?[jt]s|[jt]sx)(?:\?.*)?$/i], exclude: [NODE_MODULES] },
  code: { include: [/trace:|traced/] },
};

/** tstrace's own dist/ folder (it holds this file): never instrumented, even when linked outside node_modules. */
const ownDist = ((): string | null => {
  const here = callerFile();
  const at = here === null ? -1 : here.lastIndexOf(`${sep}dist${sep}`);
  return at < 0 ? null : here!.slice(0, at + 6);
})();

/** A module's file path from a bundler's id: without a query (`?v=…`), null for virtual modules. */
export function fileOfId(id: string): string | null {
  if (id.startsWith('\0') || id.startsWith('virtual:')) return null;
  const query = id.indexOf('?');
  return query < 0 ? id : id.slice(0, query);
}

/** Whether the plugin looks at the module `id` at all (before its text is read). */
export function isCandidate(id: string, options: TstraceBundlerOptions): boolean {
  const file = fileOfId(id);
  if (file === null || !CODE_FILE.test(file) || NODE_MODULES.test(file)) return false;
  if (ownDist !== null && file.startsWith(ownDist)) return false;
  return !options.exclude?.(file);
}

export type ModuleResult = InstrumentedModule | null;

/** `file:line:column TS910xx message`, one line per misuse. */
export const formatDiagnostics = (diagnostics: readonly InstrumentDiagnostic[]): string =>
  diagnostics.map((d) => `${d.fileName}:${d.line}:${d.column} TS${d.code} ${d.message}`).join('\n');

/**
 * The instrumenter of one plugin instance: `(code, id)` to the instrumented code and its source map
 * (null when there is nothing to do). Results are kept between builds (transformer/source/result-store.ts,
 * in the folder `options.cache` or by default node_modules/.cache/tstrace); TypeScript is loaded once,
 * from the project (`root()` is asked then), on the first marked file whose result is not kept.
 */
export function createModuleInstrumenter(options: TstraceBundlerOptions, root: () => string): (code: string, id: string) => ModuleResult {
  let ts: typeof TS | undefined;
  const typescript = (): typeof TS => {
    if (ts) return ts;
    enableCompileCache(); // a build process: TypeScript loads from compiled code after the first build
    return (ts = loadTypeScript(root()));
  };
  let store: ResultStore | null | undefined;
  const results = (): ResultStore | null => {
    if (store !== undefined) return store;
    return (store = openInstrumenterStore(options.cache === false ? null : (options.cache ?? storeDirFor(root())), root()));
  };
  const settingsOf = createProjectSettingsLookup(typescript, results);
  const instrument = createCachedInstrumenter(typescript, results);
  return (code, id) => {
    if (!isCandidate(id, options) || !mayHaveMarks(code)) return null;
    const fileName = fileOfId(id)!;
    const project = settingsOf(fileName);
    const decorators = options.decorators ?? (project.experimentalDecorators ? 'experimental' : 'tc39');
    return instrument(code, {
      fileName,
      rootDir: options.rootDir ?? project.configDir ?? root(),
      runtimeModule: options.runtimeModule,
      coverAsyncReturn: options.coverAsyncReturn,
      tracedDecorators: decorators === 'tc39' ? 'remove' : 'compiled',
    });
  };
}
