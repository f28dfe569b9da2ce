// The contenders: one operation each, in loops of identical shape.
//
//   function loopX(n) { for (let i = 0; i < n; i++) { <operation> } return checksum(); }
//
// Dead-code elimination: every operation either records into a buffer that outlives the loop or calls
// `work`, which updates a module-level counter returned by the loop; nothing is provably unused.
import { tracingChannel } from 'node:diagnostics_channel';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BasicTracerProvider, NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { runtimeDir } from './runtime-dir.mjs';

const { background, log, newTask, start, startRegion, stop, withRegion } = await import(`${runtimeDir}/runtime/index.js`);
// What compiled code calls: a sync function's region is `enter`/`exit` around its body.
const { enter, exit, site } = await import(`${runtimeDir}/runtime/instrument.js`);
// Read-only: the recorder's counters, to prove that no event was dropped during a timed round.
const { S } = await import(`${runtimeDir}/runtime/recorder.js`);

export const tracePath = join(tmpdir(), `tstrace-bench-${process.pid}.trace`);

// A context with a task, as instrumented code would usually have (created while tracing is off;
// task ids are used up either way).
const [ctx] = newTask(background, 'bench');

// The function every "call fn" contender runs: cheap, but with an effect the optimiser must keep.
let counter = 0;
function work() {
  counter = (counter + 1) | 0;
  return counter;
}
const checksum = () => counter + ideal[1] + S.count;

// ---------------------------------------------------------------------------------------------------
// Tracing on: each timed round runs between start() (defaults: gc, heap, eventLoop on) and stop().
// Events dropped during a round would make it look cheaper than it is, so they fail the run.
const droppedInRounds = { events: 0 };
export { droppedInRounds };
const tracingOn = {
  phase: 'on',
  setup() {
    start(tracePath);
  },
  async teardown() {
    // stop() does not reset the counters, so they cover this round's events exactly.
    droppedInRounds.events += S.trace.dropped;
    await stop();
  },
};

function loopStartRegionOn(n) {
  for (let i = 0; i < n; i++) {
    startRegion(ctx, 'x').end();
  }
  return checksum();
}
const benchSite = site('x', 'bench.ts', 1, 1, 'x');
function loopCompiledOn(n) {
  for (let i = 0; i < n; i++) {
    exit(enter(benchSite, ctx));
  }
  return checksum();
}
function loopWithRegionOn(n) {
  for (let i = 0; i < n; i++) {
    withRegion(ctx, 'x', work);
  }
  return checksum();
}
function loopNewTaskOn(n) {
  for (let i = 0; i < n; i++) {
    newTask(ctx, 't')[1].end();
  }
  return checksum();
}
function loopLogOn(n) {
  for (let i = 0; i < n; i++) {
    log(ctx, 'cat', 'msg');
  }
  return checksum();
}

// ---------------------------------------------------------------------------------------------------
// Tracing off.
function loopEmpty(n) {
  for (let i = 0; i < n; i++) {
    // nothing
  }
  return checksum();
}
function loopPlainCall(n) {
  for (let i = 0; i < n; i++) {
    work();
  }
  return checksum();
}
function loopStartRegionOff(n) {
  for (let i = 0; i < n; i++) {
    startRegion(ctx, 'x').end();
  }
  return checksum();
}
function loopWithRegionOff(n) {
  for (let i = 0; i < n; i++) {
    withRegion(ctx, 'x', work);
  }
  return checksum();
}

// ---------------------------------------------------------------------------------------------------
// The physical limit: what a region start+end must do at least — two reads of the runtime's clock
// (performance.now) and 6 float64 stores per event into a ring buffer.
const STRIDE = 6;
const ideal = new Float64Array(8192 * STRIDE);
let idealPos = 0;
function idealRecord(type, flow, task, a, b) {
  const i = idealPos;
  ideal[i] = performance.now();
  ideal[i + 1] = type;
  ideal[i + 2] = flow;
  ideal[i + 3] = task;
  ideal[i + 4] = a;
  ideal[i + 5] = b;
  idealPos = i + STRIDE === ideal.length ? 0 : i + STRIDE;
}
function loopIdeal(n) {
  for (let i = 0; i < n; i++) {
    idealRecord(6, 1, 1, 0, 0);
    idealRecord(7, 1, -1, 0, 0);
  }
  return checksum();
}

// One read of the clock the runtime uses: the unit the ideal recorder is made of.
let clockSink = 0;
function loopClock(n) {
  for (let i = 0; i < n; i++) {
    clockSink = performance.now();
  }
  return checksum() + (clockSink > 0 ? 0 : 1);
}

// User Timing: a mark at the start, a measure from it at the end. The global buffer is cleared every
// 4096 operations (the clearing is part of the cost, as it would be in a long-running program).
function loopUserTiming(n) {
  for (let i = 0; i < n; i++) {
    performance.mark('x');
    performance.measure('x', 'x');
    if ((i & 4095) === 4095) {
      performance.clearMarks();
      performance.clearMeasures();
    }
  }
  performance.clearMarks();
  performance.clearMeasures();
  return checksum();
}

// OpenTelemetry SDK: real spans (sampled, with ids and timestamps), given to a processor that does nothing.
const otelTracer = new BasicTracerProvider({ spanProcessors: [new NoopSpanProcessor()] }).getTracer('bench');
function loopOtel(n) {
  for (let i = 0; i < n; i++) {
    otelTracer.startSpan('x').end();
  }
  return checksum();
}

// diagnostics_channel tracing channel with a subscriber (handlers that do nothing).
const channel = tracingChannel('tstrace-bench');
const noop = () => {};
channel.subscribe({ start: noop, end: noop, asyncStart: noop, asyncEnd: noop, error: noop });
function loopTracingChannel(n) {
  for (let i = 0; i < n; i++) {
    channel.traceSync(work);
  }
  return checksum();
}

/** `events`: trace events one operation records (for events/s in the table). */
export const contenders = [
  { name: 'empty loop', key: 'empty', phase: 'off', loop: loopEmpty },
  { name: 'plain call fn()', key: 'plain', phase: 'off', loop: loopPlainCall },
  { name: 'startRegion(ctx,"x").end()', key: 'regionOff', phase: 'off', loop: loopStartRegionOff },
  { name: 'withRegion(ctx,"x",fn)', key: 'withRegionOff', phase: 'off', loop: loopWithRegionOff },
  { name: 'startRegion(ctx,"x").end()', key: 'regionOn', ...tracingOn, loop: loopStartRegionOn, events: 2 },
  { name: 'compiled sync region: enter/exit', key: 'compiledOn', ...tracingOn, loop: loopCompiledOn, events: 2 },
  { name: 'withRegion(ctx,"x",fn)', key: 'withRegionOn', ...tracingOn, loop: loopWithRegionOn, events: 2 },
  { name: 'newTask(ctx,"t") + task.end()', key: 'taskOn', ...tracingOn, loop: loopNewTaskOn, events: 2 },
  { name: 'log(ctx,"cat","msg")', key: 'logOn', ...tracingOn, loop: loopLogOn, events: 1 },
  { name: 'ideal recorder: 2×(now()+6 stores)', key: 'ideal', phase: 'peer', loop: loopIdeal, events: 2 },
  { name: 'one clock read: performance.now()', key: 'clock', phase: 'peer', loop: loopClock },
  { name: 'User Timing mark+measure', key: 'userTiming', phase: 'peer', loop: loopUserTiming, warmN: 50_000 },
  { name: 'OTel SDK startSpan().end()', key: 'otel', phase: 'peer', loop: loopOtel, warmN: 50_000 },
  { name: 'tracingChannel.traceSync(fn)', key: 'tracingChannel', phase: 'peer', loop: loopTracingChannel },
];
