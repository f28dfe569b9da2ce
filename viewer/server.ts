/**
 * `tstrace view`: a local web app over one trace. Binds 127.0.0.1 unless told otherwise, and answers only
 * requests addressed to it (host-check.ts); serves the page (assets/, shipped in the package — no CDN),
 * the JSON API of model.ts, and `/download/trace.json`, the trace exported for Perfetto as it is
 * streamed by exportChrome.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TraceSource } from '../analysis/reader.js';
import { exportChrome } from '../export/export-chrome.js';
import { allowedHosts, hostAllowed, urlHost } from './host-check.js';
import {
  loadViewerModel,
  logsJson,
  regionJson,
  regionGroupsJson,
  regionsJson,
  summaryJson,
  taskJson,
  tasksJson,
  taskTypesJson,
  timelineJson,
  type ViewerModel,
} from './model.js';

export interface ViewerOptions {
  /** The trace file (its name is that of the download). */
  readonly file: string;
  /** What to read the trace from, when not straight from `file` (a stream that reports progress). */
  readonly source?: TraceSource;
  /** 0 (the default): a free port. */
  readonly port?: number;
  /** The address to listen on; default `127.0.0.1` (this machine only). */
  readonly host?: string;
  /** Locations under this folder are shown relative to it. */
  readonly cwd?: string;
  /** The folder of index.html, viewer.js, viewer.css and favicon.svg; default: the assets/ next to this module. */
  readonly assetsDir?: string;
}

export interface Viewer {
  /** `http://127.0.0.1:PORT/` (or the host asked for). */
  readonly url: string;
  readonly model: ViewerModel;
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

const ASSETS: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/viewer.js': ['viewer.js', 'text/javascript; charset=utf-8'],
  '/viewer.css': ['viewer.css', 'text/css; charset=utf-8'],
  '/favicon.svg': ['favicon.svg', 'image/svg+xml'],
  // Asked for by browsers whatever the page links: the same icon.
  '/favicon.ico': ['favicon.svg', 'image/svg+xml'],
};

/**
 * Reads and indexes the trace, then serves it on 127.0.0.1 (or `options.host`). Rejects when the file
 * cannot be read or the address cannot be listened on (the port is taken).
 */
export async function startViewer(options: ViewerOptions): Promise<Viewer> {
  const cwd = options.cwd ?? process.cwd();
  const host = options.host ?? '127.0.0.1';
  const model = await loadViewerModel(options.source ?? options.file, cwd);
  const assets = options.assetsDir ?? viewerAssetsDir();
  // Known once listening (the port may be any free one); until then every request is refused.
  let allowed: ReadonlySet<string> = new Set();
  const server = createServer((request, response) => {
    if (!hostAllowed(request.headers.host, allowed)) {
      sendJson(response, 403, { error: `not this viewer's address: Host ${JSON.stringify(request.headers.host ?? '')}` });
      return;
    }
    handle(request, response, model, options.file, assets).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, { error: error instanceof Error ? error.message : String(error) });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  allowed = allowedHosts(host, port);
  return { url: `http://${urlHost(host)}:${port}/`, model, close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function handle(request: IncomingMessage, response: ServerResponse, model: ViewerModel, file: string, assets: string): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const path = url.pathname;
  const query = url.searchParams;
  if (request.method !== 'GET' && request.method !== 'HEAD') return sendJson(response, 405, { error: 'only GET' });
  const asset = ASSETS[path];
  if (asset) {
    const body = await readFile(join(assets, asset[0]));
    response.writeHead(200, { 'content-type': asset[1], 'cache-control': 'no-cache' });
    response.end(body);
    return;
  }
  if (path === '/download/trace.json') {
    const name = basename(file, extname(file)) + '.json';
    response.writeHead(200, { 'content-type': 'application/json', 'content-disposition': `attachment; filename="${name.replace(/["\\\r\n]/g, '_')}"` });
    await exportChrome(file, response);
    response.end();
    return;
  }
  const regionMatch = /^\/api\/region\/(\d+)$/.exec(path);
  if (regionMatch) {
    const region = regionJson(model, Number(regionMatch[1]));
    return region ? sendJson(response, 200, region) : sendJson(response, 404, { error: `no region ${regionMatch[1]}` });
  }
  const taskMatch = /^\/api\/task\/(\d+)$/.exec(path);
  if (taskMatch) {
    const task = taskJson(model, Number(taskMatch[1]));
    return task ? sendJson(response, 200, task) : sendJson(response, 404, { error: `no task ${taskMatch[1]}` });
  }
  switch (path) {
    case '/api/summary':
      return sendJson(response, 200, summaryJson(model));
    case '/api/task-types':
      return sendJson(response, 200, taskTypesJson(model));
    case '/api/tasks':
      return sendJson(response, 200, tasksJson(model, query));
    case '/api/region-groups':
      return sendJson(response, 200, regionGroupsJson(model));
    case '/api/regions':
      return sendJson(response, 200, regionsJson(model, query));
    case '/api/logs':
      return sendJson(response, 200, logsJson(model, query));
    case '/api/timeline':
      return sendJson(response, 200, timelineJson(model, query));
  }
  sendJson(response, 404, { error: `not found: ${path}` });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache' });
  response.end(JSON.stringify(body));
}

/**
 * The assets/ folder next to this module: `__dirname` in the CommonJS build; in ESM (where this file
 * cannot say `import.meta` because it is also compiled to CommonJS) this module's URL, read from a stack
 * trace.
 */
export function viewerAssetsDir(): string {
  if (typeof __dirname === 'string') return join(__dirname, 'assets');
  const stack = new Error().stack ?? '';
  const match = /(file:\/\/[^\s)]*?|\/[^\s():]*?)server\.[cm]?[jt]s/.exec(stack);
  if (match) {
    const here = match[0].startsWith('file:') ? fileURLToPath(match[0]) : match[0];
    const dir = join(dirname(here), 'assets');
    if (existsSync(dir)) return dir;
  }
  throw new Error('tstrace view: cannot find the viewer assets');
}
