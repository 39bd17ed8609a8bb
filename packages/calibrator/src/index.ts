// @kiln/calibrator: INT8 calibration inputs (Calibrator, ImageBatcher on sharp), TensorRT-layout
// cache files, and the statistics that turn activations into scales.
export {
  type Awaitable,
  type CalibrationAlgorithm,
  type Calibrator,
  CALIBRATOR_NAMES,
} from './calibrator/calibrator';
export {
  type BatchCalibratorOptions,
  type CalibrationBatch,
  BatchCalibrator,
  MinMaxCalibrator,
  EntropyCalibrator,
  PercentileCalibrator,
} from './calibrator/batch-calibrator';
export { ActivationRanges } from './stats/activation-ranges';
export {
  type ImageBatcherCalibratorOptions,
  ImageBatcherCalibrator,
} from './calibrator/image-batcher-calibrator';
export {
  type CalibrationCache,
  type CacheExpectations,
  type CalibrationCacheContent,
  KILN_CACHE_PRODUCER,
  KILN_CACHE_VERSION,
  readCalibrationCache,
  writeCalibrationCache,
  scaleToHex,
  hexToScale,
  networkFingerprint,
} from './cache/calibration-cache';
export {
  type FitMode,
  type ColorOrder,
  type ImageLayout,
  type ImageDataType,
  type ResizeKernel,
  type Remainder,
  type PadFill,
  type MeanStdNormalization,
  type ScaleOffsetNormalization,
  type Normalization,
  type PreprocessOptions,
  type ImageBatcherOptions,
  type BatcherProgress,
  type ResolvedPreprocessOptions,
  type ResolvedBatcherOptions,
  DEFAULT_EXTENSIONS,
} from './batcher/options';
export { type FitGeometry, fitGeometry } from './batcher/geometry';
export { seededRandom, shuffleInPlace } from './batcher/shuffle';
export { type DecodedImage, ImagePreprocessor } from './batcher/preprocessor';
export { type ImageBatch, type SkippedImage, ImageBatcher } from './batcher/image-batcher';
export {
  MinMaxAccumulator,
  scaleFromAmax,
  Histogram,
  type EntropyOptions,
  type EntropyResult,
  entropyThreshold,
  klDivergence,
  quantizeBins,
  percentileThreshold,
} from './stats/index';
