/**
 * Who may download a trace from the HTTP endpoint when it answers this machine only (its default). A
 * trace holds names, log messages and argument values — user data — so "this machine" is read
 * strictly: the connection comes from a loopback address, it did not come through a proxy (a proxy on
 * this machine makes every client look local), and it is addressed to a loopback name (a web page
 * that makes its own name resolve to 127.0.0.1 — DNS rebinding — sends its own name as `Host`).
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** Headers a proxy adds to say whom it forwards for; a request with one came from elsewhere. */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'] as const;

/** True for the addresses only this machine can reach: 127.0.0.0/8, ::1, and 127.x.x.x mapped into IPv6. */
export function isLoopbackAddress(address: string): boolean {
  const v4 = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return isIP(address) === 6 && /^(0{0,4}:){2,7}0{0,3}1$/.test(address);
}

/** True for a host name or address that means this machine: `localhost`, `*.localhost`, a loopback address. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return isLoopbackAddress(name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name);
}

/** The host of a `Host` header (`localhost:6060`, `[::1]:6060`, `127.0.0.1`), without the port. */
function hostOfHeader(header: string): string {
  if (header.startsWith('[')) {
    const end = header.indexOf(']');
    return end < 0 ? header : header.slice(0, end + 1);
  }
  const colon = header.indexOf(':');
  return colon < 0 ? header : header.slice(0, colon);
}

/**
 * Why `req` is not a request from this machine, as a sentence for its 403 answer; null when it is one
 * (a loopback peer, no forwarding header, a loopback `Host`).
 */
export function notFromThisMachine(req: IncomingMessage): string | null {
  const allow = 'the endpoint answers only requests from this machine unless it is given allowRemote: true';
  const peer = req.socket?.remoteAddress;
  // A Unix socket or named pipe has no peer address; a proxy (nginx) in front of one is its usual client.
  if (peer === undefined) {
    return `this request came over a Unix socket or pipe, which has no peer address to check: a proxy in front of it may forward other machines' requests (${allow}; the socket file's permissions then decide who may connect)`;
  }
  if (!isLoopbackAddress(peer)) {
    return `this request came from ${peer}, not from this machine (${allow})`;
  }
  const forwarding = FORWARDING_HEADERS.find((name) => req.headers[name] !== undefined);
  if (forwarding !== undefined) {
    return `this request came through a proxy (it has a ${forwarding} header), so possibly from another machine (${allow})`;
  }
  const host = req.headers.host;
  if (host === undefined || !isLoopbackHost(hostOfHeader(host))) {
    return `this request is addressed to ${host === undefined ? 'no host' : JSON.stringify(host)}, not to a name of this machine such as localhost or 127.0.0.1 (${allow})`;
  }
  return null;
}
