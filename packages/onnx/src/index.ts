// @kiln/onnx: ONNX model IO, an IR made for passes, shape inference, graph surgery and passes.
export { loadModel, type LoadOptions } from './io/load';
export {
  saveModel,
  serializeModel,
  totalWeightBytes,
  PROTOBUF_LIMIT,
  type SaveOptions,
} from './io/save';
export { decodeMessage, encodeMessage } from './io/codec';
export type * from './io/proto-types';
export type { Int64 } from './io/wire';
export { Model } from './ir/model';
export { Graph, nodeReads, outerReads } from './ir/graph';
export { Node, type NodeInit } from './ir/node';
export { Value } from './ir/value';
export { Initializer, emptyTensorProto } from './ir/initializer';
export {
  type Attribute,
  AttrType,
  intAttr,
  intsAttr,
  floatAttr,
  floatsAttr,
  stringAttr,
  tensorAttr,
  graphAttr,
} from './ir/attribute';
export {
  ElemType,
  elemTypeName,
  elemTypeBits,
  elemTypeByteLength,
  kilnDataType,
  isKnownElemType,
} from './ir/elem-type';
export { type Dim, type SymbolicShape, isStaticShape, formatShape } from './ir/shape';
export { modelFromProto, modelToProto, graphFromProto, graphToProto } from './ir/convert';
export { initializerFromNumbers } from './ir/from-numbers';
export { inferShapes, runInference, type InferOptions, type InferResult } from './infer/infer';
export type { TensorInfo, InferContext, InferRule } from './infer/context';
export { INFER_RULES } from './infer/registry';
export { findNodes, findNode, findTensors, type NodeQuery } from './surgery/find';
export {
  insertNodes,
  replaceUses,
  removeNode,
  replaceNode,
  renameTensor,
  renameIO,
} from './surgery/edit';
export { cleanup, cleanupGraph, type CleanupOptions } from './surgery/cleanup';
export { extractSubgraph } from './surgery/extract';
export { setBatchSize, type BatchSize, type SetBatchSizeOptions } from './passes/set-batch-size';
export {
  inputsAsNchw,
  outputsAsNchw,
  cancelTransposePairs,
  toChannelsFirst,
  toChannelsLast,
  type LayoutOptions,
} from './passes/layout';
export { foldConstants, type FoldOptions } from './passes/fold-constants';
export { eliminateDeadNodes } from './passes/eliminate-dead-nodes';
export { checkOpset, SUPPORTED_OPSETS, type OpsetOptions } from './passes/opset';
export { upgradeLegacyOpset, UPGRADED_OPSET } from './passes/upgrade-legacy-opset';
