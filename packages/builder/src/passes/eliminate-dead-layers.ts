import type { NetworkDefinition } from '../network';

/** Removes layers whose outputs nothing reads and that are not network outputs. */
export function eliminateDeadLayers(network: NetworkDefinition): NetworkDefinition {
  const live = new Set(network.outputs);
  const kept = [];
  for (let i = network.layers.length - 1; i >= 0; i--) {
    const l = network.layers[i]!;
    if (!l.outputs.some((t) => live.has(t))) continue;
    kept.push(l);
    for (const t of l.inputs) if (t) live.add(t);
    for (const g of l.guards) live.add(g.tensor);
  }
  network.layers = kept.reverse();
  return network;
}
