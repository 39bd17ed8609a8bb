import { invalidParameterError } from '@kiln/core';

/** Running min / max of a tensor's values over every calibration batch (NaNs are counted, not used). */
export class MinMaxAccumulator {
  /** Smallest value seen (Infinity before any value). */
  min = Infinity;
  /** Largest value seen (-Infinity before any value). */
  max = -Infinity;
  /** Values seen, NaNs included. */
  count = 0;
  /** NaN values seen; they take no part in min / max. */
  nanCount = 0;

  /** Folds a batch of values into the running range. */
  update(values: Float32Array): this {
    if (!(values instanceof Float32Array))
      throw invalidParameterError('values', 'a Float32Array', values);
    let lo = this.min;
    let hi = this.max;
    let nans = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      if (v !== v) nans++;
    }
    this.min = lo;
    this.max = hi;
    this.count += values.length;
    this.nanCount += nans;
    return this;
  }

  /** max(|min|, |max|): the symmetric range MinMax calibration maps to 127 (0 before any value). */
  get absMax(): number {
    if (this.count === this.nanCount) return 0;
    return Math.max(Math.abs(this.min), Math.abs(this.max));
  }
}

/** The INT8 scale for a symmetric range: amax / qmax (127 by default), as cache files store it. */
export function scaleFromAmax(amax: number, qmax = 127): number {
  if (typeof amax !== 'number' || !Number.isFinite(amax) || amax < 0) {
    throw invalidParameterError('amax', 'a finite number >= 0', amax);
  }
  if (typeof qmax !== 'number' || !Number.isFinite(qmax) || qmax <= 0) {
    throw invalidParameterError('qmax', 'a finite number > 0', qmax);
  }
  return Math.fround(amax / qmax);
}
