/**
 * `tstrace fetch URL [-o OUT] [--seconds N]`: downloads a live trace from a program's trace endpoint
 * (`tstrace/http`, `GET …/trace?seconds=N`) into a file and says what was written, as `export` does.
 * `tstrace view URL` downloads the same way into a temporary file before viewing it.
 */
import { createWriteStream } from 'node:fs';
import { rename, stat, unlink } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { basename, dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { formatDuration } from '../analysis/format-duration.js';
import { readTrace } from '../analysis/reader.js';
import type { ReadStatus } from '../format/events.js';
import { byteSize } from './byte-size.js';

export interface FetchIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
  /** Standard output as a stream, for `-o -`. */
  readonly stdoutStream?: Writable;
}

/** Where `tstrace/http`'s own listener serves the endpoint: the path a URL without one gets. */
export const ENDPOINT_PATH = '/debug/tstrace/trace';

/** How long the server may stay silent beyond the seconds asked for before the download is given up. */
const SILENCE_GRACE_MS = 30_000;

/** True when `text` is meant as a URL (http:// or https://), not a file. */
export function isTraceUrl(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

/**
 * The URL to download from: `text` (http or https), with the endpoint's path when it has none and
 * `seconds` when given (it replaces the URL's own); or why it cannot be used.
 */
export function traceUrl(text: string, seconds: number | undefined): URL | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${text}" is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `"${text}" is not an http:// or https:// URL`;
  if (url.pathname === '/') url.pathname = ENDPOINT_PATH;
  if (seconds !== undefined) url.searchParams.set('seconds', String(seconds));
  return url;
}

/** What a download left: where, how much, and whether it broke off. */
interface Fetched {
  /** `OUT` as the user named it (or as chosen from the server's file name); `-` for stdout. */
  readonly output: string;
  /** The file written, or null for stdout. */
  readonly path: string | null;
  readonly bytes: number;
  /** Why the download broke off before the server ended it, or null when it was whole. */
  readonly brokeOff: string | null;
}

/**
 * Downloads the trace at `url` into `chooseOutput(server's file name)` (relative to `io.cwd`; `-` for
 * stdout). A file is written next to its target and renamed over it; a download that breaks off keeps
 * what arrived, which reads up to its last complete frame. Resolves to what was written, or to the
 * reason nothing was (a sentence); never rejects.
 */
export async function downloadTrace(url: URL, chooseOutput: (suggested: string | null) => string, io: FetchIo): Promise<Fetched | { readonly error: string }> {
  const shown = url.href;
  let response: IncomingMessage;
  try {
    response = await request(url);
  } catch (error) {
    return { error: `${shown}: ${connectionErrorText(error, url)}` };
  }
  if (response.statusCode !== 200) return { error: `${shown}: ${await refusalText(response)}` };
  const type = response.headers['content-type'] ?? '';
  if (!/^application\/octet-stream\b/i.test(type)) {
    response.destroy();
    return { error: `${shown}: the server answered 200 with ${type || 'no Content-Type'}, not a trace: is this the trace endpoint (${ENDPOINT_PATH} on tstrace/http's listener)?` };
  }
  const output = chooseOutput(suggestedFileName(response.headers['content-disposition']));
  if (output === '-') {
    if (!io.stdoutStream) return { error: '-o -: there is no standard output stream to write a trace to' };
    const { bytes, brokeOff, writeError } = await copy(response, io.stdoutStream, false);
    if (writeError !== null) return { error: `stdout: cannot write: ${outputErrorText(writeError)}` };
    return { output, path: null, bytes, brokeOff };
  }
  const target = resolve(io.cwd, output);
  // Written next to the output and renamed over it: a download that fails to start leaves no half file.
  const partial = join(dirname(target), `.${basename(target)}.${process.pid}.partial`);
  const file = createWriteStream(partial);
  const opened = await new Promise<Error | null>((done) => {
    file.once('open', () => done(null));
    file.once('error', done);
  });
  if (opened !== null) {
    response.destroy();
    return { error: `${output}: cannot write: ${outputErrorText(opened)}` };
  }
  const { bytes, brokeOff, writeError } = await copy(response, file, true);
  if (writeError !== null || (brokeOff !== null && bytes === 0)) {
    await unlink(partial).catch(() => {});
    return { error: writeError !== null ? `${output}: cannot write: ${outputErrorText(writeError)}` : `${shown}: ${brokeOff}` };
  }
  try {
    await rename(partial, target);
  } catch (error) {
    await unlink(partial).catch(() => {});
    return { error: `${output}: cannot write: ${outputErrorText(error)}` };
  }
  return { output, path: target, bytes, brokeOff };
}

interface Copied {
  /** The bytes that arrived. */
  readonly bytes: number;
  /** Why the response stopped before its end, or null when it arrived whole (or writing failed). */
  readonly brokeOff: string | null;
  readonly writeError: Error | null;
}

/**
 * Copies the response into `out` (and ends it if `end`): everything that arrives is written, also when
 * the connection closes early — that part of a trace is still readable.
 */
async function copy(response: IncomingMessage, out: Writable, end: boolean): Promise<Copied> {
  let bytes = 0;
  let writeError: Error | null = null;
  response.on('data', (chunk: Buffer) => (bytes += chunk.length));
  // Stays attached: an error of `out` after the copy must not go unhandled either.
  out.on('error', (error) => {
    writeError ??= error;
    response.destroy();
  });
  response.pipe(out, { end: false });
  let brokeOff: string | null = null;
  try {
    await finished(response);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    const closed = code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || (error instanceof Error && error.message === 'aborted');
    brokeOff = closed ? 'the connection closed before the server ended the trace' : error instanceof Error ? error.message : String(error);
  }
  response.unpipe(out);
  if (end && writeError === null) await new Promise<void>((resolve) => out.end(() => resolve()));
  return { bytes, brokeOff: writeError === null ? brokeOff : null, writeError };
}

/**
 * `tstrace fetch`: downloads the trace at `url` into `output` (default: the file name the server
 * suggests, `tstrace-PID-TIME.out`, else `trace.out`), then prints what was written; returns the exit
 * code (0 written, with a warning if the trace is cut off; 1 nothing written, or the download broke off).
 */
export async function fetchCommand(url: URL, options: { output?: string; quiet: boolean }, io: FetchIo): Promise<number> {
  const fetched = await downloadTrace(url, (suggested) => options.output ?? suggested ?? 'trace.out', io);
  if ('error' in fetched) {
    io.stderr(`tstrace: error: ${fetched.error}\n`);
    return 1;
  }
  return reportFetched(url, fetched, options.quiet, io, 'tstrace fetch');
}

/**
 * Reads back what a download wrote and prints `wrote OUT: …` (on stderr when the trace went to stdout),
 * with warnings for a cut-off trace; returns the exit code.
 */
async function reportFetched(url: URL, fetched: Fetched, quiet: boolean, io: FetchIo, who: string): Promise<number> {
  const { output, path, bytes, brokeOff } = fetched;
  if (path === null) {
    if (!quiet) io.stderr(`${who}: wrote stdout: ${byteSize(bytes)}\n`);
    if (brokeOff === null) return 0;
    io.stderr(`tstrace: error: ${url.href}: the download broke off (${brokeOff}); what arrived reads up to its last complete frame\n`);
    return 1;
  }
  const read = await readBack(path);
  if (read === null || !read.status.header) {
    await unlink(path).catch(() => {});
    const reason = read?.status.problem ? `${read.status.problem.reason} (at offset ${read.status.problem.offset})` : 'it cannot be read';
    io.stderr(`tstrace: error: ${url.href}: what the server sent is not a tstrace trace: ${reason}\n`);
    return 1;
  }
  const { status, events, endTs } = read;
  if (!quiet) io.stdout(`${who}: wrote ${output}: ${formatDuration(endTs)} of trace, ${events} events, ${byteSize(bytes)}\n`);
  if (brokeOff !== null) {
    io.stderr(`tstrace: error: ${url.href}: the download broke off (${brokeOff}); ${output} holds the ${status.bytesRead} bytes up to its last complete frame, and reads as a cut-off trace\n`);
    return 1;
  }
  const { problem } = status;
  if (problem === null) return 0;
  if (problem.kind === 'corrupt') {
    io.stderr(`tstrace: error: ${output} is damaged at offset ${problem.offset}: ${problem.reason}\n`);
    return 1;
  }
  if (!quiet) io.stderr(`tstrace: warning: ${output} is ${problem.kind} at offset ${problem.offset}: ${problem.reason}\n`);
  return 0;
}

/** The trace written at `path`: its read status, event count and end time (ns); null if it cannot be read. */
async function readBack(path: string): Promise<{ status: ReadStatus; events: number; endTs: number } | null> {
  let events = 0;
  let last = 0;
  try {
    const status = await readTrace(path, (event) => {
      events++;
      if (event.ts > last) last = event.ts;
    });
    return { status, events, endTs: status.footer?.endTs ?? last };
  } catch {
    return null;
  }
}

/** Downloads `url` into a file of its own under `dir` (for `view URL`); resolves to its path, or exits with a message. */
export async function fetchForView(url: URL, dir: string, quiet: boolean, io: FetchIo): Promise<string | number> {
  const fetched = await downloadTrace(url, (suggested) => join(dir, suggested ?? 'trace.out'), io);
  if ('error' in fetched) {
    io.stderr(`tstrace: error: ${fetched.error}\n`);
    return 1;
  }
  const code = await reportFetched(url, fetched, quiet, io, 'tstrace view');
  // A broken-off download is still worth viewing: the viewer shows it up to where it stops.
  return fetched.path !== null && (code === 0 || fetched.brokeOff !== null) && (await exists(fetched.path)) ? fetched.path : code;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** GETs `url`; resolves with the response once its head arrives. Gives up when the server is silent for too long. */
function request(url: URL): Promise<IncomingMessage> {
  const asked = Number(url.searchParams.get('seconds') ?? '1');
  const silenceMs = (Number.isFinite(asked) && asked > 0 ? Math.min(asked, 86_400) : 60) * 1000 + SILENCE_GRACE_MS;
  return new Promise((resolvePromise, reject) => {
    const get = url.protocol === 'https:' ? httpsGet : httpGet;
    const req = get(url, { agent: false, headers: { accept: 'application/octet-stream', 'user-agent': 'tstrace-fetch' } }, resolvePromise);
    req.setTimeout(silenceMs, () => req.destroy(Object.assign(new Error(`no answer for ${Math.round(silenceMs / 1000)} s`), { code: 'TSTRACE_SILENT' })));
    req.on('error', reject);
  });
}

/** The answer of a server that sent no trace: its status and, when it is text, the reason it gives. */
async function refusalText(response: IncomingMessage): Promise<string> {
  const status = `the server answered ${response.statusCode} ${response.statusMessage ?? ''}`.trimEnd();
  const type = response.headers['content-type'] ?? '';
  let body = '';
  try {
    for await (const chunk of response) {
      body += (chunk as Buffer).toString('utf8');
      if (body.length > 2000) break;
    }
  } catch {
    // The reason is a courtesy: the status says enough.
  }
  response.destroy();
  const reason = body.replace(/\s+/g, ' ').trim().slice(0, 500);
  return /^text\/plain\b/i.test(type) && reason !== '' ? `${status}: ${reason}` : status;
}

/** The file name of a `Content-Disposition` header, if it is a plain one (no path, no leading dot). */
function suggestedFileName(header: string | undefined): string | null {
  const name = header === undefined ? undefined : /filename="([^"]*)"/i.exec(header)?.[1];
  return name !== undefined && /^[\w-][\w.-]{0,199}$/.test(name) ? name : null;
}

/** Why the server could not be asked, for people. */
function connectionErrorText(error: unknown, url: URL): string {
  const where = url.host;
  switch ((error as NodeJS.ErrnoException | null)?.code) {
    case 'ECONNREFUSED':
      return `cannot connect to ${where}: connection refused (is the program running, with the trace endpoint listening there?)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot connect to ${where}: unknown host`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `cannot connect to ${where}: ${(error as Error).message}`;
    case 'ECONNRESET':
      return `${where} closed the connection without answering`;
    case 'TSTRACE_SILENT':
      return `${where} did not answer: ${(error as Error).message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Why an output file cannot be written, for people. */
function outputErrorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return 'no such directory';
  if (code === 'ENOSPC') return 'no space left on the device';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return error instanceof Error ? error.message : String(error);
}
