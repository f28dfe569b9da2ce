/**
 * Where an async resource a flow may wait on was created (docs/design.md, "Where the time went"): its
 * *site*, a location id carried by the Run event that resumed from it. Promises have none (the most
 * numerous resources: nothing is spent on them); the kinds of resource a program waits on (timers, file
 * system, DNS, sockets, child processes…) get, at their creation, the creating call's location when
 * `captureLocations` is on (a short stack capture), else the location of the innermost open region of the
 * creating chain (already interned: a few property loads).
 */
import { chainTopRaw, currentScope } from './chains.js';
import { captureFrames, frameLocation } from './location.js';
import { S } from './recorder.js';

/**
 * What a run resumed from: the resource type and its site, `2 × location id + 1` when the location is
 * the creating region's, `2 × location id` when it is the creating call's (0: unknown). Interned, so a
 * resource carries it and a Run slot holds it without allocating.
 */
export interface WaitedOn {
  readonly type: string;
  readonly site: number;
}

/**
 * Types a program waits on, whose creation site is worth finding. Not TickObject, Microtask, writes,
 * HTTP parsers and the like: Node makes those itself, many per request.
 */
const SITED_TYPES = new Set([
  'Timeout',
  'Immediate',
  'FSREQCALLBACK',
  'FSREQPROMISE',
  'FILEHANDLECLOSEREQ',
  'STATWATCHER',
  'FSEVENTWRAP',
  'GETADDRINFOREQWRAP',
  'GETNAMEINFOREQWRAP',
  'QUERYWRAP',
  'TCPCONNECTWRAP',
  'PIPECONNECTWRAP',
  'TCPWRAP',
  'PIPEWRAP',
  'UDPWRAP',
  'UDPSENDWRAP',
  'HTTPCLIENTREQUEST',
  'ZLIB',
  'PROCESSWRAP',
  'SIGNALWRAP',
  'WORKER',
  'MESSAGEPORT',
]);

/**
 * Frames captured to find the creating call, below the hook's own: Node's frames come first (the
 * program's call is the 6th for a timer, the 3rd or 4th for fs, the 9th for `http.get`'s connection).
 * Each frame costs (about 0.5 µs on Node 24 here): 10 covers those.
 */
const SITE_FRAMES = 10;

/** Interned descriptors by type, then by site. */
const interned = new Map<string, Map<number, WaitedOn>>();

/** The descriptor {@link waitedOn} returned last: a program makes its timers (say) at a few sites, over and over. */
let last: WaitedOn = Object.freeze({ type: '', site: 0 });

/** The interned descriptor of `type` created at `site`. */
export function waitedOn(type: string, site: number): WaitedOn {
  if (last.site === site && last.type === type) return last;
  let bySite = interned.get(type);
  if (bySite === undefined) interned.set(type, (bySite = new Map()));
  let w = bySite.get(site);
  if (w === undefined) bySite.set(site, (w = Object.freeze({ type, site })));
  return (last = w);
}

/**
 * This module's directory, as V8 names files: frames from it (the runtime's modules) are tstrace's own.
 * "" when it is not the package's `runtime/` (a bundle that holds the program too): no frame is.
 */
const ownDir = ((): string => {
  const file = captureFrames(captureFrames, 1)[0]?.getFileName() ?? '';
  const dir = file.slice(0, Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')) + 1);
  return /[/\\]runtime[/\\]$/.test(dir) ? dir : '';
})();

/**
 * The site of a resource of `type` being created now, called from an async hook's `init` (see
 * {@link WaitedOn}). 0 for the other types, and when nothing names it.
 */
export function creationSite(type: string): number {
  if (!SITED_TYPES.has(type)) return 0;
  if (S.captureLocations) {
    const call = callSite();
    if (call !== 0) return call < 0 ? 0 : 2 * call;
  }
  const region = regionLocation();
  return region === 0 ? 0 : 2 * region + 1;
}

/** The location of the innermost open region (with a location) of the current chain, or 0. */
function regionLocation(): number {
  for (let r = chainTopRaw(currentScope()); r !== null; r = r.parent) {
    if (r.generation !== S.generation) return 0;
    if (!r.ended && r.location !== 0) return r.location;
  }
  return 0;
}

/**
 * The location of the innermost frame below the hook that is not Node's own; 0 when there is none; −1
 * when it is tstrace's: the resource is the tracer's (its trace file's writes, its timers).
 */
function callSite(): number {
  try {
    const frames = captureFrames(creationSite, SITE_FRAMES + 1);
    // frames[0] is the hook's `init` (scheduling.ts), which called creationSite.
    for (let i = 1; i < frames.length; i++) {
      const file = frames[i].getFileName() ?? '';
      if (file === '' || file.startsWith('node:')) continue;
      return ownDir !== '' && file.startsWith(ownDir) ? -1 : frameLocation(frames[i]);
    }
  } catch {
    // A stack that cannot be captured names no site.
  }
  return 0;
}
