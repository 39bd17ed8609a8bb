import { Layer, type NetworkDefinition, type NetworkTensor } from '../network';
import { consumersOf, hasSingleUse, sameGuards } from './uses';

// The value of a float32 constant with one element, else undefined.
function constantValue(t: NetworkTensor | null | undefined): number | undefined {
  return t?.isFloatScalar ? t.floats()[0] : undefined;
}

const close = (a: number | undefined, b: number) => a !== undefined && Math.abs(a - b) < 1e-6;

/**
 * GELU written out, (x * (1 + erf(x / sqrt(2)))) * 0.5 (PyTorch's export before opset 20, as
 * in DeiT and BERT), becomes one Gelu layer, which the activation pass then fuses into the
 * MatMul before it: the erf runs vectorized in the GEMM epilogue instead of element by element.
 * The x / sqrt(2) may also be x * (1 / sqrt(2)). Constants must be scalars of at most x's rank.
 */
export function fuseGelu(network: NetworkDefinition): NetworkDefinition {
  const producers = new Map(network.layers.flatMap((l) => l.outputs.map((t) => [t, l] as const)));
  const uses = consumersOf(network);
  const removed = new Set<Layer>();
  const replacement = new Map<Layer, Layer>();
  const only = (t: NetworkTensor | null | undefined) =>
    t && hasSingleUse(network, uses, t) ? producers.get(t) : undefined;
  // The operand of a two-input layer that is not the constant `c` (which must be on either side).
  const otherThan = (l: Layer, value: number): NetworkTensor | undefined => {
    const side = [0, 1].find((i) => close(constantValue(l.inputs[i]), value));
    return side === undefined ? undefined : (l.inputs[1 - side] ?? undefined);
  };
  for (const half of network.layers) {
    if (half.op !== 'Mul' || half.inputs.length !== 2 || half.outputs.length !== 1) continue;
    const prod = only(otherThan(half, 0.5));
    if (!prod || prod.op !== 'Mul' || prod.inputs.length !== 2) continue;
    // x * (1 + erf(...)) in either order.
    const side = [0, 1].find((i) => only(prod.inputs[i])?.op === 'Add');
    if (side === undefined) continue;
    const onePlus = only(prod.inputs[side])!;
    const x = prod.inputs[1 - side];
    const erf = only(otherThan(onePlus, 1));
    if (!x || x.dtype !== 'float32' || !erf || erf.op !== 'Erf') continue;
    const scale = only(erf.inputs[0]);
    if (!scale || scale.inputs[0] !== x) continue;
    const k = constantValue(scale.inputs[1]);
    const scaled =
      (scale.op === 'Div' && close(k, Math.SQRT2)) ||
      (scale.op === 'Mul' && close(k, Math.SQRT1_2));
    if (!scaled) continue;
    const members = [scale, erf, onePlus, prod, half];
    const constants = [
      scale.inputs[1],
      onePlus.inputs[0],
      onePlus.inputs[1],
      half.inputs[0],
      half.inputs[1],
    ];
    if (constants.some((c) => c && c.isConstant && c.shape.length > x.shape.length)) continue;
    if (members.some((m) => removed.has(m) || m.attrs.size > 0 || !sameGuards(m, half))) continue;
    const fused = new Layer(
      network.uniqueLayerName(`${half.name}_gelu`),
      'Gelu',
      [x],
      [half.output],
      new Map(),
    );
    fused.guards = [...half.guards];
    for (const m of members) removed.add(m);
    replacement.set(half, fused);
  }
  network.layers = network.layers.flatMap((l) =>
    replacement.has(l) ? [replacement.get(l)!] : removed.has(l) ? [] : [l],
  );
  return network;
}
