// kiln quickstart: build a real trained model (PP-OCRv4 text recognition, from npm) into an
// engine, write the engine file, load it back, read a line of text rendered on the fly, and
// benchmark the engine file.
//   node main.mjs            build, run, print the text and the latency, then benchmark the
//                            engine file with `kiln run` (trtexec's performance summary)
//   node main.mjs --check    the same, and exit 1 unless the text is read correctly (CI)
import fs from 'node:fs';
import path from 'node:path';

import { Builder, OnnxParser } from '@kiln/builder';
import { ImagePreprocessor } from '@kiln/calibrator';
import { main as kiln } from '@kiln/cli';
import { features } from '@kiln/core';
import { Runtime } from '@kiln/runtime';
import { DATA_DIR, missingReason, npmFile } from '@kiln/test-data';
import sharp from 'sharp';

const TEXT = 'kiln builds fast engines';
const modelPath = npmFile('ocr-models', 'assets', 'ch_PP-OCRv4_rec_infer.onnx');
const keysPath = npmFile('ocr-models', 'assets', 'ppocr_keys_v1.txt');
for (const file of [modelPath, keysPath]) {
  const missing = missingReason(file);
  if (missing) {
    console.error(`${missing}\n(run: node tools/test-data/fetch.mjs ocr-models)`);
    process.exit(1);
  }
}

// 1. Build: parse the ONNX model, give the dynamic width a range, build the engine.
const builder = new Builder();
const network = builder.createNetwork();
new OnnxParser(network).parse(modelPath);
const config = builder.createBuilderConfig();
config.addOptimizationProfile(
  builder
    .createOptimizationProfile()
    .setDimensions('x', { min: [1, 3, 48, 64], opt: [1, 3, 48, 320], max: [1, 3, 48, 640] }),
);
let t0 = performance.now();
const plan = await builder.buildSerializedNetwork(network, config, {
  onProgress: (p) =>
    process.stdout.isTTY && process.stdout.write(`\rbuilding: ${p.stage} ${p.done}/${p.total}   `),
});
console.log(
  `${process.stdout.isTTY ? '\r' : ''}built PP-OCRv4 rec: ${network.layers.length} layers in ${(performance.now() - t0).toFixed(0)} ms`,
);

// 2. Serialize and deserialize, as an application would between build time and run time.
const enginePath = path.join(DATA_DIR, 'quickstart', 'ppocr_rec.kiln');
fs.mkdirSync(path.dirname(enginePath), { recursive: true });
fs.writeFileSync(enginePath, plan);
const engine = new Runtime().deserializeEngine(fs.readFileSync(enginePath));
console.log(`engine file: ${enginePath} (${(plan.byteLength / 2 ** 20).toFixed(1)} MiB)`);

// 3. A text line image, preprocessed as PP-OCR expects: 48 px high, (x / 255 - 0.5) / 0.5.
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="48"><rect width="320" height="48" fill="white"/>
  <text x="8" y="33" font-size="26" font-family="DejaVu Sans, sans-serif">${TEXT}</text></svg>`;
const png = await sharp(Buffer.from(svg)).png().toBuffer();
const preprocess = new ImagePreprocessor({
  width: 320,
  height: 48,
  fit: 'stretch',
  normalize: { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] },
});
const x = await preprocess.preprocess(png);

// 4. Run, and decode the CTC output greedily with the model's character list.
const context = engine.createExecutionContext();
const outputName = engine.outputNames[0];
const times = [];
let probs;
for (let i = 0; i < 20; i++) {
  t0 = performance.now();
  probs = (await context.infer({ x }))[outputName];
  times.push(performance.now() - t0);
}
const keys = [
  '',
  ...fs
    .readFileSync(keysPath, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0),
  ' ',
];
const [, steps, classes] = probs.shape;
let text = '';
let previous = 0;
for (let t = 0; t < steps; t++) {
  let best = 0;
  for (let c = 1; c < classes; c++)
    if (probs.data[t * classes + c] > probs.data[t * classes + best]) best = c;
  if (best !== 0 && best !== previous) text += keys[best] ?? '?';
  previous = best;
}
times.sort((a, b) => a - b);
const { cpu } = features();
console.log(`read: "${text}" (rendered: "${TEXT}")`);
console.log(
  `latency on ${cpu.model} (${cpu.logicalCores} threads, ${cpu.isa}): median ${times[10].toFixed(2)} ms, min ${times[0].toFixed(2)} ms over 20 runs, host copies included`,
);

// 5. Benchmark the saved engine the way trtexec does (`kiln run --loadEngine=...`).
const benchmarked = await kiln([
  'run',
  `--loadEngine=${enginePath}`,
  `--shapes=x:${x.shape.join('x')}`,
  '--duration=1',
  '--warmUp=100',
]);
if (benchmarked !== 0) process.exit(benchmarked);
if (process.argv.includes('--check') && text.replace(/\s+/g, ' ').trim() !== TEXT) {
  console.error('the text was not read correctly');
  process.exit(1);
}
