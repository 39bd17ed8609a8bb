import type { Layer, NetworkDefinition } from '../network';
import { consumersOf, hasSingleUse, rewire, sameGuards } from './uses';

const onnxCodes: Record<string, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  bfloat16: 16,
};

// A Cast to the type its input already has.
function isNoOpCast(l: Layer): boolean {
  const input = l.inputs[0];
  return l.op === 'Cast' && !!input && onnxCodes[input.dtype] === l.attr('to', -1);
}

// A Reshape whose input and output shapes are the same and fully known.
function isNoOpReshape(l: Layer): boolean {
  const input = l.inputs[0];
  const known = (s: number[]) => s.length > 0 && s.every((d) => d >= 0);
  return (
    l.op === 'Reshape' &&
    !!input &&
    known(input.shape) &&
    input.shape.join() === l.output.shape.join()
  );
}

/**
 * Removes Identity, inference-time Dropout, same-type Cast and same-shape Reshape layers. Readers are wired to the layer's input;
 * when its output is a graph output, the input's producer writes that tensor instead, so
 * output names never change.
 */
export function removeNoOps(network: NetworkDefinition): NetworkDefinition {
  const noOp = (l: Layer) =>
    !!l.inputs[0] &&
    (l.op === 'Identity' ||
      (l.op === 'Dropout' && l.outputs.length === 1) ||
      isNoOpCast(l) ||
      isNoOpReshape(l));
  // First the no-ops inside the graph: their readers read the input instead.
  network.layers = network.layers.filter((l) => {
    if (!noOp(l) || network.outputs.includes(l.output)) return true;
    rewire(network, l.output, l.inputs[0]!);
    return false;
  });
  // Then those writing a graph output, with uses counted after the rewiring above.
  const producers = new Map(
    network.layers.flatMap((l) => l.outputs.map((t, i) => [t, { layer: l, index: i }] as const)),
  );
  const uses = consumersOf(network);
  const removed = new Set<Layer>();
  for (const l of network.layers) {
    if (!noOp(l)) continue;
    const producer = producers.get(l.inputs[0]!);
    if (
      producer &&
      !removed.has(producer.layer) &&
      sameGuards(producer.layer, l) &&
      hasSingleUse(network, uses, l.inputs[0]!)
    ) {
      producer.layer.outputs[producer.index] = l.output;
      removed.add(l);
    }
  }
  network.layers = network.layers.filter((l) => !removed.has(l));
  return network;
}
