import { expectInteger, invalidParameterError } from '@kiln/core';

/**
 * A histogram of |x| over [0, range) with a fixed number of equal bins, collected batch by batch.
 * The first non-zero batch sets the range to its |x| maximum; a later value beyond the range
 * doubles it (merging bin pairs, which is exact) as often as needed, so no count is ever
 * re-spread by interpolation. The price: the range may end up to 2x the largest |x|, so at worst
 * half the bins are used. Entropy and percentile thresholds are read from it.
 */
export class Histogram {
  /** Counts per bin; bin i covers [i * binWidth, (i + 1) * binWidth). */
  readonly counts: Float64Array;
  /** The upper edge of the last bin (0 until a non-zero value arrives). */
  range = 0;
  /** Values of exactly 0 seen before the range was known; folded into bin 0 later. */
  private pendingZeros = 0;
  /** NaN values seen and left out. */
  nanCount = 0;

  /** A histogram with `bins` bins (2048 by default, as TensorRT's entropy calibrator uses). */
  constructor(bins = 2048) {
    expectInteger('bins', bins, 2, 1 << 24);
    if ((bins & 1) !== 0) throw invalidParameterError('bins', 'an even integer', bins);
    this.counts = new Float64Array(bins);
  }

  /** Width of one bin (0 until the range is known). */
  get binWidth(): number {
    return this.range / this.counts.length;
  }

  /** Number of values counted (NaNs excluded). */
  get total(): number {
    let sum = this.pendingZeros;
    for (const c of this.counts) sum += c;
    return sum;
  }

  /** Adds the magnitudes of a batch of values (non-finite values other than NaN are refused). */
  update(values: Float32Array): this {
    if (!(values instanceof Float32Array))
      throw invalidParameterError('values', 'a Float32Array', values);
    let amax = 0;
    for (let i = 0; i < values.length; i++) {
      const a = Math.abs(values[i]!);
      if (a > amax) amax = a;
    }
    if (amax === Infinity) throw invalidParameterError('values', 'finite values', 'Infinity');
    if (amax > 0) {
      if (this.range === 0) {
        this.range = amax;
        this.counts[0]! += this.pendingZeros;
        this.pendingZeros = 0;
      }
      while (amax > this.range) this.double();
    }
    const bins = this.counts.length;
    const perUnit = this.range > 0 ? bins / this.range : 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v !== v) {
        this.nanCount++;
        continue;
      }
      if (this.range === 0) {
        this.pendingZeros++;
        continue;
      }
      // The maximum itself lands on the upper edge: keep it in the last bin.
      const bin = Math.min(Math.floor(Math.abs(v) * perUnit), bins - 1);
      this.counts[bin]!++;
    }
    return this;
  }

  private double(): void {
    const counts = this.counts;
    const half = counts.length / 2;
    for (let i = 0; i < half; i++) counts[i] = counts[2 * i]! + counts[2 * i + 1]!;
    counts.fill(0, half);
    this.range *= 2;
  }
}
