/**
 * The tstrace compiler transformer, loaded by ts-patch (`tspc`):
 * `"plugins": [{ "transform": "tstrace/transformer" }]` in tsconfig.json. It rewrites methods decorated
 * with `@traced` and functions or statements marked `// trace:region` / `// trace:task` into regions
 * (tasks) with their source location, and changes nothing else a program does.
 */
import { dirname } from 'node:path';
import type * as TS from 'typescript';
import { createApiSymbols } from './api-symbols.js';
import { DiagnosticCode, toTsDiagnostic } from './diagnostics.js';
import { createEmitter } from './emit.js';
import { planFile, type Target } from './plan.js';
import { unsupportedTypeScript } from './typescript-version.js';

export interface TransformerOptions {
  /** Module the instrumented code imports its runtime from. Default "tstrace/instrument". */
  runtimeModule?: string;
  /**
   * Whether an async function's region covers a promise it returns (`return fetch(…)`), ending when that
   * settles, as the function's own promise does. Default true; false ends it when the body returns.
   */
  coverAsyncReturn?: boolean;
}

interface Extras {
  ts?: typeof TS;
  addDiagnostic?: (diagnostic: TS.Diagnostic) => unknown;
}

const DEFAULT_RUNTIME = 'tstrace/instrument';

/** Nodes already instrumented by any instance of this transformer: a file processed twice is instrumented once. */
const instrumented = new WeakSet<TS.Node>();

/** ts-patch "program" transformer entry. */
export default function tstraceTransformer(program: TS.Program, config: TransformerOptions = {}, extras: Extras = {}): TS.TransformerFactory<TS.SourceFile> {
  // The compiler instance we are handed, so node kinds match the running compiler.
  const ts = extras.ts;
  if (!ts) throw new Error('tstrace/transformer: no TypeScript instance was passed. Load it through ts-patch (tspc) as a "program" transformer.');
  // Before anything else of `ts` is touched: another TypeScript may not have it.
  const unsupported = unsupportedTypeScript(ts);
  if (unsupported) return refuse(ts, unsupported, extras);
  if (!program) throw new Error('tstrace/transformer: cannot transform without a Program. Use it as a "program" transformer (the default type) with tspc.');
  const api = createApiSymbols(ts, program.getTypeChecker());
  const options = program.getCompilerOptions();
  // Compiled-in paths are relative to the tsconfig's folder, so they do not depend on where tspc ran.
  const configFile = options.configFilePath;
  const rootDir = typeof configFile === 'string' ? dirname(configFile) : program.getCurrentDirectory();
  const runtimeModule = config.runtimeModule ?? DEFAULT_RUNTIME;
  const reported = new Set<string>();

  return (context) => (file) => {
    if (file.isDeclarationFile) return file;
    const plan = planFile(ts, file, api, rootDir);
    for (const d of plan.diagnostics) {
      const diagnostic = toTsDiagnostic(ts, file, d);
      // Transformers can run more than once per file (e.g. declarations): report each problem once.
      const key = `${file.fileName}:${diagnostic.start}:${diagnostic.code}`;
      if (reported.has(key)) continue;
      reported.add(key);
      if (extras.addDiagnostic) extras.addDiagnostic(diagnostic);
      else throw new Error(`${file.fileName}: ${String(diagnostic.messageText)}`);
    }
    if (plan.targets.size === 0 && plan.tracedDecorators.size === 0) return file;

    const factory = context.factory;
    const runtime = factory.createUniqueName('__tstrace');
    const emit = createEmitter(ts, factory, runtime, { coverAsyncReturn: config.coverAsyncReturn ?? true });
    const sites: TS.Statement[] = [];
    let replacedDecorators = 0;
    const siteOf = (target: Target): TS.Identifier => {
      const name = factory.createUniqueName('__tstrace_site');
      sites.push(emit.siteDeclaration(name, target));
      return name;
    };

    const visit = (node: TS.Node): TS.VisitResult<TS.Node> => {
      // A node an earlier pass rewrote (a statement whose awaits it bracketed) is its original to us.
      const original = ts.getOriginalNode(node);
      const target = instrumented.has(original) ? undefined : plan.targets.get(node);
      if (target) instrumented.add(original);
      if (ts.isDecorator(node) && plan.tracedDecorators.has(node)) {
        replacedDecorators++;
        // Keep a decorator in place (a no-op one) so decorator metadata is exactly what it was.
        return factory.updateDecorator(node, factory.createPropertyAccessExpression(runtime, 'compiled'));
      }
      const visited = ts.visitEachChild(node, visit, context);
      if (!target) return visited;
      if (target.kind === 'statement') return emit.instrumentStatement(target, visited as TS.Statement, siteOf(target), context);
      const fn = visited as typeof target.node;
      if (!fn.body || emit.isInstrumented(target.node.body)) return visited;
      const body = emit.instrumentFunctionBody(target, fn, fn.body, siteOf(target), context);
      return replaceBody(ts, factory, fn, body);
    };

    const transformed = ts.visitEachChild(file, visit, context);
    if (sites.length === 0 && replacedDecorators === 0) return transformed;
    const importRuntime = runtimeImport(ts, factory, file, runtime, runtimeModule, emitFormat(ts, program, file, options));
    if (!importRuntime) {
      const diagnostic = toTsDiagnostic(ts, file, {
        code: DiagnosticCode.ScriptWithoutModule,
        node: { pos: 0, end: 1 },
        message: 'this file is a script (no import or export) compiled to ES modules, so the tstrace runtime cannot be imported into it. Add `export {}` to make it a module.',
      });
      if (extras.addDiagnostic) extras.addDiagnostic(diagnostic);
      return file;
    }
    // Imports first, then the sites, then the rest: sites exist before any module code runs.
    const statements = transformed.statements;
    let i = 0;
    while (i < statements.length && ts.isImportDeclaration(statements[i])) i++;
    return factory.updateSourceFile(transformed, [importRuntime, ...statements.slice(0, i), ...sites, ...statements.slice(i)]);
  };
}

/**
 * The transformer for a compiler it does not support: reports why as a build error (TS91012) and
 * changes no file; throws the message when there is no way to report it.
 */
function refuse(ts: typeof TS, message: string, extras: Extras): TS.TransformerFactory<TS.SourceFile> {
  if (!extras.addDiagnostic) throw new Error(message);
  // `DiagnosticCategory.Error` is 1 in every TypeScript; an unsupported one may not export the enum.
  const category = (ts as Partial<typeof TS>).DiagnosticCategory?.Error ?? (1 as TS.DiagnosticCategory.Error);
  extras.addDiagnostic({ file: undefined, start: undefined, length: undefined, messageText: message, category, code: DiagnosticCode.UnsupportedTypeScript, source: 'tstrace' });
  return () => (file) => file;
}

/**
 * The module format the compiler emits this file in, with each compiler's own defaults (TypeScript 6
 * emits ES modules when `module` is unset) and node16/nodenext's per-file format.
 */
function emitFormat(ts: typeof TS, program: TS.Program, file: TS.SourceFile, options: TS.CompilerOptions): TS.ModuleKind {
  // Present in TypeScript 5.9 and 6 at run time, but not in their public typings.
  const getFormat = (program as unknown as { getEmitModuleFormatOfFile?(f: TS.SourceFile): TS.ModuleKind }).getEmitModuleFormatOfFile;
  return getFormat ? getFormat.call(program, file) : (options.module ?? ts.ModuleKind.CommonJS);
}

/** `import * as __tstrace from "tstrace/instrument"`, or a `require` in a CommonJS script; null when impossible. */
function runtimeImport(ts: typeof TS, factory: TS.NodeFactory, file: TS.SourceFile, name: TS.Identifier, module: string, format: TS.ModuleKind): TS.Statement | null {
  if (ts.isExternalModule(file)) {
    // A namespace import: a synthesized named import breaks under CommonJS output.
    return factory.createImportDeclaration(undefined, factory.createImportClause(undefined, undefined, factory.createNamespaceImport(name)), factory.createStringLiteral(module));
  }
  if (format !== ts.ModuleKind.CommonJS) return null;
  const require = factory.createCallExpression(factory.createIdentifier('require'), undefined, [factory.createStringLiteral(module)]);
  return factory.createVariableStatement(undefined, factory.createVariableDeclarationList([factory.createVariableDeclaration(name, undefined, undefined, require)], ts.NodeFlags.Const));
}

function replaceBody(ts: typeof TS, f: TS.NodeFactory, node: TS.Node, body: TS.Block): TS.Node {
  if (ts.isFunctionDeclaration(node)) return f.updateFunctionDeclaration(node, node.modifiers, node.asteriskToken, node.name, node.typeParameters, node.parameters, node.type, body);
  if (ts.isFunctionExpression(node)) return f.updateFunctionExpression(node, node.modifiers, node.asteriskToken, node.name, node.typeParameters, node.parameters, node.type, body);
  if (ts.isArrowFunction(node)) return f.updateArrowFunction(node, node.modifiers, node.typeParameters, node.parameters, node.type, node.equalsGreaterThanToken, body);
  if (ts.isMethodDeclaration(node)) return f.updateMethodDeclaration(node, node.modifiers, node.asteriskToken, node.name, node.questionToken, node.typeParameters, node.parameters, node.type, body);
  if (ts.isGetAccessorDeclaration(node)) return f.updateGetAccessorDeclaration(node, node.modifiers, node.name, node.parameters, node.type, body);
  if (ts.isSetAccessorDeclaration(node)) return f.updateSetAccessorDeclaration(node, node.modifiers, node.name, node.parameters, body);
  if (ts.isConstructorDeclaration(node)) return f.updateConstructorDeclaration(node, node.modifiers, node.parameters, body);
  return node;
}

// CommonJS consumers (ts-patch `require`s transformers) get the factory as module.exports.default.
