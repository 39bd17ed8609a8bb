// INT8 by calibration, as TensorRT's int8 samples do it: the Fashion-MNIST CNN of ../shared/models
// calibrated (MinMax) on 512 training images, the calibration cache written, the engine rebuilt
// from the cache alone, and both precisions scored on the 10,000 test images.
//   node main.mjs            calibrate, build FP32 and INT8, print accuracy and sizes
//   node main.mjs --check    the same, and exit 1 unless INT8 is within 0.3 points of FP32 and
//                            the rebuild from the cache gives the same engine (CI)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Builder, OnnxParser } from '@kiln/builder';
import { MinMaxCalibrator } from '@kiln/calibrator';
import { Tensor } from '@kiln/core';
import { Runtime } from '@kiln/runtime';
import { missingReason, sharedModel } from '@kiln/test-data';

import { DATASET_DIR, normalized, readIdx } from '../mnist/fashion-mnist.mjs';

const MAX_LOSS_POINTS = 0.3; // the "Reduced precision" issue's budget
const BATCH = 500;
const modelPath = sharedModel('fashion_mnist_cnn.onnx');
const files = [
  'train-images-idx3-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
];
for (const file of [modelPath, ...files.map((f) => path.join(DATASET_DIR, f))]) {
  const missing = missingReason(file);
  if (missing) {
    console.log(`[skip] int8-calibrate example: ${missing}`);
    process.exit(0);
  }
}
const train = readIdx(path.join(DATASET_DIR, files[0]), 0x803);
const test = readIdx(path.join(DATASET_DIR, files[1]), 0x803);
const labels = readIdx(path.join(DATASET_DIR, files[2]), 0x801).data;
const cacheFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-int8-')), 'fashion.cache');

// 512 training images in 16 batches of 32: the calibration set.
let batchesRead = 0;
const calibrator = () =>
  new MinMaxCalibrator({
    batchSize: 32,
    cacheFile,
    batches: function* () {
      for (let b = 0; b < 16; b++) {
        batchesRead++;
        yield { image: new Tensor('float32', [32, 1, 28, 28], normalized(train, b * 32, 32)) };
      }
    },
  });

async function build(int8) {
  const builder = new Builder();
  const network = builder.createNetwork();
  new OnnxParser(network).parse(modelPath);
  const config = builder.createBuilderConfig();
  config.addOptimizationProfile(
    builder.createOptimizationProfile().setDimensions('image', {
      min: [1, 1, 28, 28],
      opt: [BATCH, 1, 28, 28],
      max: [BATCH, 1, 28, 28],
    }),
  );
  if (int8) {
    config.setFlag('int8');
    config.int8Calibrator = calibrator();
  }
  return builder.buildSerializedNetwork(network, config);
}

async function accuracy(plan) {
  const context = new Runtime().deserializeEngine(plan).createExecutionContext();
  let correct = 0;
  for (let start = 0; start < labels.length; start += BATCH) {
    const x = new Tensor('float32', [BATCH, 1, 28, 28], normalized(test, start, BATCH));
    const logits = Object.values(await context.infer({ image: x }))[0].data;
    for (let i = 0; i < BATCH; i++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (logits[i * 10 + c] > logits[i * 10 + best]) best = c;
      if (best === labels[start + i]) correct++;
    }
  }
  return (100 * correct) / labels.length;
}

const fp32 = await build(false);
const int8 = await build(true);
const calibrationBatches = batchesRead;
const fromCache = await build(true);
const [a32, a8] = [await accuracy(fp32), await accuracy(int8)];
const same = Buffer.from(int8).equals(Buffer.from(fromCache));
console.log(`FP32 engine: ${(fp32.byteLength / 1024).toFixed(0)} KiB, accuracy ${a32.toFixed(2)}%`);
console.log(
  `INT8 engine: ${(int8.byteLength / 1024).toFixed(0)} KiB, accuracy ${a8.toFixed(2)}% (${(a32 - a8).toFixed(2)} points lost), calibrated on ${calibrationBatches} batches of 32`,
);
console.log(
  `cache ${cacheFile}: ${fs.readFileSync(cacheFile, 'utf8').split('\n').length - 1} lines; rebuilt from it reading ${batchesRead - calibrationBatches} batches: ${same ? 'the same engine, byte for byte' : 'A DIFFERENT ENGINE'}`,
);
if (
  process.argv.includes('--check') &&
  (a32 - a8 > MAX_LOSS_POINTS || !same || batchesRead !== calibrationBatches)
) {
  console.error('int8-calibrate: check failed');
  process.exit(1);
}
