import { KilnError, type Logger, type NativeAttr } from '@kiln/core';

import { type IOFormat, Layer, type NetworkDefinition, NetworkTensor } from '../network';

// ONNX TensorProto codes of the Cast targets used here.
const CAST_TO = { float32: 1, float16: 10 } as const;

/**
 * Gives every input and output with an IOFormat (NetworkDefinition.setIOFormat) that format at
 * the engine's boundary, the way TensorRT adds reformatting layers: an input becomes a tensor of
 * the format's dtype (and channels-last shape) followed by Transpose and Cast / DequantizeLinear
 * into the float32 tensor the network reads; an output gets QuantizeLinear / Cast and Transpose
 * after it. The engine's tensors keep the user's names. Runs before the other passes, after INT8
 * calibration (whose Q/DQ nodes give int8 formats their scale).
 */
export function applyIOFormats(network: NetworkDefinition, logger: Logger): NetworkDefinition {
  const head: Layer[] = [];
  network.inputs.forEach((t, i) => {
    const f = t.ioFormat;
    if (!f || (f.dtype === 'float32' && f.layout === 'chw')) return;
    const rank = t.shape.length;
    const scale = f.dtype === 'int8' ? int8Scale(network, t, f, 'input', logger) : 0;
    const stored = new NetworkTensor(
      t.name,
      f.dtype,
      f.layout === 'hwc' ? toHwc(t.shape) : [...t.shape],
    );
    t.name = network.uniqueName(`${stored.name}_reformatted`);
    t.ioFormat = undefined;
    network.inputs[i] = stored;
    let cur = stored;
    if (f.layout === 'hwc') {
      // [N, H, W, C] -> [N, C, H, W]: the last dim goes back to position 1. Transposing before
      // the conversion moves the narrower elements.
      const perm = [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, k) => k + 1)];
      const chw =
        f.dtype === 'float32'
          ? t
          : new NetworkTensor(network.uniqueName(`${stored.name}_chw`), f.dtype, [...t.shape]);
      head.push(layer(network, `${stored.name}_to_chw`, 'Transpose', [cur], chw, { perm }));
      cur = chw;
    }
    if (f.dtype === 'float16') {
      head.push(
        layer(network, `${stored.name}_to_float`, 'Cast', [cur], t, { to: CAST_TO.float32 }),
      );
    } else if (f.dtype === 'int8') {
      const [s, z] = quantParams(network, stored.name, scale);
      head.push(layer(network, `${stored.name}_dequantize`, 'DequantizeLinear', [cur, s, z], t));
    }
  });

  const tail: Layer[] = [];
  network.outputs.forEach((t, i) => {
    const f = t.ioFormat;
    if (!f || (f.dtype === 'float32' && f.layout === 'chw')) return;
    const rank = t.shape.length;
    const name = t.name;
    const stored = new NetworkTensor(
      name,
      f.dtype,
      f.layout === 'hwc' ? toHwc(t.shape) : [...t.shape],
    );
    const scale = f.dtype === 'int8' ? int8Scale(network, t, f, 'output', logger) : 0;
    t.name = network.uniqueName(`${name}_float`);
    t.ioFormat = undefined;
    network.outputs[i] = stored;
    let cur = t;
    if (f.dtype !== 'float32') {
      const converted =
        f.layout === 'hwc'
          ? new NetworkTensor(network.uniqueName(`${name}_converted`), f.dtype, [...t.shape])
          : stored;
      if (f.dtype === 'float16') {
        tail.push(
          layer(network, `${name}_to_half`, 'Cast', [cur], converted, { to: CAST_TO.float16 }),
        );
      } else {
        const [s, z] = quantParams(network, name, scale);
        tail.push(layer(network, `${name}_quantize`, 'QuantizeLinear', [cur, s, z], converted));
      }
      cur = converted;
    }
    if (f.layout === 'hwc') {
      const perm = [0, ...Array.from({ length: rank - 2 }, (_, k) => k + 2), 1];
      tail.push(layer(network, `${name}_to_hwc`, 'Transpose', [cur], stored, { perm }));
    }
  });
  network.layers = [...head, ...network.layers, ...tail];
  return network;
}

// [N, C, ...spatial] -> [N, ...spatial, C].
function toHwc(shape: readonly number[]): number[] {
  return [shape[0]!, ...shape.slice(2), shape[1]!];
}

function layer(
  network: NetworkDefinition,
  name: string,
  op: string,
  inputs: NetworkTensor[],
  output: NetworkTensor,
  attrs: { perm?: number[]; to?: number } = {},
): Layer {
  const map = new Map<string, NativeAttr>();
  if (attrs.perm) map.set('perm', { kind: 'is', value: attrs.perm });
  if (attrs.to !== undefined) map.set('to', { kind: 'i', value: attrs.to });
  return new Layer(network.uniqueLayerName(name), op, inputs, [output], map);
}

// Scalar scale and int8 zero point (0: symmetric, as TensorRT's int8 IO).
function quantParams(
  network: NetworkDefinition,
  name: string,
  scale: number,
): [NetworkTensor, NetworkTensor] {
  return [
    network.addConstant([], 'float32', Float32Array.of(scale), `${name}_io_scale`),
    network.addConstant([], 'int8', Int8Array.of(0), `${name}_io_zero_point`),
  ];
}

// The int8 scale of an IO tensor: the format's, else the largest magnitude the network's own
// QuantizeLinear (reading an input) or DequantizeLinear (producing an output) represents,
// divided by 127 (for INT8 calibration that is the calibration cache's scale).
function int8Scale(
  network: NetworkDefinition,
  t: NetworkTensor,
  f: IOFormat,
  role: 'input' | 'output',
  logger: Logger,
): number {
  if (f.scale !== undefined) return f.scale;
  const candidates =
    role === 'input'
      ? network.layers.filter((l) => l.op === 'QuantizeLinear' && l.inputs[0] === t)
      : network.layers.filter((l) => l.op === 'DequantizeLinear' && l.outputs[0] === t);
  const ranges = candidates.flatMap((l) => {
    const [scale, zero] = [l.inputs[1], l.inputs[2]];
    if (!scale?.isConstant || scale.dtype !== 'float32' || scale.values().length !== 1) return [];
    const s = scale.values()[0]!;
    // ONNX: no zero point means uint8 with zero point 0.
    const signed = zero?.dtype === 'int8';
    const byte = zero?.constant?.[0] ?? 0;
    const z = signed ? (byte << 24) >> 24 : byte;
    const [lo, hi] = signed ? [-128, 127] : [0, 255];
    // -128 is the one step an int8 grid does not mirror: a Q with zero point 128 (uint8) or 0
    // (int8) keeps its own scale.
    return [Math.max(hi - z, Math.min(z - lo, 127)) * s];
  });
  if (ranges.length === 0)
    throw new KilnError(
      'INVALID_ARGUMENT',
      `int8 ${role} '${t.name}' needs a scale: give IOFormat.scale, or build with INT8 calibration or a Q/DQ model whose ${role === 'input' ? 'QuantizeLinear reads' : 'DequantizeLinear writes'} it`,
    );
  const scale = Math.fround(Math.max(...ranges) / 127);
  logger.log('info', `int8 ${role} '${t.name}': scale ${scale} from the network's Q/DQ range`);
  return scale;
}
