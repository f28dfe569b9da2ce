// Reading a big trace, run by bench/run.mjs after the other parts: the time and peak memory to read and
// summarize a 10-million-event trace (1 million with --quick) in bounded memory, side by side with Go 1.19's loader
// (`go tool trace -d`) reading our Go-format export of the same trace. Figures, not assertions: the
// target is printed as met / not met.
//
//   node bench/reader.mjs [--quick]    this part alone (needs a build)
//
// The trace is written by the real runtime (a service: requests in flight at once, each a task with
// sync regions, an awaited region on a flow of its own, and a log; GC and heap events on) into
// bench/.work/reader-PID/, removed at the end. Every measurement is a child process of its own, so
// each peak RSS is that of one job alone: `/usr/bin/time -v` reports it when present (for Go too),
// else the Node children report process.resourceUsage().maxRSS and Go's is not measured.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runtimeDir } from './runtime-dir.mjs';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const thisFile = fileURLToPath(import.meta.url);
const TIME = '/usr/bin/time';
const GO_CANDIDATES = ['/usr/lib/go-1.19/bin/go', 'go'];
/** Requests in flight at once while the trace is written. */
const CONCURRENCY = 64;
/** The heap readTrace is also run in, to show that its memory does not grow with the trace. */
const SMALL_HEAP_MB = 16;
/** The heap summarizeTrace is also run in: its tables and digests, not the trace, fill it. */
const SUMMARY_HEAP_MB = 64;

// ---- the children --------------------------------------------------------------------------------

/** Events a request of {@link generate} reads back as. */
const EVENTS_PER_REQUEST = 12;

/** Writes a trace of at least `target` events with the runtime; prints what was recorded. */
async function generate(path, target) {
  const { background, current, log, newTask, start, startRegion, stop, withRegion } = await import(`${runtimeDir}/runtime/index.js`);
  const { S } = await import(`${runtimeDir}/runtime/recorder.js`);
  // 12 events as the reader counts them: task create/end, 4 region pairs (one of them async, on a flow
  // of its own, with an await inside a region), a flow start, a log. The runtime records 11 (since
  // format version 7 the async region's fork and start are one event): the loop counts requests, so
  // that the trace has the same work, and as many events to read, as before.
  async function request(i) {
    const [ctx, task] = newTask(background, 'request');
    startRegion(ctx, 'parse').end();
    await withRegion(ctx, 'handle', async () => {
      const query = startRegion(current(), 'query');
      await null;
      query.end();
      log(current(), 'db', i % 100 === 0 ? `slow query ${i}` : 'ok');
    });
    startRegion(ctx, 'render').end();
    task.end();
  }
  start(path, { maxBufferedBytes: 1 << 30 });
  const t0 = performance.now();
  let requests = 0;
  while (requests * EVENTS_PER_REQUEST < target) {
    const batch = [];
    for (let k = 0; k < CONCURRENCY; k++) batch.push(request(requests++));
    await Promise.all(batch);
    // Let the background writer run, as a real service's event loop would.
    if (requests % (CONCURRENCY * 64) === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const dropped = S.trace.dropped;
  await stop();
  return { requests, dropped, seconds: (performance.now() - t0) / 1000 };
}

/** One measured job in this process: its own time (after imports) and peak RSS. */
async function child(mode, args) {
  const built = (path) => import(`${runtimeDir}/${path}.js`);
  const t0 = performance.now();
  let result;
  if (mode === 'generate') {
    result = await generate(args[0], Number(args[1]));
  } else if (mode === 'analyze') {
    const { analyzeTrace } = await built('analysis/analysis');
    globalThis.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const analysis = await analyzeTrace(args[0]);
    const s = analysis.summary;
    // Measured while the analysis is still referenced: what holding it costs. Its big columns are
    // resizable buffers, which no memoryUsage() field follows: the growth of RSS across the analysis,
    // after a collection, is counted instead (an upper bound: freed pages the allocator kept count too).
    globalThis.gc?.();
    const heapUsedMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    result = { events: s.events, tasks: s.tasks, regions: s.regions, logs: s.logs, complete: analysis.status.complete, heapUsedMb };
  } else if (mode === 'summarize') {
    const { summarizeTrace } = await built('analysis/summary');
    const stats = await summarizeTrace(args[0]);
    const s = stats.summary;
    const request = stats.taskTypes.find((t) => t.type === 'request');
    result = { events: s.events, tasks: s.tasks, regions: s.regions, logs: s.logs, complete: stats.status.complete, requestP99: request?.latency?.p99 ?? null };
  } else if (mode === 'view') {
    // What `tstrace view` does before it serves: the columns and the timeline index; then the queries a
    // page makes, each timed (median of 5).
    const { loadViewerModel, regionGroupsJson, regionsJson, tasksJson, timelineJson } = await built('viewer/model');
    // CPU time as well as wall time: on a shared, loaded machine the wall clock also counts other jobs' turns.
    const cpu = process.cpuUsage();
    const model = await loadViewerModel(args[0], '/');
    const loadMs = performance.now() - t0;
    const loaded = process.cpuUsage(cpu);
    const loadCpuMs = (loaded.user + loaded.system) / 1000;
    globalThis.gc?.(); // what the model holds, not the garbage of reading
    // The columns are typed arrays, outside the JS heap; the big ones are resizable buffers, which
    // neither `arrayBuffers` nor `external` follows once resized: they are summed here.
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    const resizable = [model.tables.regions, model.tables.tasks, model.tables.logs]
      .flatMap((table) => Object.values(table.data))
      .reduce((sum, column) => sum + (column.buffer.resizable ? column.byteLength : 0), 0);
    const heapUsedMb = (heapUsed + arrayBuffers + resizable) / 2 ** 20;
    const timed = (f) => {
      const times = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        JSON.stringify(f());
        times.push(performance.now() - started);
      }
      return times.sort((a, b) => a - b)[2];
    };
    const q = (text) => new URLSearchParams(text);
    const duration = model.stats.summary.duration;
    // The peak up to the first screen (reading, indexing, the first timeline query), before the other pages' queries.
    const firstScreen = timed(() => timelineJson(model, q('px=1200&top=0&rows=150')));
    const firstScreenRssKb = process.resourceUsage().maxRSS;
    const group = regionGroupsJson(model).find((g) => g.type === 'query');
    result = {
      firstScreenRssKb,
      loadMs,
      loadCpuMs,
      heapUsedMb,
      regions: model.stats.summary.regions,
      lanes: model.perFlow.lanes.length,
      packedLanes: model.packed().lanes.length,
      queries: {
        'timeline, whole trace, first screen': firstScreen,
        'timeline, whole trace, a screen mid-way down': timed(() => timelineJson(model, q(`px=1200&top=${Math.floor(model.perFlow.layoutRows / 2)}&rows=150`))),
        'timeline, flows packed, first screen': timed(() => timelineJson(model, q('px=1200&top=0&rows=150&lanes=packed'))),
        'timeline, 1 ms zoomed in, first screen': timed(() => timelineJson(model, q(`px=1200&from=${duration / 2}&to=${duration / 2 + 1e6}&top=0&rows=150`))),
        'task list, first page of all': timed(() => tasksJson(model, q('limit=500'))),
        'task list, filtered by log text': timed(() => tasksJson(model, q('log=slow&limit=500'))),
        'region list, one histogram bucket': timed(() => regionsJson(model, q(`group=${group.index}&bucket=${group.histogram.at(-1).bucket}&limit=500`))),
      },
    };
  } else if (mode === 'read') {
    const { readTrace } = await built('analysis/reader');
    let events = 0;
    const status = await readTrace(args[0], () => events++);
    result = { events, complete: status.complete };
  } else if (mode === 'export-chrome' || mode === 'export-perfetto') {
    const exporter = mode === 'export-chrome' ? (await built('export/export-chrome')).exportChrome : (await built('export/export-perfetto')).exportPerfetto;
    const { createWriteStream } = await import('node:fs');
    const out = createWriteStream('/dev/null');
    let bytes = 0;
    const counting = new (await import('node:stream')).Writable({
      write(chunk, _encoding, done) {
        bytes += chunk.length;
        out.write(chunk, done);
      },
    });
    const exported = await exporter(args[0], counting);
    await new Promise((resolve) => counting.end(resolve));
    result = { bytes, warnings: exported.warnings.length, complete: exported.status.complete };
  } else if (mode === 'export-go') {
    const { exportGo } = await built('export/export-go');
    const { createWriteStream } = await import('node:fs');
    const out = createWriteStream(args[1]);
    const exported = await exportGo(args[0], out);
    await new Promise((resolve, reject) => out.end((error) => (error ? reject(error) : resolve())));
    result = { goEvents: exported.events, warnings: exported.warnings.length, complete: exported.status.complete };
  } else {
    throw new Error(`unknown child mode ${mode}`);
  }
  result.ms = performance.now() - t0;
  result.maxRssKb = process.resourceUsage().maxRSS;
  console.log(JSON.stringify(result));
}

// ---- the parent ----------------------------------------------------------------------------------

/**
 * Runs `command args` to completion under `/usr/bin/time -v` when present. Returns its wall time (ms,
 * measured here: process start to exit), its peak RSS in KiB (null when unknown) and its stdout.
 */
function measured(command, args, { stdout = 'pipe', timeFile } = {}) {
  const withTime = existsSync(TIME);
  const t0 = performance.now();
  const run = withTime
    ? spawnSync(TIME, ['-v', '-o', timeFile, command, ...args], { encoding: 'utf8', stdio: ['ignore', stdout, 'pipe'], maxBuffer: 1 << 26 })
    : spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', stdout, 'pipe'], maxBuffer: 1 << 26 });
  const wallMs = performance.now() - t0;
  if (run.error) throw run.error;
  let maxRssKb = null;
  if (withTime && existsSync(timeFile)) {
    const match = /Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(timeFile, 'utf8'));
    if (match) maxRssKb = Number(match[1]);
    rmSync(timeFile, { force: true });
  }
  return { status: run.status, signal: run.signal, stdout: run.stdout ?? '', stderr: run.stderr ?? '', wallMs, maxRssKb };
}

/** A child job of this file: its JSON result, the wall time and the peak RSS (from time -v, else its own). */
function nodeJob(workDir, mode, args, nodeFlags = []) {
  const run = measured(process.execPath, [...nodeFlags, thisFile, '--child', mode, ...args], { timeFile: join(workDir, 'job.time') });
  if (run.status !== 0) {
    const why = run.signal ? `killed by ${run.signal}` : `exit ${run.status}`;
    return { failed: `${why}: ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`, wallMs: run.wallMs, maxRssKb: run.maxRssKb };
  }
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1));
  return { ...result, wallMs: run.wallMs, maxRssKb: run.maxRssKb ?? result.maxRssKb };
}

/** Go 1.19's `go` command, or null. */
function findGo() {
  for (const go of GO_CANDIDATES) {
    const run = spawnSync(go, ['version'], { encoding: 'utf8' });
    if (run.status === 0 && /\bgo1\.19(\.|\s)/.test(run.stdout)) return { go, version: run.stdout.trim() };
  }
  return null;
}

const fmtMs = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const fmtMb = (kb) => (kb === null || kb === undefined ? 'n/a' : `${Math.round(kb / 1024)} MB`);
const fmtN = (n) => n.toLocaleString('en-US');
const pad = (s, w) => String(s).padEnd(w);
const lpad = (s, w) => String(s).padStart(w);

/** Runs the whole part and prints its section. `progress` writes to stderr. */
export async function runReaderBench({ quick = false, progress = (text) => process.stderr.write(text) } = {}) {
  const target = quick ? 1_000_000 : 10_000_000;
  const started = performance.now();
  const workDir = join(benchDir, '.work', `reader-${process.pid}`);
  mkdirSync(workDir, { recursive: true });
  const tracePath = join(workDir, 'big.trace');
  const goPath = join(workDir, 'big.go.trace');
  try {
    progress(`  reader: writing a ${fmtN(target)}-event trace with the runtime (child process)...\n`);
    const gen = nodeJob(workDir, 'generate', [tracePath, String(target)]);
    if (gen.failed) throw new Error(`writing the trace failed: ${gen.failed}`);
    const traceBytes = statSync(tracePath).size;

    progress(`  reader: summarizeTrace, analyzeTrace, readTrace, exportGo, exportChrome, exportPerfetto (child processes)...\n`);
    const summarize = nodeJob(workDir, 'summarize', [tracePath]);
    const summarizeSmall = nodeJob(workDir, 'summarize', [tracePath], [`--max-old-space-size=${SUMMARY_HEAP_MB}`]);
    const analyze = nodeJob(workDir, 'analyze', [tracePath], ['--expose-gc']);
    const read = nodeJob(workDir, 'read', [tracePath]);
    const readSmall = nodeJob(workDir, 'read', [tracePath], [`--max-old-space-size=${SMALL_HEAP_MB}`]);
    const exported = nodeJob(workDir, 'export-go', [tracePath, goPath]);
    const chrome = nodeJob(workDir, 'export-chrome', [tracePath], [`--max-old-space-size=${SUMMARY_HEAP_MB}`]);
    const perfetto = nodeJob(workDir, 'export-perfetto', [tracePath], [`--max-old-space-size=${SUMMARY_HEAP_MB}`]);
    progress(`  reader: the viewer's load and queries (child process)...\n`);
    // With the flags `tstrace view` runs with (cli/node-flags.ts).
    const { VIEW_NODE_FLAGS } = await import(`${runtimeDir}/cli/node-flags.js`);
    const view = nodeJob(workDir, 'view', [tracePath], ['--expose-gc', ...VIEW_NODE_FLAGS]);

    const go = findGo();
    let goLoad = null;
    if (go && !exported.failed) {
      progress(`  reader: go tool trace -d (Go's loader)...\n`);
      goLoad = measured(go.go, ['tool', 'trace', '-d', goPath], { stdout: 'ignore', timeFile: join(workDir, 'go.time') });
    }
    const goBytes = existsSync(goPath) ? statSync(goPath).size : 0;
    rmSync(goPath, { force: true });

    // ---- the report ----
    const events = read.events ?? analyze.events;
    console.log(`\n=== reader ===`);
    console.log(
      `trace: ${fmtN(events ?? 0)} events (${fmtN(gen.requests)} requests, ${CONCURRENCY} in flight: task, 4 regions — one awaited on a flow of its own —, a log; GC and heap on), ` +
        `${(traceBytes / 1e6).toFixed(1)} MB = ${(traceBytes / events).toFixed(2)} bytes/event, written in ${gen.seconds.toFixed(1)} s, dropped: ${gen.dropped}`,
    );
    console.log(`each job a child process; wall = process start to exit (Node's start-up included), peak RSS ${existsSync(TIME) ? 'from /usr/bin/time -v' : 'from process.resourceUsage().maxRSS (no /usr/bin/time)'}`);
    console.log(`${pad('job', 52)}${lpad('wall', 10)}${lpad('in-process', 12)}${lpad('M events/s', 12)}${lpad('peak RSS', 11)}`);
    console.log('-'.repeat(97));
    const row = (name, job, inProcessMs) => {
      if (job.failed) {
        console.log(`${pad(name, 52)}FAILED (${job.failed}) after ${fmtMs(job.wallMs)}, peak RSS ${fmtMb(job.maxRssKb)}`);
        return;
      }
      const rate = events / (job.wallMs / 1000) / 1e6;
      console.log(pad(name, 52) + lpad(fmtMs(job.wallMs), 10) + lpad(inProcessMs === undefined ? '' : fmtMs(inProcessMs), 12) + lpad(rate.toFixed(2), 12) + lpad(fmtMb(job.maxRssKb), 11));
    };
    row('summarizeTrace (read + summarize)', summarize, summarize.ms);
    row(`  the same in a ${SUMMARY_HEAP_MB} MB heap (--max-old-space-size)`, summarizeSmall, summarizeSmall.ms);
    row('analyzeTrace (summary + every task, region, log)', analyze, analyze.ms);
    row('readTrace alone (count events)', read, read.ms);
    row(`  the same in a ${SMALL_HEAP_MB} MB heap (--max-old-space-size)`, readSmall, readSmall.ms);
    row(`tstrace view: load (${view.failed ? '?' : `${fmtN(view.regions)} regions`})`, view, view.loadMs);
    row(`exportChrome, ${SUMMARY_HEAP_MB} MB heap (${chrome.failed ? "?" : `${(chrome.bytes / 1e6).toFixed(0)} MB of JSON`})`, chrome, chrome.ms);
    const ofJson = chrome.failed || perfetto.failed ? '' : `, ${(perfetto.bytes / chrome.bytes).toFixed(2)} of the JSON`;
    row(`exportPerfetto, ${SUMMARY_HEAP_MB} MB heap (${perfetto.failed ? '?' : `${(perfetto.bytes / 1e6).toFixed(0)} MB${ofJson}`})`, perfetto, perfetto.ms);
    row(`exportGo to a file (${exported.failed ? '?' : `${fmtN(exported.goEvents)} Go events, ${(goBytes / 1e6).toFixed(1)} MB`})`, exported, exported.ms);
    if (!go) {
      console.log(`${pad('go tool trace -d (Go 1.19 loader)', 52)}skipped: Go not installed (no go1.19 at ${GO_CANDIDATES[0]} nor as \`go\` on PATH)`);
    } else if (goLoad) {
      const failed = goLoad.status !== 0 ? `exit ${goLoad.status ?? goLoad.signal}: ${goLoad.stderr.trim().split('\n').slice(-2).join(' | ')}` : undefined;
      row('go tool trace -d FILE > /dev/null (Go 1.19 loader)', { ...goLoad, failed });
    } else {
      console.log(`${pad('go tool trace -d (Go 1.19 loader)', 52)}skipped: the Go export failed`);
    }
    if (!analyze.failed) {
      console.log(`analyzeTrace kept ${fmtN(analyze.tasks)} tasks, ${fmtN(analyze.regions)} regions and ${fmtN(analyze.logs)} logs in memory (complete: ${analyze.complete})`);
    }
    console.log(`M events/s: the trace's ${fmtN(events)} events per second of wall time, for every row`);
    if (go) console.log(`go tool trace -d: ${go.version}; parses the whole trace into memory, then prints every event (to /dev/null) and exits`);

    // ---- the target ----
    console.log(`\nreader targets`);
    const goOk = goLoad && goLoad.status === 0;
    if (goOk && !summarize.failed) {
      const ratio = goLoad.wallMs / summarize.wallMs;
      const mem = goLoad.maxRssKb && summarize.maxRssKb ? `; peak RSS ${fmtMb(summarize.maxRssKb)} vs ${fmtMb(goLoad.maxRssKb)} (${(goLoad.maxRssKb / summarize.maxRssKb).toFixed(1)}× less)` : '';
      console.log(`  ${ratio >= 5 ? 'met    ' : 'NOT MET'}  ${pad('summarizeTrace ≥ 5× faster than go tool trace -d', 52)} ${ratio.toFixed(1)}× (${fmtMs(summarize.wallMs)} vs ${fmtMs(goLoad.wallMs)})${mem}`);
      if (!analyze.failed) console.log(`           ${pad('analyzeTrace (keeps every item) vs go tool trace -d', 52)} ${(goLoad.wallMs / analyze.wallMs).toFixed(1)}×`);
      console.log(`           ${pad('readTrace alone vs go tool trace -d', 52)} ${(goLoad.wallMs / read.wallMs).toFixed(1)}×; exportGo then go tool trace -d takes ${((exported.wallMs + goLoad.wallMs) / summarize.wallMs).toFixed(1)}× as long as summarizeTrace`);
    } else {
      console.log(`  skipped  summarizeTrace ≥ 5× faster than go tool trace -d: ${!go ? 'Go 1.19 not installed' : summarize.failed ? 'summarizeTrace failed' : 'Go could not load the export'}`);
    }
    if (!summarize.failed) {
      const bounded = summarizeSmall.failed ? `NOT bounded: it failed in a ${SUMMARY_HEAP_MB} MB heap (${summarizeSmall.failed})` : `bounded: it also summarizes them in a ${SUMMARY_HEAP_MB} MB heap`;
      console.log(`  memory: summarizeTrace peaks at ${fmtMb(summarize.maxRssKb)} RSS, ${bounded} (request p99 ${summarize.requestP99} ns)`);
    }
    if (!analyze.failed && !read.failed) {
      const bounded = readSmall.failed ? `NOT bounded: it failed in a ${SMALL_HEAP_MB} MB heap` : `bounded: it also reads them in a ${SMALL_HEAP_MB} MB heap`;
      console.log(`  memory: readTrace peaks at ${fmtMb(read.maxRssKb)} RSS, ${bounded}`);
      const perEvent = (analyze.heapUsedMb * 2 ** 20) / events;
      console.log(
        `  ${perEvent <= 60 ? 'met    ' : 'NOT MET'}  ${pad('analyzeTrace holds ≤ 60 bytes per event', 52)} ${perEvent.toFixed(0)} bytes per event: ` +
          `${Math.round(analyze.heapUsedMb)} MB held (growth of RSS after a collection, an upper bound) for ${fmtN(events)} events; ${fmtMb(analyze.maxRssKb)} peak RSS`,
      );
    }
    if (!view.failed) {
      const firstScreenMs = view.loadMs + view.queries['timeline, whole trace, first screen'];
      const full = events >= 10_000_000;
      const scope = full ? '' : ` (a ${fmtN(Math.round(events / 1e6))} M-event trace: the goals are for 10 M)`;
      console.log(
        `  ${!full ? 'n/a    ' : firstScreenMs <= 5000 ? 'met    ' : 'NOT MET'}  ${pad('tstrace view, 10 M events: first screen ≤ 5 s', 52)} ${fmtMs(firstScreenMs)} ` +
          `(reading and indexing ${fmtMs(view.loadMs)}, ${fmtMs(view.loadCpuMs)} of CPU; the first screen's query)${scope}`,
      );
      console.log(
        `  ${!full ? 'n/a    ' : view.heapUsedMb <= 400 ? 'met    ' : 'NOT MET'}  ${pad('tstrace view, 10 M events: ≤ 400 MB held', 52)} ${Math.round(view.heapUsedMb)} MB held after the first screen (heap and columns)`,
      );
      // The peak, not only what is held: what the machine must have to spare to show the first screen; then the whole run's (the other pages' queries, the packed lanes' layout too).
      const peakMb = view.firstScreenRssKb / 1024;
      console.log(
        `  ${!full ? 'n/a    ' : peakMb <= 400 ? 'met    ' : 'NOT MET'}  ${pad('tstrace view, 10 M events: first screen in ≤ 400 MB', 52)} ${fmtMb(view.firstScreenRssKb)} ` +
          `peak RSS up to the first screen (reading, indexing, its query; Node's own ~45 MB and the garbage included); ${fmtMb(view.maxRssKb)} after every page's query below`,
      );
      console.log(
        `  viewer: ${((view.heapUsedMb * 2 ** 20) / view.regions).toFixed(0)} bytes per region held; ` +
          `${fmtN(view.lanes)} timeline lanes, ${fmtN(view.packedLanes)} with flows packed; each page's query (median of 5, JSON included):`,
      );
      for (const [name, ms] of Object.entries(view.queries)) console.log(`    ${pad(name, 48)} ${lpad(ms < 10 ? ms.toFixed(1) : ms.toFixed(0), 6)} ms`);
    }
    console.log(`reader part: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  if (process.argv[2] === '--child') await child(process.argv[3], process.argv.slice(4));
  else await runReaderBench({ quick: process.argv.includes('--quick') });
}
