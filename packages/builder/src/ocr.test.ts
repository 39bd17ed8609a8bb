// PP-OCR (real trained models from npm) on real text images, against onnxruntime-node.
import { ImagePreprocessor } from '@kiln/calibrator';
import { Tensor } from '@kiln/core';
import { debFile, missingReason, npmFile } from '@kiln/test-data';
import { describe, expect, it } from 'vitest';

import { Builder } from './builder';
import { buildEngine, maxError, ortRun, parseOnnx } from './test-support/run';

const model = (name: string) => npmFile('ocr-models', 'assets', `${name}.onnx`);
const image = (name: string) =>
  debFile('python3-skimage', 'usr', 'lib', 'python3', 'dist-packages', 'skimage', 'data', name);
const det = model('ch_PP-OCRv4_det_infer');
const needed = [
  det,
  model('ch_PP-OCRv4_rec_infer'),
  model('ch_ppocr_mobile_v2.0_cls_infer'),
  image('page.png'),
  image('text.png'),
];
const missing = needed.map(missingReason).find((r) => r !== undefined);
if (missing) console.warn(`[skip] PP-OCR tests: ${missing}`);

// PP-OCR's preprocessing: ImageNet mean/std for detection, (x / 255 - 0.5) / 0.5 for the rest.
async function load(
  file: string,
  width: number,
  height: number,
  detection: boolean,
): Promise<Tensor> {
  const normalize = detection
    ? { mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] }
    : { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] };
  return new ImagePreprocessor({
    width,
    height,
    fit: detection ? 'letterbox' : 'stretch',
    normalize,
  }).preprocess(image(file));
}

async function agree(
  path: string,
  x: Tensor,
  infer: (x: Tensor) => Promise<Record<string, Tensor>>,
) {
  const ours = await infer(x);
  const ref = await ortRun(path, { x });
  for (const [name, r] of Object.entries(ref)) {
    expect(ours[name]!.shape).toEqual(r.dims);
    const { err, ref: magnitude } = maxError(ours[name]!.data as Float32Array, r.data);
    expect(magnitude, `${name}: the reference output should not be all zeros`).toBeGreaterThan(0.1);
    expect(
      err,
      `${name} at [${x.shape}]: max abs error ${err}, max|ref| ${magnitude}`,
    ).toBeLessThanOrEqual(1e-4 * (1 + magnitude));
  }
}

describe.skipIf(missing !== undefined)('PP-OCR against onnxruntime-node', () => {
  it('recognition (48x320) and direction classification (48x192) on a text image', async () => {
    for (const [name, w] of [
      ['ch_PP-OCRv4_rec_infer', 320],
      ['ch_ppocr_mobile_v2.0_cls_infer', 192],
    ] as const) {
      const builder = new Builder();
      const config = builder.createBuilderConfig();
      config.addOptimizationProfile(
        builder
          .createOptimizationProfile()
          .setDimensions('x', { min: [1, 3, 48, w], opt: [1, 3, 48, w], max: [1, 3, 48, w] }),
      );
      const { engine } = await buildEngine(parseOnnx(model(name)), config);
      const ctx = engine.createExecutionContext();
      await agree(model(name), await load('text.png', w, 48, false), (x) => ctx.infer({ x }));
    }
  }, 120_000);

  it('detection with a dynamic profile: 320x320, 640x480 and 1280x1280 run, 1600x1600 is refused', async () => {
    const builder = new Builder();
    const config = builder.createBuilderConfig();
    config.addOptimizationProfile(
      builder.createOptimizationProfile().setDimensions('x', {
        min: [1, 3, 320, 320],
        opt: [1, 3, 640, 640],
        max: [1, 3, 1280, 1280],
      }),
    );
    const { engine } = await buildEngine(parseOnnx(det), config);
    expect(engine.profiles[0]).toEqual([
      { name: 'x', min: [1, 3, 320, 320], opt: [1, 3, 640, 640], max: [1, 3, 1280, 1280] },
    ]);
    const ctx = engine.createExecutionContext();
    for (const [h, w] of [
      [320, 320],
      [480, 640],
      [1280, 1280],
    ]) {
      await agree(det, await load('page.png', w!, h!, true), (x) => ctx.infer({ x }));
    }
    expect(() => ctx.setInputShape('x', [1, 3, 1600, 1600])).toThrow(
      "input 'x' dim 2 = 1600 is outside profile 0's range [320, 1280]",
    );
  }, 180_000);
});
