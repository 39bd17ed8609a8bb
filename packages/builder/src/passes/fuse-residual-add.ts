import type { Layer, NetworkDefinition, NetworkTensor } from '../network';
import { consumersOf, hasSingleUse, sameGuards } from './uses';

// Same rank and the same dims where known; -1 only where both are -1 (the same dynamic dim,
// as ONNX shape inference carries a batch through a residual block).
function sameShape(a: NetworkTensor, b: NetworkTensor): boolean {
  return (
    a.shape.length > 0 &&
    a.shape.length === b.shape.length &&
    a.shape.every((d, i) => d === b.shape[i])
  );
}

/**
 * Folds `Add(Conv(x), y)` into the convolution's epilogue (its fourth input, added before any
 * fused activation), as ResNet's skip connections: one pass over the output instead of two.
 * Only when both operands have the same shape, so no broadcast is lost.
 */
export function fuseResidualAdd(network: NetworkDefinition): NetworkDefinition {
  const producers = new Map(network.layers.flatMap((l) => l.outputs.map((t) => [t, l] as const)));
  const uses = consumersOf(network);
  const moved = new Map<Layer, Layer>(); // Add -> the Conv that now runs in its place
  for (const add of network.layers) {
    if (add.op !== 'Add' || add.attrs.size > 0 || add.inputs.length !== 2) continue;
    for (const side of [0, 1]) {
      const convOut = add.inputs[side]!;
      const other = add.inputs[1 - side]!;
      const conv = producers.get(convOut);
      if (
        !conv ||
        conv.op !== 'Conv' ||
        [...moved.values()].includes(conv) ||
        conv.inputs.length > 3 ||
        conv.attrs.has('activation')
      )
        continue;
      if (
        !hasSingleUse(network, uses, convOut) ||
        !sameShape(convOut, other) ||
        !sameShape(convOut, add.output)
      )
        continue;
      if (!sameGuards(conv, add) || convOut.dtype !== 'float32' || other.dtype !== 'float32')
        continue;
      conv.inputs = [conv.inputs[0]!, conv.inputs[1]!, conv.inputs[2] ?? null, other];
      conv.outputs[0] = add.output;
      moved.set(add, conv);
      break;
    }
  }
  // The conv moves to the Add's place: `y` may be computed after the conv's original position,
  // and the conv's own inputs were all ready before it.
  const relocated = new Set(moved.values());
  network.layers = network.layers.flatMap((l) => (relocated.has(l) ? [] : [moved.get(l) ?? l]));
  return network;
}
