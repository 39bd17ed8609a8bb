import { type DataType, KilnError, Tensor, isDataType } from '@kiln/core';
import type * as Ort from 'onnxruntime-node';

/** One loaded fallback subgraph. */
export interface FallbackSession {
  /** Runs the subgraph on host tensors; resolves with every output. */
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
}

/** Runs the parts of a model kiln does not build (TF-TRT leaves them to TensorFlow). */
export interface FallbackExecutor {
  /** A name for logs and errors. */
  readonly name: string;
  /** Loads an ONNX model (the bytes of one fallback segment). */
  load(model: Uint8Array): Promise<FallbackSession>;
}

type OrtModule = typeof Ort;

/**
 * onnxruntime-node as the fallback executor, or undefined when it is not installed (it is an
 * optional peer dependency). `importer` exists so tests can stand in for a missing package.
 */
export async function onnxruntimeFallback(
  importer: () => Promise<unknown> = () => import('onnxruntime-node'),
): Promise<FallbackExecutor | undefined> {
  let ort: OrtModule;
  try {
    const loaded = (await importer()) as OrtModule & { default?: OrtModule };
    ort = loaded.default?.InferenceSession ? loaded.default : loaded;
  } catch {
    return undefined;
  }
  return {
    name: 'onnxruntime-node',
    async load(model) {
      const session = await ort.InferenceSession.create(model, {
        logSeverityLevel: 3,
        graphOptimizationLevel: 'all',
      });
      return {
        async run(feeds) {
          const input: Record<string, Ort.Tensor> = {};
          for (const [name, t] of Object.entries(feeds))
            // kiln's dtype names and TypedArrays are onnxruntime's for every type kiln has.
            input[name] = new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [
              ...t.shape,
            ]);
          const results = await session.run(input);
          const out: Record<string, Tensor> = {};
          for (const [name, t] of Object.entries(results)) out[name] = toKiln(name, t);
          return out;
        },
      };
    },
  };
}

function toKiln(name: string, t: Ort.Tensor): Tensor {
  if (!isDataType(t.type)) {
    throw new KilnError(
      'UNSUPPORTED',
      `fallback output '${name}' is ${t.type}, a type kiln tensors cannot hold`,
    );
  }
  return new Tensor(t.type as DataType, t.dims, t.data as Tensor['data']);
}
