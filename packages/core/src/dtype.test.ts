import { describe, expect, it } from 'vitest';

import {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBFloat16,
  float32ToFloat16,
} from './convert';
import {
  DATA_TYPES,
  dataTypeCode,
  dataTypeFromCode,
  dataTypeSize,
  expectDataType,
  typedArrayConstructor,
} from './dtype';
import { KilnError } from './errors';

describe('DataType', () => {
  it('has sizes, ONNX codes and TypedArrays', () => {
    expect(DATA_TYPES.map(dataTypeSize)).toEqual([4, 2, 2, 1, 1, 4, 8, 1]);
    expect(DATA_TYPES.map(dataTypeCode)).toEqual([1, 10, 16, 3, 2, 6, 7, 9]);
    for (const d of DATA_TYPES) expect(dataTypeFromCode(dataTypeCode(d))).toBe(d);
    expect(dataTypeFromCode(11)).toBeUndefined(); // float64: not a kiln type
    expect(typedArrayConstructor('int64')).toBe(BigInt64Array);
    expect(typedArrayConstructor('float16')).toBe(Uint16Array);
    for (const d of DATA_TYPES)
      expect(typedArrayConstructor(d).BYTES_PER_ELEMENT).toBe(dataTypeSize(d));
    expect(() => expectDataType('dtype', 'float64')).toThrow(KilnError);
  });
});

describe('fp16 / bf16 conversions in the core', () => {
  it('converts known half values exactly', () => {
    const f = new Float32Array([1, -2, 65504, 65520, 5.960464477539063e-8, 0.1, -0, Infinity, NaN]);
    const h = float32ToFloat16(f);
    expect(Array.from(h.subarray(0, 8))).toEqual([
      0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0001, 0x2e66, 0x8000, 0x7c00,
    ]);
    expect(h[8]! & 0x7c00).toBe(0x7c00);
    expect(h[8]! & 0x03ff).not.toBe(0);
    const back = float16ToFloat32(h);
    expect(back[4]).toBe(5.960464477539063e-8);
    expect(back[5]).toBe(0.0999755859375);
    expect(Number.isNaN(back[8])).toBe(true);
  });

  it('round-trips long arrays (vector paths) within half precision', () => {
    const n = 10007; // not a multiple of the vector width: the scalar tail runs too
    const f = Float32Array.from({ length: n }, (_, i) => (i - 5000) / 7.3);
    const back = float16ToFloat32(float32ToFloat16(f));
    for (let i = 0; i < n; i++) {
      expect(Math.abs(back[i]! - f[i]!)).toBeLessThanOrEqual(Math.abs(f[i]!) * 2 ** -11 + 1e-7);
    }
  });

  it('rounds bfloat16 to nearest even', () => {
    const bits = new Uint32Array([0x3f808000, 0x3f818000, 0x3f808001, 0x7f800000]);
    const b = float32ToBFloat16(new Float32Array(bits.buffer));
    expect(Array.from(b)).toEqual([0x3f80, 0x3f82, 0x3f81, 0x7f80]);
    expect(Array.from(bfloat16ToFloat32(new Uint16Array([0xc040])))).toEqual([-3]);
  });

  it('rejects the wrong array types', () => {
    expect(() => float32ToFloat16(new Float64Array(2) as never)).toThrow(
      /Expected a Float32Array for src/,
    );
  });
});
