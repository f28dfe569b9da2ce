/**
 * A Perfetto trace decoder for the tests, independent of the exporter's code: a protobuf wire-format
 * reader, and the meaning of the fields it needs, numbered as in Perfetto's published protos
 * (protos/perfetto/trace/trace_packet.proto, track_event/track_event.proto, track_descriptor.proto,
 * process_descriptor.proto, thread_descriptor.proto, counter_descriptor.proto, debug_annotation.proto,
 * source_location.proto, interned_data/interned_data.proto). It resolves interned data as a reader
 * must — per sequence, only what an earlier or the same packet defined since the sequence's state was
 * cleared — and reports what it cannot resolve as problems.
 */

type WireValue = bigint | Uint8Array;

/** The fields of one message: field number → values in order (varints and fixed64 as bigint, length-delimited as bytes). */
class Message {
  constructor(readonly fields: Map<number, WireValue[]>) {}

  static decode(bytes: Uint8Array): Message {
    const fields = new Map<number, WireValue[]>();
    let pos = 0;
    const varint = (): bigint => {
      let result = 0n;
      let shift = 0n;
      for (;;) {
        if (pos >= bytes.length) throw new Error('varint runs past the end');
        const byte = bytes[pos++];
        result |= BigInt(byte & 0x7f) << shift;
        if (byte < 0x80) return result;
        shift += 7n;
      }
    };
    while (pos < bytes.length) {
      const key = Number(varint());
      const field = key >>> 3;
      const wire = key & 7;
      let value: WireValue;
      if (wire === 0) value = varint();
      else if (wire === 1) {
        value = new DataView(bytes.buffer, bytes.byteOffset + pos, 8).getBigUint64(0, true);
        pos += 8;
      } else if (wire === 2) {
        const length = Number(varint());
        if (pos + length > bytes.length) throw new Error(`field ${field} runs past the end`);
        value = bytes.subarray(pos, pos + length);
        pos += length;
      } else if (wire === 5) {
        value = BigInt(new DataView(bytes.buffer, bytes.byteOffset + pos, 4).getUint32(0, true));
        pos += 4;
      } else throw new Error(`wire type ${wire} (field ${field})`);
      const list = fields.get(field) ?? [];
      list.push(value);
      fields.set(field, list);
    }
    return new Message(fields);
  }

  has(field: number): boolean {
    return this.fields.has(field);
  }

  uint(field: number): bigint | undefined {
    const value = this.fields.get(field)?.at(-1);
    return typeof value === 'bigint' ? value : undefined;
  }

  num(field: number): number | undefined {
    const value = this.uint(field);
    return value === undefined ? undefined : Number(value);
  }

  uints(field: number): bigint[] {
    return (this.fields.get(field) ?? []).filter((v): v is bigint => typeof v === 'bigint');
  }

  string(field: number): string | undefined {
    const value = this.fields.get(field)?.at(-1);
    return value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : undefined;
  }

  double(field: number): number | undefined {
    const value = this.uint(field);
    if (value === undefined) return undefined;
    const view = new DataView(new ArrayBuffer(8));
    view.setBigUint64(0, value, true);
    return view.getFloat64(0, true);
  }

  message(field: number): Message | undefined {
    const value = this.fields.get(field)?.at(-1);
    return value instanceof Uint8Array ? Message.decode(value) : undefined;
  }

  messages(field: number): Message[] {
    return (this.fields.get(field) ?? []).filter((v): v is Uint8Array => v instanceof Uint8Array).map((v) => Message.decode(v));
  }
}

export interface PerfettoTrack {
  uuid: bigint;
  parent: bigint | undefined;
  name: string | undefined;
  process?: { pid: number | undefined; name: string | undefined };
  thread?: { pid: number | undefined; tid: number | undefined; name: string | undefined };
  counter?: { unit: number | undefined };
}

export interface PerfettoEvent {
  /** TracePacket.timestamp, in ns. */
  ts: bigint;
  type: 'begin' | 'end' | 'instant' | 'counter' | 'unspecified';
  track: bigint;
  categories: string[];
  name: string | undefined;
  args: Record<string, bigint | string | boolean | number>;
  location: { file: string; function: string | undefined; line: number } | undefined;
  flowIds: bigint[];
  terminatingFlowIds: bigint[];
  counter: number | undefined;
}

export interface PerfettoTrace {
  packets: number;
  tracks: Map<bigint, PerfettoTrack>;
  events: PerfettoEvent[];
  /** What a reader could not make sense of (none is the expectation). */
  problems: string[];
}

const types = ['unspecified', 'begin', 'end', 'instant', 'counter'] as const;

/** Decodes a `Trace` (repeated TracePacket packet = 1). */
export function decodePerfetto(bytes: Uint8Array): PerfettoTrace {
  const trace = Message.decode(bytes);
  const problems: string[] = [];
  const tracks = new Map<bigint, PerfettoTrack>();
  const events: PerfettoEvent[] = [];
  // Interned data per sequence: EventCategory, EventName, DebugAnnotationName, SourceLocation by iid.
  const sequences = new Map<number, { cleared: boolean; categories: Map<bigint, string>; names: Map<bigint, string>; annotations: Map<bigint, string>; locations: Map<bigint, PerfettoEvent['location']> }>();
  const packets = trace.messages(1);
  packets.forEach((packet, index) => {
    const sequenceId = packet.num(10);
    const flags = packet.num(13) ?? 0;
    if (sequenceId === undefined || sequenceId === 0) problems.push(`packet ${index}: no trusted_packet_sequence_id`);
    let sequence = sequences.get(sequenceId ?? 0);
    if (!sequence || flags & 1) {
      sequence = { cleared: (flags & 1) !== 0, categories: new Map(), names: new Map(), annotations: new Map(), locations: new Map() };
      sequences.set(sequenceId ?? 0, sequence);
    }
    const interned = packet.message(12);
    if (interned) {
      if (!sequence.cleared) problems.push(`packet ${index}: interned data before SEQ_INCREMENTAL_STATE_CLEARED`);
      const define = (map: Map<bigint, string>, entries: Message[], what: string): void => {
        for (const entry of entries) {
          const iid = entry.uint(1)!;
          const name = entry.string(2)!;
          if (map.has(iid) && map.get(iid) !== name) problems.push(`packet ${index}: ${what} iid ${iid} redefined`);
          map.set(iid, name);
        }
      };
      define(sequence.categories, interned.messages(1), 'category');
      define(sequence.names, interned.messages(2), 'event name');
      define(sequence.annotations, interned.messages(3), 'debug annotation name');
      for (const entry of interned.messages(4)) {
        sequence.locations.set(entry.uint(1)!, { file: entry.string(2)!, function: entry.string(3), line: entry.num(4)! });
      }
    }
    const descriptor = packet.message(60);
    if (descriptor) {
      const uuid = descriptor.uint(1)!;
      if (tracks.has(uuid)) problems.push(`packet ${index}: track ${uuid} described twice`);
      const process = descriptor.message(3);
      const thread = descriptor.message(4);
      const counter = descriptor.message(8);
      tracks.set(uuid, {
        uuid,
        parent: descriptor.uint(5),
        name: descriptor.string(2),
        ...(process ? { process: { pid: process.num(1), name: process.string(6) } } : {}),
        ...(thread ? { thread: { pid: thread.num(1), tid: thread.num(2), name: thread.string(5) } } : {}),
        ...(counter ? { counter: { unit: counter.num(3) } } : {}),
      });
    }
    const event = packet.message(11);
    if (!event) return;
    const needs = (flags & 2) !== 0;
    const resolve = (map: Map<bigint, string>, iid: bigint, what: string): string => {
      if (!needs) problems.push(`packet ${index}: uses interned ${what} without SEQ_NEEDS_INCREMENTAL_STATE`);
      const value = map.get(iid);
      if (value === undefined) problems.push(`packet ${index}: ${what} iid ${iid} is not defined`);
      return value ?? `?${iid}`;
    };
    const args: PerfettoEvent['args'] = {};
    for (const annotation of event.messages(4)) {
      const key = annotation.has(1) ? resolve(sequence.annotations, annotation.uint(1)!, 'debug annotation name') : annotation.string(10)!;
      if (annotation.has(2)) args[key] = annotation.uint(2) === 1n;
      else if (annotation.has(3)) args[key] = annotation.uint(3)!;
      else if (annotation.has(4)) args[key] = BigInt.asIntN(64, annotation.uint(4)!);
      else if (annotation.has(5)) args[key] = annotation.double(5)!;
      else if (annotation.has(6)) args[key] = annotation.string(6)!;
      else problems.push(`packet ${index}: debug annotation ${key} without a value`);
    }
    const locationIid = event.uint(34);
    let location: PerfettoEvent['location'];
    if (locationIid !== undefined) {
      location = sequence.locations.get(locationIid);
      if (!location) problems.push(`packet ${index}: source location iid ${locationIid} is not defined`);
    }
    const timestamp = packet.uint(8);
    if (timestamp === undefined) problems.push(`packet ${index}: a track event without a timestamp`);
    events.push({
      ts: timestamp ?? 0n,
      type: types[event.num(9) ?? 0] ?? 'unspecified',
      track: event.uint(11) ?? 0n,
      categories: [...event.uints(3).map((iid) => resolve(sequence.categories, iid, 'category')), ...(event.fields.get(22) ?? []).map((v) => Buffer.from(v as Uint8Array).toString('utf8'))],
      name: event.has(10) ? resolve(sequence.names, event.uint(10)!, 'event name') : event.string(23),
      args,
      location,
      flowIds: event.uints(47),
      terminatingFlowIds: event.uints(48),
      counter: event.has(30) ? Number(BigInt.asIntN(64, event.uint(30)!)) : event.double(44),
    });
  });
  for (const event of events) if (!tracks.has(event.track)) problems.push(`an event on track ${event.track}, which is not described`);
  for (const track of tracks.values()) if (track.parent !== undefined && !tracks.has(track.parent)) problems.push(`track ${track.uuid}: parent ${track.parent} is not described`);
  return { packets: packets.length, tracks, events, problems };
}
