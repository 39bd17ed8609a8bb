import { KilnError } from '@kiln/core';
import { type FieldSpec, type MessageSpec, SCHEMA } from './schema';
import { type Int64, WireReader, WireType, WireWriter } from './wire';

// A generic, schema-driven protobuf codec for the ONNX messages. Decoding keeps unknown fields as
// raw bytes; encoding writes known fields in field-number order, then the unknown ones.

const MAX_DEPTH = 200;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

function spec(type: string): MessageSpec {
  const s = SCHEMA.get(type);
  if (!s) throw new KilnError('INTERNAL', `no schema for ONNX message ${type}`);
  return s;
}

function scalarWire(kind: FieldSpec['kind']): WireType {
  switch (kind) {
    case 'float':
      return WireType.Fixed32;
    case 'double':
      return WireType.Fixed64;
    case 'string':
    case 'bytes':
    case 'message':
      return WireType.Bytes;
    default:
      return WireType.Varint;
  }
}

function readScalar(r: WireReader, f: FieldSpec, type: string): unknown {
  switch (f.kind) {
    case 'int32':
      return r.int32();
    case 'int64':
      return r.varint64();
    case 'uint64':
      return r.uint64();
    case 'float':
      return r.float();
    case 'double':
      return r.double();
    case 'bytes':
      return r.bytesField();
    case 'string': {
      const b = r.bytesField();
      // Names are short and nearly always ASCII; TextDecoder's per-call cost dominates otherwise.
      if (b.length <= 8192) {
        let ascii = true;
        for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) ascii = false;
        if (ascii) return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
      }
      try {
        return utf8.decode(b);
      } catch {
        throw r.fail(`${type}.${f.name} is not valid UTF-8`);
      }
    }
    default:
      throw new KilnError('INTERNAL', `bad scalar kind ${f.kind}`);
  }
}

/** Decodes one message of `type` from bytes[start, end). `where` names the file for errors. */
export function decodeMessage<T>(
  type: string,
  bytes: Uint8Array,
  where: string,
  start = 0,
  end = bytes.length,
): T {
  const path: string[] = [type];
  const r = new WireReader(bytes, start, end, () => `${where}: ${path.join('.')}`);
  return decodeAt(r, spec(type), path, 0) as T;
}

function decodeAt(
  r: WireReader,
  s: MessageSpec,
  path: string[],
  depth: number,
): Record<string, unknown> {
  if (depth > MAX_DEPTH) throw r.fail('messages nested too deeply');
  const out: Record<string, unknown> = {};
  for (const f of s.fields) if (f.repeated) out[f.name] = [];
  while (!r.done()) {
    const tagStart = r.pos;
    const tag = r.uint();
    const no = Math.floor(tag / 8);
    const wire = tag & 7;
    if (no === 0) throw r.fail('field number 0');
    const f = s.byNo.get(no);
    if (!f) {
      r.skip(wire);
      ((out.$unknown ??= []) as Uint8Array[]).push(r.bytes.subarray(tagStart, r.pos));
      continue;
    }
    path.push(f.name);
    const expected = scalarWire(f.kind);
    if (f.kind === 'message') {
      if (wire !== WireType.Bytes)
        throw r.fail(`wrong wire type ${wire} (expected length-delimited message)`);
      const n = r.uint();
      if (r.pos + n > r.end)
        throw r.fail(`truncated: message of ${n} bytes, ${r.end - r.pos} left`);
      const sub = new WireReader(r.bytes, r.pos, r.pos + n, r.where);
      const value = decodeAt(sub, spec(f.type!), path, depth + 1);
      r.pos += n;
      if (f.repeated) (out[f.name] as unknown[]).push(value);
      else out[f.name] = value;
    } else if (f.repeated && wire === WireType.Bytes && expected !== WireType.Bytes) {
      // A packed run of scalars; accepted whether or not the schema writes this field packed.
      const n = r.uint();
      if (r.pos + n > r.end)
        throw r.fail(`truncated: packed field of ${n} bytes, ${r.end - r.pos} left`);
      const sub = new WireReader(r.bytes, r.pos, r.pos + n, r.where);
      const list = out[f.name] as unknown[];
      if (f.kind === 'float' && n % 4 === 0) {
        const view = new DataView(r.bytes.buffer, r.bytes.byteOffset + r.pos, n);
        for (let i = 0; i < n; i += 4) list.push(view.getFloat32(i, true));
      } else {
        while (!sub.done()) list.push(readScalar(sub, f, s.name));
      }
      r.pos += n;
    } else {
      if (wire !== expected) throw r.fail(`wrong wire type ${wire} (expected ${expected})`);
      const value = readScalar(r, f, s.name);
      if (f.repeated) (out[f.name] as unknown[]).push(value);
      else out[f.name] = value;
    }
    path.pop();
  }
  return out;
}

/** Encodes a message of `type`; `path` prefixes field names in errors about bad values. */
export function encodeMessage(type: string, message: object, path = type): Uint8Array {
  const w = new WireWriter(1 << 16);
  encodeInto(w, spec(type), message as Record<string, unknown>, path, 0);
  return w.finish();
}

function badValue(path: string, expected: string, value: unknown): KilnError {
  const got = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return new KilnError(
    'INVALID_MODEL',
    `${path}: expected ${expected} but found a value of type ${got}`,
  );
}

function isInt64(v: unknown): v is Int64 {
  return (typeof v === 'number' && Number.isSafeInteger(v)) || typeof v === 'bigint';
}

function writeScalar(w: WireWriter, f: FieldSpec, v: unknown, path: string): void {
  switch (f.kind) {
    case 'int32':
      if (typeof v !== 'number' || !Number.isInteger(v)) throw badValue(path, 'an int32', v);
      w.int64(v);
      return;
    case 'int64':
    case 'uint64':
      if (!isInt64(v)) throw badValue(path, 'an integer (number or bigint)', v);
      w.int64(v);
      return;
    case 'float':
      if (typeof v !== 'number') throw badValue(path, 'a number', v);
      w.float(v);
      return;
    case 'double':
      if (typeof v !== 'number') throw badValue(path, 'a number', v);
      w.double(v);
      return;
    case 'string': {
      if (typeof v !== 'string') throw badValue(path, 'a string', v);
      const b = utf8Encoder.encode(v);
      w.uint(b.length);
      w.raw(b);
      return;
    }
    case 'bytes':
      if (!(v instanceof Uint8Array)) throw badValue(path, 'a Uint8Array', v);
      w.uint(v.length);
      w.raw(v);
      return;
    default:
      throw new KilnError('INTERNAL', `bad scalar kind ${f.kind}`);
  }
}

function encodeInto(
  w: WireWriter,
  s: MessageSpec,
  msg: Record<string, unknown>,
  path: string,
  depth: number,
): void {
  if (msg === null || typeof msg !== 'object') throw badValue(path, `a ${s.name} object`, msg);
  if (depth > MAX_DEPTH)
    throw new KilnError('INVALID_MODEL', `${path}: messages nested too deeply`);
  for (const f of s.fields) {
    const v = msg[f.name];
    if (v === undefined) continue;
    const fpath = `${path}.${f.name}`;
    if (f.repeated) {
      if (!Array.isArray(v)) throw badValue(fpath, 'an array', v);
      if (v.length === 0) continue;
      if (f.packed) {
        w.tag(f.no, WireType.Bytes);
        const at = w.beginLength();
        for (const item of v) writeScalar(w, f, item, fpath);
        w.endLength(at);
        continue;
      }
      for (let i = 0; i < v.length; i++) writeField(w, f, v[i], `${fpath}[${i}]`, depth);
    } else {
      writeField(w, f, v, fpath, depth);
    }
  }
  const unknown = msg.$unknown;
  if (unknown !== undefined) {
    if (!Array.isArray(unknown))
      throw badValue(`${path}.$unknown`, 'an array of Uint8Array', unknown);
    for (const raw of unknown) {
      if (!(raw instanceof Uint8Array))
        throw badValue(`${path}.$unknown`, 'an array of Uint8Array', raw);
      w.raw(raw);
    }
  }
}

function writeField(w: WireWriter, f: FieldSpec, v: unknown, path: string, depth: number): void {
  w.tag(f.no, scalarWire(f.kind));
  if (f.kind === 'message') {
    const at = w.beginLength();
    encodeInto(w, spec(f.type!), v as Record<string, unknown>, path, depth + 1);
    w.endLength(at);
  } else {
    writeScalar(w, f, v, path);
  }
}
