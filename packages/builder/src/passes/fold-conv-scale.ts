import { NetworkTensor, type Layer, type NetworkDefinition } from '../network';
import { consumersOf, hasSingleUse, sameGuards, scalarConstant } from './uses';

/**
 * Folds a Mul or Add by a scalar constant that follows a Conv into the conv's weights and bias:
 * (w * x + b) * s = (w * s) * x + b * s, and (w * x + b) + c = w * x + (b + c). PP-OCR's
 * MobileOne-style blocks put a learned scale and shift after every conv; folded, the conv's
 * output can take the activation that follows directly. Only when the conv output feeds the
 * Mul/Add alone and the constant's rank is at most the output's.
 */
export function foldConvScale(network: NetworkDefinition): NetworkDefinition {
  const producers = new Map(network.layers.flatMap((l) => l.outputs.map((t) => [t, l] as const)));
  const uses = consumersOf(network);
  const removed = new Set<Layer>();
  for (const op of network.layers) {
    if ((op.op !== 'Mul' && op.op !== 'Add') || op.inputs.length !== 2 || op.attrs.size > 0)
      continue;
    const side = [0, 1].find((i) => scalarConstant(op.inputs[1 - i]) !== undefined);
    if (side === undefined) continue;
    const x = op.inputs[side]!;
    const k = scalarConstant(op.inputs[1 - side])!;
    const conv = producers.get(x);
    if (!conv || conv.op !== 'Conv' || conv.attrs.has('activation') || conv.inputs.length > 3)
      continue;
    if (removed.has(conv) || !hasSingleUse(network, uses, x) || !sameGuards(conv, op)) continue;
    if (op.inputs[1 - side]!.shape.length > x.shape.length) continue;
    const w = conv.inputs[1];
    const b = conv.inputs[2] ?? null;
    if (
      !w ||
      !w.isConstant ||
      w.dtype !== 'float32' ||
      (b && (!b.isConstant || b.dtype !== 'float32'))
    )
      continue;
    const channels = w.shape[0]!;
    const bias = b ? b.floats() : new Float32Array(channels);
    let weights = w;
    if (op.op === 'Mul') {
      const scaled = w.floats();
      for (let i = 0; i < scaled.length; i++) scaled[i]! *= k;
      weights = new NetworkTensor(
        network.uniqueName(`${w.name}_scaled`),
        'float32',
        [...w.shape],
        new Uint8Array(scaled.buffer),
      );
      for (let c = 0; c < channels; c++) bias[c]! *= k;
    } else {
      for (let c = 0; c < channels; c++) bias[c]! += k;
    }
    const newB = new NetworkTensor(
      network.uniqueName(`${conv.name}_bias_folded`),
      'float32',
      [channels],
      new Uint8Array(bias.buffer),
    );
    conv.inputs = [conv.inputs[0]!, weights, newB];
    conv.outputs[0] = op.output; // keeps the Mul/Add output's name, which may be a graph output
    producers.set(op.output, conv); // a scale then a shift: the shift folds into the same conv
    removed.add(op);
  }
  network.layers = network.layers.filter((l) => !removed.has(l));
  return network;
}
