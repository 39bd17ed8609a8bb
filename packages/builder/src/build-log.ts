import { getLogger } from '@kiln/core';

import type { NetworkDefinition } from './network';

/** A graph pass: a plain function that rewrites a network and returns it. */
export type NetworkPass = (network: NetworkDefinition) => NetworkDefinition;

/** Runs passes in order, logging each one's effect on the layer count (the build log). */
export function runPasses(
  network: NetworkDefinition,
  passes: readonly NetworkPass[],
): NetworkDefinition {
  for (const pass of passes) {
    const before = network.layers.length;
    network = pass(network);
    getLogger().log('info', `pass ${pass.name}: ${before} -> ${network.layers.length} layers`);
  }
  return network;
}
