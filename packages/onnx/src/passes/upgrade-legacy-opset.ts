import { KilnError } from '@kiln/core';
import { intAttr, intsAttr } from '../ir/attribute';
import type { Graph } from '../ir/graph';
import type { Model } from '../ir/model';
import { Node } from '../ir/node';
import { initializerFromNumbers } from '../ir/from-numbers';
import { ElemType } from '../ir/elem-type';

/** The opset legacy models are rewritten to: the first with numpy-style broadcasting. */
export const UPGRADED_OPSET = 7;

// Ops whose opset <= 6 versions took `broadcast` (and `axis`) attributes instead of numpy
// broadcasting.
const LEGACY_BROADCAST = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'And',
  'Or',
  'Xor',
  'Equal',
  'Greater',
  'Less',
]);

// Ops whose output has the rank of their first input.
const SAME_RANK = new Set([
  ...LEGACY_BROADCAST,
  'Relu',
  'LeakyRelu',
  'Elu',
  'Selu',
  'Sigmoid',
  'Tanh',
  'HardSigmoid',
  'Softplus',
  'Softsign',
  'PRelu',
  'Abs',
  'Neg',
  'Exp',
  'Log',
  'Sqrt',
  'Reciprocal',
  'Floor',
  'Ceil',
  'Clip',
  'Dropout',
  'Identity',
  'BatchNormalization',
  'InstanceNormalization',
  'LRN',
  'Softmax',
  'LogSoftmax',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'Pad',
  'Not',
]);

function rankOf(g: Graph, name: string, seen = new Set<string>()): number | undefined {
  const init = g.initializers.get(name);
  if (init) return init.dims.length;
  const declared = g.value(name)?.shape;
  if (declared) return declared.length;
  if (seen.has(name)) return undefined;
  seen.add(name);
  const node = g.producers().get(name);
  if (!node) return undefined;
  if (node.opType === 'Conv' || node.opType === 'ConvTranspose')
    return rankOf(g, node.inputs[1] ?? '', seen);
  if (node.opType === 'Gemm') return 2;
  if (SAME_RANK.has(node.opType)) return rankOf(g, node.inputs[0] ?? '', seen);
  return undefined;
}

/**
 * Rewrites a model of default-domain opset 1..6 into opset 7, the oldest kiln's passes are
 * written for, like onnx.version_converter: legacy `broadcast`/`axis` broadcasting becomes numpy
 * broadcasting (an Unsqueeze aligns B when `axis` is given), and attributes opset 7 dropped
 * (`consumed_inputs`, `is_test`, Gemm's `broadcast`) go. Models at opset 7 or later are left
 * alone. Fails with UNSUPPORTED where a legacy form has no opset-7 equivalent kiln can build.
 */
export function upgradeLegacyOpset(model: Model): Model {
  const version = model.opset('');
  if (version === undefined || version >= UPGRADED_OPSET) return model;
  const g = model.graph;
  const nodes: Node[] = [];
  for (const node of g.nodes) {
    if (node.domain !== '' && node.domain !== 'ai.onnx') {
      nodes.push(node);
      continue;
    }
    node.attributes.delete('consumed_inputs');
    if (node.opType === 'BatchNormalization' || node.opType === 'Dropout') {
      const isTest = node.int('is_test', 0);
      if (isTest === 0 && node.opType === 'BatchNormalization' && node.outputs.length > 1) {
        throw new KilnError(
          'UNSUPPORTED',
          `${model.source}: node '${node.label}': training-mode BatchNormalization (is_test = 0)`,
        );
      }
      node.attributes.delete('is_test');
    }
    if (node.opType === 'Gemm') node.attributes.delete('broadcast');
    if (LEGACY_BROADCAST.has(node.opType)) {
      const broadcast = node.int('broadcast', 0) !== 0;
      const axis = node.int('axis');
      node.attributes.delete('broadcast');
      node.attributes.delete('axis');
      if (broadcast && axis !== undefined) {
        // B spans A's dims [axis, axis + rank(B)); numpy aligns trailing dims, so B gets
        // trailing 1s.
        const a = node.inputs[0] ?? '';
        const b = node.inputs[1] ?? '';
        const ra = rankOf(g, a);
        const rb = rankOf(g, b);
        if (ra === undefined || rb === undefined) {
          throw new KilnError(
            'UNSUPPORTED',
            `${model.source}: node '${node.label}': legacy broadcast with axis on tensors of unknown rank`,
          );
        }
        const start = axis < 0 ? axis + ra : axis;
        const trailing = ra - start - rb;
        if (trailing > 0) {
          const aligned = g.uniqueName(`${b}_axis${axis}`);
          nodes.push(
            new Node({
              opType: 'Unsqueeze',
              name: g.uniqueName(`${node.label}_legacy_broadcast`),
              inputs: [b],
              outputs: [aligned],
              attributes: [
                intsAttr(
                  'axes',
                  Array.from({ length: trailing }, (_, i) => rb + i),
                ),
              ],
            }),
          );
          node.inputs[1] = aligned;
        }
      }
    }
    if (node.opType === 'PRelu') {
      // PRelu-6 and older took one slope per channel (dim 1); numpy broadcasting aligns a [C]
      // slope with the last dim instead, so it gets trailing 1s.
      const x = rankOf(g, node.inputs[0] ?? '');
      const slope = g.initializers.get(node.inputs[1] ?? '');
      if (x !== undefined && x >= 3 && slope && slope.dims.length === 1 && slope.size > 1) {
        const aligned = g.uniqueName(`${slope.name}_per_channel`);
        nodes.push(
          new Node({
            opType: 'Unsqueeze',
            name: g.uniqueName(`${node.label}_legacy_slope`),
            inputs: [slope.name],
            outputs: [aligned],
            attributes: [
              intsAttr(
                'axes',
                Array.from({ length: x - 2 }, (_, i) => 1 + i),
              ),
            ],
          }),
        );
        node.inputs[1] = aligned;
      }
    }
    if (node.opType === 'Reshape' && node.inputs.length === 1) {
      // Reshape-1..4 took the shape as an attribute.
      const shape = node.ints('shape') ?? [];
      const name = g.uniqueName(`${node.label}_shape`);
      g.initializers.set(name, initializerFromNumbers(name, ElemType.INT64, [shape.length], shape));
      node.inputs.push(name);
      node.attributes.delete('shape');
    }
    // Concat-1 defaulted to axis 1; later versions require the attribute.
    if (node.opType === 'Concat' && node.int('axis') === undefined)
      node.setAttr(intAttr('axis', 1));
    nodes.push(node);
  }
  g.nodes.splice(0, g.nodes.length, ...nodes);
  model.setOpset(UPGRADED_OPSET);
  return model;
}
