import type { Layer, NetworkDefinition } from '../network';
import { consumersOf, hasSingleUse, rewire, sameGuards } from './uses';

/**
 * Removes Identity and inference-time Dropout layers. Readers are wired to the layer's input;
 * when its output is a graph output, the input's producer writes that tensor instead, so
 * output names never change.
 */
export function removeNoOps(network: NetworkDefinition): NetworkDefinition {
  const producers = new Map(
    network.layers.flatMap((l) => l.outputs.map((t, i) => [t, { layer: l, index: i }] as const)),
  );
  const uses = consumersOf(network);
  const removed = new Set<Layer>();
  for (const l of network.layers) {
    const noOp = l.op === 'Identity' || (l.op === 'Dropout' && l.outputs.length === 1);
    const input = l.inputs[0];
    if (!noOp || !input) continue;
    if (!network.outputs.includes(l.output)) {
      rewire(network, l.output, input);
      removed.add(l);
      continue;
    }
    const producer = producers.get(input);
    if (
      producer &&
      !removed.has(producer.layer) &&
      sameGuards(producer.layer, l) &&
      hasSingleUse(network, uses, input)
    ) {
      producer.layer.outputs[producer.index] = l.output;
      removed.add(l);
    }
  }
  network.layers = network.layers.filter((l) => !removed.has(l));
  return network;
}
