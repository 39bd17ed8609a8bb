#!/usr/bin/env node
// kiln against kiln: one model built with kiln's own kernels only (tacticSources ['kiln']) and
// with every tactic source the addon has (oneDNN too, when built with it), timed alternately in
// one process (same threads, same inputs): the median of per-iteration ratios, each engine's
// median, and the layers whose timed tactic came from oneDNN.
//
//   KILN_NUM_THREADS=2 node tools/bench/tactic-sources.mjs --model resnet50 --iterations 30
import { parseArgs } from 'node:util';
import { Tensor, features } from '@kiln/core';
import { Builder, OnnxParser } from '@kiln/builder';
import { Runtime } from '@kiln/runtime';
import { sharedModel } from '@kiln/test-data';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet50' },
    iterations: { type: 'string', default: '30' },
  },
});
const sources = features().tacticSources;
if (sources.length === 1) {
  console.error('this addon has no optional tactic source (oneDNN): nothing to compare');
  process.exit(1);
}
const shape = [1, 3, 224, 224];
const x = new Tensor(
  'float32',
  shape,
  Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => 2 * Math.sin(i * 0.7311)),
);

async function build(tacticSources) {
  const lines = [];
  const builder = new Builder({ log: (_severity, message) => lines.push(message) });
  const network = builder.createNetwork();
  new OnnxParser(network).parse(sharedModel(`${args.model}.onnx`));
  const config = builder.createBuilderConfig();
  config.tacticSources = tacticSources;
  const name = network.inputs[0].name;
  config.addOptimizationProfile(
    builder.createOptimizationProfile().setDimensions(name, { min: shape, opt: shape, max: shape }),
  );
  const t0 = performance.now();
  const plan = await builder.buildSerializedNetwork(network, config);
  const buildMs = performance.now() - t0;
  const engine = new Runtime().deserializeEngine(plan);
  return { name, engine, lines, buildMs, context: engine.createExecutionContext() };
}

const own = await build(['kiln']);
const all = await build(sources);
const times = { own: [], all: [] };
const ratios = [];
for (const e of [own, all]) for (let i = 0; i < 3; i++) await e.context.infer({ [e.name]: x });
for (let i = 0; i < Number(args.iterations); i++) {
  const t = {};
  for (const [k, e] of Object.entries({ own, all })) {
    const t0 = performance.now();
    await e.context.infer({ [e.name]: x });
    t[k] = performance.now() - t0;
    times[k].push(t[k]);
  }
  ratios.push(t.all / t.own);
}
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const picked = all.engine.layers().filter((l) => l.tacticSource && l.tacticSource !== 'kiln');
const convs = all.engine.layers().filter((l) => l.op === 'Conv').length;
console.log(
  `${args.model} batch 1, ${process.env.KILN_NUM_THREADS ?? 'all'} threads: kiln only ${median(times.own).toFixed(2)} ms, with ${sources.join('+')} ${median(times.all).toFixed(2)} ms, ratio (median of per-iteration) ${median(ratios).toFixed(3)}; build ${own.buildMs.toFixed(0)} / ${all.buildMs.toFixed(0)} ms`,
);
console.log(
  `${picked.length} of ${convs} Conv layers run a oneDNN tactic: ${picked.map((l) => l.name).join(', ') || 'none'}`,
);
for (const line of all.lines.filter((l) => / runs conv\.onednn /.test(l))) console.log(`  ${line}`);
