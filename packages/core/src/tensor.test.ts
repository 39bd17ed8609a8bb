import { describe, expect, it } from 'vitest';

import { KilnError } from './errors';
import { Tensor, shapeSize } from './tensor';

describe('Tensor', () => {
  it('wraps typed arrays without copying and checks the element count', () => {
    const data = new Float32Array(6);
    const t = new Tensor('float32', [2, 3], data);
    expect(t.data).toBe(data);
    expect(t.size).toBe(6);
    expect(t.byteLength).toBe(24);
    expect(Object.isFrozen(t.shape)).toBe(true);
    expect(() => new Tensor('float32', [2, 2], data)).toThrow(
      /needs 4 elements but the data has 6/,
    );
    expect(() => new Tensor('float32', [2, 3], new Int32Array(6) as never)).toThrow(KilnError);
    expect(() => new Tensor('float32', [2, -1])).toThrow(/non-negative integers/);
    expect(new Tensor('int8', [0, 4]).size).toBe(0);
    expect(new Tensor('float32', []).size).toBe(1); // a scalar
  });

  it('views Buffers, copying only when misaligned', () => {
    const buf = Buffer.alloc(17);
    new Float32Array(buf.buffer, buf.byteOffset, 4).set([1, 2, 3, 4]);
    const aligned = new Tensor('float32', [4], buf.subarray(0, 16));
    expect(Array.from(aligned.data)).toEqual([1, 2, 3, 4]);
    const odd = Buffer.alloc(17);
    odd.writeFloatLE(5, 1);
    const t = new Tensor('float32', [1], odd.subarray(1, 5));
    expect(t.data[0]).toBe(5);
    expect(() => new Tensor('float32', [1], Buffer.alloc(3))).toThrow(/not a whole number/);
  });

  it('converts between types', () => {
    const t = new Tensor('float32', [4], new Float32Array([1.5, -2.7, 0, 300]));
    expect(Array.from(t.to('int8').data)).toEqual([1, -2, 0, 44]); // 300 wraps like an Int8Array store
    expect(Array.from(t.to('bool').data)).toEqual([1, 1, 0, 1]);
    expect(t.to('int64').data).toEqual(new BigInt64Array([1n, -2n, 0n, 300n]));
    expect(Array.from(t.to('float16').to('float32').data)).toEqual([1.5, -2.69921875, 0, 300]);
    const big = new Tensor('int32', [1], new Int32Array([16777217]));
    expect(big.to('int64').data[0]).toBe(16777217n); // exact: not through float32
    expect(() => new Tensor('float32', [1], new Float32Array([NaN])).to('int32')).toThrow(
      /cannot convert NaN/,
    );
    const same = t.to('float32');
    expect(same.data).not.toBe(t.data);
    expect(Array.from(same.data)).toEqual(Array.from(t.data));
  });

  it('reshapes with the same size only', () => {
    const t = new Tensor('float32', [2, 3]);
    expect(t.reshape([3, 2]).shape).toEqual([3, 2]);
    expect(() => t.reshape([4])).toThrow(/sizes differ/);
    expect(() => shapeSize([2 ** 30, 2 ** 30, 2 ** 30])).toThrow(/too many elements/);
  });
});
