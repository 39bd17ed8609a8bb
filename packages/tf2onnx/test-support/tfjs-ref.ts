// Runs a TF.js graph model in @tensorflow/tfjs (pure-JS CPU backend) and the converted ONNX model
// in onnxruntime-node on the same random input, and measures their agreement.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import type { Model } from '@kiln/onnx';
import { rng, runOnnx } from './data';

/** Agreement of one output. */
export interface OutputAgreement {
  name: string;
  maxAbsErr: number;
  maxAbsRef: number;
  /** maxAbsErr / (1 + maxAbsRef): the tests require <= 1e-4. */
  relErr: number;
}

async function loadTfjs(modelJson: string): Promise<tf.GraphModel> {
  await tf.setBackend('cpu');
  const json = JSON.parse(readFileSync(modelJson, 'utf8'));
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Buffer[] = [];
  for (const g of json.weightsManifest) {
    specs.push(...g.weights);
    for (const p of g.paths) parts.push(readFileSync(join(dirname(modelJson), p)));
  }
  const data = Buffer.concat(parts);
  const weightData = data.buffer.slice(
    data.byteOffset,
    data.byteOffset + data.byteLength,
  ) as ArrayBuffer;
  return tf.loadGraphModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }),
  );
}

/** What compareWithTfjs feeds. */
export interface CompareOptions {
  /** Seed of the random inputs (default 7). */
  seed?: number;
  /** Input shapes by ONNX name (default: the model's, 1 for each unknown dim, a scalar for an unknown rank). */
  shapes?: Record<string, number[]>;
  /** Inputs filled with one value instead of random numbers, by ONNX name. */
  values?: Record<string, number>;
}

/**
 * Runs both on the same inputs (random uint8-range int32 / [0, 1) float32 unless `values` fixes
 * them) and compares every ONNX output with the TF.js tensor of the same name.
 */
export async function compareWithTfjs(
  modelJson: string,
  model: Model,
  options: CompareOptions = {},
): Promise<OutputAgreement[]> {
  const tfModel = await loadTfjs(modelJson);
  const random = rng(options.seed ?? 7);
  const feeds: Record<string, ort.Tensor> = {};
  const tfFeeds: Record<string, tf.Tensor> = {};
  for (const v of model.graph.inputs) {
    const dims =
      options.shapes?.[v.name] ??
      (v.shape ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    const fixed = options.values?.[v.name];
    if (v.elemType === 6) {
      const data = Int32Array.from({ length: n }, () => fixed ?? Math.floor(random() * 256));
      feeds[v.name] = new ort.Tensor('int32', data, dims);
      tfFeeds[v.name] = tf.tensor(data, dims, 'int32');
    } else {
      const data = Float32Array.from({ length: n }, () => fixed ?? random());
      feeds[v.name] = new ort.Tensor('float32', data, dims);
      tfFeeds[v.name] = tf.tensor(data, dims, 'float32');
    }
  }
  const names = model.graph.outputs.map((o) => o.name);
  const ref = (await tfModel.executeAsync(tfFeeds, names)) as tf.Tensor | tf.Tensor[];
  const refs = Array.isArray(ref) ? ref : [ref];
  const got = await runOnnx(model, feeds);
  const out: OutputAgreement[] = [];
  for (let i = 0; i < names.length; i++) {
    const r = refs[i]!.dataSync();
    const o = got[names[i]!]!.data as ArrayLike<number>;
    if (r.length !== o.length)
      throw new Error(
        `output '${names[i]}': tfjs gives ${r.length} values, onnxruntime ${o.length}`,
      );
    let maxAbsErr = 0;
    let maxAbsRef = 0;
    for (let k = 0; k < r.length; k++) {
      maxAbsErr = Math.max(maxAbsErr, Math.abs(Number(r[k]) - Number(o[k])));
      maxAbsRef = Math.max(maxAbsRef, Math.abs(Number(r[k])));
    }
    if (r.length > 0 && Number.isNaN(maxAbsErr)) maxAbsErr = Infinity;
    out.push({ name: names[i]!, maxAbsErr, maxAbsRef, relErr: maxAbsErr / (1 + maxAbsRef) });
  }
  tf.dispose([...refs, ...Object.values(tfFeeds)]);
  tfModel.dispose();
  return out;
}
