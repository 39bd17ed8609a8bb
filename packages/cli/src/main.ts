// The `kiln` command: build (trtexec), run/bench with a performance summary, inspect.
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

import { KilnError } from '@kiln/core';

import { buildFromFlags } from './commands/build';
import { compare } from './commands/compare';
import { convert } from './commands/convert';
import { onnxTool } from './commands/onnx-tools';
import { inspect } from './commands/inspect';
import { run } from './commands/run';
import { USAGE, UsageError } from './usage';

const text = { type: 'string' } as const;
const texts = { type: 'string', multiple: true } as const;
const flag = { type: 'boolean' } as const;
const buildOptions = {
  onnx: text,
  tfjs: text,
  graphdef: text,
  'saved-model': text,
  inputs: text,
  outputs: text,
  saveEngine: text,
  shapes: text,
  minShapes: texts,
  optShapes: texts,
  maxShapes: texts,
  memPoolSize: text,
  workspace: text,
  fp16: flag,
  int8: flag,
  best: flag,
  builderOptimizationLevel: text,
  timingCacheFile: text,
  tacticSources: text,
  threads: text,
  layerPrecisions: text,
  precisionConstraints: text,
  inputIOFormats: text,
  outputIOFormats: text,
  calib: text,
  calibData: text,
  calibNum: text,
  calibBatchSize: text,
  calibrator: text,
  calibPercentile: text,
  calibColor: text,
  calibFit: text,
  calibMean: text,
  calibStd: text,
  calibScale: text,
  calibOffset: text,
  verbose: flag,
  explicitBatch: flag,
};
const runOptions = {
  ...buildOptions,
  loadEngine: text,
  iterations: text,
  duration: text,
  warmUp: text,
  noDataTransfers: flag,
  exportTimes: text,
  json: text,
  streams: text,
  profile: text,
  loadInputs: text,
  exportOutput: text,
  exportProfile: text,
  dumpProfile: flag,
};

const convertOptions = {
  'saved-model': text,
  input: text,
  graphdef: text,
  tfjs: text,
  output: text,
  inputs: text,
  outputs: text,
  opset: text,
  'inputs-as-nchw': text,
  'outputs-as-nchw': text,
  tag: text,
  signature_def: text,
  shapes: text,
};
const onnxOptions = { model: text, output: text, batch: text, inputs: text, outputs: text };

/** Runs the CLI on `argv` (without node and the script); resolves to the exit code. */
export async function main(
  argv: string[],
  out = (l: string) => console.log(l),
  err = (l: string) => console.error(l),
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'build': {
        const { values } = parseArgs({ args: rest, options: buildOptions, strict: true });
        await buildFromFlags(values, out);
        return 0;
      }
      case 'run':
      case 'bench': {
        const { values } = parseArgs({ args: rest, options: runOptions, strict: true });
        await run(values, out);
        return 0;
      }
      case 'compare': {
        const { values } = parseArgs({
          args: rest,
          options: { ...buildOptions, atol: text, rtol: text },
          strict: true,
        });
        return (await compare(values, out)) ? 0 : 1;
      }
      case 'convert': {
        const { values } = parseArgs({ args: rest, options: convertOptions, strict: true });
        convert(values, out);
        return 0;
      }
      case 'onnx': {
        const { values, positionals } = parseArgs({
          args: rest,
          options: onnxOptions,
          strict: true,
          allowPositionals: true,
        });
        onnxTool(positionals[0], values, out);
        return 0;
      }
      case 'inspect': {
        const { positionals } = parseArgs({
          args: rest,
          options: {},
          strict: true,
          allowPositionals: true,
        });
        inspect(positionals[0], out);
        return 0;
      }
      case '--version':
      case '-v':
        out(version());
        return 0;
      case undefined:
      case '--help':
      case '-h':
        out(USAGE);
        return 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    if (e instanceof UsageError || code.startsWith('ERR_PARSE_ARGS')) {
      err(`kiln: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
    if (e instanceof KilnError) {
      err(`kiln: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

function version(): string {
  // package.json sits one folder above both src/ and dist/.
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
}
