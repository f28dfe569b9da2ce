// tstrace/otel's live bridge against the OpenTelemetry SDK by hand, in one run (Node running this file):
// one operation = a task with three regions, made
//   - by hand with the SDK, as people write it: `tracer.startActiveSpan` for the task and each region
//     (what gives the right parents in async code), and with explicit parents (`startSpan` with a
//     context: no context switch, the least the SDK can do);
//   - by tstrace with the bridge on: `newTask` + 3 × `withRegion` + `end`, tracing to a file, the spans
//     made by the bridge;
//   - by tstrace with the bridge off (the annotation-only figure: the bridge costs nothing when off).
// Same provider for all: BasicTracerProvider, AlwaysOn sampler, a BatchSpanProcessor whose exporter
// drops the spans, the AsyncLocalStorage context manager. Goal: bridge on ≤ 1× the SDK by hand.
//
//   npm run build && node bench/otel.mjs [--quick]        (also part of `npm run bench`)
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { runSuite } from './harness.mjs';
import { lpad, pad } from './machine.mjs';
import { runtimeDir } from './runtime-dir.mjs';

const { background, newTask, start, stop, withRegion } = await import(`${runtimeDir}/runtime/index.js`);
const { enableOtelBridge } = await import(`${runtimeDir}/otel/index.js`);

const tracePath = join(tmpdir(), `tstrace-bench-otel-${process.pid}.trace`);

let exported = 0;
/** Counts the spans and drops them (result code 0 is ExportResultCode.SUCCESS). */
const droppingExporter = {
  export(spans, done) {
    exported += spans.length;
    done({ code: 0 });
  },
  shutdown: async () => {},
  forceFlush: async () => {},
};

let counter = 0;
function work() {
  counter = (counter + 1) | 0;
  return counter;
}

/** Measures; returns { results, exported }. */
export async function measureOtelBridge({ quick = false } = {}) {
  const config = quick ? { rounds: 3, warmups: 1, roundMs: 50, minN: 10_000, maxN: 50_000 } : { rounds: 9, warmups: 2, roundMs: 200, minN: 20_000, maxN: 200_000 };
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(droppingExporter)] });
  const tracer = provider.getTracer('bench');
  const checksum = () => counter;

  function loopActive(n) {
    for (let i = 0; i < n; i++) {
      tracer.startActiveSpan('task', (task) => {
        for (let r = 0; r < 3; r++) {
          tracer.startActiveSpan('region', (region) => {
            work();
            region.end();
          });
        }
        task.end();
      });
    }
    return checksum();
  }
  function loopExplicit(n) {
    for (let i = 0; i < n; i++) {
      const task = tracer.startSpan('task');
      const parent = trace.setSpan(context.active(), task);
      for (let r = 0; r < 3; r++) {
        const region = tracer.startSpan('region', undefined, parent);
        work();
        region.end();
      }
      task.end();
    }
    return checksum();
  }
  function loopTstrace(n) {
    for (let i = 0; i < n; i++) {
      const [ctx, task] = newTask(background, 'task');
      withRegion(ctx, 'region', work);
      withRegion(ctx, 'region', work);
      withRegion(ctx, 'region', work);
      task.end();
    }
    return checksum();
  }

  let bridge = null;
  const contenders = [
    { key: 'active', name: 'SDK by hand: startActiveSpan', loop: loopActive },
    { key: 'explicit', name: 'SDK by hand: startSpan, explicit parents', loop: loopExplicit },
    {
      key: 'bridge',
      name: 'tstrace, bridge on',
      loop: loopTstrace,
      setup() {
        start(tracePath, { gc: false, heap: false, eventLoop: false });
        bridge = enableOtelBridge({ tracerProvider: provider });
      },
      async teardown() {
        bridge.disable();
        await stop();
      },
    },
    {
      key: 'off',
      name: 'tstrace, bridge off (annotations only)',
      loop: loopTstrace,
      setup() {
        start(tracePath, { gc: false, heap: false, eventLoop: false });
      },
      teardown: () => stop(),
    },
  ];
  const results = await runSuite(contenders, config);
  await provider.shutdown();
  // The global context manager is this part's only: the transformer's part registers its own after it.
  context.disable();
  rmSync(tracePath, { force: true });
  return { results: results.map(({ contender: c, n, median, min, max }) => ({ key: c.key, name: c.name, n, median, min, max })), exported };
}

export function printOtelBridge({ results, exported }) {
  const by = Object.fromEntries(results.map((r) => [r.key, r]));
  console.log(`\nOpenTelemetry bridge (bench/otel.mjs, node ${process.version}): a task with three regions, BatchSpanProcessor, spans dropped`);
  console.log(`${pad('operation', 44)}${lpad('µs/op', 9)}${lpad('min–max', 16)}${lpad('× by hand', 11)}`);
  for (const r of results) {
    console.log(pad(r.name, 44) + lpad((r.median / 1000).toFixed(2), 9) + lpad(`${(r.min / 1000).toFixed(2)}–${(r.max / 1000).toFixed(2)}`, 16) + lpad((r.median / by.active.median).toFixed(2), 11));
  }
  const ratio = by.bridge.median / by.active.median;
  const explicit = by.bridge.median / by.explicit.median;
  console.log(`  bridge on / SDK by hand (startActiveSpan) ≤ 1×: ${ratio <= 1 ? 'met' : 'NOT MET'}  ${ratio.toFixed(2)}×  (vs explicit parents: ${explicit.toFixed(2)}×)`);
  console.log(`  bridge off: ${(by.off.median / 1000).toFixed(2)} µs per task + 3 regions (annotations only; the bridge adds nothing when off: compare hot-path figures with TSTRACE_BENCH_DIST)`);
  console.log(`  spans exported (and dropped) by the processor: ${exported.toLocaleString('en-US')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  printOtelBridge(await measureOtelBridge({ quick: process.argv.includes('--quick') }));
}
