import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KilnError, type Tensor, expectOneOf, invalidParameterError, getLogger } from '@kiln/core';
import type { ImageBatch, ImageBatcher } from '../batcher/image-batcher';
import type { CalibrationAlgorithm, Calibrator } from './calibrator';

/** Options of an ImageBatcherCalibrator. */
export interface ImageBatcherCalibratorOptions {
  /** Where batches come from; its batchSize is the calibrator's. */
  batcher: ImageBatcher;
  /** Statistics to calibrate with (default 'entropy', as TensorRT's EntropyCalibrator2). */
  algorithm?: CalibrationAlgorithm;
  /** With 'percentile': the percentile of |x| kept (default 99.99). */
  percentile?: number;
  /** The network input the images are meant for; getBatch refuses a network without it. */
  inputName?: string;
  /** A cache file: read instead of calibrating when present, written after calibrating. */
  cacheFile?: string;
}

const ALGORITHMS: readonly CalibrationAlgorithm[] = ['minmax', 'entropy', 'percentile'];

/**
 * A Calibrator fed by an ImageBatcher (TensorRT's sample EngineCalibrator): getBatch hands out
 * the batcher's batches until the pass ends, then null; reset() starts a new pass for
 * algorithms that read the data twice. The cache lives in `cacheFile`, if given.
 */
export class ImageBatcherCalibrator implements Calibrator {
  /** Which statistics turn activations into scales. */
  readonly algorithm: CalibrationAlgorithm;
  /** The batcher's batch size. */
  readonly batchSize: number;
  /** The percentile kept with algorithm 'percentile'. */
  readonly percentile?: number;
  /** The network input fed, when given. */
  readonly inputName: string | undefined;
  /** The cache file, when given. */
  readonly cacheFile: string | undefined;
  private readonly batcher: ImageBatcher;
  private iterator: AsyncIterator<ImageBatch> | undefined;
  private ended = false;

  /** Validates `options`; reads nothing yet. */
  constructor(options: ImageBatcherCalibratorOptions) {
    if (options === null || typeof options !== 'object') {
      throw invalidParameterError('options', 'an options object with a batcher', options);
    }
    const { batcher } = options;
    if (
      batcher === null ||
      typeof batcher !== 'object' ||
      typeof batcher[Symbol.asyncIterator] !== 'function' ||
      typeof batcher.batchSize !== 'number'
    ) {
      throw invalidParameterError('options.batcher', 'an ImageBatcher', batcher);
    }
    this.batcher = batcher;
    this.batchSize = batcher.batchSize;
    this.algorithm = expectOneOf('options.algorithm', options.algorithm ?? 'entropy', ALGORITHMS);
    if (this.algorithm === 'percentile') {
      const p = options.percentile ?? 99.99;
      if (typeof p !== 'number' || !(p > 0 && p <= 100)) {
        throw invalidParameterError('options.percentile', 'a number in (0, 100]', p);
      }
      this.percentile = p;
    } else if (options.percentile !== undefined) {
      throw invalidParameterError(
        'options.percentile',
        "nothing unless algorithm is 'percentile'",
        options.percentile,
      );
    }
    for (const key of ['inputName', 'cacheFile'] as const) {
      const v = options[key];
      if (v !== undefined && (typeof v !== 'string' || v === '')) {
        throw invalidParameterError(`options.${key}`, 'a non-empty string', v);
      }
    }
    this.inputName = options.inputName;
    this.cacheFile = options.cacheFile;
  }

  /** The next batch as { [input]: tensor }, or null once the pass is over. */
  async getBatch(names: readonly string[]): Promise<Record<string, Tensor> | null> {
    if (!Array.isArray(names) || names.length === 0) {
      throw invalidParameterError('names', 'a non-empty array of input names', names);
    }
    if (names.length > 1) {
      throw new KilnError(
        'UNSUPPORTED',
        `an ImageBatcherCalibrator feeds one input, but the network has ${names.length} (${names.join(', ')}); write a Calibrator that feeds them all`,
      );
    }
    const name = names[0]!;
    if (this.inputName !== undefined && this.inputName !== name) {
      throw new KilnError(
        'INVALID_ARGUMENT',
        `the images were meant for input '${this.inputName}' but the network's input is '${name}'`,
      );
    }
    if (this.ended) return null;
    this.iterator ??= this.batcher[Symbol.asyncIterator]();
    const next = await this.iterator.next();
    if (next.done) {
      this.ended = true;
      this.iterator = undefined;
      return null;
    }
    if (next.value.realCount < this.batchSize) {
      getLogger().log(
        'verbose',
        `calibration batch ${next.value.index} holds ${next.value.realCount} real image(s) of ${this.batchSize}; the rest is padding`,
      );
    }
    return { [name]: next.value.tensor };
  }

  /** Starts a new pass over the images (ends the current one). */
  async reset(): Promise<void> {
    const it = this.iterator;
    this.iterator = undefined;
    this.ended = false;
    await it?.return?.();
  }

  /** The cache file's bytes, or null when there is no cache file or it does not exist yet. */
  async readCalibrationCache(): Promise<Uint8Array | null> {
    if (this.cacheFile === undefined) return null;
    try {
      return new Uint8Array(await readFile(this.cacheFile));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new KilnError(
        'IO_ERROR',
        `cannot read the calibration cache ${this.cacheFile}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** Writes the cache to the cache file (creating its folder); does nothing without one. */
  async writeCalibrationCache(cache: Uint8Array): Promise<void> {
    if (!(cache instanceof Uint8Array)) {
      throw invalidParameterError('cache', 'a Uint8Array of cache text', cache);
    }
    if (this.cacheFile === undefined) return;
    try {
      await mkdir(dirname(this.cacheFile), { recursive: true });
      await writeFile(this.cacheFile, cache);
    } catch (error) {
      throw new KilnError(
        'IO_ERROR',
        `cannot write the calibration cache ${this.cacheFile}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}
