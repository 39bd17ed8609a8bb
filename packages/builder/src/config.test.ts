import { Tensor } from '@kiln/core';
import { describe, expect, it } from 'vitest';

import { Builder, DEFAULT_PASSES } from './builder';
import { NetworkDefinition } from './network';
import { OptimizationProfile } from './profile';
import { buildEngine, sweep } from './test-support/run';

function dynamicNet(): NetworkDefinition {
  const net = new NetworkDefinition();
  const x = net.addInput('x', 'float32', [-1, 4]);
  net.markOutput(net.addActivation(x, 'relu').output);
  return net;
}

describe('OptimizationProfile', () => {
  it('requires min <= opt <= max and equal ranks', () => {
    const p = new OptimizationProfile();
    expect(() => p.setDimensions('x', { min: [2, 4], opt: [1, 4], max: [8, 4] })).toThrow(
      /dim 0 needs min <= opt <= max but has 2, 1, 8/,
    );
    expect(() => p.setDimensions('x', { min: [1], opt: [1, 4], max: [8, 4] })).toThrow(
      /different ranks/,
    );
    expect(() => p.setDimensions('x', { min: [1, -4], opt: [1, 4], max: [8, 4] })).toThrow(
      /non-negative integers/,
    );
    p.setDimensions('x', { min: [1, 4], opt: [2, 4], max: [8, 4] });
    expect(p.getDimensions('x')).toEqual({ min: [1, 4], opt: [2, 4], max: [8, 4] });
  });
});

describe('BuilderConfig and profiles at build time', () => {
  const builder = new Builder();
  it('needs a profile for dynamic inputs, covering each one', async () => {
    await expect(buildEngine(dynamicNet())).rejects.toThrow(
      /'x' \[-1,4\] have dynamic dims: add an optimization profile/,
    );
    const config = builder.createBuilderConfig();
    config.addOptimizationProfile(
      builder
        .createOptimizationProfile()
        .setDimensions('y', { min: [1, 4], opt: [1, 4], max: [1, 4] }),
    );
    await expect(buildEngine(dynamicNet(), config)).rejects.toThrow(
      /names 'y', which is not an input/,
    );
  });

  it('checks ranks and fixed dims against the input', async () => {
    const config = builder.createBuilderConfig();
    config.addOptimizationProfile(
      builder
        .createOptimizationProfile()
        .setDimensions('x', { min: [1, 3], opt: [1, 3], max: [2, 3] }),
    );
    await expect(buildEngine(dynamicNet(), config)).rejects.toThrow(
      /dim 1 of 'x' is fixed at 4 but the range is \[3, 3\]/,
    );
    const rank = builder.createBuilderConfig();
    rank.addOptimizationProfile(
      builder.createOptimizationProfile().setDimensions('x', { min: [1], opt: [1], max: [2] }),
    );
    await expect(buildEngine(dynamicNet(), rank)).rejects.toThrow(
      /has rank 2 but its range has rank 1/,
    );
  });

  it('maxBatchSize makes a 1..max profile over the leading dim, for implicit-batch code', async () => {
    const config = builder.createBuilderConfig();
    config.maxBatchSize = 8;
    const { engine } = await buildEngine(dynamicNet(), config);
    expect(engine.profiles[0]).toEqual([{ name: 'x', min: [1, 4], opt: [8, 4], max: [8, 4] }]);
    const ctx = engine.createExecutionContext();
    const out = await ctx.infer({ x: new Tensor('float32', [5, 4], sweep(20)) });
    expect(out[engine.outputNames[0]!]!.shape).toEqual([5, 4]);
    await expect(ctx.infer({ x: new Tensor('float32', [9, 4], sweep(36)) })).rejects.toThrow(
      "input 'x' dim 0 = 9 is outside profile 0's range [1, 8]",
    );
  });

  it('several profiles, chosen per context', async () => {
    const config = builder.createBuilderConfig();
    config.addOptimizationProfile(
      builder
        .createOptimizationProfile()
        .setDimensions('x', { min: [1, 4], opt: [2, 4], max: [4, 4] }),
    );
    config.addOptimizationProfile(
      builder
        .createOptimizationProfile()
        .setDimensions('x', { min: [16, 4], opt: [32, 4], max: [64, 4] }),
    );
    const { engine } = await buildEngine(dynamicNet(), config);
    expect(engine.numOptimizationProfiles).toBe(2);
    const ctx = engine.createExecutionContext();
    expect(() => ctx.setInputShape('x', [32, 4])).toThrow(/outside profile 0's range \[1, 4\]/);
    ctx.setOptimizationProfile(1);
    ctx.setInputShape('x', [32, 4]);
    expect(ctx.getTensorShape(engine.outputNames[0]!)).toEqual([32, 4]);
    expect(() => ctx.setOptimizationProfile(2)).toThrow(/between 0 and 1/);
  });

  it('respects the memory pool limit or says how much it needs', async () => {
    const config = builder.createBuilderConfig();
    const net = new NetworkDefinition();
    const x = net.addInput('x', 'float32', [1, 1024]);
    const a = net.addActivation(x, 'relu');
    const b = net.addUnary(a.output, 'Exp'); // a and b are inner tensors: activation memory
    net.markOutput(net.addUnary(b.output, 'Abs').output);
    config.setMemoryPoolLimit(1000);
    await expect(buildEngine(net, config)).rejects.toThrow(
      /needs 8192 bytes of memory \(activations and kernel scratch\) .* limit is 1000/,
    );
    config.setMemoryPoolLimit(8192);
    await expect(buildEngine(net, config)).resolves.toBeDefined();
  });

  it('counts kernel scratch against the memory pool limit', async () => {
    // A 5x5 convolution of 64 channels at 32 x 32: 256 KiB of activations (the conv output, an
    // inner tensor), but each thread lowers at least 256 columns of 1600 im2col rows and packs
    // them for the GEMM. Level 0: the heuristic's tactic (im2col + GEMM: Winograd takes 3x3
    // only), so every build plans the same scratch; timed tactics may differ between builds.
    const net = new NetworkDefinition();
    const x = net.addInput('x', 'float32', [1, 64, 32, 32]);
    const w = net.addConstant([64, 64, 5, 5], 'float32', new Float32Array(64 * 64 * 25).fill(0.01));
    const conv = net.addConvolution(x, 64, [5, 5], w, undefined, { padding: [2, 2, 2, 2] });
    net.markOutput(net.addUnary(conv.output, 'Exp').output);
    const activations = 64 * 32 * 32 * 4;
    const unlimited = builder.createBuilderConfig();
    unlimited.builderOptimizationLevel = 0;
    const { engine } = await buildEngine(net, unlimited);
    const needed = engine.deviceMemorySize;
    expect(needed).toBeGreaterThan(activations + 1600 * 256 * 4);
    const config = builder.createBuilderConfig();
    config.builderOptimizationLevel = 0;
    config.setMemoryPoolLimit(needed - 1);
    const error = await buildEngine(net, config).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'OUT_OF_MEMORY' });
    expect(String(error)).toMatch(new RegExp(`needs ${needed} bytes of memory`));
    config.setMemoryPoolLimit(needed);
    await expect(buildEngine(net, config)).resolves.toBeDefined();
  });

  it('validates settings before building', async () => {
    const config = builder.createBuilderConfig();
    expect(() => config.setFlag('fp8' as never)).toThrow(/'fp16', 'int8' or 'bf16'/);
    config.builderOptimizationLevel = 9;
    await expect(buildEngine(dynamicNet(), config)).rejects.toThrow(
      /between 0 and 5 for builderOptimizationLevel/,
    );
  });

  it('reports progress', async () => {
    const config = builder.createBuilderConfig();
    config.maxBatchSize = 2;
    const stages: string[] = [];
    await buildEngine(dynamicNet(), config, {
      onProgress: (p) => stages.push(`${p.stage}:${p.done}/${p.total}`),
    });
    const n = DEFAULT_PASSES.length;
    expect(stages).toEqual([
      `passes:0/${n}`,
      `passes:${n}/${n}`,
      'build:0/1',
      'build:1/1',
      'check:1/1',
    ]);
  });
});
