import type { Layer, NetworkDefinition } from '../network';
import { consumersOf, hasSingleUse, sameGuards } from './uses';

/**
 * MatMul by a constant [K, N] matrix + Add of a constant [N] bias (a Linear layer as PyTorch
 * exports it) becomes one MatMul with the bias as a third input, added in the GEMM's epilogue
 * instead of in a second pass over the output. Only when the MatMul output feeds the Add alone.
 */
export function fuseMatMulBias(network: NetworkDefinition): NetworkDefinition {
  const producers = new Map(network.layers.flatMap((l) => l.outputs.map((t) => [t, l] as const)));
  const uses = consumersOf(network);
  const removed = new Set<Layer>();
  for (const add of network.layers) {
    if (add.op !== 'Add' || add.inputs.length !== 2 || add.attrs.size > 0) continue;
    for (const side of [0, 1]) {
      const y = add.inputs[side];
      const bias = add.inputs[1 - side];
      const mm = y ? producers.get(y) : undefined;
      if (!y || !bias || !mm || mm.op !== 'MatMul' || mm.inputs.length !== 2) continue;
      if (mm.attrs.size > 0 || removed.has(mm) || !sameGuards(mm, add)) continue;
      const w = mm.inputs[1];
      if (!w || !w.isConstant || w.dtype !== 'float32' || w.shape.length !== 2) continue;
      if (!bias.isConstant || bias.dtype !== 'float32') continue;
      // A [N] bias broadcasts along the last axis without changing the MatMul's output shape.
      if (bias.shape.length !== 1 || bias.shape[0] !== w.shape[1]) continue;
      if (!hasSingleUse(network, uses, y)) continue;
      mm.inputs = [mm.inputs[0]!, w, bias];
      mm.outputs[0] = add.output; // keeps the Add output's name, which may be a graph output
      removed.add(add);
      break;
    }
  }
  network.layers = network.layers.filter((l) => !removed.has(l));
  return network;
}
