import { KilnError } from '@kiln/core';

/** One line per command, printed with every argument error. */
export const USAGE = `usage: kiln build (--onnx=FILE | --tfjs=model.json | --graphdef=FILE.pb --inputs=a --outputs=b | --saved-model=DIR) [--saveEngine=FILE] [--shapes=SPEC | (--minShapes=SPEC --optShapes=SPEC --maxShapes=SPEC)...] [--memPoolSize=MiB] [--fp16] [--int8] [--best] [--calib=CACHE] [--calibData=DIR|FILE.npy --calibNum=N --calibBatchSize=N --calibrator=minmax|entropy|percentile --calibColor= --calibFit= --calibMean= --calibStd= | --calibScale= --calibOffset=] [--layerPrecisions=layer:fp32|fp16|int8,...] [--precisionConstraints=none|prefer|obey] [--inputIOFormats=fp32|fp16|int8:chw|hwc,...] [--outputIOFormats=...] [--builderOptimizationLevel=0-5] [--timingCacheFile=FILE] [--tacticSources=+onednn,-kiln] [--threads=N] [--verbose]
       kiln run (--loadEngine=FILE | ...build flags) [--shapes=SPEC] [--profile=N] [--loadInputs=name:FILE[.npy],...] [--iterations=N] [--duration=S] [--warmUp=MS] [--streams=N] [--threads=N] [--noDataTransfers] [--exportOutput=FILE.json|.npy] [--exportProfile=FILE] [--dumpProfile] [--exportTimes=FILE] [--json=FILE]
       kiln convert (--saved-model=DIR | --input=FILE.pb | --tfjs=model.json) --output=FILE.onnx [--inputs=a,b] [--outputs=c] [--opset=N] [--inputs-as-nchw=a] [--outputs-as-nchw=c] [--shapes=SPEC]
       kiln onnx set-batch|nchw|fold|extract|inspect --model=FILE.onnx [--output=FILE.onnx] [--batch=N|NAME] [--inputs=a,b] [--outputs=c]
       kiln compare --onnx=FILE [--shapes=SPEC] [--atol=1e-5] [--rtol=1e-3]   (against onnxruntime-node)
       kiln inspect FILE.kiln|FILE.onnx
SPEC: name:1x3x224x224[,name2:...]  (trtexec syntax; repeat min/opt/max for more profiles)`;

/** A problem with the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Shapes by input name, from trtexec's `name:1x3x224x224,other:1x10`. */
export function parseShapes(flag: string, spec: string): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const part of spec.split(',')) {
    const colon = part.lastIndexOf(':');
    const name = part.slice(0, colon);
    const dims = part.slice(colon + 1);
    if (colon <= 0 || !/^\d+(x\d+)*$/.test(dims)) {
      throw new UsageError(`--${flag}: '${part}' is not name:DxDxD (e.g. input:1x3x224x224)`);
    }
    shapes.set(name, dims.split('x').map(Number));
  }
  return shapes;
}

/** A positive number flag, or undefined when absent. */
export function numberFlag(
  flag: string,
  value: string | undefined,
  integer = true,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(
      `--${flag}: expected a ${integer ? 'non-negative integer' : 'non-negative number'}, got '${value}'`,
    );
  }
  return n;
}

/** Wraps an unknown input name in the usage error users of trtexec expect. */
export function unknownInput(flag: string, name: string, inputs: string[]): UsageError {
  return new UsageError(
    `--${flag}: '${name}' is not an input of the model; its inputs are ${inputs.map((n) => `'${n}'`).join(', ')}`,
  );
}

/** True for errors that mean "the build or run failed" (exit code 1). */
export function isRunFailure(e: unknown): e is KilnError {
  return e instanceof KilnError;
}
