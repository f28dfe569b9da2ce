/**
 * The HTTP trace endpoint, Go's `/debug/pprof/trace` done for tstrace: a `(req, res)` handler that any
 * Node HTTP framework can mount, answering `GET …/trace?seconds=N` with a trace of the next N seconds,
 * streamed as it is recorded. docs/design.md ("The HTTP endpoint") says why it answers as it does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { runningTrace, start, stop, type StartOptions } from './api.js';
import { notFromThisMachine } from './endpoint-access.js';
import { runningFlightRecorder } from './flight-recorder.js';
import { ResponseWriter, type DownloadBroken } from './response-writer.js';
import { parseRequestUrl, traceSeconds } from './trace-request.js';

/** How a {@link traceHandler} answers. */
export interface TraceHandlerOptions {
  /** The longest trace a request may ask for, in seconds; longer ones are answered 400. Default 60. */
  maxSeconds?: number;
  /**
   * Answer requests from other machines too. Default false: only requests from this machine get a
   * trace (a loopback peer, no proxy's forwarding header, a `Host` such as `localhost` or 127.0.0.1);
   * the others get 403. A trace holds your program's names, log messages and values: when you allow
   * other machines, check who asks with {@link TraceHandlerOptions.authorize}.
   */
  allowRemote?: boolean;
  /**
   * Decides whether `req` may download a trace, after the address check and before anything else:
   * return (or resolve to) `true` to allow it; anything else, or a throw, refuses it with 403 (500 for
   * a throw). Check a token here: `(req) => req.headers.authorization === \`Bearer ${token}\``.
   */
  authorize?: (req: IncomingMessage) => boolean | Promise<boolean>;
  /** The options each download's trace is started with (as `start()` takes them). */
  startOptions?: StartOptions;
}

/**
 * The request handler {@link traceHandler} returns: answers one request completely. Its promise
 * resolves when the answer is over (for a download: when the trace has been written, or the client
 * has gone) and never rejects; nothing it does throws into the caller.
 */
export type TraceRequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** `maxSeconds` when the options do not say. */
export const DEFAULT_MAX_SECONDS = 60;

/** The longest `maxSeconds` accepted: a Node timer waits at most 2^31 − 1 ms. */
const LONGEST_MAX_SECONDS = 2_000_000;

/** How often a download checks that its trace is still running (the program may call stop()). */
const STOPPED_POLL_MS = 100;

interface Settings {
  readonly maxSeconds: number;
  readonly allowRemote: boolean;
  readonly authorize: ((req: IncomingMessage) => boolean | Promise<boolean>) | null;
  readonly startOptions: StartOptions;
}

/** The download running now (from any handler of this copy of tstrace), for the 409 answer. */
let download: { readonly trace: number; readonly endsAt: number } | null = null;

/**
 * A request handler for the trace endpoint, to mount under a path of your choice (it looks only at the
 * last segment of the request's path, so it works whether or not a router strips the mount point):
 *
 * - `GET …/trace?seconds=N` streams a tstrace trace of the next N seconds (default 1, fractions
 *   allowed, at most `maxSeconds`) as `application/octet-stream`, a file named after the process id
 *   and the time. The bytes are sent as they are recorded, so a download cut off early still reads up
 *   to its last complete frame. The client hanging up ends that trace; a failing response ends it too;
 *   neither reaches the application.
 *   A running flight recorder is no obstacle: the download is traced beside it.
 * - `GET …/flight` sends the running {@link FlightRecorder}'s window (`writeTo`: the last `minAge` of
 *   events, a complete trace), at once; 409 when no flight recorder runs.
 * - 400: `seconds` is not a positive number, or is above `maxSeconds`. 409: a trace is already running
 *   (the program's own, from `start()`, or another download): one trace at a time. 403: the request
 *   does not come from this machine (unless `allowRemote`), or `authorize` refused it. 404: another
 *   path. 405: another method than GET. Every refusal says why in a `text/plain` body.
 *
 * Throws a RangeError at once when `maxSeconds` is not a positive number (at most 2,000,000).
 */
export function traceHandler(options: TraceHandlerOptions = {}): TraceRequestHandler {
  const maxSeconds = options.maxSeconds ?? DEFAULT_MAX_SECONDS;
  if (typeof maxSeconds !== 'number' || !(maxSeconds > 0 && maxSeconds <= LONGEST_MAX_SECONDS)) {
    throw new RangeError(`tstrace traceHandler: maxSeconds must be a positive number of seconds up to ${LONGEST_MAX_SECONDS}, not ${String(maxSeconds)}`);
  }
  if (options.authorize !== undefined && typeof options.authorize !== 'function') {
    throw new TypeError('tstrace traceHandler: authorize must be a function (req) => boolean | Promise<boolean>');
  }
  const settings: Settings = {
    maxSeconds,
    allowRemote: options.allowRemote === true,
    authorize: options.authorize ?? null,
    startOptions: { ...options.startOptions },
  };
  return async (req, res) => {
    try {
      await answer(req, res, settings);
    } catch {
      // A bug of ours or a response that cannot be written: the application must not see it.
      if (!res.headersSent) refuse(res, 500, 'the trace endpoint failed');
      else res.destroy();
    }
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, settings: Settings): Promise<void> {
  if (!settings.allowRemote) {
    const why = notFromThisMachine(req);
    if (why !== null) return refuse(res, 403, why);
  }
  if (settings.authorize !== null) {
    let allowed: boolean;
    try {
      allowed = (await settings.authorize(req)) === true;
    } catch {
      return refuse(res, 500, 'the authorize hook of the trace endpoint failed');
    }
    if (!allowed) return refuse(res, 403, 'this request is not authorized (the trace endpoint\'s authorize hook refused it)');
  }
  const { name, query } = parseRequestUrl(req.url);
  if (name !== 'trace' && name !== 'flight') return refuse(res, 404, `no such path: the trace endpoint serves GET …/trace?seconds=N and GET …/flight`);
  if (req.method !== 'GET') return refuse(res, 405, `…/${name} answers GET only, not ${req.method ?? 'no method'}`, { Allow: 'GET' });
  if (name === 'flight') return sendFlightWindow(res);
  const seconds = traceSeconds(query, settings.maxSeconds);
  if (typeof seconds !== 'number') return refuse(res, 400, seconds.problem);
  if (res.destroyed) return; // the client left while authorize ran
  if (runningTrace() !== null) return refuseBusy(res);
  await streamTrace(res, seconds, settings.startOptions);
}

/** Sends the running flight recorder's window, or 409 when none runs. */
async function sendFlightWindow(res: ServerResponse): Promise<void> {
  const recorder = runningFlightRecorder();
  if (recorder === null || !recorder.enabled) {
    return refuse(res, 409, 'no flight recorder is running (start one with new FlightRecorder(…).start()); …/trace?seconds=N traces the next N seconds instead');
  }
  const writer = new ResponseWriter(res);
  res.writeHead(200, downloadHeaders());
  try {
    await recorder.writeTo(writer);
  } catch {
    // The client hung up, the response failed, or the recorder stopped meanwhile.
    res.destroy();
    return;
  }
  res.end();
}

/** The headers of a trace download (a file named after the process id and the time). */
function downloadHeaders(): Record<string, string> {
  return {
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': `attachment; filename="${traceFileName(new Date())}"`,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  };
}

/** Traces the next `seconds` into `res`, from its 200 to its end (or until the download breaks off). */
async function streamTrace(res: ServerResponse, seconds: number, startOptions: StartOptions): Promise<void> {
  const writer = new ResponseWriter(res);
  res.writeHead(200, downloadHeaders());
  // Nothing awaited since the runningTrace() check: no other trace can have started in between.
  start(writer, startOptions);
  const trace = runningTrace()!;
  const mine = { trace, endsAt: Date.now() + seconds * 1000 };
  download = mine;
  let how: TraceEnd = 'write-failed';
  try {
    how = await traceWindow(seconds * 1000, writer.broken, trace);
  } finally {
    // stop() rejects with the writer's error when the download broke off: that is the expected end.
    if (runningTrace() === trace) await stop().catch(() => {});
    if (download === mine) download = null;
  }
  if (how === 'stopped') {
    // The program called stop() itself: its footer may still be on its way to the response.
    how = await Promise.race([writer.flushed(), writer.broken]);
  }
  if (how === 'elapsed' || how === 'flushed') res.end();
  else res.destroy();
}

type TraceEnd = 'elapsed' | 'stopped' | 'flushed' | DownloadBroken;

/**
 * Waits for the end of a download's trace: `ms` elapsed, the download broke off, or the trace stopped
 * otherwise (the program called stop()). Its timers never keep the program alive (the connection does).
 */
function traceWindow(ms: number, broken: Promise<DownloadBroken>, trace: number): Promise<TraceEnd> {
  return new Promise((resolve) => {
    const done = (how: TraceEnd): void => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve(how);
    };
    const timer = setTimeout(() => done('elapsed'), ms);
    const poll = setInterval(() => {
      if (runningTrace() !== trace) done('stopped');
    }, STOPPED_POLL_MS);
    timer.unref();
    poll.unref();
    void broken.then(done);
  });
}

/** `tstrace-PID-YYYYMMDDTHHMMSSZ.out`: which process, and when (UTC). */
function traceFileName(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `tstrace-${process.pid}-${stamp}.out`;
}

/** 409, saying what is running: a download of this endpoint (and when it ends), or the program's own trace. */
function refuseBusy(res: ServerResponse): void {
  const running = download;
  const why = 'tstrace records one trace at a time';
  if (running !== null && runningTrace() === running.trace) {
    const left = Math.max(0, (running.endsAt - Date.now()) / 1000);
    refuse(res, 409, `a trace is already running: another download, which ends in ${left.toFixed(1)} s (${why}); try again then`, {
      'Retry-After': String(Math.ceil(left)),
    });
    return;
  }
  const flight = runningFlightRecorder() !== null ? '; a flight recorder runs too: …/flight sends its window now' : '';
  refuse(res, 409, `a trace is already running: the program is tracing (start() was called, stop() not yet; ${why}); try again once it has stopped${flight}`);
}

/** Answers `status` with `reason` as a one-line text body (or drops the connection if an answer has begun). */
function refuse(res: ServerResponse, status: number, reason: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = `${reason}\n`;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(body);
}
