// @kiln/builder: networks (by API or from ONNX), configs with profiles, passes, and Builder.
export {
  NetworkDefinition,
  NetworkTensor,
  Layer,
  type LayerPrecision,
  type IOFormat,
  type IODataType,
  type IOLayout,
  type AttrInput,
  type WindowOptions,
  type ActivationType,
  type ElementWiseOperation,
} from './network';
export { OptimizationProfile, type ShapeRange } from './profile';
export { type Int8AccuracyBudget } from './int8/accuracy-budget';
export {
  BuilderConfig,
  DEFAULT_TACTIC_SOURCES,
  type BuilderFlag,
  type PrecisionConstraints,
} from './config';
export { OnnxParser, type UnsupportedNode, type ParseOptions } from './onnx-parser';
export {
  Builder,
  DEFAULT_PASSES,
  type BuildProgress,
  type BuildOptions,
  type BuilderOptions,
} from './builder';
export { fastPrecisions, type FastPrecisions } from './platform';
export { type NetworkPass, runPasses } from './build-log';
export { eliminateDeadLayers } from './passes/eliminate-dead-layers';
export { removeNoOps } from './passes/remove-no-ops';
export { foldBatchNorm } from './passes/fold-batch-norm';
export { foldConvScale } from './passes/fold-conv-scale';
export { fuseHardSwish } from './passes/fuse-hard-swish';
export { fuseMatMulBias } from './passes/fuse-matmul-bias';
export { fuseGelu } from './passes/fuse-gelu';
export { fuseActivations } from './passes/fuse-activation';
export { fuseResidualAdd } from './passes/fuse-residual-add';
export { fuseHorizontal } from './passes/fuse-horizontal';
export { fuseElementwiseChains } from './passes/fuse-elementwise-chains';
export {
  engineBuilderFor,
  type EngineBuilderOptions,
  type ModelEngineBuilder,
} from './engine-builder';
export { unsupportedReason } from './op-support';
export {
  partitionModel,
  type PartitionOptions,
  type Segment,
  type SegmentNode,
} from './partition/segments';
export {
  PartitionedModel,
  type PartitionedModelOptions,
  type SegmentInfo,
} from './partition/partitioned-model';
export {
  onnxruntimeFallback,
  type FallbackExecutor,
  type FallbackSession,
} from './partition/fallback';
export { fuseQdq } from './passes/fuse-qdq';
export { storeWeightsFp16 } from './passes/store-weights-fp16';
