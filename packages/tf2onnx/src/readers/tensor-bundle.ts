import { KilnError } from '@kiln/core';
import { decodeShape, type TfTensor } from '../proto/graph';
import { tfDTypeSize, TfDType } from '../proto/dtype';
import { ProtoReader } from '../proto/wire';
import { readInside } from './safe-path';

// A TensorBundle checkpoint (variables/variables.index + variables.data-NNNNN-of-NNNNN).
// The index is a leveled table (LevelDB's SSTable format): data blocks of prefix-compressed
// key/value entries, each block followed by a 5-byte trailer (compression type, crc32c), an index
// block whose values are BlockHandles (varint offset, varint size) of the data blocks, and a
// 48-byte footer: metaindex handle, index handle (padded to 40 bytes) and the magic number.
// Values: key '' -> BundleHeaderProto (num_shards=1 endianness=2 version=3); every other key ->
// BundleEntryProto (dtype=1 shape=2 shard_id=3 offset=4 size=5 crc32c=6 slices=7).

const MAGIC = [0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb];
const FOOTER = 48;

/** An entry of the bundle index. */
export interface BundleEntry {
  dtype: number;
  shape: number[];
  shard: number;
  offset: number;
  size: number;
}

/** A TensorBundle: the parsed index and lazy access to its tensors. */
export class TensorBundle {
  /** Entries by checkpoint key. */
  readonly entries = new Map<string, BundleEntry>();
  private numShards = 1;
  private readonly shards = new Map<number, Uint8Array>();

  /** Opens `<dir>/<prefix>.index`; `dir` is the model folder that every file must lie inside. */
  constructor(
    private readonly dir: string,
    private readonly prefix: string,
  ) {
    const where = `${prefix}.index`;
    const bytes = readInside(dir, `${prefix}.index`, 'TensorBundle index');
    for (const [key, value] of readTable(bytes, where)) {
      const r = new ProtoReader(value, `${where} entry '${key}'`);
      if (key === '') {
        for (let f = r.next(); f; f = r.next()) {
          if (f.no === 1) this.numShards = r.int(f, 'num_shards');
          else if (f.no === 2 && r.int(f, 'endianness') !== 0) {
            throw new KilnError(
              'UNSUPPORTED',
              `${where}: big-endian checkpoints are not supported`,
            );
          }
        }
        if (this.numShards < 1 || this.numShards > 100000)
          throw r.fail(`num_shards ${this.numShards}`);
        continue;
      }
      const e: BundleEntry = { dtype: 0, shape: [], shard: 0, offset: 0, size: 0 };
      for (let f = r.next(); f; f = r.next()) {
        if (f.no === 1) e.dtype = r.int(f, 'dtype');
        else if (f.no === 2) e.shape = decodeShape(r.sub(f, 'shape')) ?? [];
        else if (f.no === 3) e.shard = r.int(f, 'shard_id');
        else if (f.no === 4) e.offset = r.int(f, 'offset');
        else if (f.no === 5) e.size = r.int(f, 'size');
        else if (f.no === 7)
          throw new KilnError(
            'UNSUPPORTED',
            `${where}: entry '${key}' is a sliced (partitioned) variable`,
          );
      }
      if (e.offset < 0 || e.size < 0 || e.shard < 0 || e.shape.some((d) => d < 0))
        throw r.fail('negative offset, size, shard or dim');
      this.entries.set(key, e);
    }
  }

  /** Reads one tensor by checkpoint key. */
  tensor(key: string): TfTensor {
    const e = this.entries.get(key);
    if (e === undefined)
      throw new KilnError('NOT_FOUND', `checkpoint ${this.prefix}: no tensor '${key}'`);
    if (e.shard >= this.numShards)
      throw new KilnError(
        'INVALID_MODEL',
        `checkpoint ${this.prefix}: '${key}' names shard ${e.shard} of ${this.numShards}`,
      );
    const data = this.shard(e.shard);
    if (e.offset + e.size > data.length) {
      throw new KilnError(
        'INVALID_MODEL',
        `checkpoint ${this.prefix}: '${key}' lies at ${e.offset}+${e.size}, past the end of its ${data.length}-byte data file`,
      );
    }
    const bytes = data.subarray(e.offset, e.offset + e.size);
    const count = e.shape.reduce((a, b) => a * b, 1);
    if (e.dtype === TfDType.STRING)
      return {
        dtype: e.dtype,
        shape: e.shape,
        data: new Uint8Array(0),
        strings: readStrings(bytes, count, key),
      };
    const width = tfDTypeSize(e.dtype);
    if (width === undefined)
      throw new KilnError(
        'UNSUPPORTED',
        `checkpoint ${this.prefix}: '${key}' has TensorFlow dtype ${e.dtype}`,
      );
    if (count * width !== e.size) {
      throw new KilnError(
        'INVALID_MODEL',
        `checkpoint ${this.prefix}: '${key}' has ${e.size} bytes for ${count} elements of ${width} bytes`,
      );
    }
    return { dtype: e.dtype, shape: e.shape, data: bytes.slice() };
  }

  private shard(i: number): Uint8Array {
    let s = this.shards.get(i);
    if (s === undefined) {
      const name = `${this.prefix}.data-${String(i).padStart(5, '0')}-of-${String(this.numShards).padStart(5, '0')}`;
      s = readInside(this.dir, name, 'TensorBundle data shard');
      this.shards.set(i, s);
    }
    return s;
  }
}

// DT_STRING tensors: one varint64 length per element, a 4-byte checksum, then the bytes.
function readStrings(bytes: Uint8Array, count: number, key: string): Uint8Array[] {
  const r = new ProtoReader(bytes, `checkpoint string tensor '${key}'`);
  const lengths: number[] = [];
  for (let i = 0; i < count; i++) lengths.push(r.varint());
  r.pos += 4;
  const out: Uint8Array[] = [];
  for (const len of lengths) {
    if (r.pos + len > bytes.length) throw r.fail('string data passes the end of the tensor');
    out.push(bytes.subarray(r.pos, r.pos + len));
    r.pos += len;
  }
  return out;
}

/** Every key/value pair of a leveled table file, in order. */
export function readTable(bytes: Uint8Array, where: string): [string, Uint8Array][] {
  if (bytes.length < FOOTER)
    throw new KilnError(
      'INVALID_MODEL',
      `${where}: ${bytes.length} bytes is too short for a table footer`,
    );
  const foot = bytes.length - FOOTER;
  for (let i = 0; i < 8; i++) {
    if (bytes[bytes.length - 8 + i] !== MAGIC[i])
      throw new KilnError('INVALID_MODEL', `${where}: not a TensorBundle index (bad table magic)`);
  }
  const fr = new ProtoReader(bytes, `${where} footer`, foot, bytes.length - 8);
  fr.varint(); // metaindex offset
  fr.varint(); // metaindex size
  const indexOffset = fr.varint();
  const indexSize = fr.varint();
  const out: [string, Uint8Array][] = [];
  for (const [, handle] of readBlock(bytes, indexOffset, indexSize, foot, `${where} index block`)) {
    const hr = new ProtoReader(handle, `${where} block handle`);
    const off = hr.varint();
    const size = hr.varint();
    out.push(...readBlock(bytes, off, size, foot, `${where} data block at ${off}`));
  }
  return out;
}

function readBlock(
  bytes: Uint8Array,
  offset: number,
  size: number,
  limit: number,
  where: string,
): [string, Uint8Array][] {
  if (offset + size + 5 > limit || size < 4)
    throw new KilnError(
      'INVALID_MODEL',
      `${where}: block ${offset}+${size} lies outside the table`,
    );
  if (bytes[offset + size] !== 0)
    throw new KilnError(
      'UNSUPPORTED',
      `${where}: compressed blocks (type ${bytes[offset + size]}) are not supported`,
    );
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, size);
  const restarts = dv.getUint32(size - 4, true);
  const entriesEnd = size - 4 * (restarts + 1);
  if (restarts < 1 || entriesEnd < 0)
    throw new KilnError(
      'INVALID_MODEL',
      `${where}: ${restarts} restart points do not fit in a ${size}-byte block`,
    );
  const r = new ProtoReader(bytes, where, offset, offset + entriesEnd);
  const out: [string, Uint8Array][] = [];
  let key = new Uint8Array(0);
  const dec = new TextDecoder();
  while (r.pos < r.end) {
    const shared = r.varint();
    const nonShared = r.varint();
    const valueLen = r.varint();
    if (shared > key.length)
      throw r.fail(`an entry shares ${shared} bytes of a ${key.length}-byte key`);
    if (nonShared + valueLen > r.end - r.pos) throw r.fail('an entry passes the end of its block');
    const next = new Uint8Array(shared + nonShared);
    next.set(key.subarray(0, shared));
    next.set(bytes.subarray(r.pos, r.pos + nonShared), shared);
    r.pos += nonShared;
    key = next;
    out.push([dec.decode(key), bytes.subarray(r.pos, r.pos + valueLen)]);
    r.pos += valueLen;
  }
  return out;
}
