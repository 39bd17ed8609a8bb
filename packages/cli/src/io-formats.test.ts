// kiln build --inputIOFormats / --outputIOFormats / --precisionConstraints on the PP-OCR direction
// classifier (a real trained model from npm): an fp16, channels-last engine fed from .npy agrees
// with onnxruntime-node's FP32 run; bad specs exit 2, unmet 'obey' constraints exit 1.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { float16ToFloat32, float32ToFloat16 } from '@kiln/core';
import { missingReason, npmFile } from '@kiln/test-data';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { kiln } from './test-support/kiln';
import { formatNpy, parseNpy } from './npy';

const cls = npmFile('ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const missing = missingReason(cls);
if (missing) console.warn(`[skip] kiln IO format flags: ${missing}`);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-io-'));

describe.skipIf(missing !== undefined)('kiln build --inputIOFormats / --outputIOFormats', () => {
  it('an fp16:hwc input and fp16 output agree with onnxruntime-node FP32', async () => {
    const engine = path.join(dir, 'cls-fp16-hwc.kiln');
    const built = await kiln(
      'build',
      `--onnx=${cls}`,
      '--shapes=x:1x48x192x3',
      '--inputIOFormats=fp16:hwc',
      '--outputIOFormats=fp16:chw',
      `--saveEngine=${engine}`,
    );
    expect(built.err).toBe('');
    expect(built.code).toBe(0);
    const inspected = (await kiln('inspect', engine)).out;
    expect(inspected).toContain('input  x: float16 [-1, -1, -1, 3]');
    expect(inspected).toMatch(/output \S+: float16 \[-1, 2\]/);

    // A smooth pattern in [-1, 1], made channels-last and fp16 for kiln, channels-first for ORT.
    const [h, w] = [48, 192];
    const chw = Float32Array.from(
      { length: 3 * h * w },
      (_, i) => Math.sin(i * 0.013) * Math.cos(i * 0.0007),
    );
    const hwc = new Float32Array(chw.length);
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < h * w; i++) hwc[i * 3 + c] = chw[c * h * w + i]!;
    const half = float32ToFloat16(hwc);
    const input = path.join(dir, 'x.npy');
    fs.writeFileSync(
      input,
      formatNpy({ dtype: 'float16', shape: [1, h, w, 3], data: new Uint8Array(half.buffer) }),
    );
    const out = path.join(dir, 'out.npy');
    const ran = await kiln(
      'run',
      `--loadEngine=${engine}`,
      `--loadInputs=x:${input}`,
      `--exportOutput=${out}`,
      '--iterations=2',
    );
    expect(ran.err).toBe('');
    expect(ran.code).toBe(0);
    const result = parseNpy(fs.readFileSync(out), out);
    expect(result.dtype).toBe('float16');
    const got = float16ToFloat32(new Uint16Array(Uint8Array.from(result.data).buffer));

    const rounded = float16ToFloat32(half);
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < h * w; i++) chw[c * h * w + i] = rounded[i * 3 + c]!;
    const session = await ort.InferenceSession.create(cls);
    const ref = await session.run({ x: new ort.Tensor('float32', chw, [1, 3, h, w]) });
    const want = ref[session.outputNames[0]!]!.data as Float32Array;
    await session.release();
    expect(got.length).toBe(2);
    // Probabilities: fp16 rounding adds at most 2^-12 to the FP32 difference.
    for (let i = 0; i < 2; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-3);
  }, 120_000);

  it('bad IO format and constraint arguments exit 2; unmet constraints and scales exit 1', async () => {
    const build = (...args: string[]) =>
      kiln('build', `--onnx=${cls}`, '--shapes=x:1x3x48x192', ...args);
    for (const [args, message] of [
      [['--inputIOFormats=fp16:hwc8'], "--inputIOFormats: 'fp16:hwc8' is not type:layout"],
      [['--outputIOFormats=half:chw'], "--outputIOFormats: 'half:chw' is not type:layout"],
      [
        ['--inputIOFormats=fp16:chw,fp32:chw'],
        "--inputIOFormats: give one format for all inputs or one per input (1: 'x'), got 2",
      ],
      [
        ['--precisionConstraints=strict'],
        "--precisionConstraints: expected none, prefer or obey, got 'strict'",
      ],
    ] as const) {
      const r = await build(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain(message);
      expect(r.err).toContain('usage: kiln build');
    }
    const obey = await build('--precisionConstraints=obey', '--layerPrecisions=*:int8');
    expect(obey.code).toBe(1);
    expect(obey.err).toContain("precisionConstraints 'obey':");
    expect(obey.err).toContain('is constrained to int8 but has no INT8 kernel');
    const prefer = await build('--layerPrecisions=*:int8');
    expect(prefer.code).toBe(0);
    const int8 = await build('--inputIOFormats=int8:chw');
    expect(int8.code).toBe(1);
    expect(int8.err).toContain("int8 input 'x' needs a scale");
  }, 120_000);
});
