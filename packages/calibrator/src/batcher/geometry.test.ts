import { describe, expect, it } from 'vitest';
import { fitGeometry } from './geometry';
import { seededRandom, shuffleInPlace } from './shuffle';

describe('fitGeometry', () => {
  it('letterboxes a wide image with rows of padding, centred (floor on top)', () => {
    // rocket.jpg is 640x427: scale 0.2, 128 x round(85.4) = 85, pad 43 -> 21 top, 22 bottom.
    expect(fitGeometry('letterbox', 640, 427, 128, 128)).toEqual({
      scaleX: 0.2,
      scaleY: 85 / 427,
      resizedWidth: 128,
      resizedHeight: 85,
      offsetX: 0,
      offsetY: 21,
    });
  });
  it('letterboxes a tall image with columns of padding', () => {
    expect(fitGeometry('letterbox', 100, 300, 90, 60)).toEqual({
      scaleX: 0.2,
      scaleY: 0.2,
      resizedWidth: 20,
      resizedHeight: 60,
      offsetX: 35,
      offsetY: 0,
    });
  });
  it('covers with a centre crop (negative offsets)', () => {
    expect(fitGeometry('cover', 640, 427, 100, 100)).toEqual({
      scaleX: 150 / 640,
      scaleY: 100 / 427,
      resizedWidth: 150,
      resizedHeight: 100,
      offsetX: -25,
      offsetY: 0,
    });
    expect(fitGeometry('cover', 512, 512, 64, 32)).toMatchObject({
      resizedWidth: 64,
      resizedHeight: 64,
      offsetX: 0,
      offsetY: -16,
    });
  });
  it('stretches', () => {
    expect(fitGeometry('stretch', 640, 427, 100, 50)).toEqual({
      scaleX: 100 / 640,
      scaleY: 50 / 427,
      resizedWidth: 100,
      resizedHeight: 50,
      offsetX: 0,
      offsetY: 0,
    });
  });
  it('never resizes a side to 0', () => {
    expect(fitGeometry('letterbox', 1000, 1, 10, 10)).toMatchObject({
      resizedWidth: 10,
      resizedHeight: 1,
      offsetY: 4,
    });
  });
});

describe('seeded shuffle', () => {
  it('follows the documented fmix32 + xorshift32 (values from an independent Python implementation)', () => {
    const next = seededRandom(1);
    expect([next(), next(), next(), next()]).toEqual([
      524866043, 2877414208, 2380002740, 2664205378,
    ]);
    expect(shuffleInPlace([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 42)).toEqual([
      1, 3, 5, 9, 6, 2, 0, 4, 8, 7,
    ]);
  });
  it('is a permutation, deterministic per seed, and different across seeds', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const a = shuffleInPlace([...items], 7);
    expect(shuffleInPlace([...items], 7)).toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(items);
    expect(shuffleInPlace([...items], 8)).not.toEqual(a);
  });
  it('spreads items evenly over positions', () => {
    const counts = Array.from({ length: 4 }, () => new Array(4).fill(0));
    for (let seed = 0; seed < 4000; seed++) {
      shuffleInPlace([0, 1, 2, 3], seed).forEach((item, pos) => counts[item]![pos]++);
    }
    for (const row of counts) for (const c of row) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });
});
