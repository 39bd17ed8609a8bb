import type { NativeAttr } from '@kiln/core';

import { Layer, type NetworkDefinition, type NetworkTensor } from '../network';
import { consumersOf, hasSingleUse, replaceFused, sameGuards } from './uses';

// Opcodes of the native ElementwiseChain op (native/src/graph/chain_opcodes.h).
const binaryOps: Record<string, number> = {
  Add: 0,
  Sub: 1,
  Mul: 2,
  Div: 3,
  Max: 4,
  Min: 5,
  Pow: 6,
};
const unaryOps: Record<string, number> = {
  Relu: 10,
  Sigmoid: 11,
  Tanh: 12,
  Exp: 13,
  Log: 14,
  Sqrt: 15,
  Abs: 16,
  Neg: 17,
  Erf: 18,
  Reciprocal: 19,
  Floor: 20,
  Ceil: 21,
  HardSwish: 22,
};

const known = (t: NetworkTensor) => t.shape.length > 0 && t.shape.every((d) => d >= 0);
const scalar = (t: NetworkTensor | null) =>
  !!t && t.isConstant && t.dtype === 'float32' && t.shape.reduce((a, b) => a * b, 1) === 1;

interface Chain {
  inputs: NetworkTensor[];
  immediates: number[];
  steps: number[];
}

// Appends layer `l`'s steps, `value` being the chain value it reads; false when it cannot join.
function append(chain: Chain, l: Layer, value: NetworkTensor): boolean {
  if (l.output.dtype !== 'float32' || l.outputs.length !== 1) return false;
  const operand = (t: NetworkTensor): number | undefined => {
    // A scalar of higher rank than the value would broadcast the shape up.
    if (scalar(t) && t.shape.length <= value.shape.length) {
      chain.immediates.push(t.values()[0]!);
      return -1 - chain.immediates.length; // -2 - index
    }
    // Another tensor must have the chain's shape: known and equal, or the chain's start itself
    // (every step keeps the start's shape, even where its dims are known only at run time).
    const sameShape = t === chain.inputs[0] || (known(t) && t.shape.join() === value.shape.join());
    if (t.dtype !== 'float32' || !sameShape) return undefined;
    const i = chain.inputs.indexOf(t);
    if (i >= 0) return i;
    chain.inputs.push(t);
    return chain.inputs.length - 1;
  };
  const steps: number[] = [];
  if (l.op in unaryOps && l.attrs.size === 0 && l.inputs[0] === value) {
    steps.push(unaryOps[l.op]!, -1, 0);
  } else if (
    l.op in binaryOps &&
    l.inputs.length === 2 &&
    (l.inputs[0] === value) !== (l.inputs[1] === value)
  ) {
    const reversed = l.inputs[1] === value;
    const other = operand((reversed ? l.inputs[0] : l.inputs[1])!);
    if (other === undefined) return false;
    steps.push(binaryOps[l.op]!, other, reversed ? 1 : 0);
    // An activation the activation-fusion pass already attached (e.g. Add + Clip).
    const act = l.attrs.get('activation')?.value;
    if (act === 'Clip') {
      const bound = (key: string) => {
        chain.immediates.push(Number(l.attrs.get(key)?.value));
        return -1 - chain.immediates.length;
      };
      if (l.attrs.has('activation_alpha')) steps.push(binaryOps.Max!, bound('activation_alpha'), 0);
      if (l.attrs.has('activation_beta')) steps.push(binaryOps.Min!, bound('activation_beta'), 0);
    } else if (typeof act === 'string' && act in unaryOps && l.attrs.size === 1) {
      steps.push(unaryOps[act]!, -1, 0);
    } else if (l.attrs.size > 0) {
      return false;
    }
  } else if (l.op === 'Clip' && l.inputs[0] === value && l.attrs.size === 0) {
    const [lo, hi] = [l.inputs[1], l.inputs[2]];
    if ((lo && !scalar(lo)) || (hi && !scalar(hi))) return false;
    if (lo) steps.push(binaryOps.Max!, operand(lo)!, 0);
    if (hi) steps.push(binaryOps.Min!, operand(hi)!, 0);
  } else {
    return false;
  }
  chain.steps.push(...steps);
  return true;
}

/**
 * Elementwise-chain fusion: a run of elementwise layers where each feeds only the next
 * (e.g. x * clip(x + 3, 0, 6) / 6, a hard-swish written out) becomes one ElementwiseChain
 * layer that streams the data through every step while it is in cache. Other operands must
 * be scalars (of no higher rank) or tensors of the chain's own shape (the start, or a known
 * equal shape), so no broadcast is lost.
 */
export function fuseElementwiseChains(network: NetworkDefinition): NetworkDefinition {
  const uses = consumersOf(network);
  const absorbed = new Set<Layer>();
  const replacement = new Map<Layer, Layer>(); // last member -> the fused layer
  for (const first of network.layers) {
    if (absorbed.has(first)) continue;
    // The start fixes the chain's shape: append() then admits only operands that keep it
    // (scalars, the start, tensors of the same known shape), so its dims may be dynamic.
    const start = first.inputs.find(
      (t) =>
        t &&
        t.dtype === 'float32' &&
        t.shape.length > 0 &&
        t.shape.join() === first.output.shape.join(),
    );
    if (!start) continue;
    const chain: Chain = { inputs: [start], immediates: [], steps: [] };
    if (!append(chain, first, start)) continue;
    const members = [first];
    for (;;) {
      const last = members[members.length - 1]!;
      const readers = uses.get(last.output) ?? [];
      const next = readers[0];
      if (
        !hasSingleUse(network, uses, last.output) ||
        !next ||
        absorbed.has(next) ||
        !sameGuards(next, first)
      )
        break;
      const saved = {
        inputs: [...chain.inputs],
        immediates: [...chain.immediates],
        steps: [...chain.steps],
      };
      if (!append(chain, next, last.output)) {
        Object.assign(chain, saved);
        break;
      }
      members.push(next);
    }
    if (members.length < 2) continue;
    const attrs = new Map<string, NativeAttr>([['steps', { kind: 'is', value: chain.steps }]]);
    if (chain.immediates.length > 0)
      attrs.set('immediates', { kind: 'fs', value: chain.immediates });
    const last = members[members.length - 1]!;
    const fused = new Layer(
      network.uniqueLayerName(`${first.name}_chain`),
      'ElementwiseChain',
      chain.inputs,
      [last.output],
      attrs,
    );
    fused.guards = [...first.guards];
    for (const m of members) absorbed.add(m);
    replacement.set(last, fused);
  }
  replaceFused(network, replacement, absorbed);
  return network;
}
