import { NetworkTensor, type NetworkDefinition } from '../network';
import { consumersOf, hasSingleUse, sameGuards } from './uses';

/**
 * Folds BatchNormalization into the Conv before it: w' = w * s / sqrt(var + eps) per output
 * channel, b' = (b - mean) * s / sqrt(var + eps) + beta. Only when the conv's weights and the
 * BN's parameters are constants and the conv output feeds the BN alone.
 */
export function foldBatchNorm(network: NetworkDefinition): NetworkDefinition {
  const producers = new Map(network.layers.flatMap((l) => l.outputs.map((t) => [t, l] as const)));
  const uses = consumersOf(network);
  const removed = new Set<unknown>();
  for (const bn of network.layers) {
    if (bn.op !== 'BatchNormalization' || bn.outputs.length !== 1) continue;
    const x = bn.inputs[0];
    const conv = x ? producers.get(x) : undefined;
    if (
      !x ||
      !conv ||
      conv.op !== 'Conv' ||
      conv.inputs.length > 3 ||
      !hasSingleUse(network, uses, x)
    )
      continue;
    if (!sameGuards(conv, bn)) continue;
    const [scale, beta, mean, variance] = bn.inputs.slice(1);
    const w = conv.inputs[1];
    const b = conv.inputs[2] ?? null;
    const params = [scale, beta, mean, variance, w, b].filter((t) => t !== null) as NetworkTensor[];
    if (params.some((t) => !t.isConstant || t.dtype !== 'float32')) continue;
    const eps = Number(bn.attr('epsilon', 1e-5));
    const s = scale!.floats(),
      bt = beta!.floats(),
      m = mean!.floats(),
      v = variance!.floats();
    const weights = w!.floats();
    const channels = w!.shape[0]!;
    const perChannel = weights.length / channels;
    const bias = new Float32Array(channels);
    const oldBias = b ? b.floats() : new Float32Array(channels);
    for (let c = 0; c < channels; c++) {
      const k = s[c]! / Math.sqrt(v[c]! + eps);
      for (let i = 0; i < perChannel; i++) weights[c * perChannel + i]! *= k;
      bias[c] = (oldBias[c]! - m[c]!) * k + bt[c]!;
    }
    const newW = new NetworkTensor(
      network.uniqueName(`${w!.name}_bn`),
      'float32',
      [...w!.shape],
      new Uint8Array(weights.buffer),
    );
    const newB = new NetworkTensor(
      network.uniqueName(`${conv.name}_bias_bn`),
      'float32',
      [channels],
      new Uint8Array(bias.buffer),
    );
    conv.inputs = [conv.inputs[0]!, newW, newB];
    conv.outputs[0] = bn.output; // keeps the BN output's name, which may be a graph output
    removed.add(bn);
  }
  network.layers = network.layers.filter((l) => !removed.has(l));
  return network;
}
