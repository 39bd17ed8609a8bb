// Inputs and reference outputs for the clean-room apps, made with the monorepo's packages and
// onnxruntime-node (the reference), so that the apps check real numbers.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { REPO } from '../prebuild/platform.mjs';

const require = createRequire(path.join(REPO, 'packages', 'cli', 'package.json'));
const dist = (name) => path.join(REPO, 'packages', name, 'dist', 'index.js');
const data = path.join(REPO, '.data');

/** Writes the fixtures into `dir`; returns what it wrote. */
export async function makeFixtures(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const ort = require('onnxruntime-node');
  const { Builder, OnnxParser } = await import(dist('builder'));
  const { convertTfjs, writeOnnx } = await import(dist('tf2onnx'));

  // An engine file built here: the PP-OCR direction classifier at batch 2.
  const cls = path.join(data, 'npm', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
  const builder = new Builder();
  const network = builder.createNetwork();
  new OnnxParser(network).parse(cls);
  const config = builder.createBuilderConfig();
  // The engine runs on the prebuilt binary, which has kiln's own kernels only (no oneDNN).
  config.tacticSources = ['kiln'];
  const profile = builder.createOptimizationProfile();
  const shape = [2, 3, 48, 192];
  profile.setDimensions('x', { min: shape, opt: shape, max: shape });
  config.addOptimizationProfile(profile);
  fs.writeFileSync(
    path.join(dir, 'cls.kiln'),
    await builder.buildSerializedNetwork(network, config),
  );
  const x = Float32Array.from({ length: 2 * 3 * 48 * 192 }, (_, i) => Math.sin(i * 0.37));
  fs.writeFileSync(path.join(dir, 'cls-input.bin'), new Uint8Array(x.buffer));
  const session = await ort.InferenceSession.create(cls);
  const clsOut = await session.run({ x: new ort.Tensor('float32', x, shape) });
  const expected = { shape, output: Array.from(clsOut[session.outputNames[0]].data) };
  fs.writeFileSync(path.join(dir, 'cls-expected.json'), JSON.stringify(expected));

  // A TF.js graph model to convert there; its reference is onnxruntime-node on this conversion.
  const tfjsDir = path.join(data, 'npm', 'human-models', 'models');
  for (const f of ['antispoof.json', 'antispoof.bin'])
    fs.copyFileSync(path.join(tfjsDir, f), path.join(dir, f));
  const { model } = convertTfjs(path.join(tfjsDir, 'antispoof.json'));
  const onnxFile = path.join(dir, 'antispoof-reference.onnx');
  writeOnnx(model, onnxFile);
  const spoof = await ort.InferenceSession.create(onnxFile);
  const input = spoof.inputNames[0];
  const y = Float32Array.from({ length: 128 * 128 * 3 }, (_, i) => (Math.cos(i * 0.11) + 1) / 2);
  const spoofOut = await spoof.run({ [input]: new ort.Tensor('float32', y, [1, 128, 128, 3]) });
  fs.writeFileSync(path.join(dir, 'antispoof-input.bin'), new Uint8Array(y.buffer));
  fs.writeFileSync(
    path.join(dir, 'antispoof-expected.json'),
    JSON.stringify({ input, output: Array.from(spoofOut[spoof.outputNames[0]].data) }),
  );
  fs.rmSync(onnxFile);

  // Real photos for calibration (scikit-image's data folder, from Debian).
  const images = path.join(
    data,
    'deb',
    'python3-skimage',
    'usr',
    'lib',
    'python3',
    'dist-packages',
    'skimage',
    'data',
  );
  fs.mkdirSync(path.join(dir, 'images'));
  for (const f of ['astronaut.png', 'coffee.png', 'chelsea.png', 'rocket.jpg'])
    fs.copyFileSync(path.join(images, f), path.join(dir, 'images', f));
  return { engine: 'cls.kiln', tfjs: 'antispoof.json', images: 4 };
}
