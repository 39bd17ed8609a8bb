import type { NetworkDefinition } from '../network';
import { consumersOf, hasSingleUse, sameGuards } from './uses';

// Layers whose native op applies a fused activation in its epilogue.
const hosts = new Set(['Conv', 'Gemm', 'MatMul', 'BatchNormalization', 'Add', 'Sub', 'Mul', 'Div']);
const activations = new Set([
  'Relu',
  'LeakyRelu',
  'Clip',
  'Sigmoid',
  'HardSigmoid',
  'HardSwish',
  'Tanh',
  'Elu',
  'Softplus',
  'Gelu',
]);

/**
 * Vertical fusion: Conv/Gemm/MatMul/BatchNormalization/elementwise + activation becomes one
 * layer whose kernel applies the activation while the data is in registers.
 */
export function fuseActivations(network: NetworkDefinition): NetworkDefinition {
  const producers = new Map(network.layers.flatMap((l) => l.outputs.map((t) => [t, l] as const)));
  const uses = consumersOf(network);
  const removed = new Set<unknown>();
  for (const act of network.layers) {
    if (!activations.has(act.op) || act.outputs.length !== 1) continue;
    const x = act.inputs[0];
    const host = x ? producers.get(x) : undefined;
    if (
      !x ||
      !host ||
      !hosts.has(host.op) ||
      host.attrs.has('activation') ||
      !hasSingleUse(network, uses, x)
    )
      continue;
    if (removed.has(host) || !sameGuards(host, act)) continue;
    let alpha: number | undefined, beta: number | undefined;
    if (act.op === 'Clip') {
      // Bounds are inputs since opset 11; only constant bounds can be fused.
      const [lo, hi] = [act.inputs[1], act.inputs[2]];
      if ((lo && !lo.isConstant) || (hi && !hi.isConstant)) continue;
      alpha = lo ? lo.values()[0] : Number(act.attr('min', -3.4028234663852886e38));
      beta = hi ? hi.values()[0] : Number(act.attr('max', 3.4028234663852886e38));
    } else {
      const a = act.attrs.get('alpha');
      const b = act.attrs.get('beta');
      if (a) alpha = Number(a.value);
      if (b) beta = Number(b.value);
    }
    if (act.op === 'Gelu' && act.attr('approximate', 'none') !== 'none') continue;
    host.attrs.set('activation', { kind: 's', value: act.op });
    if (alpha !== undefined) host.attrs.set('activation_alpha', { kind: 'f', value: alpha });
    if (beta !== undefined) host.attrs.set('activation_beta', { kind: 'f', value: beta });
    // The host writes the activation's tensor, so names (and graph outputs) stay as they were.
    host.outputs[0] = act.output;
    removed.add(act);
  }
  network.layers = network.layers.filter((l) => !removed.has(l));
  return network;
}
