import { MAX_STRING_BYTES, MAX_VARINT_BYTES } from './spec.js';

const utf8 = new TextEncoder();
export const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

/** A growable byte buffer with LEB128 varints; reused across batches so encoding allocates little. */
export class ByteWriter {
  bytes: Uint8Array;
  length = 0;

  constructor(initialCapacity = 1 << 16) {
    this.bytes = new Uint8Array(initialCapacity);
  }

  reset(): void {
    this.length = 0;
  }

  /** Makes room for `extra` more bytes (one comparison when there is room already). */
  reserve(extra: number): void {
    if (this.length + extra > this.bytes.length) this.grow(this.length + extra);
  }

  private grow(need: number): void {
    let capacity = this.bytes.length * 2;
    while (capacity < need) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  byte(value: number): void {
    if (this.length >= this.bytes.length) this.grow(this.length + 1);
    this.bytes[this.length++] = value;
  }

  /** Unsigned varint of a non-negative integer up to 2^53. */
  uvarint(value: number): void {
    this.reserve(MAX_VARINT_BYTES);
    this.length = putUvarint(this.bytes, this.length, value);
  }

  /** Unsigned varint of a bigint (clock origins exceed 2^53). */
  bigUvarint(value: bigint): void {
    this.reserve(10);
    while (value >= 0x80n) {
      this.bytes[this.length++] = Number(value & 0x7fn) | 0x80;
      value >>= 7n;
    }
    this.bytes[this.length++] = Number(value);
  }

  u32le(value: number, at = this.length): void {
    if (at === this.length) this.reserve(4);
    const b = this.bytes;
    b[at] = value & 0xff;
    b[at + 1] = (value >>> 8) & 0xff;
    b[at + 2] = (value >>> 16) & 0xff;
    b[at + 3] = (value >>> 24) & 0xff;
    if (at === this.length) this.length += 4;
  }

  raw(data: Uint8Array): void {
    this.reserve(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  /**
   * The fast path of string encoders: a string of fewer than 128 characters, all ASCII, is written as
   * `one-byte length, bytes` and true is returned. Otherwise nothing is written (bytes past `length`
   * may be overwritten) and false is returned. TextEncoder's encodeInto and the subarray it needs cost
   * more than this copy for names like these.
   */
  shortAscii(value: string): boolean {
    const length = value.length;
    if (length >= 0x80) return false;
    this.reserve(length + 1);
    const b = this.bytes;
    let n = this.length + 1;
    for (let i = 0; i < length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) return false;
      b[n++] = c;
    }
    b[this.length] = length;
    this.length = n;
    return true;
  }

  /** `varint byteLength, bytes`; strings longer than MAX_STRING_BYTES are cut at a character boundary. */
  string(value: string): void {
    if (this.shortAscii(value)) return;
    // A JS string of n UTF-16 units is at most 3n UTF-8 bytes.
    const room = Math.min(value.length * 3, MAX_STRING_BYTES);
    this.reserve(room + MAX_VARINT_BYTES);
    const start = this.length + (room < 0x80 ? 1 : room < 0x4000 ? 2 : room < 0x200000 ? 3 : 4);
    const { written } = utf8.encodeInto(
      value.length * 3 > MAX_STRING_BYTES ? value.slice(0, MAX_STRING_BYTES) : value,
      this.bytes.subarray(start, start + room),
    );
    // The length prefix was sized for the worst case; move the bytes if the real prefix is shorter.
    const prefixBytes = written < 0x80 ? 1 : written < 0x4000 ? 2 : written < 0x200000 ? 3 : 4;
    const bodyAt = this.length + prefixBytes;
    if (bodyAt !== start) this.bytes.copyWithin(bodyAt, start, start + written);
    this.uvarint(written);
    this.length = bodyAt + written;
  }

  /** A copy of the written bytes, in a buffer from `allocate` when given. */
  take(allocate?: (length: number) => Uint8Array): Uint8Array {
    if (allocate === undefined) return this.bytes.slice(0, this.length);
    const copy = allocate(this.length);
    copy.set(this.bytes.subarray(0, this.length));
    return copy;
  }
}

/**
 * Writes `value` (a non-negative integer up to 2^53) as an unsigned varint at `b[n]` and returns the
 * index after it. The caller has made room for MAX_VARINT_BYTES.
 */
export function putUvarint(b: Uint8Array, n: number, value: number): number {
  if (value < 0x80) {
    b[n] = value;
    return n + 1;
  }
  if (value < 0x80000000) {
    // Fits in 31 bits: integer shifts instead of floating-point division.
    let v = value | 0;
    while (v >= 0x80) {
      b[n++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[n++] = v;
    return n;
  }
  while (value >= 0x80) {
    b[n++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  b[n++] = value;
  return n;
}

/** A problem in the bytes of a trace, with the absolute file offset where it was found. */
export class TraceFormatError extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${reason} (at byte ${offset})`);
    this.name = 'TraceFormatError';
  }
}

/** Reads varints and strings from one frame's payload; every read is bounds-checked. */
export class ByteReader {
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    /** Absolute file offset of bytes[0], for error messages. */
    readonly baseOffset: number,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  fail(reason: string, at = this.pos): never {
    throw new TraceFormatError(this.baseOffset + at, reason);
  }

  byte(): number {
    if (this.pos >= this.end) this.fail('unexpected end of frame');
    return this.bytes[this.pos++];
  }

  uvarint(): number {
    const at = this.pos;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.pos >= this.end) this.fail('unexpected end of frame inside a number', at);
      const b = this.bytes[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) this.fail('number too large', at);
        return result;
      }
      scale *= 0x80;
    }
    return this.fail('number longer than 8 bytes', at);
  }

  bigUvarint(): bigint {
    const at = this.pos;
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
    }
    return this.fail('number longer than 10 bytes', at);
  }

  string(): string {
    const at = this.pos;
    const length = this.uvarint();
    if (length > MAX_STRING_BYTES) this.fail(`string of ${length} bytes exceeds the limit of ${MAX_STRING_BYTES}`, at);
    if (this.pos + length > this.end) this.fail(`string of ${length} bytes runs past the end of its frame`, at);
    const value = utf8Decoder.decode(this.bytes.subarray(this.pos, this.pos + length));
    this.pos += length;
    return value;
  }
}
