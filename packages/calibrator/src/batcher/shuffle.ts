import { expectInteger } from '@kiln/core';

/**
 * A seeded 32-bit generator, small enough to re-implement anywhere (Python, C) to reproduce a
 * shuffle: the state starts at seed XOR 0x9E3779B9 (0x6D2B79F5 if that is 0), and each step is
 * Marsaglia's xorshift32 (x ^= x << 13; x ^= x >>> 17; x ^= x << 5, all mod 2^32), returning
 * the new state as an unsigned integer.
 */
export function seededRandom(seed: number): () => number {
  expectInteger('seed', seed, 0, 0xffffffff);
  let state = (seed ^ 0x9e3779b9) >>> 0;
  if (state === 0) state = 0x6d2b79f5;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

/**
 * Fisher–Yates shuffle driven by seededRandom(seed): for i from length-1 down to 1, swap item i
 * with item floor(next() * (i + 1) / 2^32). The same seed and length give the same order.
 */
export function shuffleInPlace<T>(items: T[], seed: number): T[] {
  const next = seededRandom(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor((next() * (i + 1)) / 0x100000000);
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
  return items;
}
