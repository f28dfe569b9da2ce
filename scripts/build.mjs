// Builds the ESM and CommonJS copies of the package, then marks dist/cjs as CommonJS.
// Run by `npm run build` and by npm's `prepare` (a git install, `npm pack`, `npm publish`, `npm install`
// in this checkout): it needs only what those have, Node and the devDependencies typescript and @types/node.
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  console.error('tstrace build: TypeScript is not installed. Install the devDependencies first (`npm install`, not `npm install --omit=dev`).');
  process.exit(1);
}

/** Runs tsc on one project; resolves with its exit code. */
function compile(project) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
    child.on('error', () => resolve(1));
    child.on('close', (code) => resolve(code ?? 1));
  });
}

// No clean step: tsc overwrites every output, and parallel builds must not delete each other's files.
// The three projects write to different places (the viewer's page is only checked: it is plain
// JavaScript, not compiled), so they compile side by side.
const codes = await Promise.all(['tsconfig.json', 'tsconfig.cjs.json', 'viewer/tsconfig.page.json'].map(compile));
if (codes.some((code) => code !== 0)) process.exit(1);
writeFileSync(join(root, 'dist/cjs/package.json'), '{ "type": "commonjs" }\n');
const cli = join(root, 'dist/esm/cli/cli.js');
if (existsSync(cli)) chmodSync(cli, 0o755);
// The viewer's page (tstrace view): static files served next to viewer/server.js.
for (const flavour of ['esm', 'cjs']) {
  const assets = join(root, 'viewer/assets');
  if (existsSync(assets)) cpSync(assets, join(root, `dist/${flavour}/viewer/assets`), { recursive: true });
}
