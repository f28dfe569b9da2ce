/**
 * `tstrace annotate` (docs/cli.md): the codemod that puts a `// trace:region` line before every function
 * and method. The pure `annotateSource` on every shape; the command as users run it (the built CLI on a
 * temporary folder); and what users rely on: an annotated module, compiled with the tstrace
 * transformer, records a region for every function.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TS from 'typescript';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { analyzeTrace } from '../analysis/analysis.js';
import { annotateSource, type AnnotateResult } from '../transformer/annotate.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const cli = join(root, 'dist/esm/cli/cli.js');

const annotate = (text: string, fileName = 'module.ts'): Promise<AnnotateResult> => annotateSource(text, fileName);
const remove = (text: string, fileName = 'module.ts'): Promise<AnnotateResult> => annotateSource(text, fileName, { remove: true });

/**
 * Checks the guarantees every annotation keeps: idempotent, and (for inputs without hand-written unnamed
 * `// trace:region` lines) `--remove` gives the input back byte for byte.
 */
async function annotatedOnce(input: string, fileName = 'module.ts', { roundTrip = true } = {}): Promise<AnnotateResult> {
  const result = await annotate(input, fileName);
  const again = await annotate(result.text, fileName);
  expect(again.added, 'a second run adds nothing').toEqual([]);
  expect(again.text).toBe(result.text);
  if (!roundTrip) return result;
  const removed = await remove(result.text, fileName);
  expect(removed.text, '--remove gives back the input').toBe(input);
  expect(removed.removed.map((l) => l.target)).toEqual(result.added.map((l) => l.target));
  return result;
}

describe('annotateSource: what gets a // trace:region line', () => {
  test('every function and method shape, nested ones too', async () => {
    const input = `import { helper } from './helper.js';

/** Adds. */
export function add(a: number, b: number): number {
  function double(x: number) {
    return x * 2;
  }
  return double(a) + b;
}

export default function () {}

function* count(n: number) {
  yield n;
}

async function later() {
  const local = async () => {
    return 1;
  };
  return local();
}

export const arrow = (x: number) => x + 1;
let expression = function named() {};
var old = async function () {};

class Cart<T> {
  static empty() {
    return new Cart();
  }
  #total = 0;
  onClick = () => this.#total;
  onKey = function () {};
  constructor(private readonly items: T[] = []) {}
  add(item: T) {
    this.items.push(item);
  }
  get size() {
    return this.items.length;
  }
  set size(value: number) {}
  #recount() {}
  async *stream() {}
}

const Anonymous = class {
  method() {}
};

export const handlers = {
  greet(name: string) {
    return name;
  },
  shout: (s: string) => s.toUpperCase(),
  'quoted-name': function () {},
  get loud() {
    return true;
  },
  set loud(v: boolean) {},
  nested: {
    inner() {},
  },
};

namespace Space {
  export function inside() {}
}

export default () => 'default';
`;
    const expected = `import { helper } from './helper.js';

/** Adds. */
// trace:region
export function add(a: number, b: number): number {
  // trace:region
  function double(x: number) {
    return x * 2;
  }
  return double(a) + b;
}

// trace:region
export default function () {}

// trace:region
function* count(n: number) {
  yield n;
}

// trace:region
async function later() {
  // trace:region
  const local = async () => {
    return 1;
  };
  return local();
}

// trace:region
export const arrow = (x: number) => x + 1;
// trace:region
let expression = function named() {};
// trace:region
var old = async function () {};

class Cart<T> {
  // trace:region
  static empty() {
    return new Cart();
  }
  #total = 0;
  // trace:region
  onClick = () => this.#total;
  // trace:region
  onKey = function () {};
  // trace:region
  constructor(private readonly items: T[] = []) {}
  // trace:region
  add(item: T) {
    this.items.push(item);
  }
  // trace:region
  get size() {
    return this.items.length;
  }
  // trace:region
  set size(value: number) {}
  // trace:region
  #recount() {}
  // trace:region
  async *stream() {}
}

const Anonymous = class {
  // trace:region
  method() {}
};

export const handlers = {
  // trace:region
  greet(name: string) {
    return name;
  },
  // trace:region
  shout: (s: string) => s.toUpperCase(),
  // trace:region
  'quoted-name': function () {},
  // trace:region
  get loud() {
    return true;
  },
  // trace:region
  set loud(v: boolean) {},
  nested: {
    // trace:region
    inner() {},
  },
};

namespace Space {
  // trace:region
  export function inside() {}
}

// trace:region
export default () => 'default';
`;
    const result = await annotatedOnce(input);
    expect(result.text).toBe(expected);
    expect(result.removed).toEqual([]);
    expect(result.added.map((l) => l.target)).toEqual([
      'function add',
      'function double',
      'function default',
      'function count',
      'function later',
      'const local',
      'const arrow',
      'let expression',
      'var old',
      'method Cart.empty',
      'field Cart.onClick',
      'field Cart.onKey',
      'constructor Cart',
      'method Cart.add',
      'get Cart.size',
      'set Cart.size',
      'method Cart.#recount',
      'method Cart.stream',
      'method Anonymous.method',
      'method greet',
      'property shout',
      "property 'quoted-name'",
      'get loud',
      'set loud',
      'method inner',
      'function inside',
      'export default',
    ]);
    // Line numbers are those of the input: the line each comment is inserted before.
    const inputLines = input.split('\n');
    for (const { line, text } of result.added) {
      expect(text.trim()).toBe('// trace:region');
      expect(inputLines[line - 1].startsWith(text.slice(0, text.indexOf('/')))).toBe(true);
    }
    expect(result.added[0]).toEqual({ line: 4, text: '// trace:region', target: 'function add' });
    expect(result.added[1]).toEqual({ line: 5, text: '  // trace:region', target: 'function double' });
  });

  test('skips callbacks passed as arguments, IIFEs, assignments, multi-declaration statements, type-only members', async () => {
    const input = `items.map((x) => x * 2);
setTimeout(function () {}, 10);
app.get('/', async (req, res) => {
  res.send('ok');
});
(() => {
  console.log('iife');
})();
obj.method = function () {};
const a = () => 1, b = () => 2;
const notAFunction = 42;
const wrapped = (() => {}) as () => void;
interface Shape {
  area(): number;
}
type Fn = () => void;
`;
    const result = await annotatedOnce(input);
    expect(result.text).toBe(input);
    expect(result.added).toEqual([]);
  });

  test('skips declarations without a body: overload signatures, abstract and declare members, ambient functions', async () => {
    const input = `function parse(text: string): number;
function parse(text: string, radix: number): number;
function parse(text: string, radix = 10): number {
  return Number.parseInt(text, radix);
}
declare function ambient(): void;
declare module 'lib' {
  export function typed(): void;
}
abstract class Base {
  abstract area(): number;
  declare field: () => void;
  constructor();
  constructor(x?: number) {}
  describe(): string;
  describe(prefix?: string): string {
    return 'base';
  }
}
declare class Ambient {
  method(): void;
}
`;
    const result = await annotatedOnce(input);
    expect(result.added.map((l) => [l.line, l.target])).toEqual([
      [3, 'function parse'],
      [14, 'constructor Base'],
      [16, 'method Base.describe'],
    ]);
  });

  test('leaves functions that already have a directive, and methods traced by @traced (also parenthesized) or by their class', async () => {
    const input = `import { traced as tr } from 'tstrace';
import * as tstrace from 'tstrace';

// trace:region
function already() {}

// trace:region checkout
function named() {}

// trace:task
function task() {}

// trace:task handle
const handler = () => {};

/** Documented. */
// trace:region
// eslint-disable-next-line no-console
const logs = () => console.log();

class Service {
  @tr()
  one() {}
  @tstrace.traced({ log: ['x'] })
  two(x: number) {}
  @traced
  three() {}
  four() {}
  @(tr('five'))
  five() {}
}

@tr()
class TracedClass {
  constructor() {}
  method() {}
  field = () => 1;
}

// trace:task
class DirectiveClass {
  method() {}
  get value() {
    return 1;
  }
}
`;
    const result = await annotatedOnce(input, 'module.ts', { roundTrip: false });
    expect(result.added.map((l) => [l.line, l.target])).toEqual([
      [28, 'method Service.four'],
      [35, 'constructor TracedClass'],
      [37, 'field TracedClass.field'],
    ]);
    // --remove cannot tell the hand-written unnamed regions of this input from added ones (docs/cli.md).
    const removed = await remove(result.text);
    expect(removed.removed.map((l) => l.target)).toEqual(['function already', 'const logs', 'method Service.four', 'constructor TracedClass', 'field TracedClass.field']);
    expect(removed.text).toBe(input.replace('// trace:region\nfunction already', 'function already').replace('// trace:region\n// eslint', '// eslint'));
  });

  test('a malformed trace: comment is left for the compiler to report, not hidden behind a new line', async () => {
    const input = `// trace:regoin
function typo() {}
`;
    expect((await annotate(input)).added).toEqual([]);
  });

  test('functions that do not start their line are skipped: a comment line cannot go before them', async () => {
    const input = `class Point { x() { return 1; } }
const o = { a() {}, b: () => 1 };
/* note */ function afterComment() {}
export { o };
`;
    const result = await annotatedOnce(input);
    expect(result.text).toBe(input);
  });

  test('decorated members: the line goes before the decorators', async () => {
    const input = `class Controller {
  @Get(':id')
  @UseGuards(AuthGuard)
  find(@Param('id') id: string) {}
}
`;
    const result = await annotatedOnce(input);
    expect(result.text).toBe(`class Controller {
  // trace:region
  @Get(':id')
  @UseGuards(AuthGuard)
  find(@Param('id') id: string) {}
}
`);
  });
});

describe('annotateSource: nothing else changes', () => {
  test('CRLF files get CRLF lines; --remove gives the bytes back', async () => {
    const input = ['class A {', '  m() {', '    return 1;', '  }', '}', 'function f() {}', ''].join('\r\n');
    const result = await annotatedOnce(input);
    expect(result.text).toBe(['class A {', '  // trace:region', '  m() {', '    return 1;', '  }', '}', '// trace:region', 'function f() {}', ''].join('\r\n'));
    expect(result.text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });

  test('mixed line endings: each added line takes the line break of the line it precedes', async () => {
    const input = 'function a() {}\nfunction b() {}\r\nfunction c() {}';
    const result = await annotatedOnce(input);
    expect(result.text).toBe('// trace:region\nfunction a() {}\n// trace:region\r\nfunction b() {}\r\n// trace:region\r\nfunction c() {}');
  });

  test('a last line without a line break: the break of the line before it', async () => {
    expect((await annotatedOnce('const x = 1;\r\nconst f = () => x')).text).toBe('const x = 1;\r\n// trace:region\r\nconst f = () => x');
    expect((await annotatedOnce('const f = () => 1')).text).toBe('// trace:region\nconst f = () => 1');
  });

  test('tab and mixed indentation is copied from the line the comment precedes', async () => {
    const input = 'class A {\n\tm() {\n\t\tconst inner = () => {\n\t\t};\n\t}\n \t get g() { return 1; }\n}\n';
    const result = await annotatedOnce(input);
    expect(result.text).toBe('class A {\n\t// trace:region\n\tm() {\n\t\t// trace:region\n\t\tconst inner = () => {\n\t\t};\n\t}\n \t // trace:region\n \t get g() { return 1; }\n}\n');
  });

  test('a byte order mark stays first', async () => {
    const input = '\uFEFFfunction first() {}\n';
    expect((await annotatedOnce(input)).text).toBe('\uFEFF// trace:region\nfunction first() {}\n');
  });

  test('strings, template literals and comments that look like code are untouched', async () => {
    const input = `const text = \`
function notCode() {}
\`;
/*
function commented() {}
*/
const s = 'function f() {}';
`;
    expect((await annotatedOnce(input)).text).toBe(input);
  });

  test('next-line pragmas (eslint, biome, c8/v8) stay right before the function', async () => {
    const input = `/** Doc. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
/* c8 ignore next */
function loose(x: any) {}

// A plain comment.
function plain() {}
`;
    expect((await annotatedOnce(input)).text).toBe(`/** Doc. */
// trace:region
// eslint-disable-next-line @typescript-eslint/no-explicit-any
/* c8 ignore next */
function loose(x: any) {}

// A plain comment.
// trace:region
function plain() {}
`);
  });

  test('.tsx files: functions and components, JSX untouched', async () => {
    const input = `export function App() {
  const onClick = () => {};
  return (
    <button onClick={onClick} render={() => <span>{'function x() {}'}</span>}>
      function inJsxText() {'{}'}
    </button>
  );
}
`;
    const result = await annotatedOnce(input, 'App.tsx');
    expect(result.text).toBe(`// trace:region
export function App() {
  // trace:region
  const onClick = () => {};
  return (
    <button onClick={onClick} render={() => <span>{'function x() {}'}</span>}>
      function inJsxText() {'{}'}
    </button>
  );
}
`);
  });
});

describe('annotateSource --remove', () => {
  test('removes only unnamed // trace:region lines of functions: named regions, tasks, and directives on classes and statements stay', async () => {
    const input = `// trace:region
function added() {}
  // trace:region
const indented = () => {};
// trace:region checkout
function named() {}
// trace:task
function task() {}
// trace:region
class Whole {
  // trace:region
  method() {}
}
function body() {
  // trace:region
  {
    work();
  }
}
`;
    const result = await remove(input);
    expect(result.text).toBe(`function added() {}
const indented = () => {};
// trace:region checkout
function named() {}
// trace:task
function task() {}
// trace:region
class Whole {
  method() {}
}
function body() {
  // trace:region
  {
    work();
  }
}
`);
    expect(result.removed).toEqual([
      { line: 1, text: '// trace:region', target: 'function added' },
      { line: 3, text: '  // trace:region', target: 'const indented' },
      { line: 11, text: '  // trace:region', target: 'method Whole.method' },
    ]);
    expect(result.added).toEqual([]);
  });

  test('removes a CRLF line with its CRLF, and a directive above next-line pragmas', async () => {
    const input = '// trace:region\r\n// eslint-disable-next-line\r\nfunction f() {}\r\n';
    expect((await remove(input)).text).toBe('// eslint-disable-next-line\r\nfunction f() {}\r\n');
  });
});

// ---------------------------------------------------------------------------------------------------
// The command, as users run it.

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function tstraceIn(cwd: string, ...args: string[]): Run {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const workDir = mkdtempSync(join(tmpdir(), 'tstrace-annotate-'));

beforeAll(() => {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'pipe' });
});
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe('tstrace annotate', () => {
  const project = join(workDir, 'project');
  const files: Record<string, string> = {
    'src/cart.ts': 'export class Cart {\n  add() {}\n  remove() {}\n}\n',
    'src/ui/App.tsx': 'export function App() {\n  return <div />;\n}\n',
    'src/esm.mts': 'export const f = () => 1;\n',
    'src/cjs.cts': '// trace:task\nexport function done() {}\n',
    'src/nothing.ts': 'export const x = 1;\n',
    'src/types.d.ts': 'export declare function typed(): void;\n',
    'src/notes.md': 'function notTs() {}\n',
    'src/node_modules/dep/index.ts': 'export function dep() {}\n',
  };
  const snapshot = (): Record<string, string> => Object.fromEntries(Object.keys(files).map((f) => [f, readFileSync(join(project, f), 'utf8')]));

  beforeAll(() => {
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(dirname(join(project, file)), { recursive: true });
      writeFileSync(join(project, file), text);
    }
  });

  test('--dry-run lists what it would add, with line numbers, and writes nothing', () => {
    const before = Object.keys(files).map((f) => statSync(join(project, f)).mtimeMs);
    const run = tstraceIn(project, 'annotate', 'src', '--dry-run');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(
      [
        'src/cart.ts: 2 to add',
        '  before line 2: // trace:region  (method Cart.add)',
        '  before line 3: // trace:region  (method Cart.remove)',
        'src/esm.mts: 1 to add',
        '  before line 1: // trace:region  (const f)',
        'src/ui/App.tsx: 1 to add',
        '  before line 1: // trace:region  (function App)',
        '4 lines to add in 3 files (5 files checked); --dry-run: nothing written',
        '',
      ].join('\n'),
    );
    expect(snapshot()).toEqual(files);
    expect(Object.keys(files).map((f) => statSync(join(project, f)).mtimeMs)).toEqual(before);
  });

  test('annotates every TypeScript file below a folder (not node_modules, not .d.ts); a second run adds nothing; --remove restores the bytes', () => {
    const run = tstraceIn(project, 'annotate', 'src');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('src/cart.ts: 2 added\nsrc/esm.mts: 1 added\nsrc/ui/App.tsx: 1 added\n4 lines added in 3 files (5 files checked)\n');
    const after = snapshot();
    expect(after['src/cart.ts']).toBe('export class Cart {\n  // trace:region\n  add() {}\n  // trace:region\n  remove() {}\n}\n');
    expect(after['src/esm.mts']).toBe('// trace:region\nexport const f = () => 1;\n');
    for (const untouched of ['src/cjs.cts', 'src/nothing.ts', 'src/types.d.ts', 'src/notes.md', 'src/node_modules/dep/index.ts']) {
      expect(after[untouched], untouched).toBe(files[untouched]);
    }

    const again = tstraceIn(project, 'annotate', 'src');
    expect(again.status).toBe(0);
    expect(again.stdout).toBe('0 lines added in 0 files (5 files checked)\n');
    expect(snapshot()).toEqual(after);

    const dryRemove = tstraceIn(project, 'annotate', 'src/cart.ts', '--remove', '--dry-run');
    expect(dryRemove.stdout).toBe(
      'src/cart.ts: 2 to remove\n  line 2: // trace:region  (method Cart.add)\n  line 4: // trace:region  (method Cart.remove)\n2 lines to remove in 1 file (1 file checked); --dry-run: nothing written\n',
    );
    expect(snapshot()).toEqual(after);

    const removed = tstraceIn(project, 'annotate', '--remove', join(project, 'src'));
    expect(removed.status).toBe(0);
    expect(removed.stdout).toBe('src/cart.ts: 2 removed\nsrc/esm.mts: 1 removed\nsrc/ui/App.tsx: 1 removed\n4 lines removed in 3 files (5 files checked)\n');
    expect(snapshot()).toEqual(files);
  });

  test('a path that does not exist: exit 1, says which, and changes no file (not even the good ones)', () => {
    const run = tstraceIn(project, 'annotate', 'src/cart.ts', 'src/missing.ts');
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('tstrace: error: src/missing.ts: no such file or directory\n');
    expect(snapshot()).toEqual(files);
  });

  test.each([
    ['src/notes.md', 'src/notes.md: not a TypeScript file (.ts, .tsx, .mts or .cts)'],
    ['src/types.d.ts', 'src/types.d.ts: is a declaration file (.d.ts): it has no function bodies to annotate'],
  ])('%s given: exit 1, not a TypeScript file', (path, message) => {
    const run = tstraceIn(project, 'annotate', path);
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(`tstrace: error: ${message}\n`);
    expect(snapshot()).toEqual(files);
  });

  test('a file that is not UTF-8 is not rewritten', () => {
    const latin1 = join(workDir, 'latin1.ts');
    const bytes = Buffer.from('// caf\xe9\nfunction f() {}\n', 'latin1');
    writeFileSync(latin1, bytes);
    const run = tstraceIn(workDir, 'annotate', 'latin1.ts');
    expect(run.status).toBe(1);
    expect(run.stderr).toBe('tstrace: error: latin1.ts: not UTF-8 text\n');
    expect(readFileSync(latin1)).toEqual(bytes);
  });

  test.each([
    [['annotate'], /annotate: missing PATH/],
    [['annotate', 'src', '--json'], /--json does not apply to annotate/],
    [['annotate', 'src', '--type', 'x'], /--type does not apply to annotate/],
    [['stats', 'a.trace', '--remove'], /--remove does not apply to stats/],
    [['regions', 'a.trace', '--dry-run'], /--dry-run does not apply to regions/],
  ])('tstrace %j is a usage error: exit 2', (args, message) => {
    const run = tstraceIn(project, ...args);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
    expect(snapshot()).toEqual(files);
  });

  test('--help documents annotate', () => {
    const help = tstraceIn(project, '--help').stdout;
    expect(help).toContain('tstrace annotate PATH... [--dry-run] [--remove]');
    expect(help).toContain('--dry-run');
    expect(help).toContain('ts-morph');
  });

  test('without ts-morph installed: exit 1 and says how to install it; the trace commands do not need it', () => {
    // The built tool alone, where no node_modules can provide ts-morph.
    const bare = join(workDir, 'bare');
    cpSync(join(root, 'dist/esm'), bare, { recursive: true });
    writeFileSync(join(bare, 'package.json'), JSON.stringify({ name: 'tstrace', version: '0.0.0-bare', type: 'module' }));
    const run = spawnSync(process.execPath, [join(bare, 'cli/cli.js'), 'annotate', join(project, 'src')], { cwd: workDir, encoding: 'utf8' });
    expect(run.stderr).toBe('tstrace: error: tstrace annotate needs ts-morph: npm install -D ts-morph\n');
    expect(run.status).toBe(1);
    expect(snapshot()).toEqual(files);
    const version = spawnSync(process.execPath, [join(bare, 'cli/cli.js'), '--version'], { cwd: workDir, encoding: 'utf8' });
    expect(version.stdout).toBe('0.0.0-bare\n');
  });
});

describe('ts-morph is not a runtime dependency', () => {
  test('package.json: a devDependency and an optional peer, never a dependency', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(manifest.dependencies?.['ts-morph']).toBeUndefined();
    expect(manifest.devDependencies['ts-morph']).toBeDefined();
    expect(manifest.peerDependencies['ts-morph']).toBeDefined();
    expect(manifest.peerDependenciesMeta['ts-morph']).toEqual({ optional: true });
  });

  test('loading the runtime, the reader and the CLI module does not load ts-morph', () => {
    const script = `
      await import(${JSON.stringify(join(root, 'dist/esm/runtime/index.js'))});
      await import(${JSON.stringify(join(root, 'dist/esm/reader/index.js'))});
      await import(${JSON.stringify(join(root, 'dist/esm/cli/cli-run.js'))});
      const { createRequire } = await import('node:module');
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('ts-morph'));
      const before = loaded();
      // The check sees ts-morph once annotate loads it.
      await (await import(${JSON.stringify(join(root, 'dist/esm/transformer/annotate.js'))})).loadTsMorph();
      console.log(JSON.stringify([before, loaded()]));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([false, true]);
  });
});

// ---------------------------------------------------------------------------------------------------
// What users rely on: annotate, compile with the transformer (ts-patch), run traced: a region per function.

const module = `export function add(a: number, b: number): number {
  function double(x: number) {
    return x * 2;
  }
  return double(a) + b;
}

function parse(text: string): number;
function parse(text: number): number;
function parse(text: string | number): number {
  return Number(text);
}

function* count(n: number) {
  for (let i = 0; i < n; i++) yield i;
}

async function later() {
  await null;
  return 'later';
}

const arrow = (x: number) => x + 1;
let expression = function (x: number) {
  return x - 1;
};

abstract class Shape {
  abstract area(): number;
  describe(): string {
    return 'area ' + this.area();
  }
}

class Square extends Shape {
  static unit() {
    return new Square(1);
  }
  onClick = () => this.side;
  onKey = function (this: Square) {
    return 'key';
  };
  constructor(private side: number) {
    super();
  }
  area() {
    return this.side ** 2;
  }
  get size() {
    return this.side;
  }
  set size(value: number) {
    this.side = value;
  }
  #secret() {
    return 'secret';
  }
  reveal() {
    return this.#secret();
  }
}

const handlers = {
  greet(name: string) {
    return 'hi ' + name;
  },
  shout: (s: string) => s.toUpperCase(),
  whisper: function (s: string) {
    return s.toLowerCase();
  },
  get loud() {
    return true;
  },
};

export default () => 'default';

export async function run(): Promise<unknown[]> {
  const square = Square.unit();
  square.size = 3;
  return [
    add(1, 2),
    parse('7'),
    [...count(2)],
    await later(),
    arrow(1),
    expression(1),
    square.describe(),
    square.size,
    square.onClick(),
    square.onKey(),
    square.reveal(),
    handlers.greet('you'),
    handlers.shout('a'),
    handlers.whisper('B'),
    handlers.loud,
    [1, 2].map((x) => x * 10),
  ];
}
`;

const require = createRequire(import.meta.url);

/** Compiles `file` in `dir` to `outDir` with ts-patch's patched compiler, with or without the tstrace transformer. */
function compile(dir: string, file: string, outDir: string, plugin: boolean): { diagnostics: string[]; files: Map<string, string> } {
  const ts = require('ts-patch/compiler') as typeof TS;
  const options: TS.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    skipLibCheck: true,
    declaration: true,
    types: ['node'],
    lib: ['lib.es2022.d.ts'],
    rootDir: dir,
    outDir,
    ...(plugin ? { plugins: [{ transform: 'tstrace/transformer' }] as unknown as TS.PluginImport[] } : {}),
  };
  const host = ts.createCompilerHost(options);
  const files = new Map<string, string>();
  host.writeFile = (fileName, text) => {
    mkdirSync(dirname(fileName), { recursive: true });
    writeFileSync(fileName, text);
    files.set(relative(outDir, fileName), text);
  };
  const program = ts.createProgram({ rootNames: [join(dir, file)], options, host });
  const result = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics].map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: 'module' }));
  return { diagnostics, files };
}

describe('an annotated module, compiled with the tstrace transformer and run', () => {
  // Under the repository, so that the compiled code's `tstrace` imports resolve to this package.
  const fixtureRoot = join(root, 'test', '.work');
  let dir: string;
  beforeAll(() => {
    mkdirSync(fixtureRoot, { recursive: true });
    dir = mkdtempSync(join(fixtureRoot, 'annotate-'));
  });
  afterAll(() => {
    if (dir && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  });

  test('records a region for every function annotate marked, and behaves as the original', async () => {
    const source = join(dir, 'src');
    mkdirSync(source);
    writeFileSync(join(source, 'shop.ts'), module);
    const run = tstraceIn(dir, 'annotate', 'src');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('src/shop.ts: 23 added\n23 lines added in 1 file (1 file checked)\n');
    const annotated = readFileSync(join(source, 'shop.ts'), 'utf8');

    const traced = compile(source, 'shop.ts', join(dir, 'traced'), true);
    expect(traced.diagnostics).toEqual([]);
    writeFileSync(join(source, 'shop.ts'), module);
    const plain = compile(source, 'shop.ts', join(dir, 'plain'), false);
    expect(plain.diagnostics).toEqual([]);
    writeFileSync(join(source, 'shop.ts'), annotated);
    // The annotation changes no declaration.
    expect(traced.files.get('shop.d.ts')).toBe(plain.files.get('shop.d.ts'));

    const runner = `import { start, stop } from 'tstrace';
const [module, tracePath] = process.argv.slice(2);
const { run, default: anonymous } = await import(module);
if (tracePath) start(tracePath, { gc: false, heap: false, eventLoop: false });
const result = [...(await run()), anonymous()];
if (tracePath) await stop();
process.stdout.write(JSON.stringify(result));
`;
    writeFileSync(join(dir, 'runner.mjs'), runner);
    const tracePath = join(dir, 'trace.out');
    const tracedOut = execFileSync(process.execPath, ['runner.mjs', './traced/shop.js', tracePath], { cwd: dir, encoding: 'utf8' });
    const plainOut = execFileSync(process.execPath, ['runner.mjs', './plain/shop.js'], { cwd: dir, encoding: 'utf8' });
    expect(JSON.parse(tracedOut)).toEqual(JSON.parse(plainOut));
    expect(JSON.parse(tracedOut)).toEqual([4, 7, [0, 1], 'later', 2, 0, 'area 9', 3, 3, 'key', 'secret', 'hi you', 'A', 'b', true, [10, 20], 'default']);

    const analysis = await analyzeTrace(tracePath);
    expect(analysis.status.complete).toBe(true);
    expect(analysis.problems).toEqual([]);
    // Every annotated function ran, and each produced a region (named by the transformer's defaults;
    // `export default` has no name: its region is named after its location).
    const defaultLine = annotated.split('\n').indexOf("export default () => 'default';") + 1;
    const defaultName = analysis.regions.find((r) => r.type.endsWith('shop.ts:' + defaultLine))?.type;
    expect(defaultName).toBeDefined();
    const types = new Set(analysis.regions.map((r) => r.type));
    expect(types.size).toBe(23);
    expect([...types].sort()).toEqual(
      [
        'run',
        'add',
        'double',
        'parse',
        'count',
        'later',
        'arrow',
        'expression',
        'Shape.describe',
        'Square.unit',
        'Square.onClick',
        'Square.onKey',
        'Square.constructor',
        'Square.area',
        'Square.get size',
        'Square.set size',
        'Square.#secret',
        'Square.reveal',
        'greet',
        'shout',
        'whisper',
        'loud',
        defaultName,
      ].sort(),
    );
    const byId = new Map(analysis.regions.map((r) => [r.id, r]));
    const [double] = analysis.regions.filter((r) => r.type === 'double');
    expect(byId.get(double.parent!)?.type).toBe('add');
    for (const region of analysis.regions) expect(region.complete, region.type).toBe(true);
  });
});
