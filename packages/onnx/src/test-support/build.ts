// Tiny hand-built models for unit tests.
import { Tensor } from '@kiln/core';
import { Graph } from '../ir/graph';
import { Initializer } from '../ir/initializer';
import { Model } from '../ir/model';
import { Node, type NodeInit } from '../ir/node';
import type { Dim } from '../ir/shape';
import { Value } from '../ir/value';

/** A model around one graph built from the given pieces (opset 17). */
export function tinyModel(parts: {
  inputs: [string, number, Dim[]][];
  outputs: [string, number?, Dim[]?][];
  nodes: NodeInit[];
  initializers?: [string, Tensor][];
  opset?: number;
}): Model {
  const g = new Graph();
  g.name = 'tiny';
  g.inputs = parts.inputs.map(([n, t, s]) => new Value(n, t, s));
  g.outputs = parts.outputs.map(([n, t, s]) => new Value(n, t, s));
  g.nodes = parts.nodes.map((n) => new Node(n));
  for (const [name, t] of parts.initializers ?? [])
    g.initializers.set(name, Initializer.fromTensor(name, t));
  return new Model(g, {
    irVersion: 8,
    opsetImport: [{ domain: '', version: parts.opset ?? 17 }],
    producerName: 'kiln-test',
  });
}

/** An int64 tensor. */
export function i64(values: number[], shape = [values.length]): Tensor {
  return new Tensor('int64', shape, BigInt64Array.from(values.map(BigInt)));
}

/** A float32 tensor. */
export function f32(values: number[], shape = [values.length]): Tensor {
  return new Tensor('float32', shape, Float32Array.from(values));
}
