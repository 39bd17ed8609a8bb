import { Layer, type NetworkDefinition, NetworkTensor } from '../network';
import { consumersOf, sameGuards } from './uses';

// The attributes that must agree for two convolutions to become one (activation included, so
// the merged layer can keep a fused activation).
const shared = [
  'kernel_shape',
  'strides',
  'pads',
  'dilations',
  'auto_pad',
  'group',
  'activation',
  'activation_alpha',
  'activation_beta',
];

function signature(l: Layer): string | undefined {
  if (l.op !== 'Conv' || l.inputs.length > 3) return undefined; // no fused residual
  const [, w, b] = l.inputs;
  if (!w?.isConstant || w.dtype !== 'float32' || (b && (!b.isConstant || b.dtype !== 'float32')))
    return undefined;
  if (Number(l.attr('group', 1)) !== 1) return undefined;
  const attrs = shared.map((k) => JSON.stringify(l.attrs.get(k)?.value ?? null)).join('|');
  const guards = l.guards.map((g) => `${g.tensor.name}=${g.value}`).join(',');
  return `${w.shape.slice(1).join('x')}|${attrs}|${guards}`;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/**
 * Horizontal fusion: sibling convolutions that read the same tensor with the same geometry
 * (kernel, strides, pads, dilations, activation) become one convolution with all their filters
 * and a Split, so the input is read once and the GEMM is wider (ResNet's first 1x1 conv and its
 * downsample branch, Inception-style heads).
 */
export function fuseHorizontal(network: NetworkDefinition): NetworkDefinition {
  const replaced = new Map<Layer, Layer[]>(); // first sibling -> [merged conv, split]
  const dropped = new Set<Layer>();
  for (const [tensor, readers] of consumersOf(network)) {
    const groups = new Map<string, Layer[]>();
    for (const l of readers) {
      const key = l.inputs[0] === tensor ? signature(l) : undefined;
      if (key && !replaced.has(l) && !dropped.has(l))
        groups.set(key, [...(groups.get(key) ?? []), l]);
    }
    for (const siblings of groups.values()) {
      if (siblings.length < 2 || !siblings.every((s) => sameGuards(s, siblings[0]!))) continue;
      const first = siblings[0]!;
      const channels = siblings.map((s) => s.inputs[1]!.shape[0]!);
      const total = channels.reduce((a, b) => a + b, 0);
      const weights = new NetworkTensor(
        network.uniqueName(`${first.name}_hfused_w`),
        'float32',
        [total, ...first.inputs[1]!.shape.slice(1)],
        concatBytes(siblings.map((s) => s.inputs[1]!.constant!)),
      );
      const bias = new NetworkTensor(
        network.uniqueName(`${first.name}_hfused_b`),
        'float32',
        [total],
        concatBytes(
          siblings.map((s, i) => s.inputs[2]?.constant ?? new Uint8Array(channels[i]! * 4)),
        ),
      );
      const outShape =
        first.output.shape.length === 4
          ? [first.output.shape[0]!, total, ...first.output.shape.slice(2)]
          : [];
      const wide = new NetworkTensor(
        network.uniqueName(`${first.name}_hfused`),
        'float32',
        outShape,
      );
      const conv = new Layer(
        network.uniqueLayerName(`${first.name}_hfused`),
        'Conv',
        [tensor, weights, bias],
        [wide],
        new Map(first.attrs),
      );
      const split = new Layer(
        network.uniqueLayerName(`${first.name}_hsplit`),
        'Split',
        [wide],
        siblings.map((s) => s.output),
        new Map([
          ['axis', { kind: 'i', value: 1 }],
          ['split', { kind: 'is', value: channels }],
        ]),
      );
      conv.guards = [...first.guards];
      split.guards = [...first.guards];
      replaced.set(first, [conv, split]);
      for (const s of siblings.slice(1)) dropped.add(s);
    }
  }
  // The merged pair takes the first sibling's place: every sibling's inputs are ready there.
  network.layers = network.layers.flatMap((l) => (dropped.has(l) ? [] : (replaced.get(l) ?? [l])));
  return network;
}
