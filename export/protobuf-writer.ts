/**
 * A minimal protocol-buffers encoder for the Perfetto export: varints, fixed64, doubles, strings and
 * nested messages, written into one growing buffer. No schema: the caller names the field numbers (see
 * export-perfetto.ts). Numbers are JavaScript numbers below 2^53, or a `hi * 2^32 + lo` pair for the
 * few 64-bit values that can exceed that (absolute timestamps).
 */

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const TWO_32 = 0x1_0000_0000;

/** Bytes a varint of `value` (a non-negative integer below 2^53) takes. */
function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** An open nested message: where its content starts (its length is written in front when it ends). */
export type MessageMark = number;

export class ProtobufWriter {
  private buffer: Buffer;
  private pos = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes written since the last {@link take}. */
  get length(): number {
    return this.pos;
  }

  /** The bytes written so far (a view the writer no longer touches); starts over empty. */
  take(): Uint8Array {
    const bytes = this.buffer.subarray(0, this.pos);
    this.buffer = Buffer.allocUnsafe(Math.max(this.buffer.length, 64 * 1024));
    this.pos = 0;
    return bytes;
  }

  /** A varint field (uint32/uint64/int32/int64/bool/enum with a non-negative value below 2^53). */
  uint(field: number, value: number): void {
    this.key(field, VARINT);
    this.varint(value);
  }

  /** A uint64 varint field of `hi * 2^32 + lo` (both unsigned 32-bit), for values beyond 2^53. */
  uint64(field: number, hi: number, lo: number): void {
    this.key(field, VARINT);
    this.ensure(10);
    while (hi > 0) {
      // 7 bits from lo, then shift the pair right by 7.
      this.buffer[this.pos++] = (lo & 0x7f) | 0x80;
      lo = (lo >>> 7) | ((hi & 0x7f) << 25);
      hi >>>= 7;
    }
    this.varint(lo >>> 0);
  }

  /** A fixed64 field of a non-negative integer below 2^53. */
  fixed64(field: number, value: number): void {
    this.key(field, FIXED64);
    this.ensure(8);
    this.buffer.writeUInt32LE(value % TWO_32, this.pos);
    this.buffer.writeUInt32LE(Math.floor(value / TWO_32), this.pos + 4);
    this.pos += 8;
  }

  double(field: number, value: number): void {
    this.key(field, FIXED64);
    this.ensure(8);
    this.buffer.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** A string field, UTF-8. */
  string(field: number, value: string): void {
    this.key(field, LENGTH_DELIMITED);
    const bytes = Buffer.byteLength(value);
    this.varint(bytes);
    this.ensure(bytes);
    this.pos += this.buffer.write(value, this.pos, bytes, 'utf8');
  }

  /** Starts a nested message in `field`; end it with {@link end}. Messages nest. */
  begin(field: number): MessageMark {
    this.key(field, LENGTH_DELIMITED);
    // One byte is kept for the length: most messages are shorter than 128 bytes and need no move.
    this.ensure(1);
    this.pos++;
    return this.pos;
  }

  /** Ends the message begun at `mark`: writes its length in front of it. */
  end(mark: MessageMark): void {
    const length = this.pos - mark;
    if (length < 0x80) {
      this.buffer[mark - 1] = length;
      return;
    }
    const extra = varintSize(length) - 1;
    this.ensure(extra);
    this.buffer.copyWithin(mark + extra, mark, this.pos);
    const end = this.pos + extra;
    this.pos = mark - 1;
    this.varint(length);
    this.pos = end;
  }

  private key(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  private varint(value: number): void {
    this.ensure(10);
    const buffer = this.buffer;
    while (value >= 0x80) {
      buffer[this.pos++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    buffer[this.pos++] = value;
  }

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.pos + bytes));
    this.buffer.copy(grown, 0, 0, this.pos);
    this.buffer = grown;
  }
}
