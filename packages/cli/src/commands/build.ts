import fs from 'node:fs';

import { Builder, OnnxParser } from '@kiln/builder';
import { ConsoleLogger, setLogger } from '@kiln/core';

import { UsageError, numberFlag, parseShapes, unknownInput } from '../usage';

/** The flags `kiln build` (and `kiln run` without --loadEngine) take. */
export interface BuildFlags {
  onnx?: string;
  saveEngine?: string;
  shapes?: string;
  minShapes?: string;
  optShapes?: string;
  maxShapes?: string;
  memPoolSize?: string;
  workspace?: string;
  fp16?: boolean;
  int8?: boolean;
  best?: boolean;
  builderOptimizationLevel?: string;
  timingCacheFile?: string;
  verbose?: boolean;
  explicitBatch?: boolean;
}

/** Builds plan bytes from --onnx with trtexec's shape and memory flags; logs what it does. */
export async function buildFromFlags(
  flags: BuildFlags,
  log: (line: string) => void,
): Promise<Uint8Array> {
  if (!flags.onnx) throw new UsageError('give a model: --onnx=FILE');
  if (!fs.existsSync(flags.onnx)) throw new UsageError(`--onnx: no such file '${flags.onnx}'`);
  if (flags.verbose) setLogger(new ConsoleLogger('info'));
  const builder = new Builder();
  const network = builder.createNetwork();
  new OnnxParser(network).parse(flags.onnx);
  const inputs = network.inputs.map((t) => t.name);
  const config = builder.createBuilderConfig();
  if (flags.fp16 || flags.best) config.setFlag('fp16');
  if (flags.int8 || flags.best) config.setFlag('int8');
  const level = numberFlag('builderOptimizationLevel', flags.builderOptimizationLevel);
  if (level !== undefined) config.builderOptimizationLevel = level;
  if (flags.timingCacheFile) config.timingCachePath = flags.timingCacheFile;
  const mib =
    numberFlag('memPoolSize', flags.memPoolSize, false) ??
    numberFlag('workspace', flags.workspace, false);
  if (mib !== undefined) config.setMemoryPoolLimit(Math.floor(mib * 2 ** 20));

  const fixed = flags.shapes ? parseShapes('shapes', flags.shapes) : undefined;
  const ranges = ['minShapes', 'optShapes', 'maxShapes'] as const;
  const given = ranges.filter((f) => flags[f] !== undefined);
  if (fixed && given.length > 0)
    throw new UsageError('give either --shapes or --minShapes/--optShapes/--maxShapes, not both');
  if (given.length > 0 && given.length < 3)
    throw new UsageError('--minShapes, --optShapes and --maxShapes go together');
  const [min, opt, max] =
    given.length === 3 ? ranges.map((f) => parseShapes(f, flags[f]!)) : [fixed, fixed, fixed];
  if (min && opt && max) {
    const profile = builder.createOptimizationProfile();
    for (const [flag, map] of [
      ['shapes', min],
      ['optShapes', opt],
      ['maxShapes', max],
    ] as const) {
      for (const name of map.keys())
        if (!inputs.includes(name)) throw unknownInput(flag, name, inputs);
    }
    for (const name of min.keys()) {
      if (!opt.has(name) || !max.has(name))
        throw new UsageError(`'${name}' needs min, opt and max shapes`);
      profile.setDimensions(name, {
        min: min.get(name)!,
        opt: opt.get(name)!,
        max: max.get(name)!,
      });
    }
    config.addOptimizationProfile(profile);
  }
  const started = performance.now();
  const plan = await builder.buildSerializedNetwork(network, config, {
    onProgress: (p) =>
      process.stderr.isTTY &&
      process.stderr.write(`\r[kiln] building: ${p.stage} ${p.done}/${p.total}   `),
  });
  if (process.stderr.isTTY) process.stderr.write('\r');
  log(
    `Built ${flags.onnx}: ${network.layers.length} layers, ${(plan.byteLength / 2 ** 20).toFixed(2)} MiB, in ${((performance.now() - started) / 1000).toFixed(2)} s`,
  );
  if (flags.saveEngine) {
    fs.writeFileSync(flags.saveEngine, plan);
    log(`Engine saved to ${flags.saveEngine}`);
  }
  return plan;
}
