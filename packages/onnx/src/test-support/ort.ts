// onnxruntime-node as the reference executor of the tests.
import * as ort from 'onnxruntime-node';
import { KilnError } from '@kiln/core';
import { ElemType, elemTypeName } from '../ir/elem-type';
import type { Model } from '../ir/model';
import type { TestModel } from './models';

/** Plain inputs for ORT: name -> tensor. */
export type Feeds = Record<string, ort.Tensor>;

/** A session on a model file or bytes, on one thread so results are deterministic. */
export async function session(source: string | Uint8Array): Promise<ort.InferenceSession> {
  const opts: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  };
  return typeof source === 'string'
    ? ort.InferenceSession.create(source, opts)
    : ort.InferenceSession.create(source, opts);
}

// A small LCG so every run feeds the same numbers.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Deterministic random inputs for a model's graph inputs, batch `batch` where a dim is free. */
export function makeFeeds(model: Model, spec: TestModel, batch = 1, seed = 1): Feeds {
  const random = rng(seed);
  const feeds: Feeds = {};
  for (const v of model.graph.inputs) {
    if (model.graph.initializers.has(v.name)) continue;
    const dims = (v.shape ?? []).map((d, i) => {
      const given = spec.dims?.[v.name]?.[i];
      if (i === 0 && typeof d !== 'number') return batch;
      if (given !== undefined) return i === 0 ? batch : given;
      if (typeof d === 'number') return d;
      return 1;
    });
    const n = dims.reduce((a, b) => a * b, 1);
    const fixed = spec.values?.[v.name];
    switch (v.elemType) {
      case ElemType.FLOAT:
        feeds[v.name] = new ort.Tensor(
          'float32',
          Float32Array.from({ length: n }, () => random() * 2 - 1),
          dims,
        );
        break;
      case ElemType.FLOAT16: {
        // Random halves in [-1, 1): sign, exponent 0b01110 or below, random mantissa.
        const data = Uint16Array.from(
          { length: n },
          () => ((random() < 0.5 ? 0x8000 : 0) | (0x3400 + Math.floor(random() * 0x0800))) & 0xffff,
        );
        feeds[v.name] = new ort.Tensor('float16', data, dims);
        break;
      }
      case ElemType.INT64:
        feeds[v.name] = new ort.Tensor(
          'int64',
          BigInt64Array.from({ length: n }, (_, i) =>
            BigInt(fixed?.[i] ?? Math.floor(random() * 10)),
          ),
          dims,
        );
        break;
      default:
        throw new KilnError(
          'UNSUPPORTED',
          `test feeds for ${elemTypeName(v.elemType)} input '${v.name}' are not implemented`,
        );
    }
  }
  return feeds;
}

/** Runs a session and returns the outputs' raw bytes by name. */
export async function runBytes(
  s: ort.InferenceSession,
  feeds: Feeds,
): Promise<Record<string, Uint8Array>> {
  const out = await s.run(feeds);
  const bytes: Record<string, Uint8Array> = {};
  for (const [k, t] of Object.entries(out)) {
    const d = t.data as ArrayBufferView;
    bytes[k] = new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
  }
  return bytes;
}

/** Runs a session and returns the outputs as ORT tensors. */
export async function run(
  s: ort.InferenceSession,
  feeds: Feeds,
): Promise<ort.InferenceSession.OnnxValueMapType> {
  return s.run(feeds);
}

/** True when two byte arrays are equal. */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && Buffer.compare(a, b) === 0;
}

export { ort };

/** The largest absolute difference between two float arrays (Infinity when lengths differ). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
