import { float32ToFloat16 } from '@kiln/core';

import { Layer, NetworkTensor, type NetworkDefinition } from '../network';

// The weight inputs of the layers whose weights are stored in half precision.
const weightInputs: Record<string, number[]> = {
  Conv: [1, 2],
  ConvTranspose: [1, 2],
  Gemm: [1, 2],
  MatMul: [1],
};

/**
 * FP16 weight storage (the 'fp16' flag): each float32 weight of a Conv, ConvTranspose, Gemm or
 * MatMul becomes a float16 constant behind a Cast to float32, which the engine turns back into
 * a float32 constant when it loads (F16C). The plan stores half the weight bytes; the math stays
 * FP32, so the result differs from FP32 only by the weights' rounding to 11 significant bits.
 * Layers constrained to 'fp32' keep their float32 weights.
 */
export function storeWeightsFp16(network: NetworkDefinition): NetworkDefinition {
  return storeWeightsFp16Where(network, (layer) => layer.precision !== 'fp32');
}

/** The builder's entry: layers constrained to 'fp16' even when the flag is off. */
export function storeWeightsFp16Where(
  network: NetworkDefinition,
  chosen: (layer: Layer) => boolean,
): NetworkDefinition {
  const converted = new Map<NetworkTensor, NetworkTensor>();
  const casts: Layer[] = [];
  for (const layer of network.layers) {
    if (!chosen(layer)) continue;
    for (const i of weightInputs[layer.op] ?? []) {
      const w = layer.inputs[i];
      if (!w?.isConstant || w.dtype !== 'float32') continue;
      let full = converted.get(w);
      if (!full) {
        const c = w.constant!;
        const half = float32ToFloat16(
          new Float32Array(c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength)),
        );
        const stored = network.addConstant([...w.shape], 'float16', half, `${w.name}_fp16`);
        full = new NetworkTensor(network.uniqueName(`${w.name}_fp32`), 'float32', [...w.shape]);
        casts.push(
          new Layer(
            network.uniqueLayerName(`${w.name}_cast`),
            'Cast',
            [stored],
            [full],
            new Map([['to', { kind: 'i' as const, value: 1 }]]),
          ),
        );
        converted.set(w, full);
      }
      layer.inputs[i] = full;
    }
  }
  network.layers = [...casts, ...network.layers];
  return network;
}
