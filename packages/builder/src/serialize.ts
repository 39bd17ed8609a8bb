import { KilnError, type NativeNetworkDesc, dataTypeCode } from '@kiln/core';

import type { NetworkDefinition, NetworkTensor } from './network';
import type { ResolvedRange } from './builder';

/** Turns a network and resolved profiles into the compact description the native core takes. */
export function describeNetwork(
  network: NetworkDefinition,
  profiles: Map<string, ResolvedRange>[],
): NativeNetworkDesc {
  const index = new Map<NetworkTensor, number>();
  const desc: NativeNetworkDesc = {
    tensors: [],
    layers: [],
    inputs: [],
    outputs: [],
    profiles: [],
    weights: [],
  };
  const add = (t: NetworkTensor): number => {
    let i = index.get(t);
    if (i !== undefined) return i;
    i = desc.tensors.length;
    let constant = -1;
    if (t.constant) {
      constant = desc.weights.length;
      desc.weights.push(t.constant);
    }
    desc.tensors.push({ name: t.name, dtype: dataTypeCode(t.dtype), shape: t.shape, constant });
    index.set(t, i);
    return i;
  };
  for (const t of network.inputs) desc.inputs.push(add(t));
  for (const l of network.layers) {
    const inputs = l.inputs.map((t) => (t ? add(t) : -1));
    const outputs = l.outputs.map(add);
    const guards = l.guards.map((g): [number, number] => [add(g.tensor), g.value ? 1 : 0]);
    desc.layers.push({
      name: l.name,
      op: l.op,
      inputs,
      outputs,
      attrs: Object.fromEntries(l.attrs),
      guards,
    });
  }
  for (const t of network.outputs) {
    if (!index.has(t))
      throw new KilnError('INVALID_MODEL', `network output '${t.name}' is produced by no layer`);
    desc.outputs.push(index.get(t)!);
  }
  for (const p of profiles) {
    desc.profiles.push({
      inputs: [...p.entries()].map(([name, r]) => ({
        tensor: index.get(network.inputs.find((t) => t.name === name)!)!,
        min: r.min,
        opt: r.opt,
        max: r.max,
        ...(r.values
          ? { minValues: r.values.min, optValues: r.values.opt, maxValues: r.values.max }
          : {}),
      })),
    });
  }
  return desc;
}
