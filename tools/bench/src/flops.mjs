// FLOPs of a model at given input shapes: 2 x multiply-accumulates of its Conv, ConvTranspose,
// Gemm and MatMul nodes (what dominates conv nets and transformers; elementwise ops, pooling
// and normalization are left out, as is usual for GFLOP/s figures). Shapes come from
// @kiln/onnx's shape inference with the inputs fixed.
import { loadModel, runInference } from '@kiln/onnx';

/**
 * @typedef {object} FlopCount
 * @property {number} flops total over the counted nodes
 * @property {Record<string, number>} byOp FLOPs per op type
 * @property {number} counted nodes counted
 * @property {string[]} unknown nodes of a counted type whose shapes inference left unknown
 */

/**
 * @param {string} path .onnx file
 * @param {Record<string, number[]>} inputShapes static shape per graph input
 * @returns {FlopCount}
 */
export function countFlops(path, inputShapes) {
  const model = loadModel(path);
  const g = model.graph;
  for (const input of g.inputs) {
    const shape = inputShapes[input.name];
    if (shape) input.shape = [...shape];
  }
  const infos = runInference(model);
  /** @param {string} name @returns {number[] | undefined} */
  const shapeOf = (name) => {
    const init = g.initializers.get(name);
    if (init) return [...init.dims];
    const shape = infos.get(name)?.shape ?? g.value(name)?.shape;
    return shape && shape.every((d) => typeof d === 'number')
      ? /** @type {number[]} */ (shape)
      : undefined;
  };
  const product = (/** @type {number[]} */ dims) => dims.reduce((n, d) => n * d, 1);

  /** @type {Record<string, number>} */
  const byOp = {};
  const unknown = [];
  let counted = 0;
  for (const node of g.nodes) {
    let macs;
    const a = shapeOf(node.inputs[0] ?? '');
    const b = shapeOf(node.inputs[1] ?? '');
    const y = shapeOf(node.outputs[0] ?? '');
    switch (node.opType) {
      case 'Conv':
        // Each output element: (Cin / group) x kernel MACs; W is [Cout, Cin/group, k...].
        if (b && y) macs = product(y) * product(b.slice(1));
        break;
      case 'ConvTranspose':
        // Each input element scatters into (Cout / group) x kernel outputs; W is [Cin, Cout/group, k...].
        if (a && b) macs = product(a) * product(b.slice(1));
        break;
      case 'Gemm':
        if (a && y) macs = product(y) * (node.int('transA', 0) ? a[0] : a[1]);
        break;
      case 'MatMul':
        if (a && y) macs = product(y) * a[a.length - 1];
        break;
      default:
        continue;
    }
    if (macs === undefined) {
      unknown.push(node.name || node.outputs[0] || node.opType);
      continue;
    }
    counted++;
    byOp[node.opType] = (byOp[node.opType] ?? 0) + 2 * macs;
  }
  const flops = Object.values(byOp).reduce((s, v) => s + v, 0);
  return { flops, byOp, counted, unknown };
}
