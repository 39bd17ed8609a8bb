// A tiny CNN built in memory, with free batch, height and width, for engine cache and partition
// tests: conv -> scale -> relu -> conv -> swish (x * sigmoid(x)) -> global average pool -> flatten.
import { Tensor } from '@kiln/core';
import {
  ElemType,
  Graph,
  Initializer,
  Model,
  Node,
  Value,
  intsAttr,
  serializeModel,
} from '@kiln/onnx';

import { sweep } from './run';

const f32 = (shape: number[], phase: number, scale = 0.5) =>
  new Tensor(
    'float32',
    shape,
    sweep(
      shape.reduce((a, b) => a * b, 1),
      scale,
      phase,
    ),
  );

/** The model's bytes; `phase` changes the weights (a "retrained" model has another phase). */
export function tinyCnn(phase = 0): Uint8Array {
  const g = new Graph();
  g.name = 'tiny_cnn';
  g.inputs = [new Value('x', ElemType.FLOAT, ['N', 2, 'H', 'W'])];
  g.outputs = [new Value('y', ElemType.FLOAT, ['N', 3])];
  const inits: [string, Tensor][] = [
    ['w1', f32([4, 2, 3, 3], phase)],
    ['b1', f32([4], phase + 1)],
    ['k', f32([1], phase + 2, 1)],
    ['w2', f32([3, 4, 3, 3], phase + 3)],
  ];
  for (const [name, t] of inits) g.initializers.set(name, Initializer.fromTensor(name, t));
  const pads = intsAttr('pads', [1, 1, 1, 1]);
  g.nodes = [
    new Node({
      opType: 'Conv',
      name: 'conv1',
      inputs: ['x', 'w1', 'b1'],
      outputs: ['c1'],
      attributes: [pads],
    }),
    new Node({ opType: 'Mul', name: 'scale', inputs: ['c1', 'k'], outputs: ['a1'] }),
    new Node({ opType: 'Relu', name: 'relu', inputs: ['a1'], outputs: ['r'] }),
    new Node({
      opType: 'Conv',
      name: 'conv2',
      inputs: ['r', 'w2'],
      outputs: ['c2'],
      attributes: [pads],
    }),
    new Node({ opType: 'Sigmoid', name: 'sigmoid', inputs: ['c2'], outputs: ['s'] }),
    new Node({ opType: 'Mul', name: 'swish', inputs: ['c2', 's'], outputs: ['m'] }),
    new Node({ opType: 'GlobalAveragePool', name: 'pool', inputs: ['m'], outputs: ['p'] }),
    new Node({ opType: 'Flatten', name: 'flatten', inputs: ['p'], outputs: ['y'] }),
  ];
  return serializeModel(
    new Model(g, {
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      producerName: 'kiln-test',
    }),
  );
}

/** Deterministic input of the given shape. */
export function tinyInput(shape: number[], phase = 0): Tensor<'float32'> {
  return f32(shape, phase, 2);
}
