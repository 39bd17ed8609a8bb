import { KilnError } from '@kiln/core';

// Protocol-buffer wire format, by hand: ONNX files are plain proto2, and reading them ourselves
// lets us keep unknown fields byte for byte, view raw_data without copying out of a 100 MB file,
// and turn every malformed byte into a KilnError rather than a RangeError from deep inside a library.

/** Wire types of the protobuf encoding. */
export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  StartGroup = 3,
  EndGroup = 4,
  Fixed32 = 5,
}

/** An int64 field's value: a number when it is a safe integer, else a bigint (exact either way). */
export type Int64 = number | bigint;

const TWO_32 = 4294967296;

/** Reads the protobuf wire format from a byte range, failing with KilnError('INVALID_MODEL'). */
export class WireReader {
  /** The bytes being read. */
  readonly bytes: Uint8Array;
  /** Next byte to read. */
  pos: number;
  /** One past the last byte of the current message. */
  readonly end: number;
  /** Says where in the file we are, for error messages. */
  readonly where: () => string;

  constructor(bytes: Uint8Array, pos: number, end: number, where: () => string) {
    this.bytes = bytes;
    this.pos = pos;
    this.end = end;
    this.where = where;
  }

  /** A KilnError about malformed data at the current position. */
  fail(message: string): KilnError {
    return new KilnError('INVALID_MODEL', `${this.where()}: ${message} (at byte ${this.pos})`);
  }

  /** True once the whole message has been read. */
  done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint as a non-negative number, failing if it does not fit in 2^53 (lengths, tags, enums). */
  uint(): number {
    const v = this.varint64();
    if (typeof v === 'bigint') throw this.fail(`a value of ${v} is too large here`);
    if (v < 0) throw this.fail(`a negative value ${v} is not allowed here`);
    return v;
  }

  /** A varint read as a two's-complement int64: a number when safe, else a bigint. */
  varint64(): Int64 {
    const b = this.bytes;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    let i = 0;
    for (; ; i++) {
      if (this.pos >= this.end) throw this.fail('truncated varint');
      if (i >= 10) throw this.fail('varint longer than 10 bytes');
      const byte = b[this.pos++]!;
      if (i < 4) lo |= (byte & 0x7f) << shift;
      else if (i === 4) {
        lo |= (byte & 0x0f) << 28;
        hi |= (byte & 0x7f) >> 4;
      } else hi |= (byte & 0x7f) << (shift - 32);
      shift += 7;
      if ((byte & 0x80) === 0) break;
    }
    lo >>>= 0;
    hi >>>= 0;
    if (hi < 0x200000) return hi * TWO_32 + lo; // < 2^53: exact as a number
    if (hi >= 0xffe00000) return (hi - TWO_32) * TWO_32 + lo; // > -2^53 negative
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
  }

  /** A varint as an int32 (negative int32s are sign-extended to 10 bytes on the wire). */
  int32(): number {
    const v = this.varint64();
    return typeof v === 'bigint' ? Number(BigInt.asIntN(32, v)) : v | 0;
  }

  /** A varint as a uint64: a number when safe, else a bigint. */
  uint64(): Int64 {
    const v = this.varint64();
    if (typeof v === 'bigint') return v < 0n ? BigInt.asUintN(64, v) : v;
    return v < 0 ? BigInt.asUintN(64, BigInt(v)) : v;
  }

  /** Four little-endian bytes as a float32. */
  float(): number {
    this.need(4);
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getFloat32(
      0,
      true,
    );
    this.pos += 4;
    return v;
  }

  /** Eight little-endian bytes as a float64. */
  double(): number {
    this.need(8);
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 8).getFloat64(
      0,
      true,
    );
    this.pos += 8;
    return v;
  }

  /** A length-delimited field's payload, as a view (no copy). */
  bytesField(): Uint8Array {
    const n = this.uint();
    this.need(n);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Skips one field's value of the given wire type (groups included, nested). */
  skip(wire: number, depth = 0): void {
    switch (wire) {
      case WireType.Varint:
        this.varint64();
        return;
      case WireType.Fixed64:
        this.need(8);
        this.pos += 8;
        return;
      case WireType.Bytes:
        this.bytesField();
        return;
      case WireType.Fixed32:
        this.need(4);
        this.pos += 4;
        return;
      case WireType.StartGroup: {
        if (depth > 64) throw this.fail('groups nested too deeply');
        for (;;) {
          if (this.done()) throw this.fail('unterminated group');
          const tag = this.uint();
          if ((tag & 7) === WireType.EndGroup) return;
          this.skip(tag & 7, depth + 1);
        }
      }
      default:
        throw this.fail(`invalid wire type ${wire}`);
    }
  }

  private need(n: number): void {
    if (this.pos + n > this.end)
      throw this.fail(`truncated: ${n} bytes needed, ${this.end - this.pos} left`);
  }
}

/** Builds protobuf wire-format bytes in growing chunks. */
export class WireWriter {
  private buf: Uint8Array;
  private view: DataView;
  /** Bytes written so far. */
  len = 0;

  constructor(initial = 1024) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** A varint of a non-negative safe integer. */
  uint(v: number): void {
    this.reserve(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.len++] = v;
  }

  /** A varint of an int64 (negatives as 10-byte two's complement, like protobuf). */
  int64(v: Int64): void {
    if (typeof v === 'number' && v >= 0) return this.uint(v);
    let u = BigInt.asUintN(64, BigInt(v));
    this.reserve(10);
    while (u >= 0x80n) {
      this.buf[this.len++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.len++] = Number(u);
  }

  /** A field tag. */
  tag(field: number, wire: WireType): void {
    this.uint(field * 8 + wire);
  }

  /** A float32, little-endian. */
  float(v: number): void {
    this.reserve(4);
    this.view.setFloat32(this.len, v, true);
    this.len += 4;
  }

  /** A float64, little-endian. */
  double(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.len, v, true);
    this.len += 8;
  }

  /** Raw bytes, no length prefix. */
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** Starts a length-delimited field whose length is patched by `endLength`. */
  beginLength(): number {
    // Five bytes hold any length below 2^35; patching in place avoids encoding sub-messages twice.
    this.reserve(5);
    const at = this.len;
    this.len += 5;
    return at;
  }

  /** Patches the length of a field begun with `beginLength` (a padded 5-byte varint). */
  endLength(at: number): void {
    let n = this.len - at - 5;
    for (let i = 0; i < 4; i++) {
      this.buf[at + i] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[at + 4] = n;
  }

  /** The bytes written (a view). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}
