import { KilnError } from '@kiln/core';

// A small protobuf wire-format reader for TensorFlow's messages. Every malformed byte becomes a
// KilnError('INVALID_MODEL') naming the file, never a RangeError from deep inside a decoder.

/** One field of a message: its number, wire type and where its payload lies. */
export interface Field {
  /** Field number. */
  no: number;
  /** Wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32). */
  wire: number;
  /** A varint or fixed value (wire types 0, 1, 5). */
  value: number;
  /** The raw 64-bit value of a varint or fixed64, exact. */
  big: bigint;
  /** Payload start (wire type 2). */
  start: number;
  /** Payload end (wire type 2). */
  end: number;
}

const TWO_64 = 1n << 64n;

/** Reads fields from bytes[start, end); `where` names the source in errors. */
export class ProtoReader {
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly where: string,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
    if (start < 0 || end > bytes.length || start > end)
      throw this.fail('a message range lies outside the data');
  }

  /** A KilnError about malformed data. */
  fail(message: string): KilnError {
    return new KilnError('INVALID_MODEL', `${this.where}: ${message} (at byte ${this.pos})`);
  }

  /** An unsigned varint as a bigint. */
  varintBig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; ; i++) {
      if (this.pos >= this.end) throw this.fail('truncated varint');
      if (i >= 10) throw this.fail('varint longer than 10 bytes');
      const b = this.bytes[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) break;
    }
    return result & (TWO_64 - 1n);
  }

  /** An unsigned varint as a number (fast path for small values). */
  varint(): number {
    const b = this.bytes;
    let v = 0;
    let mul = 1;
    const start = this.pos;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) throw this.fail('truncated varint');
      const byte = b[this.pos++]!;
      v += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) return v;
      mul *= 128;
    }
    this.pos = start;
    return Number(this.varintBig());
  }

  /** The next field, or undefined at the end of the message. */
  next(): Field | undefined {
    if (this.pos >= this.end) return undefined;
    const tag = this.varint();
    const no = Math.floor(tag / 8);
    const wire = tag & 7;
    if (no === 0) throw this.fail('field number 0');
    const f: Field = { no, wire, value: 0, big: 0n, start: 0, end: 0 };
    switch (wire) {
      case 0: {
        const at = this.pos;
        f.value = this.varint();
        if (f.value > Number.MAX_SAFE_INTEGER) {
          this.pos = at;
          f.big = this.varintBig();
          f.value = Number(BigInt.asIntN(64, f.big));
        } else f.big = BigInt(f.value);
        break;
      }
      case 1: {
        this.need(8);
        const dv = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 8);
        f.big = dv.getBigUint64(0, true);
        f.value = dv.getFloat64(0, true);
        this.pos += 8;
        break;
      }
      case 2: {
        const len = this.varint();
        this.need(len);
        f.start = this.pos;
        f.end = this.pos + len;
        this.pos = f.end;
        break;
      }
      case 5: {
        this.need(4);
        const dv = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4);
        f.value = dv.getUint32(0, true);
        f.big = BigInt(f.value);
        this.pos += 4;
        break;
      }
      default:
        throw this.fail(`unsupported wire type ${wire} for field ${no}`);
    }
    return f;
  }

  private need(n: number): void {
    if (n > this.end - this.pos)
      throw this.fail(`a field of ${n} bytes passes the end of its message`);
  }

  /** A sub-reader over a length-delimited field. */
  sub(f: Field, what: string): ProtoReader {
    this.expect(f, 2, what);
    return new ProtoReader(this.bytes, this.where, f.start, f.end);
  }

  /** A length-delimited field's bytes (a view). */
  bytesOf(f: Field, what: string): Uint8Array {
    this.expect(f, 2, what);
    return this.bytes.subarray(f.start, f.end);
  }

  /** A length-delimited field as UTF-8 text. */
  string(f: Field, what: string): string {
    return decoder.decode(this.bytesOf(f, what));
  }

  /** A varint field as a signed int64 number (must be a safe integer). */
  int(f: Field, what: string): number {
    this.expect(f, 0, what);
    const v = Number(BigInt.asIntN(64, f.big));
    if (!Number.isSafeInteger(v)) throw this.fail(`${what}: ${v} is out of range`);
    return v;
  }

  /** Fixed32 field as a float. */
  float(f: Field, what: string): number {
    this.expect(f, 5, what);
    const dv = new DataView(new ArrayBuffer(4));
    dv.setUint32(0, f.value, true);
    return dv.getFloat32(0, true);
  }

  /** A repeated varint field, packed or not, appended to `out` as signed int64 numbers. */
  packedInts(f: Field, out: number[], what: string): void {
    if (f.wire === 0) {
      out.push(this.int(f, what));
      return;
    }
    const r = this.sub(f, what);
    while (r.pos < r.end) {
      const v = Number(BigInt.asIntN(64, r.varintBig()));
      if (!Number.isSafeInteger(v)) throw this.fail(`${what}: ${v} is out of range`);
      out.push(v);
    }
  }

  /** A repeated float field, packed or not. */
  packedFloats(f: Field, out: number[], what: string): void {
    if (f.wire === 5) {
      out.push(this.float(f, what));
      return;
    }
    const b = this.bytesOf(f, what);
    if (b.length % 4 !== 0) throw this.fail(`${what}: packed floats of ${b.length} bytes`);
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    for (let i = 0; i < b.length; i += 4) out.push(dv.getFloat32(i, true));
  }

  /** A repeated double field, packed or not. */
  packedDoubles(f: Field, out: number[], what: string): void {
    if (f.wire === 1) {
      out.push(f.value);
      return;
    }
    const b = this.bytesOf(f, what);
    if (b.length % 8 !== 0) throw this.fail(`${what}: packed doubles of ${b.length} bytes`);
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    for (let i = 0; i < b.length; i += 8) out.push(dv.getFloat64(i, true));
  }

  private expect(f: Field, wire: number, what: string): void {
    if (f.wire !== wire)
      throw this.fail(`${what} (field ${f.no}) has wire type ${f.wire}, expected ${wire}`);
  }
}

const decoder = new TextDecoder('utf-8');
