/**
 * The tstrace binary trace format, version 7: the constants shared by the writer (runtime) and the
 * reader (analysis/). `docs/format.md` is the prose version of this file; change both together.
 */

/** The first 8 bytes of every trace file. */
export const MAGIC = Uint8Array.of(0x54, 0x53, 0x54, 0x52, 0x41, 0x43, 0x45, 0x0a); // "TSTRACE\n"
export const FORMAT_VERSION = 7;

/** Every frame starts with `u32le payloadLength, u32le crc32(kind byte + payload), u8 kind`. */
export const FRAME_HEADER_BYTES = 9;

export const FrameKind = {
  /** Process facts and clock origin; the first frame of a file. */
  Header: 1,
  /** A batch of events. */
  Events: 2,
  /** Written by `stop()`: the trace is complete; totals. */
  Footer: 3,
  /** Version 4: a worker thread joined the trace: its thread id and name. */
  Thread: 4,
  /** Version 4: a batch of events recorded on a worker thread: `uvarint thread`, then a batch as in Events. */
  ThreadEvents: 5,
} as const;

/** The thread id of the main thread (`worker_threads.threadId` is 0 there); events of Events frames are its. */
export const MAIN_THREAD = 0;

/**
 * Event types (low 6 bits of an event's first byte). Bit 7 (`SAME_FLOW`) means "same flow as the
 * previous event of this batch that carried a flow" and omits the flow field; bit 6 (`SAME_TASK`)
 * does the same for the task field.
 */
export const EventType = {
  StringDef: 1,
  LocationDef: 2,
  FlowStart: 3,
  TaskCreate: 4,
  TaskEnd: 5,
  RegionStart: 6,
  RegionEnd: 7,
  Log: 8,
  GC: 9,
  Heap: 10,
  EventLoop: 11,
  Dropped: 12,
  Misuse: 13,
  /**
   * Version 3: the next event of the batch, a TaskCreate or RegionStart, is state carried into a
   * flight-recorder snapshot: the task or region began `ago` ns before its time, before the trace began.
   */
  BeganBefore: 14,
  /**
   * Version 5: a stretch of the thread's time that one flow (of one task) ran without a break: when it
   * started, how long it ran, when what it resumed became ready, and what it had waited for — and,
   * since version 6, where that was created.
   */
  Run: 15,
  /**
   * Version 7: a FlowStart and the RegionStart of the new flow's first region, at one time, as one
   * event — what every async call records (its region goes on a lane of its own).
   */
  ForkedRegionStart: 16,
} as const;
export type EventTypeCode = (typeof EventType)[keyof typeof EventType];

/** Whether an event of `type` has a `flow` field (after `dt`): all but the process-wide samples. */
export const hasFlowField = (type: number): boolean => type !== EventType.GC && type !== EventType.Heap && type !== EventType.EventLoop && type !== EventType.Dropped;

/** Whether an event of `type` has a `task` field (after `flow`). */
export const hasTaskField = (type: number): boolean =>
  type === EventType.TaskCreate || type === EventType.TaskEnd || type === EventType.RegionStart || type === EventType.ForkedRegionStart || type === EventType.Log || type === EventType.Run;

export const SAME_FLOW = 0x80;
export const SAME_TASK = 0x40;
export const TYPE_MASK = 0x3f;

/** Misuse kinds the runtime detects and records (the reader reports them as problems). */
export const MisuseKind = {
  RegionEndedTwice: 1,
  RegionEndedOutOfOrder: 2,
  RegionEndedOnOtherFlow: 3,
} as const;

/** GC kinds: the codes of Node's `perf_hooks.constants.NODE_PERFORMANCE_GC_*` (`PerformanceEntry.detail.kind`). */
export const GcKind: Record<number, string> = {
  1: 'minor',
  4: 'major',
  8: 'incremental',
  16: 'weakcb',
};

/** Strings (names, categories, messages) are cut to this many UTF-8 bytes. */
export const MAX_STRING_BYTES = 1 << 20;
/** A frame whose declared length is larger than this is corrupt; the reader never allocates more. */
export const MAX_FRAME_BYTES = 64 << 20;
/** A varint longer than this many bytes is corrupt (8 bytes hold 56 bits; ids and times fit in 53). */
export const MAX_VARINT_BYTES = 8;
