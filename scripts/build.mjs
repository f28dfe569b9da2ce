// Builds the ESM and CommonJS copies of the package, then marks dist/cjs as CommonJS.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
// No clean step: tsc overwrites every output, and parallel builds must not delete each other's files.
// The viewer's page is checked too (it is plain JavaScript, not compiled).
for (const project of ['tsconfig.json', 'tsconfig.cjs.json', 'viewer/tsconfig.page.json']) {
  execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
}
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
if (existsSync('dist/esm/cli/cli.js')) chmodSync('dist/esm/cli/cli.js', 0o755);
// The viewer's page (tstrace view): static files served next to viewer/server.js.
for (const flavour of ['esm', 'cjs']) {
  if (existsSync('viewer/assets')) cpSync('viewer/assets', `dist/${flavour}/viewer/assets`, { recursive: true });
}
