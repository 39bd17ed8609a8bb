// Tactic sources: with oneDNN built into the addon, its conv (conv.onednn) is a timed candidate
// beside kiln's own, and an engine running it agrees with onnxruntime-node on mobilenet_v2
// (depthwise, 1x1, fused ReLU6 and residual adds) and resnet50's stem (7x7 stride 2). Without
// oneDNN the oneDNN cases are skipped with a message; the option's validation runs either way.
import { type Logger, type Severity, Tensor, features } from '@kiln/core';
import { missingReason, sharedModel } from '@kiln/test-data';
import { describe, expect, it } from 'vitest';

import { Builder } from './builder';
import { DEFAULT_TACTIC_SOURCES } from './config';
import { buildEngine, maxError, ortRun, parseOnnx, sweep } from './test-support/run';

const hasOnednn = features().tacticSources.includes('onednn');
if (!hasOnednn)
  console.warn(
    '[skip] conv.onednn: this addon was built without oneDNN (apt-get install libdnnl-dev, then pnpm build)',
  );

class Recorder implements Logger {
  lines: string[] = [];
  log(_severity: Severity, message: string): void {
    this.lines.push(message);
  }
}

const model = sharedModel('mobilenet_v2.onnx');
const missing = missingReason(model);
if (missing) console.warn(`[skip] mobilenet_v2.onnx: ${missing}`);

async function buildAndCompare(sources: ('kiln' | 'onednn')[] | undefined, level: number) {
  const logger = new Recorder();
  const builder = new Builder(logger);
  const config = builder.createBuilderConfig();
  config.builderOptimizationLevel = level;
  config.tacticSources = sources;
  const network = parseOnnx(model);
  const name = network.inputs[0]!.name;
  if (network.inputs[0]!.shape[0] === -1)
    config.addOptimizationProfile(
      builder.createOptimizationProfile().setDimensions(name, {
        min: [1, 3, 224, 224],
        opt: [1, 3, 224, 224],
        max: [2, 3, 224, 224],
      }),
    );
  const { engine } = await buildEngine(network, config, undefined, builder);
  const x = new Tensor('float32', [1, 3, 224, 224], sweep(3 * 224 * 224, 2, 1));
  const ours = await engine.createExecutionContext().infer({ [name]: x });
  const ref = await ortRun(model, { [name]: x });
  for (const out of engine.outputNames) {
    const { err, ref: magnitude } = maxError(ours[out]!.data as Float32Array, ref[out]!.data);
    expect(err, `${out}: max abs error ${err} vs max|ref| ${magnitude}`).toBeLessThanOrEqual(
      1e-3 * magnitude,
    );
  }
  return { engine, log: logger.lines };
}

describe('tactic sources', () => {
  it('reports the sources this addon has and validates BuilderConfig.tacticSources', () => {
    expect(features().tacticSources[0]).toBe('kiln');
    const config = new Builder().createBuilderConfig();
    for (const bad of [[], ['cudnn'], 'kiln', [3]]) {
      config.tacticSources = bad as never;
      expect(() => config.validate()).toThrow(/tacticSources/);
    }
    config.tacticSources = ['kiln'];
    expect(() => config.validate()).not.toThrow();
    config.tacticSources = ['onednn'];
    if (hasOnednn) expect(() => config.validate()).not.toThrow();
    else expect(() => config.validate()).toThrow(/'kiln'\)/);
  });

  it.skipIf(!hasOnednn || missing !== undefined)(
    "['onednn'] runs every convolution oneDNN can take on it; the engine agrees with onnxruntime-node",
    async () => {
      const { engine, log } = await buildAndCompare(['onednn'], 1);
      const convs = engine.layers().filter((l) => l.op === 'Conv');
      expect(convs.length).toBeGreaterThan(40);
      for (const l of convs) {
        expect(l.tactic, l.name).toBe('conv.onednn');
        expect(l.tacticSource, l.name).toBe('onednn');
      }
      expect(
        log.filter((l) => / runs conv\.onednn from onednn \(the only candidate\)$/.test(l)),
      ).toHaveLength(convs.length);
      expect(log.some((l) => new RegExp(`tactic sources: onednn ${convs.length}`).test(l))).toBe(
        true,
      );
    },
    300_000,
  );

  it.skipIf(!hasOnednn || missing !== undefined)(
    "['kiln', 'onednn'] times conv.onednn beside the own kernels and keeps the timed choice",
    async () => {
      const { engine, log } = await buildAndCompare(['kiln', 'onednn'], 1);
      // Layers with the signature of one timed before take its result (the in-build cache).
      const timed = log.filter((l) => /^tactic: layer .* \(Conv\) runs .* \(timed: /.test(l));
      const reused = log.filter((l) => /\(Conv\) runs .* \(from the timing cache\)$/.test(l));
      expect(timed.length).toBeGreaterThan(10);
      expect(timed.length + reused.length).toBeGreaterThan(40);
      for (const line of timed) {
        expect(line).toMatch(/conv\.onednn [\d.]+ ms/);
        expect(line).toMatch(/conv\.gemm [\d.]+ ms/);
        // The fastest candidate is the one that runs (the log rounds to microseconds, so a tie
        // there may go either way), and its source is named.
        const ms = new Map(
          [...line.matchAll(/(conv\.\w+) ([\d.]+) ms/g)].map((m) => [m[1]!, Number(m[2])]),
        );
        const [, chosen, source] = / runs (conv\.\w+) from (\w+) \(/.exec(line)!;
        expect(ms.get(chosen!), line).toBe(Math.min(...ms.values()));
        expect(source, line).toBe(chosen === 'conv.onednn' ? 'onednn' : 'kiln');
      }
      const layers = engine.layers().filter((l) => l.op === 'Conv');
      expect(
        layers.every((l) => (l.tacticSource === 'onednn') === (l.tactic === 'conv.onednn')),
      ).toBe(true);
    },
    300_000,
  );

  it.skipIf(missing !== undefined)(
    "by default (DEFAULT_TACTIC_SOURCES, ['kiln']) every convolution runs kiln's own kernels",
    async () => {
      expect(DEFAULT_TACTIC_SOURCES).toEqual(['kiln']);
      const { engine, log } = await buildAndCompare(undefined, 1);
      expect(log.some((l) => /conv\.onednn/.test(l))).toBe(false);
      const convs = engine.layers().filter((l) => l.op === 'Conv');
      expect(convs.every((l) => l.tacticSource === 'kiln' && l.tactic !== 'conv.onednn')).toBe(
        true,
      );
    },
    300_000,
  );
});
