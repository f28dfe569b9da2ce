// Runs the scenarios of compiled fixture modules and prints what they observed, as JSON.
// Usage: node run-fixtures.mjs OUTDIR off|on TRACEFILE module.js...
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { start, stop } from 'tstrace';

const [outDir, mode, tracePath, ...modules] = process.argv.slice(2);

/** A JSON-comparable description of any value; identity checks are made by the fixtures themselves. */
function describe(value, depth = 0) {
  if (value === undefined) return '<undefined>';
  if (typeof value === 'number' && !Number.isFinite(value)) return `<${value}>`;
  if (typeof value === 'bigint' || typeof value === 'symbol') return `<${value.toString()}>`;
  if (typeof value === 'function') return { function: value.name, length: value.length };
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { error: value.constructor.name, message: value.message };
  if (value instanceof Promise) return '<promise>';
  if (depth > 3) return '<deep>';
  if (Array.isArray(value)) return value.map((v) => describe(v, depth + 1));
  const out = { '<class>': value.constructor?.name ?? null };
  for (const key of Object.keys(value)) out[key] = describe(value[key], depth + 1);
  return out;
}

if (mode === 'on') start(tracePath, { gc: false, heap: false, eventLoop: false });
const observations = {};
for (const module of modules) {
  const loaded = await import(pathToFileURL(join(outDir, module)).href);
  const scenarios = loaded.scenarios ?? loaded.default?.scenarios;
  for (const [name, scenario] of Object.entries(scenarios)) {
    const log = [];
    const observe = (label, value) => log.push([label, describe(value)]);
    try {
      await scenario(observe);
    } catch (error) {
      log.push(['uncaught', describe(error)]);
    }
    observations[`${module}:${name}`] = log;
  }
}
if (mode === 'on') await stop();
process.stdout.write(JSON.stringify(observations));
