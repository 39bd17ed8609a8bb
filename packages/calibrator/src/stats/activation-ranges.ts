import { invalidParameterError } from '@kiln/core';

import type { CalibrationAlgorithm } from '../calibrator/calibrator';
import { entropyThreshold } from './entropy';
import { Histogram } from './histogram';
import { MinMaxAccumulator, scaleFromAmax } from './minmax';
import { percentileThreshold } from './percentile';

/**
 * Collects the statistics of many named activations over calibration batches and turns each
 * into an INT8 scale (amax / 127) with one algorithm: the builder feeds it every tensor it will
 * quantize. MinMax keeps the largest |x|; entropy and percentile read a 2048-bin histogram of |x|.
 */
export class ActivationRanges {
  /** The algorithm the scales come from. */
  readonly algorithm: CalibrationAlgorithm;
  /** With 'percentile': the percentile of |x| kept. */
  readonly percentile: number;
  readonly #minmax = new Map<string, MinMaxAccumulator>();
  readonly #histograms = new Map<string, Histogram>();

  /** `percentile` is used (and required in (0, 100]) with algorithm 'percentile' only. */
  constructor(algorithm: CalibrationAlgorithm, percentile = 99.99) {
    if (algorithm !== 'minmax' && algorithm !== 'entropy' && algorithm !== 'percentile')
      throw invalidParameterError('algorithm', "'minmax', 'entropy' or 'percentile'", algorithm);
    if (typeof percentile !== 'number' || !(percentile > 0 && percentile <= 100))
      throw invalidParameterError('percentile', 'a number in (0, 100]', percentile);
    this.algorithm = algorithm;
    this.percentile = percentile;
  }

  /** Folds one batch of a tensor's values into its statistics. */
  update(name: string, values: Float32Array): this {
    if (this.algorithm === 'minmax') {
      let acc = this.#minmax.get(name);
      if (!acc) this.#minmax.set(name, (acc = new MinMaxAccumulator()));
      acc.update(values);
    } else {
      let h = this.#histograms.get(name);
      if (!h) this.#histograms.set(name, (h = new Histogram()));
      h.update(values);
    }
    return this;
  }

  /** The tensors seen so far. */
  names(): string[] {
    return [...(this.algorithm === 'minmax' ? this.#minmax : this.#histograms).keys()];
  }

  /**
   * The amax (clipping threshold) of one tensor; 0 when it was all zeros. `unsigned`: the tensor
   * is non-negative and stored with 256 levels over [0, amax] (a Relu output in uint8), so the
   * entropy search squeezes the kept range into 256 levels instead of 128.
   */
  amax(name: string, unsigned = false): number {
    if (this.algorithm === 'minmax') {
      const acc = this.#minmax.get(name);
      if (!acc) throw invalidParameterError('name', 'a tensor seen by update()', name);
      return acc.absMax;
    }
    const h = this.#histograms.get(name);
    if (!h) throw invalidParameterError('name', 'a tensor seen by update()', name);
    if (h.range === 0) return 0;
    if (this.algorithm === 'percentile')
      return percentileThreshold(h.counts, h.binWidth, this.percentile);
    return entropyThreshold(h.counts, h.binWidth, { quantizedBins: unsigned ? 256 : 128 }).amax;
  }

  /** Every tensor's scale (float32 amax / 127), in the order first seen; see amax for `unsigned`. */
  scales(unsigned: ReadonlySet<string> = new Set()): Map<string, number> {
    return new Map(this.names().map((n) => [n, scaleFromAmax(this.amax(n, unsigned.has(n)))]));
  }
}
