import { type DataType, dataTypeFromCode, KilnError } from '@kiln/core';

// ONNX element types by their TensorProto.DataType code. The IR carries the code, so types kiln's
// DataType does not name (double, uint16, string, float8, ...) still survive a load/save.

/** ONNX TensorProto.DataType codes. */
export const ElemType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
} as const;

const NAMES = Object.fromEntries(
  Object.entries(ElemType).map(([k, v]) => [v, k.toLowerCase()]),
) as Record<number, string>;

// Bits per element; 0 for string, whose elements have no fixed size.
const BITS: Record<number, number> = {
  1: 32,
  2: 8,
  3: 8,
  4: 16,
  5: 16,
  6: 32,
  7: 64,
  8: 0,
  9: 8,
  10: 16,
  11: 64,
  12: 32,
  13: 64,
  14: 64,
  15: 128,
  16: 16,
  17: 8,
  18: 8,
  19: 8,
  20: 8,
  21: 4,
  22: 4,
  23: 4,
};

/** True for a code this package can carry (1..23). */
export function isKnownElemType(code: number): boolean {
  return BITS[code] !== undefined;
}

/** A readable name for an element type code ('float', 'int64', 'elem_type 99'). */
export function elemTypeName(code: number | undefined): string {
  if (code === undefined) return 'unknown';
  return NAMES[code] ?? `elem_type ${code}`;
}

/** Bits per element (4 for int4/uint4/float4, 0 for string). */
export function elemTypeBits(code: number): number {
  const bits = BITS[code];
  if (bits === undefined)
    throw new KilnError('UNSUPPORTED', `unsupported ONNX element type ${code}`);
  return bits;
}

/** Bytes that `count` elements of `code` take in raw_data (4-bit types pack two per byte). */
export function elemTypeByteLength(code: number, count: number): number {
  return Math.ceil((elemTypeBits(code) * count) / 8);
}

/** The @kiln/core DataType of an ONNX code, or undefined when kiln's runtime has none. */
export function kilnDataType(code: number | undefined): DataType | undefined {
  return code === undefined ? undefined : dataTypeFromCode(code);
}

/** True for floating-point element types. */
export function isFloatElemType(code: number | undefined): boolean {
  return (
    code === 1 ||
    code === 10 ||
    code === 11 ||
    code === 16 ||
    (code !== undefined && code >= 17 && code <= 20) ||
    code === 23
  );
}
