// Here, before packing (pack-carry.sh runs it): builds fashion_mnist_cnn's INT8 plans for
// cuda-int8.mjs, calibrated (MinMax) on the first 512 Fashion-MNIST training images as
// packages/builder/src/int8.test.ts does. Calibration needs @kiln/calibrator, whose sharp
// binaries do not travel; the plans do (the GPU machine runs each on both devices).
//   node tools/device-check/int8-plans.mjs MODEL.onnx TRAIN_IMAGES.gz OUT_DIR
// OUT_DIR/fashion_int8.plan: the engine the accuracy check scores. OUT_DIR/fashion_int8_probe.plan:
// the same with /5/MaxPool_output_0 as an extra output, which (in INT8) only a quantize layer,
// four QLinearConv+Relu, an 8-bit MaxPool, a DequantizeLinear and a float MaxPool compute:
// exact operations, so cuda and cpu must give the same bits.
import fs from 'node:fs';
import { gunzipSync } from 'node:zlib';

// The workspace packages' builds, by path (tools/device-check has no dependencies of its own).
const load = (name) =>
  import(new URL(`../../packages/${name}/dist/index.js`, import.meta.url).href);
const { Tensor } = await load('core');
const { MinMaxCalibrator } = await load('calibrator');
const { Builder, OnnxParser } = await load('builder');

const [model, trainFile, outDir] = process.argv.slice(2);
const BATCH = 100;
const train = gunzipSync(fs.readFileSync(trainFile)).subarray(16);

// The model's preprocessing: (x / 255 - 0.2860) / 0.3530, NCHW [n, 1, 28, 28].
function images(start, count) {
  const x = new Float32Array(count * 784);
  for (let i = 0; i < x.length; i++) x[i] = (train[start * 784 + i] / 255 - 0.286) / 0.353;
  return new Tensor('float32', [count, 1, 28, 28], x);
}

async function build(probe) {
  const builder = new Builder();
  const network = builder.createNetwork();
  new OnnxParser(network).parse(fs.readFileSync(model));
  if (probe)
    for (const l of network.layers)
      if (l.outputs[0]?.name === '/5/MaxPool_output_0') network.markOutput(l.outputs[0]);
  const config = builder.createBuilderConfig().setFlag('int8');
  config.addOptimizationProfile(
    builder.createOptimizationProfile().setDimensions('image', {
      min: [1, 1, 28, 28],
      opt: [BATCH, 1, 28, 28],
      max: [BATCH, 1, 28, 28],
    }),
  );
  config.int8Calibrator = new MinMaxCalibrator({
    batches: () => Array.from({ length: 16 }, (_, b) => ({ image: images(b * 32, 32) })),
    batchSize: 32,
  });
  return builder.buildSerializedNetwork(network, config);
}

fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(`${outDir}/fashion_int8.plan`, await build(false));
fs.writeFileSync(`${outDir}/fashion_int8_probe.plan`, await build(true));
