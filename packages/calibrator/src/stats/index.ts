// Calibration statistics over plain Float32Arrays: no engine needed, so they are tested alone.
export { MinMaxAccumulator, scaleFromAmax } from './minmax';
export { Histogram } from './histogram';
export {
  type EntropyOptions,
  type EntropyResult,
  entropyThreshold,
  klDivergence,
  quantizeBins,
} from './entropy';
export { percentileThreshold } from './percentile';
