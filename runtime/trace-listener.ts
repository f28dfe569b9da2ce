/**
 * The trace endpoint on a listener of its own, for programs that serve no HTTP (or keep it off their
 * public port): Go's `go http.ListenAndServe("localhost:6060", nil)`, loopback-only unless asked.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { isLoopbackAddress, isLoopbackHost } from './endpoint-access.js';
import { traceHandler, type TraceHandlerOptions } from './trace-endpoint.js';

/** Where {@link listen} listens, and how its endpoint answers. */
export interface TraceListenOptions extends TraceHandlerOptions {
  /** The port. Default 6060, where Go's documentation puts its endpoint; 0 picks a free one. */
  port?: number;
  /**
   * The address (or host name) to listen on. Default `127.0.0.1`. One that other machines can reach
   * (`0.0.0.0`, `::`, a network interface's address) is refused unless `allowRemote` is true, and
   * then a warning is printed (`process.emitWarning`, code `TSTRACE_REMOTE_ENDPOINT`).
   */
  host?: string;
}

/** A running {@link listen} endpoint. */
export interface TraceServer {
  /** Where to download a trace: `http://127.0.0.1:6060/debug/tstrace/trace` (add `?seconds=N`). */
  readonly url: string;
  /** The address it listens on, as the system reports it. */
  readonly host: string;
  readonly port: number;
  /**
   * Stops listening and hangs up on downloads in progress (their traces stop, their clients get what
   * was recorded so far); resolves once every connection is closed and those traces have stopped.
   */
  close(): Promise<void>;
}

/** The path {@link TraceServer.url} names (the listener answers `…/trace` under any path). */
export const TRACE_PATH = '/debug/tstrace/trace';

/**
 * Serves the trace endpoint ({@link traceHandler}: `GET /debug/tstrace/trace?seconds=N`) on its own
 * HTTP listener, by default on 127.0.0.1:6060. The listener never keeps the program alive (a download
 * in progress does, until it ends). Rejects when the address or port cannot be used, when `host` is
 * reachable from other machines and `allowRemote` is not true, and (as traceHandler throws) for a bad
 * `maxSeconds`.
 */
export async function listen(options: TraceListenOptions = {}): Promise<TraceServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 6060;
  const allowRemote = options.allowRemote === true;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`tstrace listen: port must be a port number (0-65535), not ${String(port)}`);
  // An address is judged before listening; a host name once it is resolved and bound (it may be 127.0.1.1).
  if (!allowRemote && (host === '' || isIP(host) !== 0) && !isLoopbackHost(host)) throw remoteRefused(host);
  const handler = traceHandler(options);

  const answering = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const answer = handler(req, res);
    answering.add(answer);
    void answer.then(() => answering.delete(answer));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all(answering);
  };

  const bound = server.address() as AddressInfo;
  const everywhere = bound.address === '0.0.0.0' || bound.address === '::';
  if (!isLoopbackAddress(bound.address)) {
    if (!allowRemote) {
      await close();
      throw remoteRefused(`${host} (${bound.address})`);
    }
    const guard = options.authorize ? 'its authorize hook decides who' : 'there is no authorize hook';
    process.emitWarning(
      `tstrace: the trace endpoint listens on ${bound.address} port ${bound.port}, reachable from other machines: a trace holds this program's names, log messages and values, and ${guard}`,
      { code: 'TSTRACE_REMOTE_ENDPOINT' },
    );
  }
  const urlHost = everywhere ? (bound.family === 'IPv6' ? '[::1]' : '127.0.0.1') : bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return { url: `http://${urlHost}:${bound.port}${TRACE_PATH}`, host: bound.address, port: bound.port, close };
}

function remoteRefused(host: string): Error {
  return new Error(
    `tstrace listen: ${host} is reachable from other machines, and a trace holds this program's names, log messages and values; listen on 127.0.0.1 (the default), or pass allowRemote: true (and an authorize hook) to listen there anyway`,
  );
}
