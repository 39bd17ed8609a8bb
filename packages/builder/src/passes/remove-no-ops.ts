import type { NetworkDefinition } from '../network';
import { rewire } from './uses';

/** Removes Identity and inference-time Dropout layers, wiring readers to their input. */
export function removeNoOps(network: NetworkDefinition): NetworkDefinition {
  network.layers = network.layers.filter((l) => {
    const noOp = l.op === 'Identity' || (l.op === 'Dropout' && l.outputs.length === 1);
    const input = l.inputs[0];
    // An output that is also an input must stay a distinct tensor.
    if (!noOp || !input || (network.inputs.includes(input) && network.outputs.includes(l.output)))
      return true;
    if (network.outputs.includes(l.output) && input.isConstant) return true;
    rewire(network, l.output, input);
    return false;
  });
  return network;
}
