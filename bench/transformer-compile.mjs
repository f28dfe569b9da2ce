// Compiles the bench fixtures (bench/fixtures/*.ts) with and without the tstrace transformer, through
// ts-patch's patched compiler in process (as test/transformer/harness.ts does), into
// OUT_DIR/{traced,plain}/. Run as a child process by bench/transformer.mjs, before any timing, so the
// bench process never loads TypeScript (a compiler's heap would slow later rounds' GCs).
//
//   node bench/transformer-compile.mjs OUT_DIR RUNTIME_DIR_URL
//
// OUT_DIR must be inside the repository (bench/.work/…), so `tstrace` resolves through
// node_modules/tstrace (a link to the repository).
// The emitted `tstrace` and `tstrace/instrument` imports are pointed at RUNTIME_DIR_URL (the build
// the bench measures, see bench/runtime-dir.mjs), so fixtures and bench share one runtime.
// Prints a JSON summary on stdout; exits 1 on any diagnostic.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const fixturesDir = fileURLToPath(new URL('./fixtures', import.meta.url));

function compile(ts, files, outDir, plugin) {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const options = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    // TC39 decorators (TypeScript's default): the runtime `@traced` is the standard decorator form.
    experimentalDecorators: false,
    strict: true,
    skipLibCheck: true,
    types: ['node'],
    lib: ['lib.es2022.d.ts', 'lib.esnext.decorators.d.ts'],
    rootDir: fixturesDir,
    outDir,
    ...(plugin ? { plugins: [{ transform: 'tstrace/transformer' }] } : {}),
  };
  const host = ts.createCompilerHost(options);
  const emitted = new Map();
  host.writeFile = (fileName, text) => {
    mkdirSync(dirname(fileName), { recursive: true });
    emitted.set(relative(outDir, fileName), text);
  };
  const program = ts.createProgram({ rootNames: files.map((f) => join(fixturesDir, f)), options, host });
  const result = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics].map((d) => {
    const where = d.file && d.start !== undefined ? `${relative(fixturesDir, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1} ` : '';
    return `${where}TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  return { emitted, diagnostics };
}

function pointImportsAt(text, runtimeDir) {
  return text.replace(/(from\s+|import\s*\(\s*)(["'])tstrace(\/instrument)?\2/g, (_, lead, quote, instrument) =>
    `${lead}${quote}${runtimeDir}/runtime/${instrument ? 'instrument' : 'index'}.js${quote}`,
  );
}

/** The statements of a class's method `name` in emitted JS, up to the method's closing brace (4 spaces in). */
function methodText(js, cls, name) {
  const start = js.indexOf(`class ${cls} `);
  const at = js.indexOf(`\n    ${name}(`, start);
  const asyncAt = js.indexOf(`\n    async ${name}(`, start);
  const from = at >= 0 && (asyncAt < 0 || at < asyncAt) ? at : asyncAt;
  if (start < 0 || from < 0) return null;
  return js.slice(from, js.indexOf('\n    }', from));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [workDir, runtimeDir] = process.argv.slice(2);
  if (!workDir || !runtimeDir) throw new Error('usage: node bench/transformer-compile.mjs OUT_DIR RUNTIME_DIR_URL');
  const t0 = performance.now();
  const require = createRequire(import.meta.url);
  const ts = require('ts-patch/compiler');
  const files = readdirSync(fixturesDir).filter((f) => f.endsWith('.ts'));
  const summary = { typescript: ts.version, files, outDirs: {}, ms: 0, sameAsDirective: {} };
  let failed = false;
  for (const plugin of [true, false]) {
    const outDir = join(workDir, plugin ? 'traced' : 'plain');
    const { emitted, diagnostics } = compile(ts, files, outDir, plugin);
    if (diagnostics.length > 0) {
      failed = true;
      process.stderr.write(`${plugin ? 'with' : 'without'} the transformer:\n  ${diagnostics.join('\n  ')}\n`);
    }
    for (const [file, text] of emitted) writeFileSync(join(outDir, file), file.endsWith('.js') ? pointImportsAt(text, runtimeDir) : text);
    writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n');
    summary.outDirs[plugin ? 'traced' : 'plain'] = outDir;
    if (plugin) {
      const js = readFileSync(join(outDir, 'methods.js'), 'utf8');
      if (!js.includes('.enter(') || !js.includes('.call(')) {
        failed = true;
        process.stderr.write('the transformer instrumented nothing in methods.js\n');
      }
      // `// trace:region` and `@traced` must compile to the same body (the bench times only one).
      const normalize = (s) => s?.replace(/__tstrace_site_\d+/g, 'SITE').replace(/_\d+\b/g, '_N');
      for (const m of ['add', 'addLater']) {
        summary.sameAsDirective[m] = normalize(methodText(js, 'Instrumented', m)) === normalize(methodText(js, 'Directive', m));
      }
    }
  }
  summary.ms = Math.round(performance.now() - t0);
  process.stdout.write(JSON.stringify(summary));
  process.exitCode = failed ? 1 : 0;
}
