import type { DataType } from '@kiln/core';

import { Layer, NetworkTensor, type NetworkDefinition } from '../network';
import { consumersOf, hasSingleUse, rewire, sameGuards } from './uses';

/** The scale and zero point of a per-tensor (de)quantization, read from constants. */
interface TensorQuant {
  scale: NetworkTensor;
  zeroPoint: NetworkTensor | null;
  /** The 8-bit type: the zero point's, uint8 when it is omitted (ONNX's default). */
  dtype: 'uint8' | 'int8';
}

function bytesOf(t: NetworkTensor): Uint8Array {
  return t.constant!;
}

function constantCount(t: NetworkTensor): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

/** Float32 values of a constant (any 8-bit, int32 or float32 constant). */
export function constantNumbers(t: NetworkTensor): number[] {
  const b = bytesOf(t);
  switch (t.dtype) {
    case 'int8':
      return Array.from(new Int8Array(b.buffer, b.byteOffset, b.byteLength));
    case 'uint8':
      return Array.from(b);
    default:
      return t.values();
  }
}

// A per-tensor quantization (scalar float scale, scalar 8-bit zero point) of a Q or DQ layer.
function perTensor(layer: Layer): TensorQuant | undefined {
  const [, scale, zp] = layer.inputs;
  if (!scale?.isConstant || scale.dtype !== 'float32' || constantCount(scale) !== 1) return;
  if (zp && (!zp.isConstant || constantCount(zp) !== 1)) return;
  if (zp && zp.dtype !== 'uint8' && zp.dtype !== 'int8') return;
  if (layer.attrs.has('block_size') && Number(layer.attr('block_size', 0)) !== 0) return;
  return { scale, zeroPoint: zp ?? null, dtype: (zp?.dtype ?? 'uint8') as 'uint8' | 'int8' };
}

// Same type, scale and zero point (by value: models repeat them as separate constants).
function sameQuant(a: TensorQuant, b: TensorQuant): boolean {
  const value = (t: NetworkTensor | null): number => (t ? constantNumbers(t)[0]! : 0);
  return (
    a.dtype === b.dtype &&
    value(a.scale) === value(b.scale) &&
    value(a.zeroPoint) === value(b.zeroPoint)
  );
}

/** Per-output-channel int8 weights: DequantizeLinear(constant int8, scales, zero zero points). */
interface QuantWeights {
  weights: NetworkTensor;
  scale: NetworkTensor;
  zeroPoint: NetworkTensor | null;
  scales: number[];
}

function quantWeights(dq: Layer | undefined): QuantWeights | undefined {
  if (!dq || dq.op !== 'DequantizeLinear') return;
  const [w, scale, zp] = dq.inputs;
  if (!w?.isConstant || w.dtype !== 'int8' || w.shape.length < 2) return;
  if (!scale?.isConstant || scale.dtype !== 'float32') return;
  const count = constantCount(scale);
  if (count !== 1) {
    const axis = Number(dq.attr('axis', 1));
    if ((axis !== 0 && axis !== -w.shape.length) || count !== w.shape[0]) return;
  }
  if (zp && (!zp.isConstant || constantNumbers(zp).some((v) => v !== 0))) return;
  return { weights: w, scale, zeroPoint: zp ?? null, scales: scale.values() };
}

// Bias as int32 in units of x_scale * w_scale[m] (what QLinearConv adds to its sums): from a
// dequantized int32 constant or a float constant, rounded like onnxruntime's quantizer.
function quantBias(
  network: NetworkDefinition,
  bias: NetworkTensor,
  producer: Layer | undefined,
  xScale: number,
  wScales: number[],
  channels: number,
): NetworkTensor | undefined {
  let values: number[];
  if (bias.isConstant && bias.dtype === 'float32') {
    values = bias.values();
  } else if (
    producer?.op === 'DequantizeLinear' &&
    producer.inputs.every((t) => !t || t.isConstant)
  ) {
    const [q, s, z] = producer.inputs;
    if (q!.dtype !== 'int32') return;
    const qs = q!.values(),
      ss = s!.values(),
      zs = z ? z.values() : [0];
    values = qs.map((v, i) => (v - zs[zs.length > 1 ? i : 0]!) * ss[ss.length > 1 ? i : 0]!);
  } else {
    return;
  }
  if (values.length !== channels) return;
  const ints = new Int32Array(channels);
  for (let m = 0; m < channels; m++) {
    const s = Math.fround(xScale * wScales[wScales.length > 1 ? m : 0]!);
    ints[m] = s === 0 ? 0 : Math.round(values[m]! / s);
  }
  return network.addConstant([channels], 'int32', ints, `${bias.name}_int32`);
}

function setEightBit(t: NetworkTensor, dtype: DataType): void {
  t.dtype = dtype;
}

// Gemm(x, w, bias) with w transposed (transB = 1: [N, K], as PyTorch's Linear exports) and
// nothing else: no alpha or beta scaling, no transposed x, no fused activation.
function isPlainGemm(layer: Layer): boolean {
  const attr = (name: string, fallback: number) => Number(layer.attr(name, fallback));
  return (
    layer.inputs.length >= 2 &&
    layer.inputs.length <= 3 &&
    attr('transA', 0) === 0 &&
    attr('transB', 0) === 1 &&
    attr('alpha', 1) === 1 &&
    attr('beta', 1) === 1 &&
    !layer.attrs.has('activation')
  );
}

/**
 * Explicit quantization: turns ONNX QDQ patterns into 8-bit layers whose activations stay 8-bit
 * between them.
 * - DequantizeLinear(x) and DequantizeLinear(int8 weights, per-channel scales) -> Conv
 *   (-> Relu) -> QuantizeLinear becomes QLinearConv (bias requantized to int32, relu folded
 *   into the output clamp).
 * - DequantizeLinear(a) + DequantizeLinear(b) (-> Relu) -> QuantizeLinear (same shapes) becomes
 *   QLinearAdd.
 * - DequantizeLinear -> MaxPool -> QuantizeLinear with one scale and zero point becomes an
 *   8-bit MaxPool.
 * - DequantizeLinear(x) and DequantizeLinear(int8 weights [N, K], per-output scales) -> Gemm
 *   (transB = 1) (-> Relu) -> QuantizeLinear becomes QLinearGemm, a fully connected layer with
 *   int8 weights (a quarter of the float weights' bytes to read per inference).
 * - A DequantizeLinear of constants left over (a Gemm's weights) folds into a float constant.
 * Anything else (average pooling, reshapes between a DQ and a Q), and layers constrained to
 * 'fp32', stay float.
 */
export function fuseQdq(network: NetworkDefinition): NetworkDefinition {
  const producers = new Map(network.layers.flatMap((l) => l.outputs.map((t) => [t, l] as const)));
  const uses = consumersOf(network);
  const replaced = new Map<Layer, Layer>(); // the layer a fused layer takes the place of
  const removed = new Set<Layer>();

  const dequantOf = (t: NetworkTensor | null | undefined): [Layer, TensorQuant] | undefined => {
    const dq = t ? producers.get(t) : undefined;
    if (!dq || dq.op !== 'DequantizeLinear' || !dq.inputs[0] || dq.inputs[0].isConstant) return;
    const q = perTensor(dq);
    return q ? [dq, q] : undefined;
  };
  // The single QuantizeLinear reading `t` (and the Relu before it, if any).
  const quantAfter = (
    t: NetworkTensor,
    host: Layer,
  ): { q: Layer; quant: TensorQuant; relu: Layer | null } | undefined => {
    if (!hasSingleUse(network, uses, t)) return;
    let next = uses.get(t)![0]!;
    let relu: Layer | null = null;
    if (next.op === 'Relu' && hasSingleUse(network, uses, next.output) && sameGuards(host, next)) {
      relu = next;
      next = uses.get(next.output)![0]!;
    }
    if (next.op !== 'QuantizeLinear' || !sameGuards(host, next) || removed.has(next)) return;
    const quant = perTensor(next);
    return quant ? { q: next, quant, relu } : undefined;
  };
  // Puts `op` (QLinearConv or QLinearGemm: the same nine inputs) in the place of `layer`, with
  // the Relu and QuantizeLinear after it absorbed.
  const replaceQuantized = (
    layer: Layer,
    op: string,
    x: [Layer, TensorQuant],
    w: QuantWeights,
    out: NonNullable<ReturnType<typeof quantAfter>>,
    bias: NetworkTensor | null,
    attrs: Layer['attrs'],
  ) => {
    if (out.relu) attrs.set('activation', { kind: 's', value: 'Relu' });
    const y = out.q.output;
    setEightBit(y, out.quant.dtype);
    const inputs = [x[0].inputs[0]!, x[1].scale, x[1].zeroPoint, w.weights, w.scale, w.zeroPoint];
    const fused = new Layer(
      network.uniqueLayerName(`${layer.name}_int8`),
      op,
      [...inputs, out.quant.scale, out.quant.zeroPoint, bias],
      [y],
      attrs,
    );
    fused.guards = layer.guards;
    replaced.set(layer, fused);
    removed.add(out.q);
    if (out.relu) removed.add(out.relu);
  };

  for (const layer of network.layers) {
    if (removed.has(layer) || layer.precision === 'fp32') continue;
    if (layer.op === 'Conv') {
      const x = dequantOf(layer.inputs[0]);
      const w = quantWeights(producers.get(layer.inputs[1]!));
      if (!x || !w || w.weights.shape.length !== 4) continue;
      if (layer.attrs.has('activation') || layer.inputs.length > 3) continue;
      const out = quantAfter(layer.output, layer);
      if (!out) continue;
      const channels = w.weights.shape[0]!;
      const xScale = x[1].scale.values()[0]!;
      let bias: NetworkTensor | null = null;
      if (layer.inputs[2]) {
        const b = quantBias(
          network,
          layer.inputs[2],
          producers.get(layer.inputs[2]),
          xScale,
          w.scales,
          channels,
        );
        if (!b) continue;
        bias = b;
      }
      replaceQuantized(layer, 'QLinearConv', x, w, out, bias, new Map(layer.attrs));
    } else if (layer.op === 'Gemm' && isPlainGemm(layer)) {
      // A fully connected layer: y = x * w^T + bias with w [N, K] per-output-channel int8.
      const x = dequantOf(layer.inputs[0]);
      const w = quantWeights(producers.get(layer.inputs[1]!));
      if (!x || !w || w.weights.shape.length !== 2) continue;
      const out = quantAfter(layer.output, layer);
      if (!out) continue;
      const channels = w.weights.shape[0]!;
      let bias: NetworkTensor | null = null;
      if (layer.inputs[2]) {
        const xScale = x[1].scale.values()[0]!;
        const producer = producers.get(layer.inputs[2]);
        const b = quantBias(network, layer.inputs[2], producer, xScale, w.scales, channels);
        if (!b) continue;
        bias = b;
      }
      replaceQuantized(layer, 'QLinearGemm', x, w, out, bias, new Map());
    } else if (layer.op === 'MaxPool' && layer.outputs.length === 1) {
      // max commutes with a monotonic dequantization: pool the 8-bit values themselves.
      const x = dequantOf(layer.inputs[0]);
      if (!x || Number(layer.attr('storage_order', 0)) !== 0) continue;
      const out = quantAfter(layer.output, layer);
      if (!out || out.relu || !sameQuant(x[1], out.quant)) continue;
      const y = out.q.output;
      setEightBit(y, out.quant.dtype);
      const fused = new Layer(
        network.uniqueLayerName(`${layer.name}_int8`),
        'MaxPool',
        [x[0].inputs[0]!],
        [y],
        new Map(layer.attrs),
      );
      fused.guards = layer.guards;
      replaced.set(layer, fused);
      removed.add(out.q);
    } else if (layer.op === 'Add' && layer.inputs.length === 2 && layer.attrs.size === 0) {
      const a = dequantOf(layer.inputs[0]);
      const b = dequantOf(layer.inputs[1]);
      if (!a || !b || a[1].dtype !== b[1].dtype) continue;
      const [ta, tb] = [a[0].inputs[0]!, b[0].inputs[0]!];
      // Equal dims, -1 only where both are -1 (one batch carried through a residual block,
      // as fuseResidualAdd assumes); the op checks the shapes again at run time.
      if (ta.shape.length === 0 || ta.shape.join() !== tb.shape.join()) continue;
      const out = quantAfter(layer.output, layer);
      if (!out || out.quant.dtype !== a[1].dtype) continue;
      const y = out.q.output;
      setEightBit(y, out.quant.dtype);
      const attrs = new Map(
        out.relu ? [['activation', { kind: 's' as const, value: 'Relu' }]] : [],
      );
      const fused = new Layer(
        network.uniqueLayerName(`${layer.name}_int8`),
        'QLinearAdd',
        [
          ta,
          a[1].scale,
          a[1].zeroPoint,
          tb,
          b[1].scale,
          b[1].zeroPoint,
          out.quant.scale,
          out.quant.zeroPoint,
        ],
        [y],
        attrs,
      );
      fused.guards = layer.guards;
      replaced.set(layer, fused);
      removed.add(out.q);
    }
  }
  network.layers = network.layers.flatMap((l) => (removed.has(l) ? [] : [replaced.get(l) ?? l]));
  foldConstantDequantize(network);
  return network;
}

// DequantizeLinear of constants -> a float32 constant, so weights are not dequantized per run.
function foldConstantDequantize(network: NetworkDefinition): void {
  const folded = new Set<Layer>();
  const uses = consumersOf(network);
  for (const dq of network.layers) {
    if (dq.op !== 'DequantizeLinear' || dq.guards.length > 0) continue;
    // Unread ones (the weights of fused layers) are left to eliminateDeadLayers.
    if (!uses.has(dq.output) || network.outputs.includes(dq.output)) continue;
    const [q, s, z] = dq.inputs;
    if (!q?.isConstant || !s?.isConstant || (z && !z.isConstant)) continue;
    if (s.dtype !== 'float32' || q.shape.includes(-1)) continue;
    const qs = constantNumbers(q);
    const ss = s.values();
    const zs = z ? constantNumbers(z) : [0];
    if (zs.length !== ss.length && zs.length !== 1) continue;
    let axis = Number(dq.attr('axis', 1));
    if (axis < 0) axis += q.shape.length;
    const inner = ss.length === 1 ? 1 : q.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    if (ss.length > 1 && q.shape[axis] !== ss.length) continue;
    const out = new Float32Array(qs.length);
    for (let i = 0; i < qs.length; i++) {
      const c = ss.length === 1 ? 0 : Math.floor(i / inner) % ss.length;
      // In float32 as the op computes it: (q - zp) * scale.
      out[i] = Math.fround(Math.fround(qs[i]! - zs[zs.length > 1 ? c : 0]!) * ss[c]!);
    }
    const constant = network.addConstant([...q.shape], 'float32', out, dq.output.name);
    rewire(network, dq.output, constant);
    folded.add(dq);
  }
  network.layers = network.layers.filter((l) => !folded.has(l));
}
