// One build of the bundler benchmark's project (bench/bundler.mjs runs it as a child process, so that
// each build pays what a user's build pays: starting Node, loading the bundler, loading TypeScript).
// Usage: node bench/bundler-build.mjs vite|esbuild PLUGIN(0|1) PROJECT_DIR OUT_DIR
// Prints the build's own time in ms (from the bundler's import to the files written), as JSON.
import { join } from 'node:path';
import { runtimeDir } from './runtime-dir.mjs';

const [tool, plugin, dir, outDir] = process.argv.slice(2);
const withPlugin = plugin === '1';
const entry = join(dir, 'src', 'index.ts');
const external = [/^tstrace(\/|$)/];
const t0 = performance.now();
if (tool === 'vite') {
  const { build } = await import('vite');
  const plugins = withPlugin ? [(await import(`${runtimeDir}/transformer/bundler/vite.js`)).default()] : [];
  await build({
    configFile: false,
    root: dir,
    logLevel: 'silent',
    plugins,
    build: { ssr: true, outDir, emptyOutDir: true, minify: false, sourcemap: true, target: 'esnext', rollupOptions: { input: entry, external: (id) => external.some((re) => re.test(id)), output: { format: 'es' } } },
  });
} else if (tool === 'esbuild') {
  const esbuild = await import('esbuild');
  const plugins = withPlugin ? [(await import(`${runtimeDir}/transformer/bundler/esbuild.js`)).default()] : [];
  await esbuild.build({ absWorkingDir: dir, entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'esnext', outdir: outDir, sourcemap: true, external: ['tstrace', 'tstrace/*'], logLevel: 'silent', plugins });
} else {
  throw new Error(`unknown tool ${tool}`);
}
process.stdout.write(JSON.stringify({ ms: performance.now() - t0 }));
