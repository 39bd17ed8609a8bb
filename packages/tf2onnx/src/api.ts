import { saveModel, type Model } from '@kiln/onnx';
import { KilnError } from '@kiln/core';
import { convertSpec, type ConversionResult, type ConvertOptions } from './convert/convert';
import { readGraphDef } from './readers/graphdef';
import { readSavedModel, type SavedModelReadOptions } from './readers/saved-model';
import { readTfjs } from './readers/tfjs';

/** Options of convertSavedModel: the conversion options plus the MetaGraph tags and signature. */
export interface SavedModelOptions extends ConvertOptions, SavedModelReadOptions {}

function checkOptions(options: unknown): void {
  if (
    options !== undefined &&
    (typeof options !== 'object' || options === null || Array.isArray(options))
  ) {
    throw new KilnError(
      'INVALID_ARGUMENT',
      `Expected an object for options but received ${String(options)} of type ${typeof options}`,
    );
  }
}

/**
 * Converts a frozen TensorFlow GraphDef (`.pb` bytes or a file path) to ONNX, like
 * `python -m tf2onnx.convert --input frozen.pb --inputs x:0 --outputs y:0`.
 */
export function convertGraphDef(
  source: Uint8Array | string,
  options: ConvertOptions = {},
): ConversionResult {
  checkOptions(options);
  if (typeof source !== 'string' && !(source instanceof Uint8Array)) {
    throw new KilnError(
      'INVALID_ARGUMENT',
      `Expected a path or a Uint8Array for source but received ${String(source)} of type ${typeof source}`,
    );
  }
  return convertSpec(readGraphDef(source), options);
}

/**
 * Converts a TF2 SavedModel folder to ONNX: picks the MetaGraph by `tags` (default ['serve']) and
 * the `signature` (default 'serving_default'), inlines its functions and freezes its variables.
 * ONNX inputs and outputs are named after the signature's keys.
 */
export function convertSavedModel(dir: string, options: SavedModelOptions = {}): ConversionResult {
  checkOptions(options);
  if (typeof dir !== 'string')
    throw new KilnError(
      'INVALID_ARGUMENT',
      `Expected a folder path for dir but received ${String(dir)} of type ${typeof dir}`,
    );
  return convertSpec(readSavedModel(dir, options), options);
}

/**
 * Converts a TF.js graph model (`model.json` plus its weight shards, quantized weights included)
 * to ONNX. Shards must lie in the folder of model.json.
 */
export function convertTfjs(modelJsonPath: string, options: ConvertOptions = {}): ConversionResult {
  checkOptions(options);
  if (typeof modelJsonPath !== 'string') {
    throw new KilnError(
      'INVALID_ARGUMENT',
      `Expected a path for modelJsonPath but received ${String(modelJsonPath)} of type ${typeof modelJsonPath}`,
    );
  }
  return convertSpec(readTfjs(modelJsonPath), options);
}

/** Writes a converted model to an .onnx file (external data for models over 2 GiB). */
export function writeOnnx(model: Model, path: string): void {
  saveModel(model, path);
}
