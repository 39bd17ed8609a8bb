// kiln build --int8 with trtexec-style calibration flags: .npy samples (Fashion-MNIST) and a
// folder of real photos (PP-OCR direction classifier); the cache file and its reuse.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

import { readCalibrationCache } from '@kiln/calibrator';
import { Tensor } from '@kiln/core';
import { Runtime } from '@kiln/runtime';
import { debFile, missingReason, npmFile, sharedModel } from '@kiln/test-data';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { kiln } from './test-support/kiln';
import { formatNpy } from './npy';

const fashion = sharedModel('fashion_mnist_cnn.onnx');
const dataset = debFile('dataset-fashion-mnist', 'usr', 'share', 'datasets', 'fashion-mnist');
const missing = missingReason(fashion) ?? missingReason(dataset);
if (missing) console.warn(`[skip] kiln --int8 calibration flags: ${missing}`);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-calib-'));

// idx images normalized as the model was trained: (x / 255 - 0.286) / 0.353, [n, 1, 28, 28].
function images(file: string, count: number): Float32Array {
  const bytes = zlib.gunzipSync(fs.readFileSync(path.join(dataset, file))).subarray(16);
  return Float32Array.from(bytes.subarray(0, count * 784), (v) => (v / 255 - 0.286) / 0.353);
}

describe('calibration flags: bad arguments', () => {
  it('need --int8, a known calibrator and data or a cache', async () => {
    for (const [args, message] of [
      [['--calibData=x'], '--calibData calibrates INT8: add --int8'],
      [['--int8', '--calibrator=kl', '--calibData=x'], "--calibrator: 'kl' is not minmax"],
      [['--int8', `--calib=${path.join(dir, 'none.cache')}`], 'give --calibData=DIR|FILE.npy'],
      [['--int8', '--calibData=/no/such'], "--calibData: no such file or folder '/no/such'"],
    ] as const) {
      const onnx = npmFile('ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
      const r = await kiln('build', `--onnx=${onnx}`, '--shapes=x:1x3x48x192', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain(message);
    }
  });
});

describe.skipIf(missing !== undefined)('kiln build --int8 on fashion_mnist_cnn', () => {
  it('calibrates from .npy samples, writes the cache, and rebuilds the same engine from it', async () => {
    const train = path.join(dir, 'train.npy');
    const samples = images('train-images-idx3-ubyte.gz', 512);
    fs.writeFileSync(
      train,
      formatNpy({
        dtype: 'float32',
        shape: [512, 1, 28, 28],
        data: new Uint8Array(samples.buffer),
      }),
    );
    const cache = path.join(dir, 'fashion.cache');
    const [first, second] = [path.join(dir, 'a.kiln'), path.join(dir, 'b.kiln')];
    const shapes = '--shapes=image:100x1x28x28';
    const built = await kiln(
      'build',
      `--onnx=${fashion}`,
      shapes,
      '--int8',
      `--calibData=${train}`,
      '--calibrator=minmax',
      '--calibBatchSize=32',
      `--calib=${cache}`,
      `--saveEngine=${first}`,
    );
    expect(built.code, built.err).toBe(0);
    expect(fs.readFileSync(cache, 'utf8').split('\n')[0]).toMatch(/MinMaxCalibration/);
    const again = await kiln(
      'build',
      `--onnx=${fashion}`,
      shapes,
      '--int8',
      `--calib=${cache}`,
      `--saveEngine=${second}`,
    );
    expect(again.code, again.err).toBe(0);
    expect(fs.readFileSync(second).equals(fs.readFileSync(first))).toBe(true);

    // --layerPrecisions keeps layers in FP32: all of them, or one by name.
    const layers = async (...extra: string[]) => {
      const file = path.join(dir, 'lp.kiln');
      const r = await kiln(
        'build',
        `--onnx=${fashion}`,
        shapes,
        '--int8',
        `--calib=${cache}`,
        `--saveEngine=${file}`,
        ...extra,
      );
      expect(r.code, r.err).toBe(0);
      return (await kiln('inspect', file)).out.split('\n').filter((l) => /^ *layer /.test(l));
    };
    const int8Layers = (lines: string[]) => lines.filter((l) => /: QLinearConv/.test(l)).length;
    const all = await layers();
    expect(int8Layers(all)).toBe(5);
    expect(int8Layers(await layers('--layerPrecisions=*:fp32'))).toBe(0);
    const firstConv = /layer ([^:]+): QLinearConv/.exec(
      all.find((l) => /QLinearConv/.test(l))!,
    )![1]!;
    const one = await layers(`--layerPrecisions=${firstConv.replace(/_int8$/, '')}:fp32`);
    expect(int8Layers(one)).toBe(4);
    const bad = await kiln('build', `--onnx=${fashion}`, shapes, '--layerPrecisions=nope:fp32');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--layerPrecisions: the network has no layer 'nope'");

    // --inputIOFormats=int8:chw takes the input's scale from the calibration (the cache's).
    const int8Input = path.join(dir, 'int8-input.kiln');
    const io = await kiln(
      'build',
      `--onnx=${fashion}`,
      shapes,
      '--int8',
      `--calib=${cache}`,
      '--inputIOFormats=int8:chw',
      `--saveEngine=${int8Input}`,
    );
    expect(io.code, io.err).toBe(0);
    const scale = readCalibrationCache(fs.readFileSync(cache)).scales.get('image')!;
    const quantized = new Runtime()
      .deserializeEngine(fs.readFileSync(int8Input))
      .createExecutionContext();

    // The INT8 engines' classes agree with onnxruntime-node's FP32 run on 500 test images.
    const test = images('t10k-images-idx3-ubyte.gz', 500);
    const session = await ort.InferenceSession.create(fashion);
    const context = new Runtime()
      .deserializeEngine(fs.readFileSync(first))
      .createExecutionContext();
    let same = 0;
    let sameInt8Input = 0;
    for (let b = 0; b < 5; b++) {
      const x = test.slice(b * 100 * 784, (b + 1) * 100 * 784);
      const ref = (await session.run({ image: new ort.Tensor('float32', x, [100, 1, 28, 28]) }))[
        session.outputNames[0]!
      ]!.data as Float32Array;
      const got = Object.values(
        await context.infer({ image: new Tensor('float32', [100, 1, 28, 28], x) }),
      )[0]!.data as Float32Array;
      const argmax = (v: Float32Array, i: number) => {
        let best = 0;
        for (let c = 1; c < 10; c++) if (v[i * 10 + c]! > v[i * 10 + best]!) best = c;
        return best;
      };
      for (let i = 0; i < 100; i++) if (argmax(ref, i) === argmax(got, i)) same++;
      const q = Int8Array.from(x, (v) => Math.max(-128, Math.min(127, Math.round(v / scale))));
      const fromInt8 = Object.values(
        await quantized.infer({ image: new Tensor('int8', [100, 1, 28, 28], q) }),
      )[0]!.data as Float32Array;
      for (let i = 0; i < 100; i++) if (argmax(ref, i) === argmax(fromInt8, i)) sameInt8Input++;
    }
    expect(same / 500).toBeGreaterThanOrEqual(0.97);
    expect(sameInt8Input / 500).toBeGreaterThanOrEqual(0.97);
  });
});

const cls = npmFile('ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const photos = debFile('python3-skimage', 'usr/lib/python3/dist-packages/skimage/data');
describe.skipIf(missingReason(cls) !== undefined || missingReason(photos) !== undefined)(
  'kiln run --int8 calibrated on a folder of images',
  () => {
    it('builds from real photos with the preprocessing flags and runs', async () => {
      const folder = path.join(dir, 'photos');
      fs.mkdirSync(folder);
      for (const f of [
        'astronaut.png',
        'coffee.png',
        'chelsea.png',
        'rocket.jpg',
        'page.png',
        'text.png',
        'camera.png',
        'coins.png',
      ])
        fs.copyFileSync(path.join(photos, f), path.join(folder, f));
      const r = await kiln(
        'run',
        `--onnx=${cls}`,
        '--shapes=x:4x3x48x192',
        '--int8',
        `--calibData=${folder}`,
        '--calibNum=8',
        '--calibBatchSize=4',
        '--calibrator=percentile',
        '--calibColor=bgr',
        '--calibMean=127.5',
        '--calibStd=127.5',
        '--iterations=2',
        '--duration=0',
        '--warmUp=0',
      );
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain('Throughput:');
    });
  },
);
