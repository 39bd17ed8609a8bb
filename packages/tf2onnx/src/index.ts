// @kiln/tf2onnx: TensorFlow frozen graphs, SavedModels and TF.js graph models to ONNX.
export {
  convertGraphDef,
  convertSavedModel,
  convertTfjs,
  writeOnnx,
  type SavedModelOptions,
} from './api';
export {
  convertSpec,
  type ConvertOptions,
  type ConversionReport,
  type ConversionResult,
} from './convert/convert';
export { OpContext, ConversionState, type OpHandler, type TensorType } from './convert/context';
export { OP_HANDLERS, PASS_THROUGH } from './ops/registry';
export { optimizeTransposes } from './convert/transpose-optimizer';
export { readGraphDef } from './readers/graphdef';
export { readSavedModel, type SavedModelReadOptions } from './readers/saved-model';
export { readTfjs } from './readers/tfjs';
export { TensorBundle, type BundleEntry } from './readers/tensor-bundle';
export type { GraphSpec, IoTensor } from './readers/spec';
export type { TfGraph, TfNode, TfAttr, TfTensor, TfFunction } from './proto/graph';
export { encodeGraphDef } from './proto/encode-graph';
