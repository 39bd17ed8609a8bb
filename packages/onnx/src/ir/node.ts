import { KilnError } from '@kiln/core';
import type { NodeProto } from '../io/proto-types';
import { type Attribute, AttrType, attrTypeError } from './attribute';
import type { Graph } from './graph';
import type { Initializer } from './initializer';

/** What `new Node()` takes; everything but opType is optional. */
export interface NodeInit {
  opType: string;
  name?: string;
  domain?: string;
  inputs?: string[];
  outputs?: string[];
  attributes?: Attribute[];
}

/** One operator application. Inputs and outputs are tensor names ('' marks an omitted optional input). */
export class Node {
  /** Node name (may be empty in the file; passes give new nodes unique names). */
  name: string;
  /** Operator type, e.g. 'Conv'. */
  opType: string;
  /** Operator domain: '' (or 'ai.onnx') for standard ops. */
  domain: string;
  /** Input tensor names. */
  inputs: string[];
  /** Output tensor names. */
  outputs: string[];
  /** Attributes by name, in file order. */
  attributes: Map<string, Attribute>;
  /** The NodeProto fields not modelled here (doc string, overload, metadata, unknown fields). */
  proto: Partial<NodeProto>;

  constructor(init: NodeInit, proto: Partial<NodeProto> = {}) {
    this.opType = init.opType;
    this.name = init.name ?? '';
    this.domain = init.domain ?? '';
    this.inputs = init.inputs ?? [];
    this.outputs = init.outputs ?? [];
    this.attributes = new Map((init.attributes ?? []).map((a) => [a.name, a]));
    this.proto = proto;
  }

  /** A name for messages: the node name, else its op type and first output. */
  get label(): string {
    return this.name !== '' ? this.name : `${this.opType} -> ${this.outputs[0] ?? '?'}`;
  }

  /** True for a standard ONNX operator of type `opType`. */
  is(opType: string): boolean {
    return this.opType === opType && (this.domain === '' || this.domain === 'ai.onnx');
  }

  /** An attribute, or undefined. */
  attr(name: string): Attribute | undefined {
    return this.attributes.get(name);
  }

  /** Sets (or replaces) an attribute. */
  setAttr(attr: Attribute): void {
    this.attributes.set(attr.name, attr);
  }

  /** An INT attribute as a number, or `fallback` when absent. */
  int(name: string, fallback: number): number;
  int(name: string): number | undefined;
  int(name: string, fallback?: number): number | undefined {
    const a = this.attributes.get(name);
    if (a === undefined) return fallback;
    if (a.type !== AttrType.INT || a.proto.i === undefined)
      throw attrTypeError(this.label, a, 'an int');
    return Number(a.proto.i);
  }

  /** An INTS attribute as numbers (INT64 extremes become ±Infinity-safe large numbers), or `fallback`. */
  ints(name: string, fallback: number[]): number[];
  ints(name: string): number[] | undefined;
  ints(name: string, fallback?: number[]): number[] | undefined {
    const a = this.attributes.get(name);
    if (a === undefined) return fallback;
    if (a.type !== AttrType.INTS) throw attrTypeError(this.label, a, 'a list of ints');
    return a.proto.ints.map(Number);
  }

  /** A FLOAT attribute, or `fallback`. */
  float(name: string, fallback: number): number {
    const a = this.attributes.get(name);
    if (a === undefined) return fallback;
    if (a.type !== AttrType.FLOAT || a.proto.f === undefined)
      throw attrTypeError(this.label, a, 'a float');
    return a.proto.f;
  }

  /** A STRING attribute decoded as UTF-8, or `fallback`. */
  string(name: string, fallback: string): string;
  string(name: string): string | undefined;
  string(name: string, fallback?: string): string | undefined {
    const a = this.attributes.get(name);
    if (a === undefined) return fallback;
    if (a.type !== AttrType.STRING || a.proto.s === undefined)
      throw attrTypeError(this.label, a, 'a string');
    return new TextDecoder().decode(a.proto.s);
  }

  /** A TENSOR attribute's value, or undefined. */
  tensor(name: string): Initializer | undefined {
    const a = this.attributes.get(name);
    if (a === undefined) return undefined;
    if (a.type !== AttrType.TENSOR || a.tensor === undefined)
      throw attrTypeError(this.label, a, 'a tensor');
    return a.tensor;
  }

  /** Every subgraph of this node (If branches, Loop/Scan bodies). */
  subgraphs(): Graph[] {
    const out: Graph[] = [];
    for (const a of this.attributes.values()) {
      if (a.graph) out.push(a.graph);
      if (a.graphs) out.push(...a.graphs);
    }
    return out;
  }

  /** Throws unless input `i` is present. */
  input(i: number): string {
    const name = this.inputs[i];
    if (name === undefined || name === '') {
      throw new KilnError(
        'INVALID_MODEL',
        `node '${this.label}' (${this.opType}) has no input ${i}`,
      );
    }
    return name;
  }
}
