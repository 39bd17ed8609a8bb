import fs from 'node:fs';

import {
  type Model,
  extractSubgraph,
  foldConstants,
  inputsAsNchw,
  loadModel,
  outputsAsNchw,
  saveModel,
  setBatchSize,
} from '@kiln/onnx';

import { UsageError, numberFlag } from '../usage';
import { inspect } from './inspect';

/** The flags of `kiln onnx <action>`. */
export interface OnnxFlags {
  model?: string;
  output?: string;
  batch?: string;
  inputs?: string;
  outputs?: string;
}

const list = (v: string | undefined) => (v ? v.split(',').filter((s) => s.length > 0) : undefined);

/** ONNX rewrites: set-batch, nchw, fold, extract (each reads --model, writes --output); inspect. */
export function onnxTool(
  action: string | undefined,
  flags: OnnxFlags,
  log: (line: string) => void,
): void {
  const actions = ['set-batch', 'nchw', 'fold', 'extract', 'inspect'];
  if (!action || !actions.includes(action))
    throw new UsageError(`kiln onnx needs one of ${actions.join(', ')}`);
  if (!flags.model) throw new UsageError('give --model=FILE.onnx');
  if (!fs.existsSync(flags.model)) throw new UsageError(`--model: no such file '${flags.model}'`);
  if (action === 'inspect') return inspect(flags.model, log);
  if (!flags.output) throw new UsageError('give --output=FILE.onnx');
  const model = loadModel(flags.model);
  const before = model.graph.nodes.length; // the passes rewrite the model in place
  let result: Model;
  switch (action) {
    case 'set-batch': {
      if (!flags.batch)
        throw new UsageError('set-batch needs --batch=N (or --batch=NAME for a dynamic batch)');
      const batch = /^\d+$/.test(flags.batch)
        ? numberFlag('batch', flags.batch)!
        : { dynamic: flags.batch };
      result = setBatchSize(model, batch);
      break;
    }
    case 'nchw':
      result = inputsAsNchw(model, { names: list(flags.inputs) });
      if (flags.outputs) result = outputsAsNchw(result, { names: list(flags.outputs) });
      break;
    case 'fold':
      result = foldConstants(model);
      break;
    default: {
      const ins = list(flags.inputs);
      const outs = list(flags.outputs);
      if (!ins || !outs) throw new UsageError('extract needs --inputs=a,b and --outputs=c,d');
      result = extractSubgraph(model, ins, outs);
    }
  }
  saveModel(result, flags.output);
  log(
    `${action}: ${flags.model} (${before} nodes) -> ${flags.output} (${result.graph.nodes.length} nodes)`,
  );
}
