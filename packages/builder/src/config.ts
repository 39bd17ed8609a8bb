import {
  KilnError,
  type TacticSource,
  expectInteger,
  features,
  invalidParameterError,
} from '@kiln/core';

import type { Calibrator } from '@kiln/calibrator';

import { type Int8AccuracyBudget, validateBudget } from './int8/accuracy-budget';
import { OptimizationProfile } from './profile';

/**
 * How Layer.precision binds (TensorRT's precision constraint flags, trtexec
 * --precisionConstraints): 'none' ignores layer precisions; 'prefer' follows them where the
 * layer has a kernel in that precision and warns where not; 'obey' fails the build instead.
 */
export type PrecisionConstraints = 'none' | 'prefer' | 'obey';

/** Precision flags (TensorRT's BuilderFlag subset). */
export type BuilderFlag = 'fp16' | 'int8' | 'bf16';

/**
 * How an engine is built: precision flags, memory pool limit, optimization profiles,
 * optimization level and timing cache (like TensorRT's IBuilderConfig).
 */
/** The tactic sources a build uses when `BuilderConfig.tacticSources` is unset: kiln's own. */
export const DEFAULT_TACTIC_SOURCES: readonly TacticSource[] = ['kiln'];

export class BuilderConfig {
  readonly #flags = new Set<BuilderFlag>();
  readonly profiles: OptimizationProfile[] = [];
  /** Activation memory an execution context may use, in bytes (default: unlimited). */
  memoryPoolLimit = Number.POSITIVE_INFINITY;
  /**
   * 0..5 (default 3, as TensorRT). 0 picks each layer's tactic by heuristic without timing;
   * 1..5 time every candidate tactic at the first profile's opt shapes, over more runs (2 + 2 x
   * level) as it rises.
   */
  builderOptimizationLevel = 3;
  /**
   * A timing cache file: read when it exists, so layers timed before (same op, shapes,
   * attributes, on this CPU and thread count) are not timed again, and written back with this
   * build's timings. A corrupt or foreign cache is reported as a warning and replaced.
   */
  timingCachePath: string | undefined;
  /**
   * The tactic sources to take implementations from (TensorRT's setTacticSources), any of those
   * the addon was built with (`features().tacticSources`): 'kiln' (its own kernels) and 'onednn'
   * when found at build time. Each layer times the candidates of these sources; a layer none of
   * them can run keeps kiln's own kernels, so `['onednn']` prefers oneDNN wherever it applies.
   * Default `['kiln']`: oneDNN is opt-in (`['kiln', 'onednn']`) because its OpenMP threads and
   * kiln's pool contend for the cores inside an engine, so layers it wins when timed alone made
   * resnet50 slower as a whole (tools/bench/tactic-sources.mjs, 2 threads: 1.02-1.10x).
   */
  tacticSources: TacticSource[] | undefined;
  /** Implicit-batch compatibility: a profile of 1..maxBatchSize over every input's leading dim. */
  maxBatchSize: number | undefined;
  /**
   * With the 'int8' flag, feeds calibration of a network without Q/DQ nodes (TensorRT's
   * int8_calibrator): a MinMaxCalibrator, EntropyCalibrator, PercentileCalibrator or
   * ImageBatcherCalibrator from @kiln/calibrator, or any object with that interface.
   */
  int8Calibrator: Calibrator | undefined;
  /**
   * With implicit INT8 (the 'int8' flag and an int8Calibrator): keep the most sensitive
   * convolutions in FP32 until the engine is this close to FP32 on the given batches.
   */
  int8AccuracyBudget: Int8AccuracyBudget | undefined;
  /**
   * Default 'prefer', where TensorRT's default is 'none': a precision set on a layer that
   * silently did nothing would be a trap.
   */
  precisionConstraints: PrecisionConstraints = 'prefer';

  /**
   * Sets a precision flag. 'int8' builds convolutions (and residual adds, max pools) in INT8
   * from the int8Calibrator's scales; Q/DQ networks build in INT8 with or without it. 'fp16'
   * stores weights in half precision (math stays FP32); 'bf16' is recorded only.
   */
  setFlag(flag: BuilderFlag): this {
    if (flag !== 'fp16' && flag !== 'int8' && flag !== 'bf16')
      throw invalidParameterError('flag', "'fp16', 'int8' or 'bf16'", flag);
    this.#flags.add(flag);
    return this;
  }

  /** Clears a precision flag. */
  clearFlag(flag: BuilderFlag): this {
    this.#flags.delete(flag);
    return this;
  }

  /** True when `flag` is set. */
  getFlag(flag: BuilderFlag): boolean {
    return this.#flags.has(flag);
  }

  /** Adds a profile; returns its index. */
  addOptimizationProfile(profile: OptimizationProfile): number {
    if (!(profile instanceof OptimizationProfile))
      throw invalidParameterError('profile', 'an OptimizationProfile', profile);
    this.profiles.push(profile);
    return this.profiles.length - 1;
  }

  /** Sets the memory pool limit in bytes (TensorRT's setMemoryPoolLimit(kWORKSPACE, ...)). */
  setMemoryPoolLimit(bytes: number): this {
    this.memoryPoolLimit = expectInteger('bytes', bytes, 0);
    return this;
  }

  /** @internal Checks the fields that can be set directly. */
  validate(): void {
    expectInteger('builderOptimizationLevel', this.builderOptimizationLevel, 0, 5);
    if (!['none', 'prefer', 'obey'].includes(this.precisionConstraints))
      throw invalidParameterError(
        'precisionConstraints',
        "'none', 'prefer' or 'obey'",
        this.precisionConstraints,
      );
    if (this.maxBatchSize !== undefined) expectInteger('maxBatchSize', this.maxBatchSize, 1);
    if (!(this.memoryPoolLimit >= 0))
      throw new KilnError('INVALID_ARGUMENT', 'memoryPoolLimit must be >= 0');
    const c = this.int8Calibrator;
    if (
      c !== undefined &&
      (c === null ||
        typeof c !== 'object' ||
        typeof c.getBatch !== 'function' ||
        typeof c.readCalibrationCache !== 'function' ||
        typeof c.writeCalibrationCache !== 'function' ||
        !['minmax', 'entropy', 'percentile'].includes(c.algorithm) ||
        !Number.isInteger(c.batchSize) ||
        c.batchSize < 1)
    ) {
      throw invalidParameterError('int8Calibrator', 'a Calibrator from @kiln/calibrator', c);
    }
    if (this.int8AccuracyBudget !== undefined) validateBudget(this.int8AccuracyBudget);
    if (this.timingCachePath !== undefined && typeof this.timingCachePath !== 'string') {
      throw invalidParameterError('timingCachePath', 'a file path', this.timingCachePath);
    }
    if (this.tacticSources !== undefined) {
      const built: readonly string[] = features().tacticSources;
      const s: unknown = this.tacticSources;
      if (
        !Array.isArray(s) ||
        s.length === 0 ||
        !s.every((x) => typeof x === 'string' && built.includes(x))
      )
        throw invalidParameterError(
          'tacticSources',
          `a non-empty array of the tactic sources this addon has (${built.map((b) => `'${b}'`).join(', ')})`,
          s,
        );
    }
  }
}
