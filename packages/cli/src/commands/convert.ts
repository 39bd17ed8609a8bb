import fs from 'node:fs';

import { convertGraphDef, convertSavedModel, convertTfjs, writeOnnx } from '@kiln/tf2onnx';

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

/** Converts a TensorFlow model to ONNX, like `python -m tf2onnx.convert`. */
export function convert(flags: ConvertFlags, log: (line: string) => void): void {
  const sources = (['saved-model', 'input', 'graphdef', 'tfjs'] as const).filter(
    (k) => flags[k] !== undefined,
  );
  if (sources.length !== 1)
    throw new UsageError('give exactly one of --saved-model, --input/--graphdef, --tfjs');
  if (!flags.output) throw new UsageError('give --output=FILE.onnx');
  const source = flags[sources[0]!]!;
  if (!fs.existsSync(source))
    throw new UsageError(`--${sources[0]}: no such file or folder '${source}'`);
  const options = {
    opset: numberFlag('opset', flags.opset),
    inputs: list(flags.inputs),
    outputs: list(flags.outputs),
    inputsAsNchw: list(flags['inputs-as-nchw']),
    outputsAsNchw: list(flags['outputs-as-nchw']),
    // Fixed input shapes (kiln's spec syntax), for signatures that leave them open.
    inputShapes: flags.shapes ? Object.fromEntries(parseShapes('shapes', flags.shapes)) : undefined,
  };
  const started = performance.now();
  const { model, report } =
    sources[0] === 'saved-model'
      ? convertSavedModel(source, {
          ...options,
          tags: list(flags.tag),
          signature: flags.signature_def,
        })
      : sources[0] === 'tfjs'
        ? convertTfjs(source, options)
        : convertGraphDef(source, options);
  writeOnnx(model, flags.output);
  for (const w of report.warnings) log(`warning: ${w}`);
  log(
    `Converted ${source} -> ${flags.output}: ${report.nodesAfter} ONNX nodes, opset ${model.opset('')}, in ${((performance.now() - started) / 1000).toFixed(2)} s`,
  );
}
