import type { Tensor } from '@kiln/core';

/** A value or a Promise of it: calibrators may answer synchronously or not. */
export type Awaitable<T> = T | Promise<T>;

/** How activation ranges become INT8 scales (TensorRT's CalibrationAlgoType). */
export type CalibrationAlgorithm = 'minmax' | 'entropy' | 'percentile';

/** The cache header name of each algorithm (TensorRT's names where TensorRT has one). */
export const CALIBRATOR_NAMES: Readonly<Record<CalibrationAlgorithm, string>> = {
  minmax: 'MinMaxCalibration',
  entropy: 'EntropyCalibration2',
  percentile: 'PercentileCalibration',
};

/**
 * Feeds INT8 calibration, like TensorRT's IInt8Calibrator: the builder asks for batches until
 * getBatch answers null, and reuses a cache instead when readCalibrationCache returns one.
 */
export interface Calibrator {
  /** Which statistics turn activations into scales. */
  readonly algorithm: CalibrationAlgorithm;
  /** Images (or samples) per batch; the network is calibrated at this batch size. */
  readonly batchSize: number;
  /** With algorithm 'percentile': the percentile of |x| kept (e.g. 99.99). */
  readonly percentile?: number;
  /** The next batch, one host tensor per input name asked for, or null when the data is spent. */
  getBatch(names: readonly string[]): Awaitable<Record<string, Tensor> | null>;
  /** A previously written cache (text in TensorRT's layout), or null to calibrate. */
  readCalibrationCache(): Awaitable<Uint8Array | null>;
  /** Keeps the cache the builder wrote after calibrating (for readCalibrationCache next time). */
  writeCalibrationCache(cache: Uint8Array): Awaitable<void>;
}
