// The sync method calls of bench/transformer.mjs with tracing off, in a process that never starts
// tracing: the instrumented code and the runtime functions it calls have only ever seen the off path,
// so V8 optimises them for it alone. (In the main bench process every function also runs with
// tracing on, as in a program that turns tracing on and off; V8 then optimises the on path into the
// instrumented method too.) Run as a child process by bench/transformer.mjs, after the fixtures are
// compiled; prints JSON.
//
//   node bench/transformer-off.mjs FIXTURES_DIR '{"rounds":9,"warmups":2,"roundMs":50,"minN":…,"maxN":…}'
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runSuite } from './harness.mjs';

const [outRoot, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson);
const traced = await import(pathToFileURL(join(outRoot, 'traced', 'methods.js')).href);
const untraced = await import(pathToFileURL(join(outRoot, 'plain', 'methods.js')).href);
const plain = new untraced.Plain();
const compiled = new traced.Instrumented();
const decorated = new untraced.Instrumented();
const hand = new untraced.HandWritten();

function syncPlain(n) {
  const o = plain;
  for (let i = 0; i < n; i++) o.add(1);
  return o.total;
}
function syncCompiled(n) {
  const o = compiled;
  for (let i = 0; i < n; i++) o.add(1);
  return o.total;
}
function syncHand(n) {
  const o = hand;
  for (let i = 0; i < n; i++) o.add(1);
  return o.total;
}
function syncDecorated(n) {
  const o = decorated;
  for (let i = 0; i < n; i++) o.add(1);
  return o.total;
}

const contenders = [
  { key: 'plainNever', name: 'uninstrumented  o.add(x)', loop: syncPlain },
  { key: 'compiledNever', name: 'instrumented (tspc, @traced)', loop: syncCompiled },
  { key: 'handNever', name: 'hand-written startRegion/end', loop: syncHand },
  { key: 'decoratedNever', name: 'runtime @traced (tsc, TC39)', loop: syncDecorated },
];
const results = await runSuite(contenders, config);
process.stdout.write(JSON.stringify(results.map(({ contender, n, samples, median, min, max }) => ({ key: contender.key, name: contender.name, n, samples, median, min, max }))));
