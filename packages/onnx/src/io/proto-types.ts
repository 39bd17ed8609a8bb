import type { Int64 } from './wire';

// The decoded shape of ONNX protobuf messages (see schema.ts). Repeated fields are always arrays;
// absent singular fields are undefined, so proto2 presence survives a round trip.

/** Fields the codec did not know, kept as raw wire bytes (tag included) and written back. */
export interface Unknowns {
  $unknown?: Uint8Array[];
}

/** OperatorSetIdProto. */
export interface OperatorSetIdProto extends Unknowns {
  domain?: string;
  version?: Int64;
}

/** StringStringEntryProto. */
export interface StringStringEntryProto extends Unknowns {
  key?: string;
  value?: string;
}

/** ModelProto. */
export interface ModelProto extends Unknowns {
  irVersion?: Int64;
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: Int64;
  docString?: string;
  graph?: GraphProto;
  opsetImport: OperatorSetIdProto[];
  metadataProps: StringStringEntryProto[];
  trainingInfo: TrainingInfoProto[];
  functions: FunctionProto[];
}

/** TrainingInfoProto. */
export interface TrainingInfoProto extends Unknowns {
  initialization?: GraphProto;
  algorithm?: GraphProto;
  initializationBinding: StringStringEntryProto[];
  updateBinding: StringStringEntryProto[];
}

/** GraphProto. */
export interface GraphProto extends Unknowns {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  docString?: string;
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
  quantizationAnnotation: TensorAnnotation[];
  sparseInitializer: SparseTensorProto[];
  metadataProps: StringStringEntryProto[];
}

/** TensorAnnotation. */
export interface TensorAnnotation extends Unknowns {
  tensorName?: string;
  quantParameterTensorNames: StringStringEntryProto[];
}

/** NodeProto. */
export interface NodeProto extends Unknowns {
  input: string[];
  output: string[];
  name?: string;
  opType?: string;
  attribute: AttributeProto[];
  docString?: string;
  domain?: string;
  overload?: string;
  metadataProps: StringStringEntryProto[];
}

/** AttributeProto. */
export interface AttributeProto extends Unknowns {
  name?: string;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats: number[];
  ints: Int64[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  graphs: GraphProto[];
  docString?: string;
  tp?: TypeProto;
  typeProtos: TypeProto[];
  type?: number;
  refAttrName?: string;
  sparseTensor?: SparseTensorProto;
  sparseTensors: SparseTensorProto[];
}

/** ValueInfoProto. */
export interface ValueInfoProto extends Unknowns {
  name?: string;
  type?: TypeProto;
  docString?: string;
  metadataProps: StringStringEntryProto[];
}

/** TypeProto. */
export interface TypeProto extends Unknowns {
  tensorType?: TypeProtoTensor;
  sequenceType?: TypeProtoSequence;
  mapType?: TypeProtoMap;
  denotation?: string;
  sparseTensorType?: TypeProtoTensor;
  optionalType?: TypeProtoSequence;
}

/** TypeProto.Tensor (also TypeProto.SparseTensor: same fields). */
export interface TypeProtoTensor extends Unknowns {
  elemType?: number;
  shape?: TensorShapeProto;
}

/** TypeProto.Sequence (also TypeProto.Optional: same fields). */
export interface TypeProtoSequence extends Unknowns {
  elemType?: TypeProto;
}

/** TypeProto.Map. */
export interface TypeProtoMap extends Unknowns {
  keyType?: number;
  valueType?: TypeProto;
}

/** TensorShapeProto. */
export interface TensorShapeProto extends Unknowns {
  dim: Dimension[];
}

/** TensorShapeProto.Dimension. */
export interface Dimension extends Unknowns {
  dimValue?: Int64;
  dimParam?: string;
  denotation?: string;
}

/** TensorProto. */
export interface TensorProto extends Unknowns {
  dims: Int64[];
  dataType?: number;
  segment?: { begin?: Int64; end?: Int64 } & Unknowns;
  floatData: number[];
  int32Data: number[];
  stringData: Uint8Array[];
  int64Data: Int64[];
  name?: string;
  rawData?: Uint8Array;
  doubleData: number[];
  uint64Data: Int64[];
  docString?: string;
  externalData: StringStringEntryProto[];
  dataLocation?: number;
  metadataProps: StringStringEntryProto[];
}

/** SparseTensorProto. */
export interface SparseTensorProto extends Unknowns {
  values?: TensorProto;
  indices?: TensorProto;
  dims: Int64[];
}

/** FunctionProto. */
export interface FunctionProto extends Unknowns {
  name?: string;
  input: string[];
  output: string[];
  attribute: string[];
  node: NodeProto[];
  docString?: string;
  opsetImport: OperatorSetIdProto[];
  domain?: string;
  attributeProto: AttributeProto[];
  valueInfo: ValueInfoProto[];
  overload?: string;
  metadataProps: StringStringEntryProto[];
}
