// The ONNX protobuf schema (onnx.proto, IR version 10), written from the ONNX specification as
// a table the generic codec walks. Field numbers are the contract with every other ONNX tool.

/** How one field is encoded. */
export type FieldKind =
  'int32' | 'int64' | 'uint64' | 'float' | 'double' | 'string' | 'bytes' | 'message';

/** One field of a message. */
export interface FieldSpec {
  /** Field number on the wire. */
  readonly no: number;
  /** Property name in the decoded object (camelCase of the proto name). */
  readonly name: string;
  /** Scalar kind, or 'message'. */
  readonly kind: FieldKind;
  /** A repeated field (decoded as an array, [] when absent). */
  readonly repeated?: boolean;
  /** Written packed (readers accept both forms for every repeated scalar). */
  readonly packed?: boolean;
  /** The message type's name, for kind 'message'. */
  readonly type?: string;
}

/** A message type: its name and fields. */
export interface MessageSpec {
  readonly name: string;
  readonly fields: readonly FieldSpec[];
  /** Fields by number, built once. */
  readonly byNo: Map<number, FieldSpec>;
}

type Row = [
  no: number,
  name: string,
  kind: FieldKind,
  opts?: { repeated?: true; packed?: true; type?: string },
];

const R = { repeated: true } as const;
const P = { repeated: true, packed: true } as const;
const m = (type: string) => ({ type });
const rm = (type: string) => ({ repeated: true as const, type });

const rows: Record<string, Row[]> = {
  ModelProto: [
    [1, 'irVersion', 'int64'],
    [2, 'producerName', 'string'],
    [3, 'producerVersion', 'string'],
    [4, 'domain', 'string'],
    [5, 'modelVersion', 'int64'],
    [6, 'docString', 'string'],
    [7, 'graph', 'message', m('GraphProto')],
    [8, 'opsetImport', 'message', rm('OperatorSetIdProto')],
    [14, 'metadataProps', 'message', rm('StringStringEntryProto')],
    [20, 'trainingInfo', 'message', rm('TrainingInfoProto')],
    [25, 'functions', 'message', rm('FunctionProto')],
  ],
  TrainingInfoProto: [
    [1, 'initialization', 'message', m('GraphProto')],
    [2, 'algorithm', 'message', m('GraphProto')],
    [3, 'initializationBinding', 'message', rm('StringStringEntryProto')],
    [4, 'updateBinding', 'message', rm('StringStringEntryProto')],
  ],
  OperatorSetIdProto: [
    [1, 'domain', 'string'],
    [2, 'version', 'int64'],
  ],
  StringStringEntryProto: [
    [1, 'key', 'string'],
    [2, 'value', 'string'],
  ],
  GraphProto: [
    [1, 'node', 'message', rm('NodeProto')],
    [2, 'name', 'string'],
    [5, 'initializer', 'message', rm('TensorProto')],
    [10, 'docString', 'string'],
    [11, 'input', 'message', rm('ValueInfoProto')],
    [12, 'output', 'message', rm('ValueInfoProto')],
    [13, 'valueInfo', 'message', rm('ValueInfoProto')],
    [14, 'quantizationAnnotation', 'message', rm('TensorAnnotation')],
    [15, 'sparseInitializer', 'message', rm('SparseTensorProto')],
    [16, 'metadataProps', 'message', rm('StringStringEntryProto')],
  ],
  TensorAnnotation: [
    [1, 'tensorName', 'string'],
    [2, 'quantParameterTensorNames', 'message', rm('StringStringEntryProto')],
  ],
  NodeProto: [
    [1, 'input', 'string', R],
    [2, 'output', 'string', R],
    [3, 'name', 'string'],
    [4, 'opType', 'string'],
    [5, 'attribute', 'message', rm('AttributeProto')],
    [6, 'docString', 'string'],
    [7, 'domain', 'string'],
    [8, 'overload', 'string'],
    [9, 'metadataProps', 'message', rm('StringStringEntryProto')],
  ],
  AttributeProto: [
    [1, 'name', 'string'],
    [2, 'f', 'float'],
    [3, 'i', 'int64'],
    [4, 's', 'bytes'],
    [5, 't', 'message', m('TensorProto')],
    [6, 'g', 'message', m('GraphProto')],
    [7, 'floats', 'float', R],
    [8, 'ints', 'int64', R],
    [9, 'strings', 'bytes', R],
    [10, 'tensors', 'message', rm('TensorProto')],
    [11, 'graphs', 'message', rm('GraphProto')],
    [13, 'docString', 'string'],
    [14, 'tp', 'message', m('TypeProto')],
    [15, 'typeProtos', 'message', rm('TypeProto')],
    [20, 'type', 'int32'],
    [21, 'refAttrName', 'string'],
    [22, 'sparseTensor', 'message', m('SparseTensorProto')],
    [23, 'sparseTensors', 'message', rm('SparseTensorProto')],
  ],
  ValueInfoProto: [
    [1, 'name', 'string'],
    [2, 'type', 'message', m('TypeProto')],
    [3, 'docString', 'string'],
    [4, 'metadataProps', 'message', rm('StringStringEntryProto')],
  ],
  TypeProto: [
    [1, 'tensorType', 'message', m('TypeProtoTensor')],
    [4, 'sequenceType', 'message', m('TypeProtoSequence')],
    [5, 'mapType', 'message', m('TypeProtoMap')],
    [6, 'denotation', 'string'],
    [8, 'sparseTensorType', 'message', m('TypeProtoTensor')],
    [9, 'optionalType', 'message', m('TypeProtoSequence')],
  ],
  TypeProtoTensor: [
    [1, 'elemType', 'int32'],
    [2, 'shape', 'message', m('TensorShapeProto')],
  ],
  TypeProtoSequence: [[1, 'elemType', 'message', m('TypeProto')]],
  TypeProtoMap: [
    [1, 'keyType', 'int32'],
    [2, 'valueType', 'message', m('TypeProto')],
  ],
  TensorShapeProto: [[1, 'dim', 'message', rm('Dimension')]],
  Dimension: [
    [1, 'dimValue', 'int64'],
    [2, 'dimParam', 'string'],
    [3, 'denotation', 'string'],
  ],
  TensorProto: [
    [1, 'dims', 'int64', R],
    [2, 'dataType', 'int32'],
    [3, 'segment', 'message', m('Segment')],
    [4, 'floatData', 'float', P],
    [5, 'int32Data', 'int32', P],
    [6, 'stringData', 'bytes', R],
    [7, 'int64Data', 'int64', P],
    [8, 'name', 'string'],
    [9, 'rawData', 'bytes'],
    [10, 'doubleData', 'double', P],
    [11, 'uint64Data', 'uint64', P],
    [12, 'docString', 'string'],
    [13, 'externalData', 'message', rm('StringStringEntryProto')],
    [14, 'dataLocation', 'int32'],
    [16, 'metadataProps', 'message', rm('StringStringEntryProto')],
  ],
  Segment: [
    [1, 'begin', 'int64'],
    [2, 'end', 'int64'],
  ],
  SparseTensorProto: [
    [1, 'values', 'message', m('TensorProto')],
    [2, 'indices', 'message', m('TensorProto')],
    [3, 'dims', 'int64', R],
  ],
  FunctionProto: [
    [1, 'name', 'string'],
    [4, 'input', 'string', R],
    [5, 'output', 'string', R],
    [6, 'attribute', 'string', R],
    [7, 'node', 'message', rm('NodeProto')],
    [8, 'docString', 'string'],
    [9, 'opsetImport', 'message', rm('OperatorSetIdProto')],
    [10, 'domain', 'string'],
    [11, 'attributeProto', 'message', rm('AttributeProto')],
    [12, 'valueInfo', 'message', rm('ValueInfoProto')],
    [13, 'overload', 'string'],
    [14, 'metadataProps', 'message', rm('StringStringEntryProto')],
  ],
};

/** Every ONNX message type by name. */
export const SCHEMA: ReadonlyMap<string, MessageSpec> = new Map(
  Object.entries(rows).map(([name, fields]) => {
    const specs = fields.map(([no, fname, kind, opts]) => ({ no, name: fname, kind, ...opts }));
    return [name, { name, fields: specs, byNo: new Map(specs.map((f) => [f.no, f])) }];
  }),
);
