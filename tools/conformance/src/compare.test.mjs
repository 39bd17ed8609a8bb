import { Tensor } from '@kiln/core';
import { describe, expect, it } from 'vitest';

import { compareTensors } from './compare.mjs';

const f32 = (values, shape = [values.length]) =>
  new Tensor('float32', shape, Float32Array.from(values));

describe('compareTensors', () => {
  it('accepts differences within atol + rtol * |expected| and nothing more', () => {
    expect(compareTensors(f32([1.0009, 0]), f32([1, 0]))).toBeUndefined();
    expect(compareTensors(f32([1.0011]), f32([1]))).toMatch(/1\/1 elements differ/);
    expect(compareTensors(f32([5e-8]), f32([0]))).toBeUndefined();
    expect(compareTensors(f32([2e-7]), f32([0]))).toMatch(/differ/);
  });

  it('treats NaN as equal to NaN, and infinities as equal only to themselves', () => {
    expect(
      compareTensors(f32([NaN, Infinity, -Infinity]), f32([NaN, Infinity, -Infinity])),
    ).toBeUndefined();
    expect(compareTensors(f32([NaN]), f32([1]))).toMatch(/differ/);
    expect(compareTensors(f32([1]), f32([NaN]))).toMatch(/differ/);
    expect(compareTensors(f32([Infinity]), f32([-Infinity]))).toMatch(/differ/);
    expect(compareTensors(f32([1e38]), f32([Infinity]))).toMatch(/differ/);
  });

  it('compares integers and bools exactly, and checks dtype and shape first', () => {
    const i64 = (v) => new Tensor('int64', [v.length], BigInt64Array.from(v.map(BigInt)));
    expect(compareTensors(i64([1, 2]), i64([1, 2]))).toBeUndefined();
    expect(compareTensors(i64([1, 3]), i64([1, 2]))).toMatch(/first at 1/);
    expect(compareTensors(f32([1, 2]), i64([1, 2]))).toMatch(/dtype float32, expected int64/);
    expect(compareTensors(f32([1, 2], [2, 1]), f32([1, 2]))).toMatch(/shape \[2,1\]/);
    const bool = (v) => new Tensor('bool', [v.length], Uint8Array.from(v));
    expect(compareTensors(bool([1, 0]), bool([1, 1]))).toMatch(/differ/);
  });
});
