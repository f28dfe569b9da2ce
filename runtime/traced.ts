/**
 * `@traced` as a real runtime decorator, for code the tstrace transformer does not compile (esbuild,
 * Vite, Vitest, TypeScript 7): it wraps the decorated methods so that each call records the regions
 * (and tasks and logs) the instrumented body would record — at the cost of a wrapper per call. Where
 * the transformer runs, it rewrites the body instead and replaces the decorator by the no-op
 * `compiled` of `tstrace/instrument`.
 *
 * How a wrapper records a call — with the calls of `./instrument.ts`, as instrumented code does:
 * - sync method: one region on the caller's flow (`enter`/`exit`; a Frame for `task`/`log`/`err`);
 * - async method (an `AsyncFunction`): a Frame of kind Async: the call runs on a flow of its own, the
 *   caller gets its own scope back as soon as the method returns its promise, and the region (and
 *   task) end when that promise settles;
 * - generator / async generator: the returned generator object is the original one, with own
 *   `next`/`throw`/`return` that make each resumption one occurrence of the region.
 */
import { types } from 'node:util';
import { background, Task, type Context } from './api.js';
import { currentScope } from './chains.js';
import { call, enter, exit, finish, FrameKind, param, resumed, returning, thrown, yielding, type Frame, type Site } from './instrument.js';
import { captureFrames, resolveLocation } from './location.js';
import { S, type Scope } from './recorder.js';

/** What {@link traced} accepts besides a bare name. */
export interface TracedOptions {
  /**
   * The region type (and task type with `task`). Default: `Class.method`; `Class.get x` and
   * `Class.set x` for accessors. On a class: what stands for the class name in its methods' names.
   */
  readonly name?: string;
  /** Each call is also a task of that type: callees see it in `current().task`; it ends with the call. */
  readonly task?: boolean;
  /**
   * Names of parameters whose values are logged at entry, each in a category named after it: strings
   * as they are, objects through `util.inspect`. Methods only; an unknown name throws at decoration.
   */
  readonly log?: readonly string[];
  /** A thrown error (or rejection) is logged in category `error` with its message, then rethrown unchanged. */
  readonly err?: boolean;
}

/* The `any`s below are those of TypeScript's own decorator types: a decorator must accept every class's
   `this`, arguments and results. */
/** The decorator that `traced(name)` and `traced(options)` return; usable in both decorator modes. */
export interface TracedDecorator {
  <This, Value extends (this: This, ...args: any) => any>(value: Value, context: ClassMethodDecoratorContext<This, Value>): Value;
  <This, Value>(value: (this: This) => Value, context: ClassGetterDecoratorContext<This, Value>): (this: This) => Value;
  <This, Value>(value: (this: This, value: Value) => void, context: ClassSetterDecoratorContext<This, Value>): (this: This, value: Value) => void;
  <Class extends abstract new (...args: any) => any>(value: Class, context: ClassDecoratorContext<Class>): void;
  <T>(target: object, key: string | symbol, descriptor: TypedPropertyDescriptor<T>): TypedPropertyDescriptor<T>;
  (target: Function): void;
}

/**
 * Traces each call of a method: `@traced`, `@traced("name")` or `@traced({ name, task, log, err })` on
 * a method (instance or static, `#private` with TC39 decorators, getter or setter), or on a class
 * (each of its own prototype and static methods, getters and setters — not its constructor or
 * fields, as the transformer compiles it). Works with TC39 decorators and with `experimentalDecorators`.
 *
 * Each call is one region, named `Class.method` unless `name` says otherwise, for the task of the
 * context passed as an argument (a tstrace `Context`: `background` or a context `newTask` made) or
 * else of the ambient context. An async method's region ends when its promise settles, and the call
 * runs on a flow of its own; each resumption of a generator is one occurrence of its region. The
 * method keeps its `this`, arguments, result, thrown values, `name` and `length`; while tracing is
 * off a call costs one check. The location recorded is where the decorator was applied (the class
 * definition), as the stack shows it.
 *
 * Differences from the compiled form, which the transformer gives instead:
 * - the class part of an instance method's default name is found at its first traced call with
 *   TC39 decorators (the class owning the method on `this`'s prototype chain; for `#private`
 *   methods, `this.constructor`, which is a subclass when the first call is on a subclass instance);
 * - an async method's caller gets a promise of its own, settling one tick after the method's with
 *   the same value or reason (the method's own promise is watched to end the region; handing it back
 *   would hide an ignored rejection);
 * - `log` reads parameter names from the method's source text (simple and rest parameters, not
 *   destructured ones) and logs arguments as passed, before default values apply;
 * - a Context argument is recognized by identity (`background`) or by holding a `Task` of this copy
 *   of tstrace; a method compiled to a non-async function (a target below ES2017) has sync semantics;
 * - a generator is traced when it was created while tracing was on.
 *
 * Misuse — on a field or an `accessor` field, an unknown `log` name, an invalid option — throws a
 * TypeError when the class is defined.
 */
export function traced<This, Value extends (this: This, ...args: any) => any>(value: Value, context: ClassMethodDecoratorContext<This, Value>): Value;
export function traced<This, Value>(value: (this: This) => Value, context: ClassGetterDecoratorContext<This, Value>): (this: This) => Value;
export function traced<This, Value>(value: (this: This, value: Value) => void, context: ClassSetterDecoratorContext<This, Value>): (this: This, value: Value) => void;
export function traced<Class extends abstract new (...args: any) => any>(value: Class, context: ClassDecoratorContext<Class>): void;
export function traced<T>(target: object, key: string | symbol, descriptor: TypedPropertyDescriptor<T>): TypedPropertyDescriptor<T>;
export function traced(target: Function): void;
export function traced(name?: string): TracedDecorator;
export function traced(options: TracedOptions): TracedDecorator;
export function traced(...args: unknown[]): unknown {
  if (args.length >= 2 || typeof args[0] === 'function') return decorate(DEFAULTS, args, traced);
  const settings = settingsOf(args[0]);
  const decorator = (...decoratorArgs: unknown[]): unknown => decorate(settings, decoratorArgs, decorator);
  return decorator;
}

// ---------------------------------------------------------------------------------------------------
// Options

interface Settings {
  readonly name: string | null;
  readonly task: boolean;
  readonly log: readonly string[];
  readonly err: boolean;
}

const DEFAULTS: Settings = Object.freeze({ name: null, task: false, log: Object.freeze([]), err: false });
const OPTION_KEYS = new Set(['name', 'task', 'log', 'err']);

function settingsOf(arg: unknown): Settings {
  if (arg === undefined) return DEFAULTS;
  if (typeof arg === 'string') {
    if (arg === '') throw new TypeError('@traced: the region name must not be empty');
    return { ...DEFAULTS, name: arg };
  }
  if (typeof arg !== 'object' || arg === null) {
    throw new TypeError(`@traced: expected a region name or options { name, task, log, err }, got ${typeof arg === 'symbol' ? 'a symbol' : String(arg)}`);
  }
  const options = arg as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new TypeError(`@traced: unknown option "${key}" (options are name, task, log, err)`);
  }
  const { name, task, log, err } = options;
  if (name !== undefined && (typeof name !== 'string' || name === '')) throw new TypeError('@traced: name must be a non-empty string');
  if (task !== undefined && typeof task !== 'boolean') throw new TypeError('@traced: task must be true or false');
  if (err !== undefined && typeof err !== 'boolean') throw new TypeError('@traced: err must be true or false');
  if (log !== undefined && !(Array.isArray(log) && log.every((p) => typeof p === 'string' && p !== ''))) {
    throw new TypeError('@traced: log must be an array of parameter names');
  }
  return { name: name ?? null, task: task ?? false, log: log ? [...(log as string[])] : DEFAULTS.log, err: err ?? false };
}

// ---------------------------------------------------------------------------------------------------
// Decorating

/** A TC39 decorator context, as far as we read it. */
interface DecoratorContext {
  readonly kind: string;
  readonly name?: string | symbol;
  readonly static?: boolean;
  readonly private?: boolean;
  readonly addInitializer?: (initializer: (this: unknown) => void) => void;
}

const isContext = (value: unknown): value is DecoratorContext =>
  typeof value === 'object' && value !== null && typeof (value as { kind?: unknown }).kind === 'string';

const misplaced = (what: string): TypeError =>
  new TypeError(`@traced applies to methods, getters, setters and classes, not to ${what}`);

/** Dispatches on the decorator mode: TC39 `(value, context)`, or experimental `(target, key, descriptor)` / `(class)`. */
function decorate(settings: Settings, args: unknown[], entry: Function): unknown {
  const [a, b, c] = args;
  if (isContext(b)) return decorateStandard(settings, a, b, entry);
  if (typeof b === 'string' || typeof b === 'symbol') return decorateLegacyMember(settings, a, b, c, entry);
  if (args.length === 1 && typeof a === 'function') {
    // A function without methods is not a class: tracing nothing would be a silent no-op.
    if (traceClass(a, a.name, settings, placeOf(entry)) === 0 && !isClass(a)) throw misplaced(`the function ${a.name || '(anonymous)'}; wrap a call in withRegion instead`);
    return undefined;
  }
  throw misplaced(args.length === 3 && typeof c === 'number' ? 'a parameter' : 'this declaration');
}

/** TC39 decorators: returns the wrapper that replaces the method. */
function decorateStandard(settings: Settings, value: unknown, context: DecoratorContext, entry: Function): unknown {
  const { kind } = context;
  if (kind === 'class') {
    const name = typeof context.name === 'string' ? context.name : typeof value === 'function' ? value.name : '';
    traceClass(value, name, settings, placeOf(entry));
    return undefined;
  }
  const key = context.name ?? '';
  if ((kind !== 'method' && kind !== 'getter' && kind !== 'setter') || typeof value !== 'function') {
    throw misplaced(`the ${kind} ${describeKey(key)}`);
  }
  const label = memberLabel(key, kind);
  const plan = newPlan(value, settings, label, placeOf(entry));
  if (settings.name === null) {
    if (context.static) {
      // Static initializers run once, when the class is defined, with `this` = the class.
      plan.nameFrom = (self) => qualify(typeof self === 'function' ? self.name : '', label);
      context.addInitializer?.(function (this: unknown) {
        plan.name ??= qualify(typeof this === 'function' ? this.name : '', label);
      });
    } else {
      // The member context does not name the class: find it at the first traced call.
      plan.nameFrom = context.private ? (self) => qualify(constructorName(self), label) : (self) => qualify(ownerName(self, key, plan.wrapper), label);
    }
  }
  return wrap(plan);
}

/** `experimentalDecorators`: returns the descriptor to define, with the wrapped function(s). */
function decorateLegacyMember(settings: Settings, target: unknown, key: string | symbol, descriptor: unknown, entry: Function): PropertyDescriptor {
  const isStatic = typeof target === 'function';
  const cls = isStatic ? (target as Function).name : constructorName(target);
  if (typeof descriptor === 'number') throw misplaced('a parameter');
  if (typeof descriptor !== 'object' || descriptor === null) throw misplaced(`the field ${qualify(cls, describeKey(key))}`);
  const d = descriptor as PropertyDescriptor;
  const place = placeOf(entry);
  const planFor = (fn: Function, kind: 'method' | 'getter' | 'setter'): Plan => {
    const label = memberLabel(key, kind);
    const plan = newPlan(fn, settings, `${label} of ${cls}`, place);
    plan.name ??= qualify(cls, label);
    return plan;
  };
  if (typeof d.value === 'function') return { ...d, value: wrap(planFor(d.value, 'method')) };
  if (typeof d.get === 'function' || typeof d.set === 'function') {
    const out: PropertyDescriptor = { ...d };
    if (typeof d.get === 'function') out.get = wrap(planFor(d.get, 'getter')) as () => unknown;
    if (typeof d.set === 'function') out.set = wrap(planFor(d.set, 'setter')) as (v: unknown) => void;
    return out;
  }
  throw misplaced(`the field ${qualify(cls, describeKey(key))}`);
}

const STATIC_SKIPPED = new Set<PropertyKey>(['prototype', 'length', 'name', 'caller', 'arguments']);

function isClass(fn: Function): boolean {
  try {
    return /^class\b/.test(Function.prototype.toString.call(fn));
  } catch {
    return false;
  }
}

/**
 * `@traced` on a class: each own method, getter and setter of its prototype and each own static one
 * (a non-enumerable property: static fields are enumerable), not already traced. Returns how many it
 * traced.
 */
function traceClass(cls: unknown, name: string, settings: Settings, place: Place | null): number {
  if (typeof cls !== 'function') throw misplaced('this declaration');
  if (settings.log.length > 0) throw new TypeError(`@traced on class ${name}: log names parameters of one method; put it on that method`);
  const label = settings.name ?? name;
  let count = 0;
  const each = (target: object | null | undefined, isStatic: boolean): void => {
    if (typeof target !== 'object' && typeof target !== 'function') return;
    if (target === null) return;
    for (const key of Reflect.ownKeys(target)) {
      if (isStatic ? STATIC_SKIPPED.has(key) : key === 'constructor') continue;
      const d = Reflect.getOwnPropertyDescriptor(target, key);
      if (!d || (isStatic && d.enumerable)) continue;
      const traceable = (fn: unknown): fn is Function => typeof fn === 'function' && !tracedFunctions.has(fn);
      const traceAs = (fn: Function, kind: 'method' | 'getter' | 'setter'): Function => {
        const member = memberLabel(key, kind);
        const plan = newPlan(fn, { ...settings, name: null }, `${member} of ${name}`, place);
        plan.name = qualify(label, member);
        count++;
        return wrap(plan);
      };
      if (typeof d.get === 'function' || typeof d.set === 'function') {
        if (!d.configurable) continue;
        Object.defineProperty(target, key, {
          ...d,
          get: traceable(d.get) ? (traceAs(d.get, 'getter') as () => unknown) : d.get,
          set: traceable(d.set) ? (traceAs(d.set, 'setter') as (v: unknown) => void) : d.set,
        });
        continue;
      }
      if (!traceable(d.value) || isClass(d.value) || (!d.writable && !d.configurable)) continue;
      Object.defineProperty(target, key, { ...d, value: traceAs(d.value, 'method') });
    }
  };
  each((cls as { prototype?: object }).prototype, false);
  each(cls, true);
  return count;
}

// ---------------------------------------------------------------------------------------------------
// Names

const describeKey = (key: string | symbol): string => (typeof key === 'symbol' ? `[${key.description ?? ''}]` : key);

function memberLabel(key: string | symbol, kind: string): string {
  const base = describeKey(key);
  return kind === 'getter' ? `get ${base}` : kind === 'setter' ? `set ${base}` : base;
}

const qualify = (cls: string, member: string): string => (cls ? `${cls}.${member}` : member);

/** `value.constructor.name`, or "" — never throws. */
function constructorName(value: unknown): string {
  try {
    const ctor = (value as { constructor?: unknown } | null | undefined)?.constructor;
    const name = typeof ctor === 'function' ? ctor.name : '';
    return typeof name === 'string' ? name : '';
  } catch {
    return '';
  }
}

/** The name of the class whose prototype holds `wrapper` as `key`, searching `self`'s prototype chain. */
function ownerName(self: unknown, key: string | symbol, wrapper: Function | null): string {
  try {
    let owner: unknown = self;
    while (owner !== null && (typeof owner === 'object' || typeof owner === 'function')) {
      const d = Reflect.getOwnPropertyDescriptor(owner, key);
      if (d && (d.value === wrapper || d.get === wrapper || d.set === wrapper)) {
        const ctor = Reflect.getOwnPropertyDescriptor(owner, 'constructor')?.value as unknown;
        if (typeof ctor === 'function' && typeof ctor.name === 'string') return ctor.name;
        break;
      }
      owner = Reflect.getPrototypeOf(owner);
    }
  } catch {
    // A proxy's trap threw: fall back to the constructor's name.
  }
  return constructorName(self);
}

// ---------------------------------------------------------------------------------------------------
// Where the decorator was applied

interface Place {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

// Decorator helpers of TypeScript, esbuild, Babel, SWC, oxc and reflect-metadata sit between the
// class definition and the decorator on the stack.
const HELPER_FUNCTION = /^(?:__decorate|__esDecorate|__runInitializers|__decorateElement|__decorateClass|__decoratorStart|__decorateParam|_?applyDecs\w*|_applyDecoratedDescriptor|_decorate|_ts_decorate)$/;
const HELPER_FILE = /[\\/]node_modules[\\/](?:tslib|reflect-metadata|@babel[\\/]runtime|@swc[\\/]helpers|@oxc-project[\\/]runtime)[\\/]/;

/** The first stack frame below `entry` that is not a decorator helper: where the class is defined. */
function placeOf(entry: Function): Place | null {
  try {
    for (const frame of captureFrames(entry, 16)) {
      const file = frame.getFileName();
      if (!file || file.startsWith('node:') || HELPER_FILE.test(file) || HELPER_FUNCTION.test(frame.getFunctionName() ?? '')) continue;
      return { file, line: frame.getLineNumber() ?? 0, column: frame.getColumnNumber() ?? 0 };
    }
    return null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------
// Parameters named by `log`

interface Parameter {
  /** Null for a destructuring pattern. */
  readonly name: string | null;
  readonly rest: boolean;
}

interface Logged {
  readonly name: string;
  readonly index: number;
  readonly rest: boolean;
}

const IDENTIFIER = /^[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*/u;

/** Index just past the string, template literal or comment that starts at `i`; `i` if none does. */
function skipNonCode(s: string, i: number): number {
  const c = s[i];
  if (c === '"' || c === "'") {
    let j = i + 1;
    while (j < s.length && s[j] !== c) j += s[j] === '\\' ? 2 : 1;
    return j + 1;
  }
  if (c === '`') {
    let j = i + 1;
    while (j < s.length && s[j] !== '`') {
      if (s[j] === '\\') j += 2;
      else if (s[j] === '$' && s[j + 1] === '{') j = closing(s, j + 2, '}') + 1;
      else j++;
    }
    return j + 1;
  }
  if (c === '/' && s[i + 1] === '/') {
    const end = s.indexOf('\n', i);
    return end < 0 ? s.length : end + 1;
  }
  if (c === '/' && s[i + 1] === '*') {
    const end = s.indexOf('*/', i + 2);
    return end < 0 ? s.length : end + 2;
  }
  return i;
}

/** Index of the `closer` that ends the bracketed text starting at `i` (s.length if none). */
function closing(s: string, i: number, closer: string, commas?: number[]): number {
  let depth = 0;
  while (i < s.length) {
    const next = skipNonCode(s, i);
    if (next !== i) {
      i = next;
      continue;
    }
    const c = s[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) return c === closer ? i : s.length;
      depth--;
    } else if (c === ',' && depth === 0) commas?.push(i);
    i++;
  }
  return s.length;
}

/**
 * The parameters `fn`'s source text declares, or null when it cannot be read. Handles comments,
 * strings, templates and brackets in computed keys and default values; not regular expressions
 * holding brackets or commas in default values.
 */
function parametersOf(fn: Function): Parameter[] | null {
  let s: string;
  try {
    s = Function.prototype.toString.call(fn);
  } catch {
    return null;
  }
  // The parameter list is the first `(` outside a computed key, string or comment.
  let open = -1;
  for (let i = 0, depth = 0; i < s.length; ) {
    const next = skipNonCode(s, i);
    if (next !== i) {
      i = next;
      continue;
    }
    const c = s[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (depth === 0 && c === '(') {
      open = i;
      break;
    } else if (depth === 0 && (c === '{' || (c === '=' && s[i + 1] === '>'))) break;
    i++;
  }
  if (open < 0) return null;
  const commas: number[] = [];
  const end = closing(s, open + 1, ')', commas);
  if (end >= s.length) return null;
  const bounds = [open, ...commas, end];
  const parameters: Parameter[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    let text = s.slice(bounds[k] + 1, bounds[k + 1]);
    const strip = (): void => {
      for (;;) {
        text = text.trimStart();
        const skipped = skipNonCode(text, 0);
        if (skipped === 0 || text[0] === '"' || text[0] === "'" || text[0] === '`') return;
        text = text.slice(skipped);
      }
    };
    strip();
    if (text === '') continue; // an empty list, or a trailing comma
    const rest = text.startsWith('...');
    if (rest) {
      text = text.slice(3);
      strip();
    }
    parameters.push({ name: IDENTIFIER.exec(text)?.[0] ?? null, rest });
  }
  return parameters;
}

function loggedParameters(fn: Function, names: readonly string[], where: string): Logged[] {
  if (names.length === 0) return [];
  const parameters = parametersOf(fn);
  return names.map((name) => {
    const index = parameters ? parameters.findIndex((p) => p.name === name) : -1;
    if (index < 0) {
      const list = parameters ? `(${parameters.map((p) => (p.rest ? '...' : '') + (p.name ?? '<destructured>')).join(', ')})` : 'parameters that could not be read from its source';
      throw new TypeError(`@traced: log names the parameter "${name}", but ${where} has ${list}; log takes names of simple or rest parameters`);
    }
    return { name, index, rest: parameters![index].rest };
  });
}

// ---------------------------------------------------------------------------------------------------
// Wrapping

type Kind = (typeof FrameKind)[keyof typeof FrameKind];

/** Everything a wrapper needs, made once per decorated function. */
interface Plan {
  readonly fn: Function;
  readonly kind: Kind;
  readonly task: boolean;
  readonly err: boolean;
  readonly logs: readonly Logged[];
  /** A sync call with nothing but a region: `enter`/`exit`, no Frame. */
  readonly plain: boolean;
  readonly place: Place | null;
  /** The region type, once known. */
  name: string | null;
  /** Finds the region type from `this` at the first traced call, when the decorator could not know it. */
  nameFrom: ((self: unknown) => string) | null;
  site: Site | null;
  wrapper: Function | null;
}

/** Every wrapper made here: a class decorator leaves methods traced by their own decorator alone. */
const tracedFunctions = new WeakSet<Function>();

const ASYNC_FUNCTION = Object.getPrototypeOf(async function () {}) as object;
const GENERATOR_FUNCTION = Object.getPrototypeOf(function* () {}) as object;
const ASYNC_GENERATOR_FUNCTION = Object.getPrototypeOf(async function* () {}) as object;

/** By prototype (our wrappers keep their original's), else by V8's own check (functions of another realm). */
function kindOf(fn: Function): Kind {
  const proto = Object.getPrototypeOf(fn) as unknown;
  if (proto === ASYNC_FUNCTION) return FrameKind.Async;
  if (proto === GENERATOR_FUNCTION) return FrameKind.Generator;
  if (proto === ASYNC_GENERATOR_FUNCTION) return FrameKind.AsyncGenerator;
  if (types.isGeneratorFunction(fn)) return types.isAsyncFunction(fn) ? FrameKind.AsyncGenerator : FrameKind.Generator;
  return types.isAsyncFunction(fn) ? FrameKind.Async : FrameKind.Sync;
}

function newPlan(fn: Function, settings: Settings, where: string, place: Place | null): Plan {
  const kind = kindOf(fn);
  const logs = loggedParameters(fn, settings.log, where);
  const plain = kind === FrameKind.Sync && !settings.task && !settings.err && logs.length === 0;
  return { fn, kind, task: settings.task, err: settings.err, logs, plain, place, name: settings.name, nameFrom: null, site: null, wrapper: null };
}

/** The wrapper: calls the original directly while tracing is off; looks like it otherwise. */
function wrap(plan: Plan): Function {
  const fn = plan.fn;
  // A method, like the original: no `prototype` of its own, not constructible.
  const wrapper = {
    traced(this: unknown, ...args: unknown[]): unknown {
      return S.enabled ? invoke(plan, this, args) : Reflect.apply(fn, this, args);
    },
  }.traced;
  for (const key of ['name', 'length']) {
    const d = Reflect.getOwnPropertyDescriptor(fn, key);
    if (d) Object.defineProperty(wrapper, key, d);
    else Reflect.deleteProperty(wrapper, key);
  }
  // An async wrapper still passes for an AsyncFunction (`fn.constructor`, `instanceof`), and so on.
  Object.setPrototypeOf(wrapper, Object.getPrototypeOf(fn) as object | null);
  if (plan.kind === FrameKind.Generator || plan.kind === FrameKind.AsyncGenerator) {
    const d = Reflect.getOwnPropertyDescriptor(fn, 'prototype');
    if (d) Object.defineProperty(wrapper, 'prototype', d);
  }
  plan.wrapper = wrapper;
  tracedFunctions.add(wrapper);
  return wrapper;
}

function siteOf(plan: Plan, self: unknown): Site {
  if (plan.site) return plan.site;
  const type = (plan.name ??= plan.nameFrom ? plan.nameFrom(self) : 'traced');
  let location = 0;
  const place = plan.place;
  if (place) {
    try {
      location = resolveLocation(place.file, place.line, place.column, type);
    } catch {
      location = 0;
    }
  }
  return (plan.site = { type, location, task: plan.task });
}

/**
 * The first argument that is a tstrace Context: `background`, or an object with its own `task` being
 * a Task. Proxies are not inspected, and getters are not run: looking must not be observable.
 */
function contextIn(args: readonly unknown[]): Context | undefined {
  for (const arg of args) {
    if (arg === background) return background;
    if (typeof arg !== 'object' || arg === null || types.isProxy(arg)) continue;
    try {
      if (Object.hasOwn(arg, 'task') && Reflect.getOwnPropertyDescriptor(arg, 'task')?.value instanceof Task) return arg as Context;
    } catch {
      // Not a context.
    }
  }
  return undefined;
}

function logParameters(plan: Plan, f: Frame, args: readonly unknown[]): void {
  for (const { name, index, rest } of plan.logs) param(f, name, rest ? args.slice(index) : args[index]);
}

/** A traced call while tracing is on. Only the original function may throw from here. */
function invoke(plan: Plan, self: unknown, args: unknown[]): unknown {
  let site: Site;
  let ctx: Context | undefined;
  try {
    site = siteOf(plan, self);
    ctx = contextIn(args);
  } catch {
    return Reflect.apply(plan.fn, self, args);
  }
  switch (plan.kind) {
    case FrameKind.Async:
      return invokeAsync(plan, site, ctx, self, args);
    case FrameKind.Generator:
    case FrameKind.AsyncGenerator: {
      const generator: unknown = Reflect.apply(plan.fn, self, args);
      if (typeof generator === 'object' && generator !== null) traceGenerator(plan, site, ctx, generator, args);
      return generator;
    }
    default:
      return invokeSync(plan, site, ctx, self, args);
  }
}

function invokeSync(plan: Plan, site: Site, ctx: Context | undefined, self: unknown, args: unknown[]): unknown {
  if (plan.plain) {
    const region = enter(site, ctx);
    try {
      return Reflect.apply(plan.fn, self, args);
    } finally {
      exit(region);
    }
  }
  const f = call(site, ctx, FrameKind.Sync);
  try {
    logParameters(plan, f, args);
    return Reflect.apply(plan.fn, self, args);
  } catch (error) {
    if (plan.err) thrown(f, error);
    throw error;
  } finally {
    finish(f);
  }
}

const rethrow = (error: unknown): never => {
  throw error;
};

function invokeAsync(plan: Plan, site: Site, ctx: Context | undefined, self: unknown, args: unknown[]): unknown {
  // Enters the call's own flow and context: the body runs in them up to its first await, and the
  // continuations after its awaits too (they keep the scope they were created in).
  const f = call(site, ctx, FrameKind.Async);
  let result: unknown;
  try {
    logParameters(plan, f, args);
    result = Reflect.apply(plan.fn, self, args);
  } catch (error) {
    // Not from a real async function (it rejects instead); a wrapper of one could.
    if (plan.err) thrown(f, error);
    finish(f);
    throw error;
  }
  if (!(result instanceof Promise)) {
    finish(f);
    return result;
  }
  // Created in the call's scope, so the error log lands on the call's flow. The caller gets this
  // promise, not the method's: `returning` watches the method's own promise to end the region when it
  // settles, which marks it handled — an ignored rejection must still be reported, on this one.
  const settled = result.then(
    undefined,
    plan.err
      ? (error: unknown) => {
          thrown(f, error);
          throw error;
        }
      : rethrow,
  );
  returning(f, result);
  finish(f); // the caller's scope back; the region stays open until `result` settles
  return settled;
}

/** Puts back the scope of the code that resumed a generator (a Frame restores that of its first caller). */
function backTo(f: Frame, resumer: Scope | undefined): void {
  const als = S.als;
  if (f.scope && als && als.getStore() !== resumer) als.enterWith(resumer as Scope);
}

const isDone = (result: unknown): boolean => {
  try {
    return typeof result !== 'object' || result === null || (result as { done?: unknown }).done === true;
  } catch {
    return true;
  }
};

type Method = (...args: unknown[]) => unknown;

/**
 * Gives the generator own `next`/`throw`/`return` that make each resumption — from the call to the
 * next `yield`, return or throw (for an async generator: until the request's promise settles) — one
 * occurrence of the region, the first one with the Frame (and task) of the call.
 */
function traceGenerator(plan: Plan, site: Site, ctx: Context | undefined, generator: object, args: readonly unknown[]): void {
  const original = generator as { next?: unknown; throw?: unknown; return?: unknown };
  const next = original.next;
  const raise = original.throw;
  const close = original.return;
  if (typeof next !== 'function') return;
  const isAsync = plan.kind === FrameKind.AsyncGenerator;
  let frame: Frame | null = null;
  let closed = false;
  let running = false;
  let pending = 0;

  const begin = (): Frame => {
    if (frame === null) {
      frame = call(site, ctx, isAsync ? FrameKind.AsyncGenerator : FrameKind.Generator);
      logParameters(plan, frame, args);
    } else resumed(frame);
    return frame;
  };
  const end = (f: Frame, done: boolean): void => {
    if (done) closed = true;
    if (closed) finish(f);
    else yielding(f, undefined);
  };

  const step = (method: unknown, input: unknown[]): unknown => {
    // Closed, re-entered, or closed before it started (its body does not run): nothing to record.
    if (typeof method !== 'function' || closed || running || (frame === null && method !== next)) {
      if (frame === null && method !== next) closed = true;
      return Reflect.apply(method as Method, generator, input);
    }
    const resumer = currentScope();
    if (!isAsync) {
      const f = begin();
      let result: unknown;
      running = true;
      try {
        result = Reflect.apply(method as Method, generator, input);
      } catch (error) {
        if (plan.err) thrown(f, error);
        end(f, true);
        backTo(f, resumer);
        throw error;
      } finally {
        running = false;
      }
      end(f, isDone(result));
      backTo(f, resumer);
      return result;
    }
    // An async generator queues requests: the region covers the time some request is pending.
    const f = pending++ === 0 ? begin() : frame!;
    let promise: unknown;
    try {
      promise = Reflect.apply(method as Method, generator, input);
    } catch (error) {
      if (--pending === 0) end(f, true);
      backTo(f, resumer);
      throw error;
    }
    if (!(promise instanceof Promise)) {
      if (--pending === 0) end(f, false);
      backTo(f, resumer);
      return promise;
    }
    const settled = promise.then(
      (result: unknown) => {
        if (isDone(result)) closed = true;
        if (--pending === 0) end(f, closed);
        return result;
      },
      (error: unknown) => {
        if (plan.err) thrown(f, error);
        closed = true;
        if (--pending === 0) end(f, true);
        throw error;
      },
    );
    backTo(f, resumer);
    return settled;
  };

  const methods = {
    next(...input: unknown[]): unknown {
      return step(next, input);
    },
    throw(...input: unknown[]): unknown {
      return step(raise, input);
    },
    return(...input: unknown[]): unknown {
      return step(close, input);
    },
  };
  for (const key of ['next', 'throw', 'return'] as const) {
    Object.defineProperty(generator, key, { value: methods[key], writable: true, configurable: true, enumerable: false });
  }
}
