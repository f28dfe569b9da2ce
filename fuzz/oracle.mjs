// The oracle of one fuzz case: every entry point of `tstrace/reader` (readTrace, summarizeTrace,
// analyzeTrace, exportChrome, exportGo) either succeeds or reports a documented clear status — they
// never reject for damaged bytes (docs/cli.md, "From code"), never take long, never allocate much — and
// they agree with each other.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { getHeapStatistics } from 'node:v8';
import { chromeRuleProblems } from './chrome-rules.mjs';
import { analyzeTrace, exportChrome, exportGo, readTrace, summarizeTrace } from 'tstrace/reader';

/** The newest format version docs/format.md defines (its title says it): a header may say any of 1 to it. */
const FORMAT_VERSION = Number(/^# The tstrace trace format, version (\d+)/.exec(readFileSync(new URL('../docs/format.md', import.meta.url), 'utf8'))?.[1]);
if (!(FORMAT_VERSION >= 1)) throw new Error('fuzz/oracle.mjs: docs/format.md does not say its version in its title');

const MB = 1024 * 1024;
const EVENT_KINDS = new Set(['flowStart', 'taskCreate', 'taskEnd', 'regionStart', 'regionEnd', 'log', 'gc', 'heap', 'eventLoop', 'dropped', 'misuse', 'run']);
const PROBLEM_KINDS = new Set(['truncated', 'corrupt', 'unfinished']);
const GO_HEADER = Buffer.concat([Buffer.from('go 1.19 trace', 'latin1'), Buffer.alloc(3)]);

/** JSON with bigints (the header's clock origins) as strings. */
export const toJson = (value) => JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? `${v}n` : v));

/** Heap and external bytes in use (external memory includes array buffers); cheaper than process.memoryUsage(). */
function memoryInUse() {
  const h = getHeapStatistics();
  return h.used_heap_size + h.external_memory;
}

/** Peak resident set size of this process so far, bytes (read once a case: the call is not cheap). */
const peakRss = () => process.resourceUsage().maxRSS * 1024;
let lastPeakRss = peakRss();

/** A Writable that keeps what it is given (the exports' output: text from exportChrome, bytes from exportGo). */
function sink() {
  const chunks = [];
  const out = new Writable({
    decodeStrings: false,
    write(chunk, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  out.text = () => chunks.map((c) => (typeof c === 'string' ? c : Buffer.from(c).toString('utf8'))).join('');
  out.bytes = () => Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
  return out;
}

/** What the reader is given: the bytes, an async iterable of chunks of the case's sizes, or a file path. */
function sourceOf(c, bytes, file) {
  if (c.feed.mode === 'file') return file;
  if (c.feed.mode === 'bytes') return bytes;
  const sizes = c.feed.sizes;
  return (async function* chunks() {
    let k = 0;
    for (let at = 0; at < bytes.length; ) {
      const size = sizes[k++ % sizes.length];
      yield bytes.subarray(at, at + size);
      at += size;
    }
  })();
}

/** Problems with a read status: it must say clearly how reading ended. */
function statusProblems(status, length) {
  const bad = [];
  if (!status || typeof status !== 'object') return ['no status object'];
  if (typeof status.complete !== 'boolean') bad.push('status.complete is not a boolean');
  if (status.complete !== (status.problem === null)) bad.push(`status.complete is ${status.complete} with problem ${toJson(status.problem)}`);
  if (!Number.isInteger(status.bytesRead) || status.bytesRead < 0 || status.bytesRead > length) bad.push(`status.bytesRead ${status.bytesRead} out of 0..${length}`);
  if (status.complete && (!status.header || !status.footer)) bad.push('complete without header and footer');
  const p = status.problem;
  if (p !== null) {
    if (!PROBLEM_KINDS.has(p.kind)) bad.push(`unknown problem kind ${p.kind}`);
    if (!Number.isInteger(p.offset) || p.offset < 0 || p.offset > length) bad.push(`problem offset ${p.offset} out of 0..${length}`);
    if (p.kind !== 'corrupt' && p.offset !== status.bytesRead) bad.push(`${p.kind} at ${p.offset}, but bytesRead is ${status.bytesRead}`);
    if (p.kind === 'corrupt' && p.offset < status.bytesRead) bad.push(`corrupt at ${p.offset}, before bytesRead ${status.bytesRead}`);
    if (typeof p.reason !== 'string' || p.reason.length < 10 || /undefined|NaN|\[object/.test(p.reason)) bad.push(`unclear reason ${toJson(p.reason)}`);
  }
  if (status.header) {
    const h = status.header;
    if (!(h.version >= 1 && h.version <= FORMAT_VERSION)) bad.push(`header version ${h.version}`);
    if (!Number.isSafeInteger(h.pid) || typeof h.wallClockOriginNs !== 'bigint' || typeof h.hrtimeOriginNs !== 'bigint') bad.push('malformed header');
  }
  return bad;
}

/** Whether two event lists are equal, field by field (locations by value). */
function sameEvents(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    for (const key in x) {
      const u = x[key];
      const v = y[key];
      if (u === v) continue;
      if (key !== 'location' || u === null || v === null || u.file !== v.file || u.line !== v.line || u.column !== v.column || u.function !== v.function) return false;
    }
  }
  return true;
}

/** Problems with an event as the reader delivers it. */
function eventProblem(e) {
  if (!EVENT_KINDS.has(e.kind)) return `unknown event kind ${e.kind}`;
  if (typeof e.ts !== 'number' || !(e.ts >= 0) || !Number.isFinite(e.ts)) return `${e.kind} with ts ${e.ts}`;
  if ('flow' in e && !Number.isSafeInteger(e.flow)) return `${e.kind} with flow ${e.flow}`;
  if (e.kind === 'run' && !(e.duration >= 0 && (e.queued === null || e.queued >= 0))) return `run with duration ${e.duration}, queued ${e.queued}`;
  return null;
}

/**
 * Runs every entry point on case `c` (`{ bytes, feed }`). Returns `{ failures: [{ entry, message }],
 * outcome, events, ms: { entry: ms }, totalMs, memory: bytes grown at most, rss: peak RSS grown }`.
 * `tmpDir` is where a file-fed case is written; `timeBoundMs` the time one case may take.
 */
export async function checkCase(c, { tmpDir, timeBoundMs = 5000, memoryBoundBytes = 100 * MB }) {
  const bytes = c.bytes;
  const file = c.feed.mode === 'file' ? join(tmpDir, `case-${process.pid}.trace`) : null;
  if (file) writeFileSync(file, bytes);
  const failures = [];
  const ms = {};
  const memoryBefore = memoryInUse();
  let memory = 0;
  const fail = (entry, message) => failures.push({ entry, message });

  /** Runs one entry point: a rejection is a failure (damaged bytes are not an I/O error). */
  async function run(entry, body) {
    const t0 = performance.now();
    try {
      return await body();
    } catch (error) {
      const stack = error instanceof Error ? (error.stack ?? '').split('\n').slice(0, 6).join('\n') : '';
      fail(entry, `rejected: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}${stack ? `\n${stack}` : ''}`);
      return null;
    } finally {
      ms[entry] = performance.now() - t0;
      memory = Math.max(memory, memoryInUse() - memoryBefore);
    }
  }

  // readTrace, fed as the case says; then from the whole bytes, which must read the same.
  const events = [];
  const status = await run('readTrace', () =>
    readTrace(sourceOf(c, bytes, file), (e) => {
      events.push(e);
    }),
  );
  let outcome = 'rejected';
  if (status) {
    for (const problem of statusProblems(status, bytes.length)) fail('readTrace', problem);
    const bad = events.map(eventProblem).find((p) => p !== null);
    if (bad) fail('readTrace', bad);
    outcome = status.complete ? 'complete' : !status.header ? `${status.problem?.kind}-noHeader` : status.problem.kind;
    if (c.feed.mode !== 'bytes') {
      const whole = [];
      const wholeStatus = await run('readTrace(bytes)', () => readTrace(bytes, (e) => whole.push(e)));
      if (wholeStatus && toJson(wholeStatus) !== toJson(status)) fail('readTrace', `status differs between ${c.feed.mode} and whole bytes: ${toJson(status)} vs ${toJson(wholeStatus)}`);
      if (!sameEvents(whole, events)) fail('readTrace', `events differ between ${c.feed.mode} (${events.length}) and whole bytes (${whole.length})`);
    }
  }
  const sameStatus = (entry, other) => {
    for (const problem of statusProblems(other, bytes.length)) fail(entry, problem);
    if (status && toJson(other) !== toJson(status)) fail(entry, `status differs from readTrace's: ${toJson(other)} vs ${toJson(status)}`);
  };

  const stats = await run('summarizeTrace', () => summarizeTrace(sourceOf(c, bytes, file)));
  let statsJson = null;
  if (stats) {
    sameStatus('summarizeTrace', stats.status);
    if (stats.summary.events !== events.length) fail('summarizeTrace', `summary.events ${stats.summary.events}, read ${events.length}`);
    try {
      statsJson = toJson({ ...stats, status: null });
    } catch (error) {
      fail('summarizeTrace', `not serializable: ${error}`);
    }
  }

  // The lists' JSON is the CLI's business (checked there); here, that the statistics are summarizeTrace's.
  const analysis = await run('analyzeTrace', () => analyzeTrace(sourceOf(c, bytes, file)));
  if (analysis) {
    sameStatus('analyzeTrace', analysis.status);
    if (analysis.summary.events !== events.length) fail('analyzeTrace', `summary.events ${analysis.summary.events}, read ${events.length}`);
    if (analysis.tasks.length !== analysis.summary.tasks || analysis.regions.length !== analysis.summary.regions || analysis.logs.length !== analysis.summary.logs) {
      fail('analyzeTrace', 'list lengths differ from the summary counts');
    }
    const { tasks, regions, logs, ...analysisStats } = analysis;
    if (statsJson !== null && statsJson !== toJson({ ...analysisStats, status: null })) fail('analyzeTrace', 'statistics differ from summarizeTrace');
  }

  const chromeOut = sink();
  const chrome = await run('exportChrome', () => exportChrome(sourceOf(c, bytes, file), chromeOut));
  if (chrome) {
    sameStatus('exportChrome', chrome.status);
    const text = chromeOut.text();
    if (chrome.status.header) {
      try {
        const doc = JSON.parse(text);
        if (!Array.isArray(doc.traceEvents)) fail('exportChrome', 'no traceEvents array');
        else if (doc.traceEvents.length !== chrome.events) fail('exportChrome', `${doc.traceEvents.length} events written, ${chrome.events} reported`);
        else for (const problem of chromeRuleProblems(doc)) fail('exportChrome', `breaks a rule of docs/export.md: ${problem}`);
      } catch (error) {
        fail('exportChrome', `output is not JSON: ${error.message}`);
      }
    }
    if (!Array.isArray(chrome.warnings) || chrome.warnings.some((w) => typeof w !== 'string' || !w)) fail('exportChrome', 'malformed warnings');
  }

  const goOut = sink();
  const go = await run('exportGo', () => exportGo(sourceOf(c, bytes, file), goOut));
  if (go) {
    sameStatus('exportGo', go.status);
    const out = goOut.bytes();
    if (go.status.header && !out.subarray(0, 16).equals(GO_HEADER)) fail('exportGo', 'output does not start with the Go trace header');
    if (!Array.isArray(go.warnings) || go.warnings.some((w) => typeof w !== 'string' || !w)) fail('exportGo', 'malformed warnings');
  }

  const totalMs = Object.values(ms).reduce((a, b) => a + b, 0);
  if (totalMs > timeBoundMs) fail('time', `the entry points took ${Math.round(totalMs)} ms together, more than the bound of ${timeBoundMs} ms (${toJson(roundAll(ms))})`);
  const peak = peakRss();
  const rss = peak - lastPeakRss;
  lastPeakRss = peak;
  if (memory > memoryBoundBytes) fail('memory', `memory in use grew by ${(memory / MB).toFixed(1)} MB, more than the bound of ${memoryBoundBytes / MB} MB`);
  if (rss > memoryBoundBytes) fail('memory', `peak RSS grew by ${(rss / MB).toFixed(1)} MB, more than the bound of ${memoryBoundBytes / MB} MB`);
  return { failures, outcome, events: events.length, ms, totalMs, memory, rss };
}

function roundAll(ms) {
  return Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round(v)]));
}
