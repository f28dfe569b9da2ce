/**
 * Which `Host` headers the viewer answers: the address it serves, or `localhost`, on its port. A page
 * of another site that makes its own name resolve to 127.0.0.1 (DNS rebinding) sends its own name as
 * `Host`, and gets 403 instead of the trace.
 */
import { hostname, networkInterfaces } from 'node:os';
import { isIPv6 } from 'node:net';

/** Addresses that mean "every interface": serving there, any of the machine's own addresses is its address. */
const EVERY_INTERFACE = new Set(['0.0.0.0', '::', '']);

/** `host` as it is written in a URL or a `Host` header: IPv6 addresses in brackets. */
export function urlHost(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

/** True for the addresses only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The `Host` values (lower case) of a viewer listening on `host`:`port`. */
export function allowedHosts(host: string, port: number): ReadonlySet<string> {
  const names = new Set([host.toLowerCase(), 'localhost']);
  if (EVERY_INTERFACE.has(host)) {
    names.add(hostname().toLowerCase());
    for (const addresses of Object.values(networkInterfaces())) for (const { address } of addresses ?? []) names.add(address.toLowerCase());
  }
  const allowed = new Set<string>();
  for (const name of names) {
    if (name === '') continue;
    allowed.add(`${urlHost(name)}:${port}`);
    // A browser leaves out the port when it is HTTP's own.
    if (port === 80) allowed.add(urlHost(name));
  }
  return allowed;
}

/** Whether a request with this `Host` header may be answered. */
export function hostAllowed(header: string | undefined, allowed: ReadonlySet<string>): boolean {
  return header !== undefined && allowed.has(header.toLowerCase());
}
