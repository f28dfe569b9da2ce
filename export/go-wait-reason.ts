/**
 * Which of Go 1.19's blocking events stands for what a flow waited on (a Run event's `waitedOn`, the
 * async resource type Node resumed it from), so that `go tool trace`'s goroutine analysis and blocking
 * profiles file the wait where a Go programmer looks for it. docs/export.md has the table.
 */
import { GoEvent, type GoParkReason } from './go-trace-encoder.js';

/** Node's async resource types for sockets, pipes, TTYs, DNS, HTTP and files: I/O a poller reports. */
const IO_RESOURCE = /^(TCP|PIPE|TLS|TTY|UDP|HTTP|JSSTREAM|GETADDRINFO|GETNAMEINFO|QUERY|DNS|SHUTDOWN|WRITE|FSREQ|FILEHANDLE|STATWATCHER|FSEVENT|ZLIB|PROCESS|SIGNAL)/;

/**
 * The Go event a flow's goroutine blocks with when its next run resumes from `waitedOn`:
 * sockets, pipes, HTTP, DNS and files → `GoBlockNet` (Go's "Network wait" and /io profile: Go 1.19
 * has no file wait, and Node waits for both in its poller); timers (`Timeout`, `TIMERWRAP`) →
 * `GoSleep` (Go's time.Sleep: not a blocking-profile entry); a promise (`PROMISE`: awaiting a value
 * another callback delivers) or a message from another thread (`MESSAGEPORT`) → `GoBlockRecv` (a
 * channel receive: Go's "Sync block" and /block profile); anything else (immediates, callbacks run inside another, unknown) → `GoBlock`.
 */
export function goParkReasonOf(waitedOn: string): GoParkReason {
  if (waitedOn === 'PROMISE' || waitedOn === 'MESSAGEPORT') return GoEvent.GoBlockRecv;
  if (waitedOn === 'Timeout' || waitedOn === 'TIMERWRAP') return GoEvent.GoSleep;
  if (IO_RESOURCE.test(waitedOn)) return GoEvent.GoBlockNet;
  return GoEvent.GoBlock;
}
