// NumPy's .npy format (versions 1-3), for --loadInputs and --exportOutput: a magic string, a
// version, a header length, then a Python dict literal giving dtype, order and shape, padded so
// the data starts on a 64-byte boundary. Only little-endian C-order arrays are read.
import { type DataType, dataTypeSize } from '@kiln/core';

import { UsageError } from './usage';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DESCR: Record<string, DataType> = {
  '<f4': 'float32',
  '<f2': 'float16',
  '|i1': 'int8',
  '|u1': 'uint8',
  '<i4': 'int32',
  '<i8': 'int64',
  '|b1': 'bool',
};

/** A parsed .npy file: element type, shape and the raw little-endian data. */
export interface NpyArray {
  dtype: DataType;
  shape: number[];
  data: Uint8Array;
}

/** Reads a .npy file's bytes; `what` names it in errors. */
export function parseNpy(bytes: Uint8Array, what: string): NpyArray {
  const bad = (why: string) => new UsageError(`${what}: not a readable .npy file (${why})`);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad('no NUMPY magic');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [lenSize, headerLen] =
    major === 1
      ? [2, view.getUint16(8, true)]
      : [4, bytes.length >= 12 ? view.getUint32(8, true) : 0];
  if (major < 1 || major > 3) throw bad(`format version ${major}`);
  const start = 8 + lenSize;
  if (start + headerLen > bytes.length) throw bad('header runs past the end');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(start, start + headerLen),
  );
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw bad('header lacks descr, fortran_order or shape');
  const dtype = DESCR[descr === '<u1' || descr === '<i1' ? `|${descr.slice(1)}` : descr];
  if (!dtype) throw bad(`dtype '${descr}' is not one of ${Object.keys(DESCR).join(', ')}`);
  if (fortran === 'True') throw bad('Fortran order; save it with np.ascontiguousarray');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(`shape (${shapeText})`);
  const data = bytes.subarray(start + headerLen);
  const expected = shape.reduce((a, b) => a * b, 1) * dataTypeSize(dtype);
  if (data.length !== expected)
    throw bad(
      `${data.length} data bytes for shape [${shape.join(', ')}] ${dtype}: expected ${expected}`,
    );
  return { dtype, shape, data };
}

/** Encodes an array as a version 1.0 .npy file. */
export function formatNpy(array: NpyArray): Uint8Array {
  const descr = Object.keys(DESCR).find((k) => DESCR[k] === array.dtype);
  if (!descr) throw new UsageError(`.npy cannot hold ${array.dtype}`);
  const dims = array.shape.length === 1 ? `${array.shape[0]},` : array.shape.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  // Pad with spaces so that magic + version + length + header + '\n' is a multiple of 64.
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + array.data.length);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(array.data, 10 + header.length);
  return out;
}
