/** What a user can pass to `tstrace()` in a bundler's config (the same for every bundler). */
export interface TstraceBundlerOptions {
  /**
   * Compiled-in file names (region locations) are relative to this folder. Default: the folder of
   * the nearest tsconfig.json above the file (as with tspc), else the bundler's root (Vite's `root`,
   * webpack's `context`, esbuild's `absWorkingDir`), else the working directory.
   */
  readonly rootDir?: string;
  /** Module the instrumented code imports its runtime from. Default "tstrace/instrument". */
  readonly runtimeModule?: string;
  /** An async function's region also covers a promise it returns (default true), as with tspc. */
  readonly coverAsyncReturn?: boolean;
  /**
   * The decorator mode of the sources: `tc39` deletes an instrumented method's `@traced` (nothing left
   * for the bundler to lower), `experimental` replaces it by tstrace's no-op `compiled` decorator (so
   * `emitDecoratorMetadata` output is unchanged). Default: `experimental` when the nearest
   * tsconfig.json sets `experimentalDecorators`, else `tc39`.
   */
  readonly decorators?: 'tc39' | 'experimental';
  /**
   * Where instrumented modules are kept between builds, so that a module is parsed again only when its
   * text, its options, tstrace or TypeScript changed: a folder, or `false` for none. Default: the
   * `TSTRACE_CACHE` environment variable (a folder, or `off`), else `node_modules/.cache/tstrace` in the
   * nearest node_modules above the bundler's root. Deleting the folder is always safe.
   */
  readonly cache?: string | false;
  /** Files to leave alone besides node_modules (called with the module's path, without a query). */
  readonly exclude?: (file: string) => boolean;
}
