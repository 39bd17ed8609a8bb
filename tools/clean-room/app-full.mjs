// Runs in a fresh project that installed every kiln package: converts a TF.js model, builds it,
// calibrates it to INT8 on real photos through the calibrator, runs both, checks.
import fs from 'node:fs';
import path from 'node:path';

import { Builder, OnnxParser } from '@kiln/builder';
import { ImageBatcher, ImageBatcherCalibrator, readCalibrationCache } from '@kiln/calibrator';
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

// INT8 calibrated on real photos (ImageBatcher -> ImageBatcherCalibrator -> the builder), the
// cache written; the INT8 engine must rank the photos close to the FP32 one.
const batcher = new ImageBatcher({
  input: path.join(fixtures, 'images'),
  width: 128,
  height: 128,
  fit: 'cover',
  layout: 'nhwc',
  normalize: { scale: 1 / 255, offset: 0 },
  batchSize: 4,
});
const scores = async (ctx) => {
  const out = [];
  for await (const { tensor } of batcher)
    out.push(...(await ctx.infer({ [input]: tensor }))[engine.outputNames[0]].data);
  return out;
};
const fp32Scores = await scores(context);
const int8Builder = new Builder();
const int8Network = int8Builder.createNetwork();
new OnnxParser(int8Network).parse(model);
const int8Config = int8Builder.createBuilderConfig().setFlag('int8');
int8Config.addOptimizationProfile(profile);
const cacheFile = path.join(fixtures, 'antispoof.cache');
int8Config.int8Calibrator = new ImageBatcherCalibrator({
  batcher,
  algorithm: 'minmax',
  inputName: input,
  cacheFile,
});
const int8 = new Runtime().deserializeEngine(
  await int8Builder.buildSerializedNetwork(int8Network, int8Config),
);
const int8Scores = await scores(int8.createExecutionContext());
const cache = readCalibrationCache(fs.readFileSync(cacheFile));
const worst = Math.max(...fp32Scores.map((v, i) => Math.abs(v - int8Scores[i])));
console.log(
  `full set: INT8 calibrated on 4 photos (${cache.scales.size} scales cached, ${int8.layers().filter((l) => l.op.startsWith('QLinear')).length} INT8 layers); scores FP32 ${fp32Scores.map((s) => s.toFixed(3)).join(', ')} / INT8 ${int8Scores.map((s) => s.toFixed(3)).join(', ')}`,
);
if (int8Scores.length !== 4 || !(worst <= 0.1) || cache.scales.size === 0) process.exit(1);
