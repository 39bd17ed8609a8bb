// The INT8 accuracy budget (BuilderConfig.int8AccuracyBudget) on a real trained model:
// fashion_mnist_cnn.onnx calibrated (MinMax) on 512 Fashion-MNIST training images and held to a
// budget on 1000 test images. The engine the builder returns is then checked against
// onnxruntime-node's FP32 run of the same images, not against the builder's own measurements.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MinMaxCalibrator } from '@kiln/calibrator';
import { Tensor } from '@kiln/core';
import { Runtime } from '@kiln/runtime';
import { debFile, missingReason, sharedModel } from '@kiln/test-data';
import { describe, expect, it } from 'vitest';

import { Builder } from './builder';
import { ortRun, parseOnnx } from './test-support/run';

const model = sharedModel('fashion_mnist_cnn.onnx');
const dataDir = debFile('dataset-fashion-mnist', 'usr/share/datasets/fashion-mnist');
const missing = missingReason(model) ?? missingReason(dataDir);
if (missing) console.warn(`[skip] int8 accuracy budget: ${missing}`);

// idx image files: a 16-byte header, then 28x28 bytes per image; the model's normalization.
const pixels = (file: string) => gunzipSync(readFileSync(join(dataDir, file))).subarray(16);
const images = (data: Uint8Array, start: number, count: number) =>
  new Tensor(
    'float32',
    [count, 1, 28, 28],
    Float32Array.from(
      data.subarray(start * 784, (start + count) * 784),
      (v) => (v / 255 - 0.286) / 0.353,
    ),
  );

describe.skipIf(missing !== undefined)('int8AccuracyBudget', () => {
  const train = missing ? new Uint8Array() : pixels('train-images-idx3-ubyte.gz');
  const test = missing ? new Uint8Array() : pixels('t10k-images-idx3-ubyte.gz');
  // (describe bodies run even when skipped: no data, no batches)
  const batches = missing
    ? []
    : Array.from({ length: 10 }, (_, b) => ({ image: images(test, b * 100, 100) }));

  async function build(budget: { metric: 'top1' | 'relative'; tolerance: number }) {
    const messages: string[] = [];
    const builder = new Builder({ log: (_s, m) => messages.push(m) });
    const network = parseOnnx(model);
    const config = builder.createBuilderConfig();
    const range = { min: [1, 1, 28, 28], opt: [100, 1, 28, 28], max: [100, 1, 28, 28] };
    config.addOptimizationProfile(
      builder.createOptimizationProfile().setDimensions('image', range),
    );
    config.setFlag('int8');
    config.int8Calibrator = new MinMaxCalibrator({
      batches: () => Array.from({ length: 16 }, (_, b) => ({ image: images(train, b * 32, 32) })),
      batchSize: 32,
    });
    config.int8AccuracyBudget = { ...budget, batches };
    const stages: string[] = [];
    const plan = await builder.buildSerializedNetwork(network, config, {
      onProgress: (p) => stages.push(p.stage),
    });
    const context = new Runtime().deserializeEngine(plan).createExecutionContext();
    const pairs = [];
    for (const batch of batches) {
      const ours = Object.values(await context.infer(batch))[0]!.data as Float32Array;
      const ref = Object.values(await ortRun(model, batch))[0]!.data;
      pairs.push([ours, ref] as const);
    }
    const report = messages.find((m) => m.startsWith('int8 accuracy budget'))!;
    const kept = network.layers.filter((l) => l.precision === 'fp32').map((l) => l.name);
    return { pairs, report, kept, stages };
  }

  it('relative: keeps the most sensitive convolutions in FP32 until the error is within budget', async () => {
    const { pairs, report, kept, stages } = await build({ metric: 'relative', tolerance: 0.02 });
    console.log(report);
    expect(stages).toContain('accuracy');
    // Every convolution in INT8 misses this budget on these images, so some had to stay FP32.
    const allInt8 = Number(
      /every convolution in INT8 gives relative error ([\d.e+-]+)/.exec(report)![1],
    );
    expect(allInt8).toBeGreaterThan(0.02);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(5);
    expect(report).toContain(`kept ${kept.length} of 5 in FP32`);
    let err = 0;
    let peak = 0;
    for (const [ours, ref] of pairs)
      for (let i = 0; i < ref.length; i++) {
        err = Math.max(err, Math.abs(ours[i]! - ref[i]!));
        peak = Math.max(peak, Math.abs(ref[i]!));
      }
    console.log(
      `budget engine vs onnxruntime-node FP32: relative error ${(err / peak).toExponential(2)}`,
    );
    expect(err / peak).toBeLessThanOrEqual(0.02);
  }, 300_000);

  it('top1: the returned engine agrees with FP32 on >= 99.9% of the images', async () => {
    const { pairs, report, kept } = await build({ metric: 'top1', tolerance: 0.999 });
    console.log(report);
    const argmax = (v: ArrayLike<number>, row: number) => {
      let best = 0;
      for (let c = 1; c < 10; c++) if (v[row * 10 + c]! > v[row * 10 + best]!) best = c;
      return best;
    };
    let same = 0;
    for (const [ours, ref] of pairs)
      for (let r = 0; r < 100; r++) if (argmax(ours, r) === argmax(ref, r)) same++;
    console.log(
      `budget engine: ${same}/1000 classes as onnxruntime-node FP32, ${kept.length} layers kept in FP32`,
    );
    expect(same / 1000).toBeGreaterThanOrEqual(0.999);
  }, 300_000);
});

describe('int8AccuracyBudget validation', () => {
  it('refuses a bad metric, tolerance or batches, and warns when there is no implicit INT8', async () => {
    const config = new Builder().createBuilderConfig();
    const batches = [{ image: new Tensor('float32', [1, 1, 28, 28], new Float32Array(784)) }];
    for (const [budget, message] of [
      [{ metric: 'mse', tolerance: 0.1, batches }, /int8AccuracyBudget.metric/],
      [{ metric: 'top1', tolerance: 1.5, batches }, /int8AccuracyBudget.tolerance/],
      [{ metric: 'relative', tolerance: -1, batches }, /int8AccuracyBudget.tolerance/],
      [{ metric: 'relative', tolerance: 0.1, batches: [] }, /int8AccuracyBudget.batches/],
    ] as const) {
      config.int8AccuracyBudget = budget as never;
      expect(() => config.validate()).toThrow(message);
    }
    const messages: string[] = [];
    const builder = new Builder({ log: (_s, m) => messages.push(m) });
    const network = builder.createNetwork();
    network.markOutput(
      network.addActivation(network.addInput('x', 'float32', [1, 4]), 'relu').output,
    );
    const c = builder.createBuilderConfig();
    c.int8AccuracyBudget = { metric: 'relative', tolerance: 0.1, batches };
    await builder.buildSerializedNetwork(network, c);
    expect(messages).toContain(
      'int8AccuracyBudget applies to implicit INT8 (the int8 flag and an int8Calibrator): ignored',
    );
  });
});
