import type { Layer, NetworkDefinition, NetworkTensor } from '../network';

/** Layers reading each tensor. */
export function consumersOf(network: NetworkDefinition): Map<NetworkTensor, Layer[]> {
  const map = new Map<NetworkTensor, Layer[]>();
  for (const l of network.layers) {
    const read = [...l.inputs, ...l.guards.map((g) => g.tensor)];
    for (const t of read) if (t) map.set(t, [...(map.get(t) ?? []), l]);
  }
  return map;
}

/** True when `t` is read by exactly one layer and is not a network output: fusing it away is safe. */
export function hasSingleUse(
  network: NetworkDefinition,
  uses: Map<NetworkTensor, Layer[]>,
  t: NetworkTensor,
): boolean {
  return (uses.get(t)?.length ?? 0) === 1 && !network.outputs.includes(t);
}

/** Makes every reader of `from` (and the output list) read `to` instead. */
export function rewire(network: NetworkDefinition, from: NetworkTensor, to: NetworkTensor): void {
  for (const l of network.layers) {
    l.inputs = l.inputs.map((t) => (t === from ? to : t));
    for (const g of l.guards) if (g.tensor === from) g.tensor = to;
  }
  const i = network.outputs.indexOf(from);
  if (i >= 0) network.outputs[i] = to;
}

/** True when two layers run under the same conditions, so one can absorb the other. */
export function sameGuards(a: Layer, b: Layer): boolean {
  return (
    a.guards.length === b.guards.length &&
    a.guards.every((g, i) => g.tensor === b.guards[i]!.tensor && g.value === b.guards[i]!.value)
  );
}

/** The value of a float32 constant holding one element (any rank), else undefined. */
export function scalarConstant(t: NetworkTensor | null | undefined): number | undefined {
  return t?.isFloatScalar ? t.floats()[0] : undefined;
}

/**
 * Puts each fused layer where the last member of its group ran (every operand is ready there)
 * and drops the other members.
 */
export function replaceFused(
  network: NetworkDefinition,
  replacement: Map<Layer, Layer>,
  removed: Set<Layer>,
): void {
  network.layers = network.layers.flatMap((l) =>
    replacement.has(l) ? [replacement.get(l)!] : removed.has(l) ? [] : [l],
  );
}
