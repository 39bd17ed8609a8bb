import fs from 'node:fs';

import {
  type ConversionResult,
  convertGraphDef,
  convertSavedModel,
  convertTfjs,
  writeOnnx,
} from '@kiln/tf2onnx';

import { UsageError, numberFlag, parseShapes } from '../usage';

/** The flags of `kiln convert` (tf2onnx's names). */
export interface ConvertFlags {
  'saved-model'?: string;
  input?: string;
  graphdef?: string;
  tfjs?: string;
  output?: string;
  inputs?: string;
  outputs?: string;
  opset?: string;
  'inputs-as-nchw'?: string;
  'outputs-as-nchw'?: string;
  tag?: string;
  signature_def?: string;
  shapes?: string;
}

const list = (v: string | undefined) => (v ? v.split(',').filter((s) => s.length > 0) : undefined);

/** The TensorFlow model a command names: exactly one of these flags. */
export const TF_SOURCES = ['saved-model', 'input', 'graphdef', 'tfjs'] as const;

/** Converts the TensorFlow model named by one of TF_SOURCES; validates the flags first. */
export function convertFromFlags(flags: ConvertFlags): ConversionResult & { source: string } {
  const sources = TF_SOURCES.filter((k) => flags[k] !== undefined);
  if (sources.length !== 1)
    throw new UsageError('give exactly one of --saved-model, --input/--graphdef, --tfjs');
  const kind = sources[0]!;
  const source = flags[kind]!;
  if (!fs.existsSync(source)) throw new UsageError(`--${kind}: no such file or folder '${source}'`);
  const options = {
    opset: numberFlag('opset', flags.opset),
    inputs: list(flags.inputs),
    outputs: list(flags.outputs),
    inputsAsNchw: list(flags['inputs-as-nchw']),
    outputsAsNchw: list(flags['outputs-as-nchw']),
    // Fixed input shapes (kiln's spec syntax), for signatures that leave them open.
    inputShapes: flags.shapes ? Object.fromEntries(parseShapes('shapes', flags.shapes)) : undefined,
  };
  const result =
    kind === 'saved-model'
      ? convertSavedModel(source, {
          ...options,
          tags: list(flags.tag),
          signature: flags.signature_def,
        })
      : kind === 'tfjs'
        ? convertTfjs(source, options)
        : convertGraphDef(source, options);
  return { ...result, source };
}

/** Converts a TensorFlow model to ONNX, like `python -m tf2onnx.convert`. */
export function convert(flags: ConvertFlags, log: (line: string) => void): void {
  if (!flags.output) throw new UsageError('give --output=FILE.onnx');
  const started = performance.now();
  const { model, report, source } = convertFromFlags(flags);
  writeOnnx(model, flags.output);
  for (const w of report.warnings) log(`warning: ${w}`);
  log(
    `Converted ${source} -> ${flags.output}: ${report.nodesAfter} ONNX nodes, opset ${model.opset('')}, in ${((performance.now() - started) / 1000).toFixed(2)} s`,
  );
}
