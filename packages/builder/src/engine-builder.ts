import { createHash } from 'node:crypto';
import fs from 'node:fs';

import { type DataType, invalidParameterError } from '@kiln/core';
import { type Model, loadModel, serializeModel } from '@kiln/onnx';

import { Builder } from './builder';
import type { BuilderFlag } from './config';
import { OnnxParser, type ParseOptions } from './onnx-parser';
import type { ShapeRange } from './profile';

/** Build settings of engineBuilderFor: plain data, so that they can be part of a cache key. */
export interface EngineBuilderOptions {
  /** Precision flags (BuilderConfig.setFlag). */
  flags?: BuilderFlag[];
  /** BuilderConfig.setMemoryPoolLimit, in bytes. */
  memoryPoolLimit?: number;
  /** BuilderConfig.builderOptimizationLevel (0..5). */
  builderOptimizationLevel?: number;
  /** OnnxParser options. */
  parse?: ParseOptions;
}

/**
 * What an EngineCache of @kiln/runtime needs to build engines of one model: spread it into the
 * cache's options (`new EngineCache({ ...engineBuilderFor('model.onnx'), maximumCachedEngines: 3 })`).
 */
export interface ModelEngineBuilder {
  /** sha256 of the model (external data included) and the options: cacheDir files are keyed by it. */
  key: string;
  /** The model's inputs; -1 marks a dim that varies between requests. */
  inputs: { name: string; dtype: DataType; shape: number[] }[];
  /** Parses the model and builds an engine whose profile is exactly the given input ranges. */
  build: (ranges: Record<string, ShapeRange>) => Promise<Uint8Array>;
}

/**
 * The default build function of EngineCache: parses `model` (a path, .onnx bytes or a
 * @kiln/onnx Model) once to learn its inputs and fail early on unsupported nodes, then builds
 * an engine per requested input ranges with the given settings.
 */
export function engineBuilderFor(
  model: string | Uint8Array | Model,
  options: EngineBuilderOptions = {},
): ModelEngineBuilder {
  if (options === null || typeof options !== 'object')
    throw invalidParameterError('options', 'an EngineBuilderOptions object', options);
  const source =
    typeof model === 'string' || model instanceof Uint8Array ? model : serializeModel(model);
  const probe = new Builder().createNetwork();
  new OnnxParser(probe).parse(source, options.parse);
  // Validate the settings once, the way every build will apply them.
  configure(new Builder(), options);
  const inputs = probe.inputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape] }));
  return {
    key: modelDigest(source, options),
    inputs,
    build: async (ranges) => {
      const builder = new Builder();
      const network = builder.createNetwork();
      new OnnxParser(network).parse(source, options.parse);
      const config = configure(builder, options);
      const profile = builder.createOptimizationProfile();
      for (const [name, range] of Object.entries(ranges)) profile.setDimensions(name, range);
      if (network.inputs.some((t) => t.shape.some((d) => d < 0)))
        config.addOptimizationProfile(profile);
      return builder.buildSerializedNetwork(network, config);
    },
  };
}

function configure(builder: Builder, options: EngineBuilderOptions) {
  const config = builder.createBuilderConfig();
  for (const flag of options.flags ?? []) config.setFlag(flag);
  if (options.memoryPoolLimit !== undefined) config.setMemoryPoolLimit(options.memoryPoolLimit);
  if (options.builderOptimizationLevel !== undefined)
    config.builderOptimizationLevel = options.builderOptimizationLevel;
  config.validate();
  return config;
}

// The model bytes, every external data file they name, and the settings in a fixed key order.
function modelDigest(source: string | Uint8Array, options: EngineBuilderOptions): string {
  const hash = createHash('sha256');
  if (typeof source === 'string') {
    hash.update(fs.readFileSync(source));
    const external = new Set<string>();
    for (const init of loadModel(source).graph.initializers.values())
      if (init.externalPath) external.add(init.externalPath);
    for (const file of [...external].sort()) hash.update(fs.readFileSync(file));
  } else {
    hash.update(source);
  }
  const settings = {
    flags: [...new Set(options.flags ?? [])].sort(),
    memoryPoolLimit: options.memoryPoolLimit ?? null,
    builderOptimizationLevel: options.builderOptimizationLevel ?? null,
    foldConstants: options.parse?.foldConstants ?? true,
  };
  hash.update(JSON.stringify(settings));
  return hash.digest('hex');
}
