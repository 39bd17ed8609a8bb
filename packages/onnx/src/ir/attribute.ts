import { KilnError } from '@kiln/core';
import type { AttributeProto } from '../io/proto-types';
import type { Int64 } from '../io/wire';
import type { Graph } from './graph';
import type { Initializer } from './initializer';

/** AttributeProto.AttributeType codes. */
export const AttrType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

/**
 * A node attribute. Scalars and lists stay in `proto`; a tensor value is an Initializer and
 * subgraphs are Graphs, so passes see into If/Loop/Scan bodies.
 */
export interface Attribute {
  /** Attribute name. */
  readonly name: string;
  /** AttributeType code. */
  readonly type: number;
  /** The proto (scalars, lists, doc string, unknown fields). */
  readonly proto: AttributeProto;
  /** A TENSOR attribute's value. */
  tensor?: Initializer;
  /** A GRAPH attribute's value. */
  graph?: Graph;
  /** A GRAPHS attribute's values. */
  graphs?: Graph[];
}

function emptyAttr(name: string, type: number): AttributeProto {
  return {
    name,
    type,
    floats: [],
    ints: [],
    strings: [],
    tensors: [],
    graphs: [],
    typeProtos: [],
    sparseTensors: [],
  };
}

/** An INT attribute. */
export function intAttr(name: string, value: Int64): Attribute {
  return { name, type: AttrType.INT, proto: { ...emptyAttr(name, AttrType.INT), i: value } };
}

/** An INTS attribute. */
export function intsAttr(name: string, values: readonly Int64[]): Attribute {
  return {
    name,
    type: AttrType.INTS,
    proto: { ...emptyAttr(name, AttrType.INTS), ints: [...values] },
  };
}

/** A FLOAT attribute. */
export function floatAttr(name: string, value: number): Attribute {
  return { name, type: AttrType.FLOAT, proto: { ...emptyAttr(name, AttrType.FLOAT), f: value } };
}

/** A FLOATS attribute. */
export function floatsAttr(name: string, values: readonly number[]): Attribute {
  return {
    name,
    type: AttrType.FLOATS,
    proto: { ...emptyAttr(name, AttrType.FLOATS), floats: [...values] },
  };
}

/** A STRING attribute (UTF-8). */
export function stringAttr(name: string, value: string): Attribute {
  return {
    name,
    type: AttrType.STRING,
    proto: { ...emptyAttr(name, AttrType.STRING), s: new TextEncoder().encode(value) },
  };
}

/** A TENSOR attribute. */
export function tensorAttr(name: string, value: Initializer): Attribute {
  return { name, type: AttrType.TENSOR, proto: emptyAttr(name, AttrType.TENSOR), tensor: value };
}

/** A GRAPH attribute: an If branch or a Loop/Scan body, which may read outer-scope tensors. */
export function graphAttr(name: string, value: Graph): Attribute {
  return { name, type: AttrType.GRAPH, proto: emptyAttr(name, AttrType.GRAPH), graph: value };
}

/** Throws the KilnError for an attribute of the wrong type. */
export function attrTypeError(node: string, attr: Attribute, wanted: string): KilnError {
  return new KilnError(
    'INVALID_MODEL',
    `node '${node}': attribute '${attr.name}' is not ${wanted} (type ${attr.type})`,
  );
}
