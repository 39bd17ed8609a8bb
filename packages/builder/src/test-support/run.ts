// Test helpers: build a network into an engine and run it; compare with onnxruntime-node.
import { Tensor } from '@kiln/core';
import { Runtime } from '@kiln/runtime';
import ort from 'onnxruntime-node';

import { Builder, type BuildOptions } from '../builder';
import type { BuilderConfig } from '../config';
import type { NetworkDefinition } from '../network';
import { OnnxParser } from '../onnx-parser';

/** Deterministic values in [-scale, scale] (a sine sweep: no PRNG state to share). */
export function sweep(n: number, scale = 1, phase = 0): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => scale * Math.sin(i * 0.7311 + phase));
}

/** Builds `network` with `config` (a default one when omitted) and loads the engine. */
export async function buildEngine(
  network: NetworkDefinition,
  config?: BuilderConfig,
  options?: BuildOptions,
  builder = new Builder(),
) {
  const plan = await builder.buildSerializedNetwork(
    network,
    config ?? builder.createBuilderConfig(),
    options,
  );
  return { plan, engine: new Runtime().deserializeEngine(plan) };
}

/** Parses an ONNX file into a fresh network. */
export function parseOnnx(path: string): NetworkDefinition {
  const network = new Builder().createNetwork();
  new OnnxParser(network).parse(path);
  return network;
}

/** onnxruntime-node's outputs for float32 feeds, as plain arrays by output name. */
export async function ortRun(
  path: string,
  feeds: Record<string, Tensor>,
): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  const session = await ort.InferenceSession.create(path, {
    intraOpNumThreads: 2,
    interOpNumThreads: 1,
  });
  const input: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds))
    input[name] = new ort.Tensor('float32', t.data as Float32Array, [...t.shape]);
  const out = await session.run(input);
  const result: Record<string, { data: Float32Array; dims: number[] }> = {};
  for (const [name, t] of Object.entries(out))
    result[name] = { data: t.data as Float32Array, dims: [...t.dims] };
  await session.release();
  return result;
}

/** max |a - b| and max |b| over two arrays of equal length. */
export function maxError(a: ArrayLike<number>, b: ArrayLike<number>): { err: number; ref: number } {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let err = 0;
  let ref = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    ref = Math.max(ref, Math.abs(b[i]!));
  }
  return { err, ref };
}
