import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KilnError, type Tensor, expectInteger, invalidParameterError } from '@kiln/core';

import type { Awaitable, CalibrationAlgorithm, Calibrator } from './calibrator';

/** A batch: one host tensor per network input name. */
export type CalibrationBatch = Record<string, Tensor>;

/** Options of MinMaxCalibrator, EntropyCalibrator and PercentileCalibrator. */
export interface BatchCalibratorOptions {
  /**
   * The calibration data: called at the start of each pass, it returns the batches (an array,
   * a generator or an async generator), each holding `batchSize` samples per input.
   */
  batches: () => Iterable<CalibrationBatch> | AsyncIterable<CalibrationBatch>;
  /** Samples per batch (the leading dim of every tensor). */
  batchSize: number;
  /** A cache file: read instead of calibrating when present, written after calibrating. */
  cacheFile?: string;
}

/**
 * A Calibrator over batches you already have (tensors from any source: idx files, a database,
 * an ImageBatcher); the subclasses fix the algorithm, as TensorRT's IInt8MinMaxCalibrator,
 * IInt8EntropyCalibrator2 and percentile calibration do.
 */
export abstract class BatchCalibrator implements Calibrator {
  /** Which statistics turn activations into scales. */
  abstract readonly algorithm: CalibrationAlgorithm;
  /** Samples per batch. */
  readonly batchSize: number;
  /** The cache file, when given. */
  readonly cacheFile: string | undefined;
  readonly #batches: BatchCalibratorOptions['batches'];
  #iterator: Iterator<CalibrationBatch> | AsyncIterator<CalibrationBatch> | undefined;

  /** Validates `options`; reads nothing yet. */
  constructor(options: BatchCalibratorOptions) {
    if (options === null || typeof options !== 'object')
      throw invalidParameterError(
        'options',
        'an options object with batches and batchSize',
        options,
      );
    if (typeof options.batches !== 'function')
      throw invalidParameterError(
        'options.batches',
        'a function returning the batches',
        options.batches,
      );
    this.batchSize = expectInteger('options.batchSize', options.batchSize, 1);
    if (
      options.cacheFile !== undefined &&
      (typeof options.cacheFile !== 'string' || options.cacheFile === '')
    )
      throw invalidParameterError('options.cacheFile', 'a non-empty string', options.cacheFile);
    this.#batches = options.batches;
    this.cacheFile = options.cacheFile;
  }

  /** The next batch of the pass (every input in `names` present), or null at its end. */
  async getBatch(names: readonly string[]): Promise<CalibrationBatch | null> {
    if (!this.#iterator) {
      const source = this.#batches();
      this.#iterator =
        Symbol.asyncIterator in source
          ? (source as AsyncIterable<CalibrationBatch>)[Symbol.asyncIterator]()
          : (source as Iterable<CalibrationBatch>)[Symbol.iterator]();
    }
    const next = await this.#iterator.next();
    if (next.done) {
      this.#iterator = undefined; // the next call starts a new pass
      return null;
    }
    for (const name of names) {
      if (!next.value[name])
        throw new KilnError(
          'INVALID_ARGUMENT',
          `a calibration batch has no tensor for input '${name}'`,
        );
    }
    return next.value;
  }

  /** The cache file's bytes, or null when there is none (yet). */
  readCalibrationCache(): Awaitable<Uint8Array | null> {
    if (this.cacheFile === undefined) return null;
    const file = this.cacheFile;
    return readFile(file).then(
      (bytes) => new Uint8Array(bytes),
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null;
        throw new KilnError(
          'IO_ERROR',
          `cannot read the calibration cache ${file}: ${error.message}`,
          {
            cause: error,
          },
        );
      },
    );
  }

  /** Writes the cache file (creating its folder); nothing when no cacheFile was given. */
  async writeCalibrationCache(cache: Uint8Array): Promise<void> {
    if (this.cacheFile === undefined) return;
    await mkdir(dirname(this.cacheFile), { recursive: true });
    await writeFile(this.cacheFile, cache);
  }
}

/** Scales from the largest |x| seen (TensorRT's IInt8MinMaxCalibrator). */
export class MinMaxCalibrator extends BatchCalibrator {
  readonly algorithm = 'minmax' as const;
}

/** Scales minimizing the KL divergence of a 2048-bin histogram (TensorRT's EntropyCalibrator2). */
export class EntropyCalibrator extends BatchCalibrator {
  readonly algorithm = 'entropy' as const;
}

/** Scales from a percentile of |x| (99.99 by default). */
export class PercentileCalibrator extends BatchCalibrator {
  readonly algorithm = 'percentile' as const;
  /** The percentile of |x| kept. */
  readonly percentile: number;

  /** `percentile` in (0, 100]. */
  constructor(options: BatchCalibratorOptions & { percentile?: number }) {
    super(options);
    const p = options.percentile ?? 99.99;
    if (typeof p !== 'number' || !(p > 0 && p <= 100))
      throw invalidParameterError('options.percentile', 'a number in (0, 100]', p);
    this.percentile = p;
  }
}
