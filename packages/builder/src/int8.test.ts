// Implicit INT8 on a real trained model: fashion_mnist_cnn.onnx calibrated on 512 Fashion-MNIST
// training images (MinMax, then Entropy) and scored on the 10k test images against the FP32
// engine; a second build from the cache file must skip calibration and give the same bytes.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type Logger, Tensor } from '@kiln/core';
import { EntropyCalibrator, MinMaxCalibrator } from '@kiln/calibrator';
import { debFile, missingReason, sharedModel } from '@kiln/test-data';
import { Runtime } from '@kiln/runtime';
import { describe, expect, it } from 'vitest';

import { Builder } from './builder';
import type { BuilderConfig } from './config';
import { parseOnnx } from './test-support/run';

const model = sharedModel('fashion_mnist_cnn.onnx');
const dataDir = debFile('dataset-fashion-mnist', 'usr/share/datasets/fashion-mnist');
const missing = missingReason(model) ?? missingReason(dataDir);
if (missing) console.warn(`[skip] int8 calibration: ${missing}`);

// idx files: a big-endian header (magic, dims), then bytes.
function readIdx(file: string): { dims: number[]; data: Uint8Array } {
  const bytes = gunzipSync(readFileSync(join(dataDir, file)));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rank = view.getUint8(3);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  return { dims, data: bytes.subarray(4 + 4 * rank) };
}

// The model's preprocessing: (x / 255 - 0.2860) / 0.3530, NCHW [n, 1, 28, 28].
function images(data: Uint8Array, start: number, count: number): Tensor {
  const x = new Float32Array(count * 784);
  for (let i = 0; i < x.length; i++) x[i] = (data[start * 784 + i]! / 255 - 0.286) / 0.353;
  return new Tensor('float32', [count, 1, 28, 28], x);
}

const BATCH = 100;

async function accuracy(plan: Uint8Array, test: Uint8Array, labels: Uint8Array): Promise<number> {
  const context = new Runtime().deserializeEngine(plan).createExecutionContext();
  let correct = 0;
  for (let start = 0; start < labels.length; start += BATCH) {
    const out = await context.infer({ image: images(test, start, BATCH) });
    const logits = Object.values(out)[0]!.data as Float32Array;
    for (let i = 0; i < BATCH; i++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (logits[i * 10 + c]! > logits[i * 10 + best]!) best = c;
      if (best === labels[start + i]) correct++;
    }
  }
  return correct / labels.length;
}

function config(builder: Builder): BuilderConfig {
  const c = builder.createBuilderConfig();
  c.addOptimizationProfile(
    builder.createOptimizationProfile().setDimensions('image', {
      min: [1, 1, 28, 28],
      opt: [BATCH, 1, 28, 28],
      max: [BATCH, 1, 28, 28],
    }),
  );
  return c;
}

describe.skipIf(missing !== undefined)('implicit INT8 by calibration', () => {
  const train = missing ? undefined : readIdx('train-images-idx3-ubyte.gz');
  const test = missing ? undefined : readIdx('t10k-images-idx3-ubyte.gz');
  const labels = missing ? undefined : readIdx('t10k-labels-idx1-ubyte.gz');
  // 512 training images in 16 batches of 32.
  const calibrationBatches = () =>
    Array.from({ length: 16 }, (_, b) => ({ image: images(train!.data, b * 32, 32) }));

  it('MinMax and Entropy lose <= 0.3 points against FP32; the cache rebuilds the same engine', async () => {
    const messages: string[] = [];
    const logger: Logger = { log: (_severity, message) => messages.push(message) };
    const builder = new Builder(logger);
    const fp32 = await builder.buildSerializedNetwork(parseOnnx(model), config(builder));
    const fp32Accuracy = await accuracy(fp32, test!.data, labels!.data);

    const dir = mkdtempSync(join(tmpdir(), 'kiln-int8-'));
    const results: Record<string, number> = {};
    const plans: Record<string, Uint8Array> = {};
    for (const [name, Calibrator] of [
      ['minmax', MinMaxCalibrator],
      ['entropy', EntropyCalibrator],
    ] as const) {
      const cfg = config(builder).setFlag('int8');
      cfg.int8Calibrator = new Calibrator({
        batches: calibrationBatches,
        batchSize: 32,
        cacheFile: join(dir, `${name}.cache`),
      });
      messages.length = 0;
      plans[name] = await builder.buildSerializedNetwork(parseOnnx(model), cfg);
      expect(messages.some((m) => m.startsWith('int8: calibrated'))).toBe(true);
      // Every convolution runs 8-bit; the log names what stays FP32 (the classifier head).
      expect(messages).toContain('int8: 7 layers run in INT8');
      expect(messages.find((m) => m.includes('stay FP32'))).toContain("Gemm '");
      results[name] = await accuracy(plans[name], test!.data, labels!.data);
    }
    console.log(
      `fashion_mnist_cnn accuracy on 10k test images: fp32 ${(100 * fp32Accuracy).toFixed(2)}%, int8 minmax ${(100 * results.minmax!).toFixed(2)}%, int8 entropy ${(100 * results.entropy!).toFixed(2)}%`,
    );
    expect(fp32Accuracy).toBeGreaterThan(0.93);
    expect(fp32Accuracy - results.minmax!).toBeLessThanOrEqual(0.003);
    expect(fp32Accuracy - results.entropy!).toBeLessThanOrEqual(0.003);

    // From the cache: no batch is read, and the engine is byte for byte the same.
    const cfg = config(builder).setFlag('int8');
    cfg.int8Calibrator = new MinMaxCalibrator({
      batches: () => {
        throw new Error('calibration ran despite the cache');
      },
      batchSize: 32,
      cacheFile: join(dir, 'minmax.cache'),
    });
    messages.length = 0;
    const again = await builder.buildSerializedNetwork(parseOnnx(model), cfg);
    expect(messages.some((m) => m.includes('calibration skipped'))).toBe(true);
    expect(Buffer.compare(Buffer.from(again), Buffer.from(plans.minmax!))).toBe(0);
    // The entropy cache is refused for a MinMax calibration.
    cfg.int8Calibrator = new MinMaxCalibrator({
      batches: calibrationBatches,
      batchSize: 32,
      cacheFile: join(dir, 'entropy.cache'),
    });
    await expect(builder.buildSerializedNetwork(parseOnnx(model), cfg)).rejects.toThrow(
      /EntropyCalibration2/,
    );
  }, 600_000);
});
