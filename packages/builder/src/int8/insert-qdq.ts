import { KilnError } from '@kiln/core';

import { Layer, NetworkTensor, type NetworkDefinition } from '../network';
import { consumersOf } from '../passes/uses';

/** What implicit INT8 quantizes: the convolutions and the activations that need a scale. */
export interface Int8Plan {
  /** Convolutions with constant float 4-D weights: their weights become per-channel int8. */
  convs: Layer[];
  /** Activations to calibrate, in network order (a max pool's output reuses its input's scale). */
  calibrated: NetworkTensor[];
  /** Max pool outputs and the tensor whose scale they take. */
  inherited: Map<NetworkTensor, NetworkTensor>;
}

function singleConsumer(
  network: NetworkDefinition,
  uses: Map<NetworkTensor, Layer[]>,
  t: NetworkTensor,
  op: string,
): Layer | undefined {
  const readers = uses.get(t) ?? [];
  return readers.length === 1 && readers[0]!.op === op && !network.outputs.includes(t)
    ? readers[0]
    : undefined;
}

/**
 * Picks what implicit INT8 quantizes in a network (after removeNoOps and foldBatchNorm): every
 * Conv with constant weights, its input and its output (after a following Relu); an Add of two
 * quantized tensors and its output (after a Relu); a MaxPool of a quantized tensor, which keeps
 * its input's scale so it pools 8-bit values. Everything else, and layers constrained to 'fp32',
 * stays FP32.
 */
export function planInt8(network: NetworkDefinition): Int8Plan {
  const uses = consumersOf(network);
  const quantized = new Set<NetworkTensor>();
  const plan: Int8Plan = { convs: [], calibrated: [], inherited: new Map() };
  const calibrate = (t: NetworkTensor): void => {
    if (!quantized.has(t) && !t.isConstant) {
      quantized.add(t);
      plan.calibrated.push(t);
    }
  };
  const outputAfterRelu = (l: Layer): NetworkTensor => {
    const relu = singleConsumer(network, uses, l.output, 'Relu');
    return relu ? relu.output : l.output;
  };
  for (const l of network.layers) {
    if (l.guards.length > 0 || l.precision === 'fp32') continue;
    const w = l.inputs[1];
    if (
      l.op === 'Conv' &&
      l.inputs.length <= 3 &&
      !l.attrs.has('activation') &&
      w?.isConstant &&
      w.dtype === 'float32' &&
      w.shape.length === 4 &&
      l.inputs[0] &&
      !l.inputs[0].isConstant
    ) {
      plan.convs.push(l);
      calibrate(l.inputs[0]);
      calibrate(outputAfterRelu(l));
    } else if (
      l.op === 'Add' &&
      l.inputs.length === 2 &&
      l.inputs.every((t) => t && quantized.has(t))
    ) {
      calibrate(outputAfterRelu(l));
    } else if (l.op === 'MaxPool' && l.outputs.length === 1 && quantized.has(l.inputs[0]!)) {
      quantized.add(l.output);
      plan.inherited.set(l.output, l.inputs[0]!);
    }
  }
  return plan;
}

/** How one activation is stored in 8 bits: uint8 with a zero point of 0 or 128. */
interface Quant {
  scale: number;
  zeroPoint: number;
}

/** True for Relu outputs (and max pools of them): stored as uint8 over [0, amax]. */
export function isNonNegative(t: NetworkTensor, producers: Map<NetworkTensor, Layer>): boolean {
  let p = producers.get(t);
  while (p?.op === 'MaxPool') p = producers.get(p.inputs[0]!);
  return p?.op === 'Relu';
}

// Non-negative tensors use the whole uint8 range; others are symmetric around a zero point of
// 128, TensorRT's int8 grid shifted into uint8.
function quantOf(t: NetworkTensor, scale: number, producers: Map<NetworkTensor, Layer>): Quant {
  const safe = scale > 0 ? scale : 1; // an all-zero tensor: any scale represents it
  if (isNonNegative(t, producers)) return { scale: Math.fround((safe * 127) / 255), zeroPoint: 0 };
  return { scale: safe, zeroPoint: 128 };
}

/**
 * Rewrites the network into explicit quantization (QuantizeLinear -> DequantizeLinear on each
 * planned activation, DequantizeLinear of per-channel int8 weights), which fuseQdq then turns
 * into 8-bit layers. `scales` holds each calibrated tensor's amax / 127 (a calibration cache).
 */
export function insertQdq(
  network: NetworkDefinition,
  plan: Int8Plan,
  scales: ReadonlyMap<string, number>,
): void {
  const producers = new Map(network.layers.flatMap((l) => l.outputs.map((t) => [t, l] as const)));
  const quants = new Map<NetworkTensor, Quant>();
  for (const t of plan.calibrated) {
    const s = scales.get(t.name);
    if (s === undefined)
      throw new KilnError(
        'INVALID_STATE',
        `the calibration scales lack tensor '${t.name}': recalibrate or delete the cache`,
      );
    quants.set(t, quantOf(t, s, producers));
  }
  for (const [t, from] of plan.inherited) quants.set(t, quants.get(from)!);

  // New layers, keyed by the layer they go after (null: before the first layer).
  const after = new Map<Layer | null, Layer[]>();
  const place = (anchor: Layer | null, layer: Layer): void => {
    after.set(anchor, [...(after.get(anchor) ?? []), layer]);
  };
  const scalar = (value: number, dtype: 'float32' | 'uint8', name: string): NetworkTensor =>
    network.addConstant(
      [],
      dtype,
      dtype === 'float32' ? Float32Array.of(value) : Uint8Array.of(value),
      name,
    );

  for (const [t, q] of quants) {
    const scale = scalar(q.scale, 'float32', `${t.name}_scale`);
    const zero = scalar(q.zeroPoint, 'uint8', `${t.name}_zero_point`);
    const tq = new NetworkTensor(network.uniqueName(`${t.name}_quantized`), 'uint8', [...t.shape]);
    const tdq = new NetworkTensor(network.uniqueName(`${t.name}_dequantized`), 'float32', [
      ...t.shape,
    ]);
    // Readers switch to the dequantized copy; network outputs keep the float tensor.
    for (const l of network.layers) l.inputs = l.inputs.map((x) => (x === t ? tdq : x));
    const anchor = producers.get(t) ?? null;
    place(
      anchor,
      new Layer(
        network.uniqueLayerName(`${t.name}_q`),
        'QuantizeLinear',
        [t, scale, zero],
        [tq],
        new Map(),
      ),
    );
    place(
      anchor,
      new Layer(
        network.uniqueLayerName(`${t.name}_dq`),
        'DequantizeLinear',
        [tq, scale, zero],
        [tdq],
        new Map(),
      ),
    );
  }

  for (const conv of plan.convs) {
    const w = conv.inputs[1]!;
    const values = w.values();
    const channels = w.shape[0]!;
    const per = values.length / channels;
    const q = new Int8Array(values.length);
    const s = new Float32Array(channels);
    for (let m = 0; m < channels; m++) {
      let amax = 0;
      for (let i = 0; i < per; i++) amax = Math.max(amax, Math.abs(values[m * per + i]!));
      s[m] = amax > 0 ? Math.fround(amax / 127) : 1;
      for (let i = 0; i < per; i++) {
        const v = Math.round(values[m * per + i]! / s[m]!);
        q[m * per + i] = Math.max(-127, Math.min(127, v));
      }
    }
    const wq = network.addConstant([...w.shape], 'int8', q, `${w.name}_int8`);
    const ws = network.addConstant([channels], 'float32', s, `${w.name}_scale`);
    const wdq = new NetworkTensor(network.uniqueName(`${w.name}_dequantized`), 'float32', [
      ...w.shape,
    ]);
    const attrs = new Map([['axis', { kind: 'i' as const, value: 0 }]]);
    const dq = new Layer(
      network.uniqueLayerName(`${w.name}_dq`),
      'DequantizeLinear',
      [wq, ws, null],
      [wdq],
      attrs,
    );
    conv.inputs[1] = wdq;
    place(null, dq);
  }

  network.layers = [
    ...(after.get(null) ?? []),
    ...network.layers.flatMap((l) => [l, ...(after.get(l) ?? [])]),
  ];
}

/** True when the network already holds Q/DQ nodes (explicit quantization). */
export function hasQdq(network: NetworkDefinition): boolean {
  return network.layers.some((l) => l.op === 'QuantizeLinear' || l.op === 'DequantizeLinear');
}
