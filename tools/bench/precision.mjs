#!/usr/bin/env node
// kiln against kiln: one model built FP32 and with a reduced precision, timed alternately in one
// process (same threads, same inputs), median of each. INT8 calibrates with MinMax on a few
// deterministic batches (the shared models' weights are random: this measures speed only).
//
//   node tools/bench/precision.mjs --model resnet50 --precision int8 --iterations 20
import { parseArgs } from 'node:util';
import { Tensor } from '@kiln/core';
import { Builder, OnnxParser } from '@kiln/builder';
import { MinMaxCalibrator } from '@kiln/calibrator';
import { Runtime } from '@kiln/runtime';
import { sharedModel } from '@kiln/test-data';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet50' },
    precision: { type: 'string', default: 'int8' },
    iterations: { type: 'string', default: '20' },
  },
});
const shape = [1, 3, 224, 224];
const size = shape.reduce((a, b) => a * b);
const sample = (phase) =>
  new Tensor(
    'float32',
    shape,
    Float32Array.from({ length: size }, (_, i) => 2 * Math.sin(i * 0.7311 + phase)),
  );

async function build(precision) {
  const builder = new Builder();
  const network = builder.createNetwork();
  new OnnxParser(network).parse(sharedModel(`${args.model}.onnx`));
  const config = builder.createBuilderConfig();
  const name = network.inputs[0].name;
  config.addOptimizationProfile(
    builder.createOptimizationProfile().setDimensions(name, { min: shape, opt: shape, max: shape }),
  );
  if (precision === 'int8') {
    config.setFlag('int8');
    config.int8Calibrator = new MinMaxCalibrator({
      batches: () => [0, 1, 2, 3].map((p) => ({ [name]: sample(p) })),
      batchSize: 1,
    });
  } else if (precision === 'fp16') {
    config.setFlag('fp16');
  }
  const plan = await builder.buildSerializedNetwork(network, config);
  return { name, plan, context: new Runtime().deserializeEngine(plan).createExecutionContext() };
}

const engines = { fp32: await build('fp32'), [args.precision]: await build(args.precision) };
const x = sample(7);
const times = Object.fromEntries(Object.keys(engines).map((k) => [k, []]));
for (const e of Object.values(engines)) await e.context.infer({ [e.name]: x }); // warm up
for (let i = 0; i < Number(args.iterations); i++) {
  for (const [k, e] of Object.entries(engines)) {
    const t0 = performance.now();
    await e.context.infer({ [e.name]: x });
    times[k].push(performance.now() - t0);
  }
}
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const fp32 = median(times.fp32);
const other = median(times[args.precision]);
console.log(
  `${args.model} batch 1, ${process.env.KILN_NUM_THREADS ?? 'all'} threads: fp32 ${fp32.toFixed(2)} ms (plan ${engines.fp32.plan.byteLength} B), ${args.precision} ${other.toFixed(2)} ms (plan ${engines[args.precision].plan.byteLength} B), speedup ${(fp32 / other).toFixed(2)}x`,
);
