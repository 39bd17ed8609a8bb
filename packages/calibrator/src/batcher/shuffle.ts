import { expectInteger } from '@kiln/core';

/**
 * A seeded 32-bit generator, small enough to re-implement anywhere (Python, C) to reproduce a
 * shuffle. The state starts at MurmurHash3's fmix32 of the seed (h ^= h >>> 16;
 * h *= 0x85EBCA6B; h ^= h >>> 13; h *= 0xC2B2AE35; h ^= h >>> 16, all mod 2^32), or 0x6D2B79F5
 * if that is 0; each step is Marsaglia's xorshift32 (x ^= x << 13; x ^= x >>> 17; x ^= x << 5)
 * and returns the new state as an unsigned integer. The hash matters: xorshift alone turns
 * nearby seeds into correlated first outputs, hence correlated shuffles.
 */
export function seededRandom(seed: number): () => number {
  expectInteger('seed', seed, 0, 0xffffffff);
  let state = seed >>> 0;
  state ^= state >>> 16;
  state = Math.imul(state, 0x85ebca6b);
  state ^= state >>> 13;
  state = Math.imul(state, 0xc2b2ae35);
  state ^= state >>> 16;
  state >>>= 0;
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
 * with item floor(next() * (i + 1) / 2^32) (exact in doubles below 2^21 items). The same seed
 * and length give the same order.
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
