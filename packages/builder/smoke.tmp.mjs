import { Builder, OnnxParser } from '@kiln/builder';
import { Runtime } from '@kiln/runtime';
import { Tensor, setLogger, ConsoleLogger } from '@kiln/core';
import ort from 'onnxruntime-node';
setLogger(new ConsoleLogger('info'));
const file = process.argv[2];
const builder = new Builder();
const network = builder.createNetwork();
const t0 = performance.now();
new OnnxParser(network).parse(file);
const config = builder.createBuilderConfig();
const inName = network.inputs[0].name;
const fixed = process.argv[3] ? process.argv[3].split('x').map(Number) : null;
const shape = fixed ?? network.inputs[0].shape.map((d) => (d < 0 ? 1 : d));
if (network.inputs[0].shape.some((d) => d < 0)) config.addOptimizationProfile(builder.createOptimizationProfile().setDimensions(inName, { min: shape, opt: shape, max: shape }));
const plan = await builder.buildSerializedNetwork(network, config);
console.log('build ms', (performance.now() - t0).toFixed(0), 'plan bytes', plan.length);
const engine = new Runtime().deserializeEngine(plan);
const ctx = engine.createExecutionContext();
const x = new Tensor('float32', shape, Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.sin(i * 0.37)));
let t = performance.now();
const out = await ctx.infer({ [inName]: x });
console.log('first infer ms', (performance.now() - t).toFixed(1));
t = performance.now(); for (let i = 0; i < 5; i++) await ctx.infer({ [inName]: x }); console.log('infer ms', ((performance.now() - t) / 5).toFixed(1));
const sess = await ort.InferenceSession.create(file, { intraOpNumThreads: 2 });
const ref = await sess.run({ [inName]: new ort.Tensor('float32', x.data, shape) });
for (const name of engine.outputNames) {
  const a = out[name].data, b = ref[name].data;
  let maxErr = 0, maxRef = 0;
  for (let i = 0; i < b.length; i++) { maxErr = Math.max(maxErr, Math.abs(a[i] - b[i])); maxRef = Math.max(maxRef, Math.abs(b[i])); }
  console.log(name, out[name].shape, 'max abs err', maxErr.toExponential(2), 'max|ref|', maxRef.toFixed(3), maxErr <= 1e-4 * (1 + maxRef) ? 'PASS' : 'FAIL');
}
