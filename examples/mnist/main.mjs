// kiln's SampleMNIST: the Fashion-MNIST CNN of ../shared/models built into an engine twice,
// (a) layer by layer with the NetworkDefinition API, taking only the trained weights from the
// ONNX file, and (b) by parsing the ONNX file. Both run on the 10,000 test images.
//   node main.mjs            build both, run both, print their accuracy
//   node main.mjs --check    the same, and exit 1 unless both are accurate and agree (CI)
import { Builder, OnnxParser } from '@kiln/builder';
import { Tensor } from '@kiln/core';
import { loadModel } from '@kiln/onnx';
import { Runtime } from '@kiln/runtime';
import { missingReason, sharedModel } from '@kiln/test-data';

import { DATASET_DIR, MEAN, STD, readIdx } from './fashion-mnist.mjs';

// The model card (../shared/models/README.md) gives 93.54% with onnxruntime; an FP32 engine
// must land within a few images of it.
const DOCUMENTED_ACCURACY = 0.9354;
const MIN_ACCURACY = 0.93;
// Both engines compute the same function with the same kernels: their logits may differ by
// float rounding at most.
const MAX_LOGIT_DIFFERENCE = 1e-4;
const BATCH = 500;
const CLASSES = [
  'T-shirt',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Boot',
];

const modelPath = sharedModel('fashion_mnist_cnn.onnx');
const datasetDir = DATASET_DIR;
const imagesPath = `${datasetDir}/t10k-images-idx3-ubyte.gz`;
const labelsPath = `${datasetDir}/t10k-labels-idx1-ubyte.gz`;
for (const file of [modelPath, imagesPath, labelsPath]) {
  const missing = missingReason(file);
  if (missing) {
    // A fresh clone has no ../shared and may lack apt-get: say what is missing, do not fail.
    console.log(`[skip] mnist example: ${missing}`);
    process.exit(0);
  }
}

const images = readIdx(imagesPath, 0x803); // [10000, 28, 28]
const labels = readIdx(labelsPath, 0x801); // [10000]
const [count, rows, cols] = images.shape;

// (a) The network by hand, as SampleMNIST does it: the architecture is written here; only the
// trained weights come from the ONNX file, in the order its layers use them. (The exporter
// folded each BatchNorm into its convolution, so each block is conv + bias + relu.)
function buildByHand(builder) {
  const model = loadModel(modelPath);
  const weightsOf = (node) =>
    node.inputs.slice(1).map((n) => model.graph.initializers.get(n).tensor());
  const convWeights = model.graph.nodes.filter((n) => n.is('Conv')).map(weightsOf);
  const [fcWeight, fcBias] = weightsOf(model.graph.nodes.find((n) => n.is('Gemm')));

  const network = builder.createNetwork();
  const constant = (t, name) => network.addConstant(t.shape, t.dtype, t.data, name);
  let x = network.addInput('image', 'float32', [-1, 1, rows, cols]);
  // [output channels of each 3x3 conv, and whether a 2x2 max-pool follows it]
  const blocks = [
    [32, false],
    [32, true],
    [64, false],
    [64, true],
    [128, false],
  ];
  blocks.forEach(([channels, pool], i) => {
    const [w, b] = convWeights[i];
    const conv = network.addConvolution(
      x,
      channels,
      [3, 3],
      constant(w, `conv${i}.w`),
      constant(b, `conv${i}.b`),
      {
        padding: [1, 1, 1, 1],
      },
    );
    x = network.addActivation(conv.output, 'relu').output;
    if (pool) x = network.addPooling(x, 'max', [2, 2]).output;
  });
  x = network.addGlobalPooling(x, 'average').output;
  const logits = network.addFullyConnected(
    x,
    constant(fcWeight, 'fc.w'),
    constant(fcBias, 'fc.b'),
  ).output;
  logits.name = 'logits';
  network.markOutput(logits);
  return network;
}

// (b) The same model parsed from the ONNX file.
function buildParsed(builder) {
  const network = builder.createNetwork();
  new OnnxParser(network).parse(modelPath);
  return network;
}

/** Builds `network` with a batch range of 1..BATCH and loads the engine. */
async function buildEngine(builder, network) {
  const config = builder.createBuilderConfig();
  config.addOptimizationProfile(
    builder.createOptimizationProfile().setDimensions('image', {
      min: [1, 1, rows, cols],
      opt: [BATCH, 1, rows, cols],
      max: [BATCH, 1, rows, cols],
    }),
  );
  const plan = await builder.buildSerializedNetwork(network, config);
  return new Runtime().deserializeEngine(plan);
}

/** Runs the test set through `engine`: all logits, as one Float32Array of count x 10. */
async function classify(engine) {
  const context = engine.createExecutionContext();
  const logits = new Float32Array(count * CLASSES.length);
  const pixels = rows * cols;
  for (let start = 0; start < count; start += BATCH) {
    const n = Math.min(BATCH, count - start);
    const x = new Tensor('float32', [n, 1, rows, cols]);
    for (let i = 0; i < n * pixels; i++)
      x.data[i] = (images.data[start * pixels + i] / 255 - MEAN) / STD;
    const { logits: y } = await context.infer({ image: x });
    logits.set(y.data, start * CLASSES.length);
  }
  return logits;
}

function argmax(logits, i) {
  let best = 0;
  for (let c = 1; c < CLASSES.length; c++) {
    if (logits[i * CLASSES.length + c] > logits[i * CLASSES.length + best]) best = c;
  }
  return best;
}

const builder = new Builder();
const results = [];
for (const [how, make] of [
  ['NetworkDefinition API', buildByHand],
  ['OnnxParser', buildParsed],
]) {
  let t0 = performance.now();
  const network = make(builder);
  const engine = await buildEngine(builder, network);
  const buildMs = performance.now() - t0;
  t0 = performance.now();
  const logits = await classify(engine);
  const runMs = performance.now() - t0;
  let correct = 0;
  for (let i = 0; i < count; i++) if (argmax(logits, i) === labels.data[i]) correct++;
  const accuracy = correct / count;
  console.log(
    `${how.padEnd(22)} ${engine.layers().length} layers, built in ${buildMs.toFixed(0)} ms; ` +
      `accuracy ${(accuracy * 100).toFixed(2)}% (${correct}/${count}) in ${(runMs / 1000).toFixed(1)} s`,
  );
  results.push({ how, logits, accuracy });
}

const [a, b] = results;
let disagreements = 0;
let maxDifference = 0;
for (let i = 0; i < count; i++) if (argmax(a.logits, i) !== argmax(b.logits, i)) disagreements++;
for (let i = 0; i < a.logits.length; i++)
  maxDifference = Math.max(maxDifference, Math.abs(a.logits[i] - b.logits[i]));
console.log(
  `the two engines disagree on ${disagreements} of ${count} images; max logit difference ${maxDifference.toExponential(2)}` +
    ` (documented accuracy: ${(DOCUMENTED_ACCURACY * 100).toFixed(2)}%, onnxruntime)`,
);
console.log(
  `first test image: ${CLASSES[argmax(b.logits, 0)]} (label: ${CLASSES[labels.data[0]]})`,
);

if (process.argv.includes('--check')) {
  const problems = [];
  for (const r of results) {
    if (!(r.accuracy >= MIN_ACCURACY))
      problems.push(`${r.how}: accuracy ${r.accuracy} < ${MIN_ACCURACY}`);
  }
  if (disagreements > 0) problems.push(`the engines disagree on ${disagreements} images`);
  if (!(maxDifference <= MAX_LOGIT_DIFFERENCE))
    problems.push(`logits differ by ${maxDifference} > ${MAX_LOGIT_DIFFERENCE}`);
  if (problems.length > 0) {
    console.error(`check failed: ${problems.join('; ')}`);
    process.exit(1);
  }
}
