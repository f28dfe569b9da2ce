/**
 * The four bundlers building the same entries with tstrace's plugin, as a user's config would: Vite
 * (SSR build, ES modules), esbuild, Rollup and webpack (ES module output). Each writes `<name>.js`
 * (and its source map) to `outDir` (Rspack too, with its built-in SWC loader for TypeScript), keeping `tstrace` and `reflect-metadata` external (the runner and
 * the bundle share one runtime). Rollup and webpack have no TypeScript of their own: for Rollup a minimal
 * types-stripping step (TypeScript's transpileModule) runs after the plugin, as @rollup/plugin-typescript
 * would; webpack uses ts-loader.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Plugin as RollupPlugin } from 'rollup';
import tstraceEsbuild from '../../transformer/bundler/esbuild.js';
import tstraceRollup from '../../transformer/bundler/rollup.js';
import tstraceRspack from '../../transformer/bundler/rspack.js';
import tstraceVite from '../../transformer/bundler/vite.js';
import tstraceWebpack from '../../transformer/bundler/webpack.js';
import type { TstraceBundlerOptions } from '../../transformer/bundler/options.js';
import { ts } from './source-paths.js';

export type Bundler = 'vite' | 'esbuild' | 'rollup' | 'webpack' | 'rspack';
export const bundlers: readonly Bundler[] = ['vite', 'esbuild', 'rollup', 'webpack', 'rspack'];

/** Entry name → absolute source path. */
export type Entries = Readonly<Record<string, string>>;

const EXTERNAL = /^(tstrace(\/|$)|reflect-metadata$)/;

/** Builds `entries` into `outDir` with `bundler` and the tstrace plugin (none when `options` is null); rejects with the bundler's error. */
/** Loads the bundlers one after the other (see bundlers.test.ts: Node 20's loader and modules loaded twice at once). */
export async function loadBundlers(): Promise<void> {
  await import('vite');
  await import('esbuild');
  await import('rollup');
  await import('webpack');
  await import('@rspack/core');
}

export async function bundle(bundler: Bundler, entries: Entries, outDir: string, root: string, options: TstraceBundlerOptions | null = {}): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: 'module' }));
  if (bundler === 'vite') await viteBuild(entries, outDir, root, options);
  else if (bundler === 'esbuild') await esbuildBuild(entries, outDir, root, options);
  else if (bundler === 'rollup') await rollupBuild(entries, outDir, options);
  else if (bundler === 'webpack') await webpackBuild(entries, outDir, root, options);
  else await rspackBuild(entries, outDir, root, options);
  writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: 'module' }));
}

async function viteBuild(entries: Entries, outDir: string, root: string, options: TstraceBundlerOptions | null): Promise<void> {
  const { build } = await import('vite');
  await build({
    configFile: false,
    root,
    logLevel: 'silent',
    plugins: options ? [tstraceVite(options)] : [],
    build: {
      ssr: true,
      outDir,
      emptyOutDir: false,
      minify: false,
      sourcemap: true,
      target: 'esnext',
      rollupOptions: { input: { ...entries }, external: (id) => EXTERNAL.test(id), output: { format: 'es', entryFileNames: '[name].js' } },
    },
  });
}

async function esbuildBuild(entries: Entries, outDir: string, root: string, options: TstraceBundlerOptions | null): Promise<void> {
  const esbuild = await import('esbuild');
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: { ...entries },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'esnext',
    outdir: outDir,
    sourcemap: true,
    external: ['tstrace', 'tstrace/*', 'reflect-metadata'],
    logLevel: 'silent',
    plugins: options ? [tstraceEsbuild(options)] : [],
  });
}

/** TypeScript's transpileModule as a Rollup plugin: `./x.js` imports resolved to `./x.ts`, types stripped, a source map. */
function stripTypes(): RollupPlugin {
  return {
    name: 'strip-types',
    resolveId(source, importer) {
      if (!importer || !source.startsWith('.') || !source.endsWith('.js')) return null;
      const candidate = join(importer, '..', source.replace(/\.js$/, '.ts'));
      return existsSync(candidate) ? candidate : null;
    },
    transform(code, id) {
      if (!id.endsWith('.ts')) return null;
      const out = ts.transpileModule(code, { fileName: id, compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, sourceMap: true } });
      return { code: out.outputText.replace(/\/\/# sourceMappingURL=.*$/m, ''), map: out.sourceMapText };
    },
  };
}

async function rollupBuild(entries: Entries, outDir: string, options: TstraceBundlerOptions | null): Promise<void> {
  const { rollup } = await import('rollup');
  const built = await rollup({ input: { ...entries }, external: (id) => EXTERNAL.test(id) || id.startsWith('node:'), plugins: options ? [tstraceRollup(options), stripTypes()] : [stripTypes()], onwarn: () => {} });
  await built.write({ dir: outDir, format: 'es', sourcemap: true, entryFileNames: '[name].js' });
  await built.close();
}

async function webpackBuild(entries: Entries, outDir: string, root: string, options: TstraceBundlerOptions | null): Promise<void> {
  const { default: webpack } = await import('webpack');
  const compiler = webpack({
    mode: 'none',
    context: root,
    entry: Object.fromEntries(Object.entries(entries).map(([name, file]) => [name, file])),
    target: 'node20',
    devtool: 'source-map',
    experiments: { outputModule: true },
    output: { path: outDir, filename: '[name].js', module: true, library: { type: 'module' }, chunkFormat: 'module', devtoolModuleFilenameTemplate: '[absolute-resource-path]' },
    externalsType: 'module',
    externals: [({ request }, callback) => (request && EXTERNAL.test(request) ? callback(undefined, `module ${request}`) : callback())],
    resolve: { extensionAlias: { '.js': ['.ts', '.js'] }, extensions: ['.ts', '.js'] },
    // ts-loader as most webpack projects strip types (transpileOnly: without type checking); it chains the plugin's source map.
    module: { rules: [{ test: /\.ts$/, loader: 'ts-loader', options: { transpileOnly: true, compilerOptions: { target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', sourceMap: true, inlineSources: false } } }] },
    plugins: options ? [tstraceWebpack(options)] : [],
    optimization: { minimize: false },
  });
  await runCompiler(compiler);
}

async function rspackBuild(entries: Entries, outDir: string, root: string, options: TstraceBundlerOptions | null): Promise<void> {
  const { rspack } = await import('@rspack/core');
  const compiler = rspack({
    mode: 'none',
    context: root,
    entry: { ...entries },
    target: 'node20',
    devtool: 'source-map',
    output: { path: outDir, filename: '[name].js', module: true, library: { type: 'module' }, chunkFormat: 'module', devtoolModuleFilenameTemplate: '[absolute-resource-path]' },
    externalsType: 'module',
    externals: [({ request }, callback) => (request && EXTERNAL.test(request) ? callback(undefined, `module ${request}`) : callback())],
    resolve: { extensionAlias: { '.js': ['.ts', '.js'] }, extensions: ['.ts', '.js'] },
    module: { rules: [{ test: /\.ts$/, loader: 'builtin:swc-loader', options: { jsc: { parser: { syntax: 'typescript', decorators: true }, target: 'es2022', transform: { decoratorVersion: '2022-03' } } }, type: 'javascript/auto' }] },
    plugins: options ? [tstraceRspack(options)] : [],
    optimization: { minimize: false },
  });
  await runCompiler(compiler);
}

/**
 * Runs a webpack or Rspack compiler once; rejects with the build's errors. The stats are read before the
 * compiler is closed, and it is closed before this resolves: Rspack's stats read its native compilation,
 * which closing lets go of (under load, a read after it threw "reading 'getStatus'").
 */
function runCompiler(compiler: {
  run(callback: (error: Error | null, stats?: { hasErrors(): boolean; toString(options: object): string }) => void): void;
  close(callback: (error?: Error | null) => void): void;
}): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    compiler.run((error, stats) => {
      const failure = error ?? (stats?.hasErrors() ? new Error(stats.toString({ all: false, errors: true })) : null);
      compiler.close((closeError) => {
        if (failure ?? closeError) reject(failure ?? closeError);
        else resolve();
      });
    });
  });
}
