import { Layer, type NetworkDefinition, type NetworkTensor } from '../network';
import { consumersOf, hasSingleUse, sameGuards } from './uses';

// A float32 constant holding one value (any rank), as exporters write the 3 and 6 of hard-swish.
function constantValue(t: NetworkTensor | null | undefined): number | undefined {
  return t?.isFloatScalar ? t.floats()[0] : undefined;
}

/**
 * Hard-swish written out, x * clip(x + 3, 0, 6) / 6 (PaddlePaddle's export, MobileNetV3 and
 * PP-LCNet in PP-OCR), becomes one HardSwish layer, which the activation pass then fuses into
 * the conv before it. The Div may also be a Mul by 1/6. The constants must be scalars, so the
 * output has x's shape.
 */
export function fuseHardSwish(network: NetworkDefinition): NetworkDefinition {
  const producers = new Map(network.layers.flatMap((l) => l.outputs.map((t) => [t, l] as const)));
  const uses = consumersOf(network);
  const removed = new Set<Layer>();
  const replacement = new Map<Layer, Layer>();
  const only = (t: NetworkTensor | null | undefined) =>
    t && hasSingleUse(network, uses, t) ? producers.get(t) : undefined;
  for (const last of network.layers) {
    // (x * clip) / 6 or (x * clip) * (1/6)
    if (last.outputs.length !== 1 || last.inputs.length !== 2) continue;
    const k = constantValue(last.inputs[1]);
    const isDiv = last.op === 'Div' && k === 6;
    const isMul = last.op === 'Mul' && k !== undefined && Math.abs(k - 1 / 6) < 1e-7;
    if (!isDiv && !isMul) continue;
    const mul = only(last.inputs[0]);
    if (!mul || mul.op !== 'Mul' || mul.inputs.length !== 2) continue;
    // x * clip in either order: the clip is the operand made by a Clip read only here.
    const side = [0, 1].find((i) => only(mul.inputs[i])?.op === 'Clip');
    if (side === undefined) continue;
    const clip = only(mul.inputs[side])!;
    const x = mul.inputs[1 - side];
    const lo = clip.inputs[1] ? constantValue(clip.inputs[1]) : Number(clip.attr('min', NaN));
    const hi = clip.inputs[2] ? constantValue(clip.inputs[2]) : Number(clip.attr('max', NaN));
    if (lo !== 0 || hi !== 6) continue;
    const add = only(clip.inputs[0]);
    if (!add || add.op !== 'Add' || add.inputs.length !== 2 || add.attrs.size > 0) continue;
    const addSide = [0, 1].find(
      (i) => add.inputs[i] === x && constantValue(add.inputs[1 - i]) === 3,
    );
    if (!x || addSide === undefined || x.dtype !== 'float32') continue;
    // Scalar constants of rank at most x's leave the shape as it is.
    const rankOk = [last.inputs[1], add.inputs[1 - addSide]].every(
      (c) => c!.shape.length <= x.shape.length,
    );
    const members = [add, clip, mul, last];
    if (!rankOk || members.some((m) => removed.has(m) || !sameGuards(m, last))) continue;
    // Attributes (an activation fused already, Clip's opset-6 bounds aside) change the math.
    if (members.some((m) => m !== clip && m.attrs.size > 0)) continue;
    if (clip.inputs.length > 1 && clip.attrs.size > 0) continue;
    const fused = new Layer(
      network.uniqueLayerName(`${last.name}_hardswish`),
      'HardSwish',
      [x],
      [last.output],
      new Map(),
    );
    fused.guards = [...last.guards];
    for (const m of members) removed.add(m);
    replacement.set(last, fused);
  }
  network.layers = network.layers.flatMap((l) =>
    replacement.has(l) ? [replacement.get(l)!] : removed.has(l) ? [] : [l],
  );
  return network;
}
