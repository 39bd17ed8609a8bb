import {
  type DeviceInfo,
  type DeviceName,
  KilnError,
  type Logger,
  type NativeBuildResult,
  devices,
  features,
  getLogger,
  nativeAddon,
  resolveDevice,
} from '@kiln/core';

import { type NetworkPass, runPasses } from './build-log';
import { BuilderConfig, DEFAULT_TACTIC_SOURCES } from './config';
import { NetworkDefinition } from './network';
import { eliminateDeadLayers } from './passes/eliminate-dead-layers';
import { foldBatchNorm } from './passes/fold-batch-norm';
import { foldConvScale } from './passes/fold-conv-scale';
import { fuseHardSwish } from './passes/fuse-hard-swish';
import { fuseGelu } from './passes/fuse-gelu';
import { fuseMatMulBias } from './passes/fuse-matmul-bias';
import { fuseResidualAdd } from './passes/fuse-residual-add';
import { fuseHorizontal } from './passes/fuse-horizontal';
import { fuseElementwiseChains } from './passes/fuse-elementwise-chains';
import { fuseActivations } from './passes/fuse-activation';
import { fuseQdq } from './passes/fuse-qdq';
import { storeWeightsFp16Where } from './passes/store-weights-fp16';
import { calibrate } from './int8/calibrate';
import { hasQdq, insertQdq, planInt8 } from './int8/insert-qdq';
import { keepSensitiveLayers } from './int8/accuracy-budget';
import { removeNoOps } from './passes/remove-no-ops';
import { applyIOFormats } from './passes/apply-io-formats';
import { OptimizationProfile, type ShapeRange } from './profile';
import { describeNetwork } from './serialize';
import { finishTactics, readTimingCache } from './tactics';
import { describeDevice, fastPrecisions } from './platform';

/** The passes the builder applies, in order; each is exported for use on its own. */
export const DEFAULT_PASSES: readonly NetworkPass[] = [
  removeNoOps,
  fuseQdq,
  foldBatchNorm,
  foldConvScale,
  fuseHardSwish,
  fuseMatMulBias,
  fuseGelu,
  fuseResidualAdd,
  fuseActivations,
  fuseHorizontal,
  fuseElementwiseChains,
  eliminateDeadLayers,
];

/** Progress of a build, reported through the onProgress option. */
export interface BuildProgress {
  /** 'accuracy': trial engines of the INT8 accuracy budget. */
  stage: 'calibrate' | 'accuracy' | 'passes' | 'build' | 'check';
  done: number;
  total: number;
}

/** Options of buildSerializedNetwork. */
export interface BuildOptions {
  onProgress?: (progress: BuildProgress) => void;
  /** Replaces DEFAULT_PASSES. */
  passes?: readonly NetworkPass[];
}

/** Options of the Builder. */
export interface BuilderOptions {
  /**
   * The device the engines are meant for ('cpu' by default, or 'cuda:N'); it answers
   * platformHasFastFp16 / platformHasFastInt8 and the precision warnings. Plans run on any
   * device either way.
   */
  device?: DeviceName;
}

/**
 * Builds engines (like TensorRT's IBuilder): create a network and a config, then
 * buildSerializedNetwork returns plan bytes that @kiln/runtime loads.
 */
export class Builder {
  readonly logger: Logger;
  /** The device engines are built for (BuilderOptions.device). */
  readonly device: DeviceName;

  constructor(logger: Logger = getLogger(), options: BuilderOptions = {}) {
    this.logger = logger;
    if (typeof options !== 'object' || options === null)
      throw new KilnError('INVALID_ARGUMENT', 'Builder options must be an object');
    this.device = resolveDevice(options.device);
  }

  private get deviceInfo(): DeviceInfo {
    return devices().find((d) => d.name === this.device)!;
  }

  /** An empty network (explicit batch: shapes include the batch dim). */
  createNetwork(): NetworkDefinition {
    return new NetworkDefinition();
  }

  /** A config with default settings. */
  createBuilderConfig(): BuilderConfig {
    return new BuilderConfig();
  }

  /** An empty optimization profile. */
  createOptimizationProfile(): OptimizationProfile {
    return new OptimizationProfile();
  }

  /**
   * True when the builder's device computes in half precision natively: on 'cpu' AVX512-FP16,
   * on 'cuda:N' tensor cores (compute capability 7.0 and up).
   */
  get platformHasFastFp16(): boolean {
    return fastPrecisions(this.deviceInfo, features().cpu).fp16;
  }

  /**
   * True when the builder's device has int8 dot-product instructions: on 'cpu' AVX512-VNNI or
   * AVX-VNNI, on 'cuda:N' dp4a (compute capability 6.1 and up).
   */
  get platformHasFastInt8(): boolean {
    return fastPrecisions(this.deviceInfo, features().cpu).int8;
  }

  /**
   * Optimizes the network (passes), checks every profile's shapes through the whole network,
   * and returns the engine's plan bytes. Runs off the event loop.
   */
  async buildSerializedNetwork(
    network: NetworkDefinition,
    config: BuilderConfig,
    options: BuildOptions = {},
  ): Promise<Uint8Array> {
    if (!(network instanceof NetworkDefinition))
      throw new KilnError('INVALID_ARGUMENT', 'buildSerializedNetwork expects a NetworkDefinition');
    if (!(config instanceof BuilderConfig))
      throw new KilnError('INVALID_ARGUMENT', 'buildSerializedNetwork expects a BuilderConfig');
    config.validate();
    if (network.outputs.length === 0)
      throw new KilnError('INVALID_MODEL', 'the network has no outputs: call markOutput first');
    const dangling = network.danglingTensors();
    if (dangling.length > 0) {
      throw new KilnError(
        'INVALID_MODEL',
        `layers read tensors nothing produces: ${dangling.map((t) => `'${t.name}'`).join(', ')}`,
      );
    }
    this.warnAboutPrecision(config, network);
    if (config.precisionConstraints === 'none') {
      const set = network.layers.filter((l) => l.precision !== undefined);
      if (set.length > 0)
        this.logger.log(
          'info',
          `precisionConstraints 'none': the precisions of ${set.length} layers are ignored`,
        );
      for (const l of set) l.precision = undefined;
    }
    const report = options.onProgress ?? (() => {});
    const passes = options.passes ?? DEFAULT_PASSES;
    const explicit = hasQdq(network);
    if (config.getFlag('int8') && config.int8Calibrator && !explicit) {
      // Implicit INT8: calibrate the network as FP32 will run it (batch norms folded), then
      // rewrite it with Q/DQ nodes, which fuseQdq (in the default passes) makes 8-bit layers.
      report({ stage: 'calibrate', done: 0, total: 1 });
      runPasses(network, [removeNoOps, foldBatchNorm]);
      let plan = planInt8(network);
      // The budget's trial plans quantize max pool outputs as convolution inputs where the
      // convolution before the pool stays FP32: those need scales of their own.
      const budget = config.int8AccuracyBudget;
      const tensors = budget ? [...plan.calibrated, ...plan.inherited.keys()] : plan.calibrated;
      const scales = await calibrate(this, network, tensors, config.int8Calibrator, this.logger);
      report({ stage: 'calibrate', done: 1, total: 1 });
      if (budget) {
        const quiet = new Builder({ log: () => {} });
        await keepSensitiveLayers(quiet, network, plan, scales, budget, this.logger, report);
        plan = planInt8(network);
      }
      insertQdq(network, plan, scales);
    }
    applyIOFormats(network, this.logger);
    report({ stage: 'passes', done: 0, total: passes.length });
    const fp16 = config.getFlag('fp16');
    const halfWeights = (n: NetworkDefinition) =>
      storeWeightsFp16Where(n, (l) => l.precision === 'fp16' || (fp16 && l.precision !== 'fp32'));
    Object.defineProperty(halfWeights, 'name', { value: 'storeWeightsFp16' });
    const wantsHalf = fp16 || network.layers.some((l) => l.precision === 'fp16');
    runPasses(network, wantsHalf ? [...passes, halfWeights] : passes);
    report({ stage: 'passes', done: passes.length, total: passes.length });
    if (explicit || (config.getFlag('int8') && config.int8Calibrator)) this.logPrecisions(network);
    this.checkPrecisionConstraints(network, config);
    const profiles = resolveProfiles(network, config);
    const desc = describeNetwork(network, profiles);
    report({ stage: 'build', done: 0, total: 1 });
    // The native build also picks each layer's tactic: the fastest at the first profile's opt
    // shapes (timed, or from the timing cache), or the heuristic's at level 0.
    const level = config.builderOptimizationLevel;
    const started = performance.now();
    const result = await new Promise<NativeBuildResult>((resolve, reject) => {
      nativeAddon().buildTunedPlan(
        desc,
        level,
        readTimingCache(config.timingCachePath, this.logger),
        [...(config.tacticSources ?? DEFAULT_TACTIC_SOURCES)],
        (error, r) => (error ? reject(error) : resolve(r!)),
      );
    });
    finishTactics(result, config.timingCachePath, level, performance.now() - started, this.logger);
    // A view, not a copy: the native build handed over the bytes.
    const plan = new Uint8Array(result.plan.buffer, result.plan.byteOffset, result.plan.byteLength);
    report({ stage: 'build', done: 1, total: 1 });
    const memory = Math.max(0, ...result.deviceMemorySize);
    if (memory > config.memoryPoolLimit) {
      throw new KilnError(
        'OUT_OF_MEMORY',
        `the engine needs ${memory} bytes of memory (activations and kernel scratch) at its largest profile shapes but the memory pool limit is ${config.memoryPoolLimit}: raise the limit or lower the max shapes`,
      );
    }
    report({ stage: 'check', done: 1, total: 1 });
    this.logger.log(
      'info',
      `built an engine of ${network.layers.length} layers, ${plan.byteLength} bytes, ${memory} bytes of activation and kernel scratch memory`,
    );
    return plan;
  }

  private warnAboutPrecision(config: BuilderConfig, network: NetworkDefinition): void {
    const cpu = this.device === 'cpu';
    if (config.getFlag('fp16') && !this.platformHasFastFp16)
      this.logger.log(
        'warning',
        `fp16 requested but ${describeDevice(this.deviceInfo)} has no fast native fp16 (${cpu ? 'AVX512-FP16' : 'tensor cores'})`,
      );
    if (config.getFlag('int8') && !this.platformHasFastInt8)
      this.logger.log(
        'warning',
        `int8 requested but ${describeDevice(this.deviceInfo)} has no int8 dot-product instructions (${cpu ? 'VNNI' : 'dp4a'})`,
      );
    if (config.getFlag('int8') && !config.int8Calibrator && !hasQdq(network))
      this.logger.log(
        'warning',
        'int8 is set but there is no int8Calibrator and the network has no Q/DQ nodes: every layer is built in FP32',
      );
    if (config.int8AccuracyBudget && !(config.getFlag('int8') && config.int8Calibrator))
      this.logger.log(
        'warning',
        'int8AccuracyBudget applies to implicit INT8 (the int8 flag and an int8Calibrator): ignored',
      );
    if (config.getFlag('fp16'))
      this.logger.log(
        'info',
        "fp16: Conv/Gemm/MatMul weights are stored as FP16 in the plan; on 'cpu' they are expanded to FP32 when the engine loads (arithmetic stays FP32), on 'cuda' those layers and the activations between them compute in FP16",
      );
    if (config.getFlag('bf16'))
      this.logger.log(
        'warning',
        'bf16 is recorded but not honoured yet: every layer is built in FP32',
      );
  }

  // Layer precisions the engine cannot honour: INT8 where no INT8 kernel or scales took the
  // layer, FP16 anywhere (FP16 is weight storage only; arithmetic stays FP32).
  private checkPrecisionConstraints(network: NetworkDefinition, config: BuilderConfig): void {
    const unmet = network.layers.flatMap((l) => {
      if (l.precision === 'int8')
        return [
          `layer '${l.name}' (${l.op}) is constrained to int8 but has no INT8 kernel or scales here: it runs in FP32`,
        ];
      if (l.precision === 'fp16')
        return [
          `layer '${l.name}' (${l.op}) is constrained to fp16 but computes in FP32 (only weights are stored in FP16)`,
        ];
      return [];
    });
    if (unmet.length === 0) return;
    if (config.precisionConstraints === 'obey')
      throw new KilnError(
        'UNSUPPORTED',
        `precisionConstraints 'obey': ${unmet.length} layer precision(s) cannot be met:\n  ${unmet.join('\n  ')}`,
      );
    for (const message of unmet) this.logger.log('warning', message);
  }

  // The build log's account of precisions: which layers run 8-bit and which compute layers
  // stay FP32 for want of an INT8 kernel.
  private logPrecisions(network: NetworkDefinition): void {
    const eightBit = (t: { dtype: string }) => t.dtype === 'uint8' || t.dtype === 'int8';
    const int8 = network.layers.filter(
      (l) =>
        l.op === 'QLinearConv' ||
        l.op === 'QLinearAdd' ||
        l.op === 'QLinearGemm' ||
        (l.op === 'MaxPool' && eightBit(l.output)),
    );
    const dataMovement = new Set([
      'QuantizeLinear',
      'DequantizeLinear',
      'Flatten',
      'Reshape',
      'Transpose',
      'Squeeze',
      'Unsqueeze',
      'Identity',
      'Concat',
      'Slice',
      'Shape',
      'Gather',
    ]);
    const fp32 = network.layers.filter((l) => !int8.includes(l) && !dataMovement.has(l.op));
    this.logger.log('info', `int8: ${int8.length} layers run in INT8`);
    if (fp32.length > 0)
      this.logger.log(
        'info',
        `int8: ${fp32.length} layers stay FP32 (no INT8 kernel, or not between Q/DQ): ${fp32.map((l) => `${l.op} '${l.name}'`).join(', ')}`,
      );
  }
}

/** An input's range in a profile, with its shape values when it has them. */
export type ResolvedRange = ShapeRange & { values?: ShapeRange };

/** Every dynamic input covered, ranks and fixed dims respected: one range map per profile. */
function resolveProfiles(
  network: NetworkDefinition,
  config: BuilderConfig,
): Map<string, ShapeRange>[] {
  const dynamic = network.inputs.filter((t) => t.shape.some((d) => d < 0));
  let profiles = config.profiles;
  if (profiles.length === 0 && config.maxBatchSize !== undefined && dynamic.length > 0) {
    const p = new OptimizationProfile();
    for (const t of dynamic) {
      if (t.shape.slice(1).some((d) => d < 0)) {
        throw new KilnError(
          'INVALID_ARGUMENT',
          `maxBatchSize covers only the leading dim, but input '${t.name}' has other dynamic dims: add an optimization profile`,
        );
      }
      const rest = t.shape.slice(1);
      p.setDimensions(t.name, {
        min: [1, ...rest],
        opt: [config.maxBatchSize, ...rest],
        max: [config.maxBatchSize, ...rest],
      });
    }
    profiles = [p];
  }
  if (profiles.length === 0 && dynamic.length > 0) {
    throw new KilnError(
      'INVALID_ARGUMENT',
      `inputs ${dynamic.map((t) => `'${t.name}' [${t.shape}]`).join(', ')} have dynamic dims: add an optimization profile (or set maxBatchSize)`,
    );
  }
  return profiles.map((profile, index) => {
    const map = new Map<string, ResolvedRange>();
    for (const name of profile.names()) {
      if (!network.inputs.some((t) => t.name === name)) {
        throw new KilnError(
          'INVALID_ARGUMENT',
          `profile ${index} names '${name}', which is not an input; inputs: ${network.inputs.map((t) => `'${t.name}'`).join(', ')}`,
        );
      }
    }
    for (const t of network.inputs) {
      const values = profile.getShapeValues(t.name);
      const fixed = t.shape.every((d) => d >= 0)
        ? { min: t.shape, opt: t.shape, max: t.shape }
        : undefined;
      const r = profile.getDimensions(t.name) ?? (values ? fixed : undefined);
      if (!r) {
        if (t.shape.some((d) => d < 0))
          throw new KilnError(
            'INVALID_ARGUMENT',
            `profile ${index} gives no range for dynamic input '${t.name}' [${t.shape}]`,
          );
        continue;
      }
      if (values) {
        if (t.dtype !== 'int32' && t.dtype !== 'int64' && t.dtype !== 'bool') {
          throw new KilnError(
            'INVALID_ARGUMENT',
            `profile ${index}: shape values are for int32, int64 or bool inputs; '${t.name}' is ${t.dtype}`,
          );
        }
        const elements = r.max.reduce((a, b) => a * b, 1);
        if (r.min.join() !== r.max.join() || values.min.length !== elements) {
          throw new KilnError(
            'INVALID_ARGUMENT',
            `profile ${index}: '${t.name}' needs a fixed shape and one shape value per element (${elements})`,
          );
        }
      }
      if (r.min.length !== t.shape.length) {
        throw new KilnError(
          'INVALID_ARGUMENT',
          `profile ${index}: input '${t.name}' has rank ${t.shape.length} but its range has rank ${r.min.length}`,
        );
      }
      t.shape.forEach((d, i) => {
        if (d >= 0 && (r.min[i] !== d || r.max[i] !== d)) {
          throw new KilnError(
            'INVALID_ARGUMENT',
            `profile ${index}: dim ${i} of '${t.name}' is fixed at ${d} but the range is [${r.min[i]}, ${r.max[i]}]`,
          );
        }
      });
      map.set(t.name, values ? { ...r, values } : r);
    }
    return map;
  });
}
