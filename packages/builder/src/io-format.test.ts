// IO formats (NetworkDefinition.setIOFormat, like trtexec --inputIOFormats/--outputIOFormats):
// the engine's tensors take the format's dtype and layout and the network computes as before.
// References: onnxruntime-node's FP32 run of the same model (PP-OCR detection, a real trained
// model from npm), and ONNX's QuantizeLinear / DequantizeLinear arithmetic for int8.
import { Tensor, float16ToFloat32, float32ToFloat16 } from '@kiln/core';
import { ImagePreprocessor } from '@kiln/calibrator';
import { debFile, missingReason, npmFile, sharedModel } from '@kiln/test-data';
import { describe, expect, it } from 'vitest';

import { Builder } from './builder';
import { buildEngine, maxError, ortRun, parseOnnx } from './test-support/run';

const det = npmFile('ocr-models', 'assets', 'ch_PP-OCRv4_det_infer.onnx');
const image = debFile(
  'python3-skimage',
  'usr',
  'lib',
  'python3',
  'dist-packages',
  'skimage',
  'data',
  'page.png',
);
const detMissing = missingReason(det) ?? missingReason(image);
if (detMissing) console.warn(`[skip] IO formats on PP-OCR det: ${detMissing}`);

// [N, C, H, W] -> [N, H, W, C] and back, written out for the reference.
function toHwc<T extends Float32Array | Uint16Array>(x: T, [n, c, h, w]: number[]): T {
  const y = x.slice() as T;
  const hw = h! * w!;
  for (let b = 0; b < n!; b++)
    for (let k = 0; k < c!; k++)
      for (let i = 0; i < hw; i++) y[(b * hw + i) * c! + k] = x[(b * c! + k) * hw + i]!;
  return y;
}

function toChw(x: Float32Array, [n, h, w, c]: number[]): Float32Array {
  const y = x.slice();
  const hw = h! * w!;
  for (let b = 0; b < n!; b++)
    for (let k = 0; k < c!; k++)
      for (let i = 0; i < hw; i++) y[(b * c! + k) * hw + i] = x[(b * hw + i) * c! + k]!;
  return y;
}

describe.skipIf(detMissing !== undefined)('IO formats on PP-OCRv4 det', () => {
  it('fp16:hwc in and out agrees with onnxruntime-node FP32', async () => {
    const shape = [1, 3, 320, 320];
    const hwc = [1, 320, 320, 3];
    const network = parseOnnx(det);
    const input = network.inputs[0]!.name;
    const output = network.outputs[0]!.name;
    network.setIOFormat(network.inputs[0]!, { dtype: 'float16', layout: 'hwc' });
    network.setIOFormat(network.outputs[0]!, { dtype: 'float16', layout: 'hwc' });
    const builder = new Builder();
    const config = builder.createBuilderConfig();
    const profile = builder.createOptimizationProfile();
    profile.setDimensions(input, { min: hwc, opt: hwc, max: hwc });
    config.addOptimizationProfile(profile);
    const { engine } = await buildEngine(network, config, undefined, builder);
    const info = (name: string) => engine.getTensorInfo(name);
    expect([info(input).dtype, info(output).dtype]).toEqual(['float16', 'float16']);
    expect(info(input).shape).toEqual([-1, -1, -1, 3]);

    // Both runtimes see the same values: a real text image, rounded to fp16.
    const page = await new ImagePreprocessor({
      width: 320,
      height: 320,
      fit: 'letterbox',
      normalize: { mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] },
    }).preprocess(image);
    const half = float32ToFloat16(page.data as Float32Array);
    const exact = float16ToFloat32(half);
    const ref = await ortRun(det, { [input]: new Tensor('float32', shape, exact) });
    const want = ref[output]!;
    const got = await engine
      .createExecutionContext()
      .infer({ [input]: new Tensor('float16', hwc, toHwc(half, shape)) });
    const out = got[output]!;
    expect(out.dtype).toBe('float16');
    const [n, c, h, w] = want.dims;
    expect(out.shape).toEqual([n, h, w, c]);
    const { err, ref: peak } = maxError(
      toChw(float16ToFloat32(out.data as Uint16Array), [...out.shape]),
      want.data,
    );
    console.log(`det fp16:hwc vs ORT fp32: max error ${err.toExponential(2)}, max |ORT| ${peak}`);
    // The probability map is in [0, 1]: fp16 rounding adds at most 2^-12 to the FP32 difference.
    expect(peak).toBeGreaterThan(0.1);
    expect(err).toBeLessThan(1e-3);
  }, 120_000);
});

const qdq = sharedModel('mobilenet_v2_int8_qdq.onnx');
if (missingReason(qdq)) console.warn(`[skip] int8 IO on a Q/DQ model: ${missingReason(qdq)}`);

describe.skipIf(missingReason(qdq) !== undefined)('int8 input on a Q/DQ model', () => {
  it("takes the model's input scale and agrees with onnxruntime-node within one step", async () => {
    const messages: string[] = [];
    const builder = new Builder({ log: (_s, m) => messages.push(m) });
    const network = parseOnnx(qdq);
    const input = network.inputs[0]!.name;
    const output = network.outputs[0]!;
    const step = network.layers.find((l) => l.outputs.includes(output))!.inputs[1]!.values()[0]!;
    network.setIOFormat(network.inputs[0]!, { dtype: 'int8', layout: 'chw' });
    const config = builder.createBuilderConfig();
    config.maxBatchSize = 1;
    const { engine } = await buildEngine(network, config, undefined, builder);
    expect(engine.getTensorInfo(input).dtype).toBe('int8');
    const logged = messages.find((m) => m.startsWith(`int8 input '${input}': scale `));
    expect(logged).toBeDefined();
    const scale = Math.fround(Number(logged!.split(' ')[4]));
    const q = Int8Array.from({ length: 3 * 224 * 224 }, (_, i) =>
      Math.round(127 * Math.sin(i * 0.7311)),
    );
    const shape = [1, 3, 224, 224];
    const ours = (
      await engine.createExecutionContext().infer({ [input]: new Tensor('int8', shape, q) })
    )[output.name]!;
    const x = Float32Array.from(q, (v) => scale * v);
    const ref = (await ortRun(qdq, { [input]: new Tensor('float32', shape, x) }))[output.name]!;
    const got = ours.data as Float32Array;
    let within = 0;
    for (let i = 0; i < got.length; i++)
      if (Math.abs(got[i]! - ref.data[i]!) <= step * (1 + 1e-3)) within++;
    console.log(
      `mobilenet_v2_int8_qdq int8 input (scale ${scale}): ${((100 * within) / got.length).toFixed(2)}% within one step`,
    );
    expect(within / got.length).toBeGreaterThanOrEqual(0.99);
  }, 300_000);
});

describe('IO formats: int8 and errors', () => {
  // x -> Relu -> y with int8 storage on both sides.
  function reluNetwork() {
    const network = new Builder().createNetwork();
    const x = network.addInput('x', 'float32', [2, 3, 2, 2]);
    const y = network.addActivation(x, 'relu').output;
    network.markOutput(y);
    return { network, x, y };
  }

  it('int8 in and out follow QuantizeLinear / DequantizeLinear arithmetic', async () => {
    const { network, x, y } = reluNetwork();
    const output = y.name;
    network.setIOFormat(x, { dtype: 'int8', layout: 'hwc', scale: 0.05 });
    network.setIOFormat(y, { dtype: 'int8', layout: 'chw', scale: 0.03 });
    const { engine } = await buildEngine(network);
    const q = Int8Array.from({ length: 24 }, (_, i) => ((i * 37) % 256) - 128);
    const got = await engine
      .createExecutionContext()
      .infer({ x: new Tensor('int8', [2, 2, 2, 3], q) });
    // ONNX QuantizeLinear rounds half to even and saturates to [-128, 127].
    const roundEven = (v: number) => {
      const r = Math.round(v);
      return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
    };
    const want = new Int8Array(24);
    for (let b = 0; b < 2; b++)
      for (let c = 0; c < 3; c++)
        for (let i = 0; i < 4; i++) {
          const v = Math.max(0, Math.fround(0.05) * q[(b * 4 + i) * 3 + c]!);
          want[(b * 3 + c) * 4 + i] = Math.min(
            127,
            Math.max(-128, roundEven(v / Math.fround(0.03))),
          );
        }
    expect(got[output]!.dtype).toBe('int8');
    expect(Array.from(got[output]!.data as Int8Array)).toEqual(Array.from(want));
  });

  it('rejects formats it cannot honour', async () => {
    const { network, x, y } = reluNetwork();
    expect(() => network.setIOFormat(x, { dtype: 'float64' as 'float16', layout: 'chw' })).toThrow(
      /format.dtype/,
    );
    expect(() => network.setIOFormat(x, { dtype: 'float16', layout: 'hwc8' as 'hwc' })).toThrow(
      /format.layout/,
    );
    expect(() => network.setIOFormat(x, { dtype: 'float16', layout: 'chw', scale: 2 })).toThrow(
      /for int8 only/,
    );
    const k = network.addConstant([1], 'float32', Float32Array.of(1));
    expect(() => network.setIOFormat(k, { dtype: 'float16', layout: 'chw' })).toThrow(
      /a network input or marked output/,
    );
    // The output's rank is not known before the build: channels-last needs it.
    expect(() => network.setIOFormat(y, { dtype: 'float16', layout: 'hwc' })).toThrow(
      /no known rank/,
    );
    // int8 with no scale and no Q/DQ in the network to take one from.
    network.setIOFormat(x, { dtype: 'int8', layout: 'chw' });
    await expect(buildEngine(network)).rejects.toThrow(
      /int8 input 'x' needs a scale: give IOFormat.scale/,
    );
  });
});
