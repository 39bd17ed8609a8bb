import fs from 'node:fs';

import {
  Builder,
  DEFAULT_TACTIC_SOURCES,
  type IOFormat,
  type NetworkDefinition,
  type NetworkTensor,
  OnnxParser,
  type PrecisionConstraints,
} from '@kiln/builder';
import { ConsoleLogger, type TacticSource, features, setLogger } from '@kiln/core';
import type { Model } from '@kiln/onnx';

import { UsageError, numberFlag, parseShapes, unknownInput } from '../usage';
import { progressReporter } from '../progress';
import { type CalibrationFlags, calibratorFromFlags } from './calibration';
import { applyThreads } from './threads';
import { TF_SOURCES, convertFromFlags } from './convert';

/** The flags `kiln build` (and `kiln run` without --loadEngine) take. */
export interface BuildFlags extends CalibrationFlags {
  onnx?: string;
  tfjs?: string;
  graphdef?: string;
  'saved-model'?: string;
  inputs?: string;
  outputs?: string;
  saveEngine?: string;
  shapes?: string;
  /** One entry per optimization profile (the flag repeated), as trtexec takes them. */
  minShapes?: string[];
  optShapes?: string[];
  maxShapes?: string[];
  memPoolSize?: string;
  workspace?: string;
  fp16?: boolean;
  int8?: boolean;
  best?: boolean;
  builderOptimizationLevel?: string;
  timingCacheFile?: string;
  /** trtexec's syntax: `+name` / `-name` (comma separated) added to or taken from the defaults. */
  tacticSources?: string;
  threads?: string;
  /** Per-layer precision constraints: `layerName:fp32|fp16|int8`, `*` for every layer. */
  layerPrecisions?: string;
  /** How layer precisions bind: none | prefer | obey. */
  precisionConstraints?: string;
  /** `type:layout` per input (or one for all): fp32|fp16|int8 : chw|hwc. */
  inputIOFormats?: string;
  /** The same for outputs. */
  outputIOFormats?: string;
  verbose?: boolean;
  explicitBatch?: boolean;
}

/** Builds plan bytes from a model flag with trtexec's shape and memory flags; logs what it does. */
export async function buildFromFlags(
  flags: BuildFlags,
  log: (line: string) => void,
): Promise<Uint8Array> {
  const sourceFlags = (['onnx', ...TF_SOURCES] as const).filter(
    (k) => k !== 'input' && flags[k as keyof BuildFlags] !== undefined,
  );
  if (sourceFlags.length !== 1)
    throw new UsageError(
      'give one model: --onnx=FILE, --tfjs=model.json, --graphdef=FILE.pb or --saved-model=DIR',
    );
  applyThreads(flags.threads);
  if (flags.verbose) setLogger(new ConsoleLogger('info'));
  let model: Model | string;
  let label: string;
  if (flags.onnx) {
    if (!fs.existsSync(flags.onnx)) throw new UsageError(`--onnx: no such file '${flags.onnx}'`);
    [model, label] = [flags.onnx, flags.onnx];
  } else {
    const converted = convertFromFlags(flags);
    for (const w of converted.report.warnings) log(`warning: ${w}`);
    log(`Converted ${converted.source} to ONNX: ${converted.report.nodesAfter} nodes`);
    [model, label] = [converted.model, converted.source];
  }
  const builder = new Builder();
  const network = builder.createNetwork();
  new OnnxParser(network).parse(model);
  const inputs = network.inputs.map((t) => t.name);
  const config = builder.createBuilderConfig();
  if (flags.fp16 || flags.best) config.setFlag('fp16');
  if (flags.int8 || flags.best) config.setFlag('int8');
  const level = numberFlag('builderOptimizationLevel', flags.builderOptimizationLevel);
  if (level !== undefined && level > 5)
    throw new UsageError(`--builderOptimizationLevel: expected 0 to 5, got '${level}'`);
  if (level !== undefined) config.builderOptimizationLevel = level;
  if (flags.timingCacheFile) config.timingCachePath = flags.timingCacheFile;
  if (flags.tacticSources !== undefined)
    config.tacticSources = parseTacticSources(flags.tacticSources);
  if (flags.precisionConstraints !== undefined) {
    if (!['none', 'prefer', 'obey'].includes(flags.precisionConstraints))
      throw new UsageError(
        `--precisionConstraints: expected none, prefer or obey, got '${flags.precisionConstraints}'`,
      );
    config.precisionConstraints = flags.precisionConstraints as PrecisionConstraints;
  }
  applyIOFormats(network, 'input', flags.inputIOFormats);
  applyIOFormats(network, 'output', flags.outputIOFormats);
  const mib =
    numberFlag('memPoolSize', flags.memPoolSize, false) ??
    numberFlag('workspace', flags.workspace, false);
  if (mib !== undefined) config.setMemoryPoolLimit(Math.floor(mib * 2 ** 20));
  for (const ranges of profileSpecs(flags)) {
    const profile = builder.createOptimizationProfile();
    for (const [flag, map] of Object.entries(ranges))
      for (const name of map.keys())
        if (!inputs.includes(name))
          throw unknownInput(flags.shapes ? 'shapes' : flag, name, inputs);
    for (const name of ranges.minShapes.keys()) {
      if (!ranges.optShapes.has(name) || !ranges.maxShapes.has(name))
        throw new UsageError(`'${name}' needs min, opt and max shapes`);
      profile.setDimensions(name, {
        min: ranges.minShapes.get(name)!,
        opt: ranges.optShapes.get(name)!,
        max: ranges.maxShapes.get(name)!,
      });
    }
    config.addOptimizationProfile(profile);
  }
  const started = performance.now();
  applyLayerPrecisions(network, flags.layerPrecisions);
  const first = network.inputs[0]!;
  // Calibration runs the float32 network, channels at dim 1, whatever the input's IO format.
  const opt = config.profiles[0]?.getDimensions(first.name)?.opt;
  const calibrator = calibratorFromFlags(flags, {
    name: first.name,
    shape:
      opt && first.ioFormat?.layout === 'hwc'
        ? [opt[0]!, opt.at(-1)!, ...opt.slice(1, -1)]
        : (opt ?? first.shape),
  });
  if (calibrator && network.inputs.length > 1)
    throw new UsageError(
      `--calibData feeds one input; this network has ${network.inputs.length} (calibrate it with the @kiln/calibrator API)`,
    );
  if (calibrator) config.int8Calibrator = calibrator;
  const progress = progressReporter();
  const plan = await builder
    .buildSerializedNetwork(network, config, { onProgress: (p) => progress.report(p) })
    .finally(() => progress.end());
  log(
    `Built ${label}: ${network.layers.length} layers, ${(plan.byteLength / 2 ** 20).toFixed(2)} MiB, in ${((performance.now() - started) / 1000).toFixed(2)} s`,
  );
  if (flags.saveEngine) {
    fs.writeFileSync(flags.saveEngine, plan);
    log(`Engine saved to ${flags.saveEngine}`);
  }
  return plan;
}

type ProfileSpec = Record<'minShapes' | 'optShapes' | 'maxShapes', Map<string, number[]>>;

// --shapes gives one static profile; otherwise the i-th --minShapes/--optShapes/--maxShapes
// together make profile i (trtexec's way of giving several profiles).
function profileSpecs(flags: BuildFlags): ProfileSpec[] {
  const counts = (['minShapes', 'optShapes', 'maxShapes'] as const).map(
    (f) => flags[f]?.length ?? 0,
  );
  if (flags.shapes && counts.some((c) => c > 0))
    throw new UsageError('give either --shapes or --minShapes/--optShapes/--maxShapes, not both');
  if (flags.shapes) {
    const fixed = parseShapes('shapes', flags.shapes);
    return [{ minShapes: fixed, optShapes: fixed, maxShapes: fixed }];
  }
  if (counts[0] !== counts[1] || counts[1] !== counts[2])
    throw new UsageError(
      `--minShapes, --optShapes and --maxShapes go together, once per profile (got ${counts.join(', ')})`,
    );
  return Array.from({ length: counts[0]! }, (_, i) => ({
    minShapes: parseShapes('minShapes', flags.minShapes![i]!),
    optShapes: parseShapes('optShapes', flags.optShapes![i]!),
    maxShapes: parseShapes('maxShapes', flags.maxShapes![i]!),
  }));
}

const IO_TYPES: Record<string, IOFormat['dtype']> = {
  fp32: 'float32',
  fp16: 'float16',
  int8: 'int8',
};

// trtexec's --inputIOFormats=fp16:chw,int8:hwc: one type:layout per tensor in order, or one for
// all of them. Only float32 tensors have formats (an int64 input keeps its type).
function applyIOFormats(
  network: NetworkDefinition,
  role: 'input' | 'output',
  spec: string | undefined,
): void {
  if (spec === undefined) return;
  const flag = `--${role}IOFormats`;
  const tensors: NetworkTensor[] = role === 'input' ? network.inputs : network.outputs;
  const formats = spec.split(',').map((part) => {
    const [type, layout, extra] = part.split(':');
    const dtype = IO_TYPES[type ?? ''];
    if (!dtype || (layout !== 'chw' && layout !== 'hwc') || extra !== undefined)
      throw new UsageError(
        `${flag}: '${part}' is not type:layout with type fp32|fp16|int8 and layout chw|hwc`,
      );
    return { dtype, layout } satisfies IOFormat;
  });
  if (formats.length !== 1 && formats.length !== tensors.length)
    throw new UsageError(
      `${flag}: give one format for all ${role}s or one per ${role} (${tensors.length}: ${tensors.map((t) => `'${t.name}'`).join(', ')}), got ${formats.length}`,
    );
  tensors.forEach((t, i) => {
    const format = formats[formats.length === 1 ? 0 : i]!;
    if (t.dtype !== 'float32') {
      if (formats.length === 1) return;
      throw new UsageError(`${flag}: '${t.name}' is ${t.dtype}; formats apply to float32 tensors`);
    }
    network.setIOFormat(t, format);
  });
}

// trtexec's --layerPrecisions=name:fp16,other:fp32 (and `*:fp32`), set before the passes run so
// that fused layers keep the constraint.
function applyLayerPrecisions(network: NetworkDefinition, spec: string | undefined): void {
  if (spec === undefined) return;
  for (const part of spec.split(',')) {
    const colon = part.lastIndexOf(':');
    const [name, precision] = [part.slice(0, colon), part.slice(colon + 1)];
    if (colon <= 0 || !['fp32', 'fp16', 'int8'].includes(precision))
      throw new UsageError(`--layerPrecisions: '${part}' is not layerName:fp32|fp16|int8`);
    const layers = name === '*' ? network.layers : network.layers.filter((l) => l.name === name);
    if (layers.length === 0)
      throw new UsageError(
        `--layerPrecisions: the network has no layer '${name}' (kiln inspect lists them)`,
      );
    for (const layer of layers) layer.precision = precision as 'fp32' | 'fp16' | 'int8';
  }
}

/**
 * `--tacticSources=+onednn,-kiln` (trtexec's form, names case-insensitive): each `+name` adds a
 * source to DEFAULT_TACTIC_SOURCES, each `-name` takes one away, in order.
 */
export function parseTacticSources(spec: string): TacticSource[] {
  const built: readonly string[] = features().tacticSources;
  const sources = new Set<string>(DEFAULT_TACTIC_SOURCES);
  for (const item of spec.split(',')) {
    const m = /^([+-])(\w+)$/.exec(item.trim());
    const name = m?.[2]!.toLowerCase();
    if (!m || !built.includes(name!))
      throw new UsageError(
        `--tacticSources: expected +name or -name, comma separated, with a source this addon has (${built.join(', ')}); got '${item}'`,
      );
    if (m[1] === '+') sources.add(name!);
    else sources.delete(name!);
  }
  if (sources.size === 0)
    throw new UsageError(`--tacticSources: '${spec}' leaves no tactic source`);
  return [...sources] as TacticSource[];
}
