/**
 * Writes protobuf's wire format into one growing buffer: varints, fixed-width numbers, strings, and
 * length-delimited messages (a placeholder for the length, filled in when the message is done). What
 * the OTLP span encoding needs, and no more.
 */
export class ProtoWriter {
  bytes: Uint8Array;
  pos = 0;
  private view: DataView;
  private readonly encoder = new TextEncoder();

  constructor(size = 64 * 1024) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Room for `size` more bytes. */
  ensure(size: number): void {
    const needed = this.pos + size;
    if (needed <= this.bytes.length) return;
    let grown = this.bytes.length * 2;
    while (grown < needed) grown *= 2;
    const bytes = new Uint8Array(grown);
    bytes.set(this.bytes.subarray(0, this.pos));
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer);
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** A varint; negative and 64-bit integers as protobuf's int64 (two's complement, ten bytes at most). */
  varint(value: number): void {
    this.ensure(10);
    const { bytes } = this;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 0x7f) {
        bytes[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      bytes[this.pos++] = v;
      return;
    }
    const magnitude = Math.abs(value);
    let low = magnitude >>> 0;
    let high = (magnitude / 0x100000000) >>> 0;
    if (value < 0) {
      low = (~low + 1) >>> 0;
      high = (~high + (low === 0 ? 1 : 0)) >>> 0;
    }
    while (high > 0 || low > 0x7f) {
      bytes[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    bytes[this.pos++] = low;
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, value >>> 0, true);
    this.pos += 4;
  }

  fixed64(low: number, high: number): void {
    this.ensure(8);
    this.view.setUint32(this.pos, low >>> 0, true);
    this.view.setUint32(this.pos + 4, high >>> 0, true);
    this.pos += 8;
  }

  /** An HrTime (`seconds`, `nanos` since the epoch) as fixed64 nanoseconds. */
  fixed64Nanos(seconds: number, nanos: number): void {
    // seconds × 1e9 + nanos overflows a double's integers: split seconds at 16 bits (as the SDK does).
    const lowerNanos = (seconds & 0xffff) * 1e9;
    const upperNanos = ((seconds / 0x10000) >>> 0) * 1e9;
    const low = (lowerNanos >>> 0) + (((upperNanos & 0xffff) * 0x10000) >>> 0) + nanos;
    const high =
      Math.floor(lowerNanos / 0x100000000) + ((upperNanos / 0x10000) >>> 0) + Math.floor(low / 0x100000000);
    this.fixed64(low >>> 0, high >>> 0);
  }

  double(value: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  /** A 32-bit word as four bytes, most significant first (part of a trace or span id). */
  word(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, value >>> 0, false);
    this.pos += 4;
  }

  /** A string, UTF-8, with its length. */
  string(text: string): void {
    const length = text.length;
    // Copied as it is checked, in one pass, after room for its length: an ASCII string's UTF-8 length is
    // its length. Most strings here are ASCII (names, keys, ids). Room for a whole varint besides, so
    // that writing the length never grows (and copies away) the buffer.
    this.ensure(10 + length);
    const { bytes } = this;
    let pos = this.pos + varintSize(length);
    for (let index = 0; index < length; index++) {
      const code = text.charCodeAt(index);
      if (code > 127) {
        this.byteArray(this.encoder.encode(text));
        return;
      }
      bytes[pos++] = code;
    }
    this.varint(length);
    this.pos = pos;
  }

  byteArray(value: Uint8Array): void {
    this.varint(value.length);
    this.raw(value);
  }

  /** Bytes as they are (already encoded), without a length. */
  raw(value: Uint8Array): void {
    this.ensure(value.length);
    this.bytes.set(value, this.pos);
    this.pos += value.length;
  }

  /** Hex digits as the bytes they spell, with their length (trace and span ids). */
  hex(digits: string): void {
    const length = digits.length >>> 1;
    this.varint(length);
    this.ensure(length);
    const { bytes } = this;
    for (let index = 0; index < digits.length; index += 2) {
      bytes[this.pos++] = (nibble(digits.charCodeAt(index)) << 4) | nibble(digits.charCodeAt(index + 1));
    }
  }

  /** Starts a length-delimited message: returns where its length goes (one byte kept for it). */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Ends the message begun at `at`: writes its length there, moving the message if it needs more bytes. */
  end(at: number): void {
    const length = this.pos - at - 1;
    if (length < 0x80) {
      this.bytes[at] = length;
      return;
    }
    const size = varintSize(length);
    this.ensure(size - 1);
    this.bytes.copyWithin(at + size, at + 1, this.pos);
    this.pos += size - 1;
    let v = length;
    let write = at;
    while (v > 0x7f) {
      this.bytes[write++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.bytes[write] = v;
  }
}

/** How many bytes `value` (at most 2^32 − 1) takes as a varint. */
export function varintSize(value: number): number {
  let size = 1;
  for (let rest = value >>> 7; rest > 0; rest >>>= 7) size++;
  return size;
}

/** The value of one hex digit (either case). */
function nibble(code: number): number {
  return code <= 57 ? code - 48 : (code | 0x20) - 87;
}
