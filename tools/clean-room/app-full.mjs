// Runs in a fresh project that installed every kiln package: converts a TF.js model, builds it,
// gathers calibration statistics from real images through the calibrator, runs, checks.
import fs from 'node:fs';
import path from 'node:path';

import { Builder, OnnxParser } from '@kiln/builder';
import {
  CALIBRATOR_NAMES,
  ImageBatcher,
  MinMaxAccumulator,
  readCalibrationCache,
  scaleFromAmax,
  writeCalibrationCache,
} from '@kiln/calibrator';
import { Tensor } from '@kiln/core';
import { Runtime } from '@kiln/runtime';
import { convertTfjs } from '@kiln/tf2onnx';

const fixtures = process.argv[2];
const { model } = convertTfjs(path.join(fixtures, 'antispoof.json'));
const builder = new Builder();
const network = builder.createNetwork();
new OnnxParser(network).parse(model);
const config = builder.createBuilderConfig();
const profile = builder.createOptimizationProfile();
const input = network.inputs[0].name;
profile.setDimensions(input, {
  min: [1, 128, 128, 3],
  opt: [4, 128, 128, 3],
  max: [4, 128, 128, 3],
});
config.addOptimizationProfile(profile);
const engine = new Runtime().deserializeEngine(
  await builder.buildSerializedNetwork(network, config),
);
const context = engine.createExecutionContext();

// The reference input, checked against onnxruntime-node's output.
const expected = JSON.parse(
  fs.readFileSync(path.join(fixtures, 'antispoof-expected.json'), 'utf8'),
);
const bytes = fs.readFileSync(path.join(fixtures, 'antispoof-input.bin'));
const x = new Float32Array(
  bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
);
const out = await context.infer({ [input]: new Tensor('float32', [1, 128, 128, 3], x) });
const y = out[engine.outputNames[0]].data;
const maxAbs = Math.max(...expected.output.map((v, i) => Math.abs(v - y[i])));
console.log(
  `full set: converted and built antispoof; max |kiln - onnxruntime| = ${maxAbs.toExponential(2)}`,
);
if (!(maxAbs <= 1e-4)) process.exit(1);

// Calibration inputs from real photos: ranges of the input, written to and read from a cache.
const batcher = new ImageBatcher({
  input: path.join(fixtures, 'images'),
  width: 128,
  height: 128,
  fit: 'cover',
  layout: 'nhwc',
  normalize: { scale: 1 / 255, offset: 0 },
  batchSize: 4,
});
const range = new MinMaxAccumulator();
let scores = [];
for await (const { tensor } of batcher) {
  range.update(tensor.data);
  const o = await context.infer({ [input]: tensor });
  scores = Array.from(o[engine.outputNames[0]].data);
}
const cacheFile = path.join(fixtures, 'antispoof.cache');
fs.writeFileSync(
  cacheFile,
  writeCalibrationCache({
    calibrator: CALIBRATOR_NAMES.minmax,
    scales: { [input]: scaleFromAmax(range.absMax) },
  }),
);
const cache = readCalibrationCache(fs.readFileSync(cacheFile));
console.log(
  `full set: 4 photos -> scores ${scores.map((s) => s.toFixed(3)).join(', ')}; input range cached as scale ${cache.scales.get(input)}`,
);
if (scores.length !== 4 || !scores.every(Number.isFinite)) process.exit(1);
