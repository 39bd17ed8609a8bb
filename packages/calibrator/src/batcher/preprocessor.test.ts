import { KilnError, type Tensor, float32ToFloat16 } from '@kiln/core';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { png, solidPng } from '../test-support/images';
import { ImagePreprocessor } from './preprocessor';

// A 3x2 image with every channel value distinct, so any swap or misplaced index shows.
const W = 3;
const H = 2;
const PIXELS = [
  [200, 100, 50],
  [10, 20, 30],
  [0, 255, 128],
  [1, 2, 3],
  [90, 180, 45],
  [255, 0, 7],
];
const image = () => png(W, H, 3, PIXELS.flat());

function at(t: Tensor, layout: 'nchw' | 'nhwc', c: number, y: number, x: number): number {
  const [, , d2, d3] = t.shape as [number, number, number, number];
  const i = layout === 'nchw' ? (c * d2 + y) * d3 + x : (y * d2 + x) * d3 + c;
  return (t.data as Float32Array | Uint8Array)[i]!;
}

describe('ImagePreprocessor on synthetic images', () => {
  it('keeps exact pixels at the source size (uint8, NHWC and NCHW)', async () => {
    const bytes = await image();
    for (const layout of ['nhwc', 'nchw'] as const) {
      const t = await new ImagePreprocessor({
        width: W,
        height: H,
        dtype: 'uint8',
        layout,
      }).preprocess(bytes);
      expect(t.dtype).toBe('uint8');
      expect(t.shape).toEqual(layout === 'nchw' ? [1, 3, H, W] : [1, H, W, 3]);
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          for (let c = 0; c < 3; c++) expect(at(t, layout, c, y, x)).toBe(PIXELS[y * W + x]![c]);
    }
  });

  it('applies mean/std per output channel exactly, in BGR order', async () => {
    const mean = [103.53, 116.28, 123.675];
    const std = [57.375, 57.12, 58.395];
    const t = await new ImagePreprocessor({
      width: W,
      height: H,
      color: 'bgr',
      normalize: { mean, std },
    }).preprocess(await image());
    expect(t.dtype).toBe('float32');
    for (let p = 0; p < W * H; p++) {
      const [r, g, b] = PIXELS[p]!;
      const y = Math.floor(p / W);
      const x = p % W;
      expect(at(t, 'nchw', 0, y, x)).toBe(Math.fround((b! - mean[0]!) / std[0]!));
      expect(at(t, 'nchw', 1, y, x)).toBe(Math.fround((g! - mean[1]!) / std[1]!));
      expect(at(t, 'nchw', 2, y, x)).toBe(Math.fround((r! - mean[2]!) / std[2]!));
    }
  });

  it('applies scale/offset, broadcasting one number to every channel', async () => {
    const t = await new ImagePreprocessor({
      width: W,
      height: H,
      layout: 'nhwc',
      normalize: { scale: 1 / 127.5, offset: -1 },
    }).preprocess(await image());
    const expected = PIXELS.flat().map((v) => Math.fround(v * (1 / 127.5) - 1));
    expect([...(t.data as Float32Array)]).toEqual(expected);
    expect(Math.min(...expected)).toBe(-1);
    expect(Math.max(...expected)).toBe(1);
  });

  it('grays as round(0.299 R + 0.587 G + 0.114 B), and keeps gray sources exact', async () => {
    const t = await new ImagePreprocessor({
      width: W,
      height: H,
      color: 'grayscale',
      dtype: 'uint8',
    }).preprocess(await image());
    expect(t.shape).toEqual([1, 1, H, W]);
    // 0.299*200 + 0.587*100 + 0.114*50 = 124.2
    expect(t.data[0]).toBe(124);
    expect([...t.data]).toEqual(
      PIXELS.map(([r, g, b]) => Math.round(0.299 * r! + 0.587 * g! + 0.114 * b!)),
    );
    const ramp = Array.from({ length: 256 }, (_, i) => i);
    const gray = await new ImagePreprocessor({
      width: 256,
      height: 1,
      color: 'grayscale',
      dtype: 'uint8',
    }).preprocess(await png(256, 1, 1, ramp));
    expect([...gray.data]).toEqual(ramp);
  });

  it('writes float16 as the rounding of the float32 result', async () => {
    const opts = { width: W, height: H, normalize: { mean: 128, std: 64 } } as const;
    const f32 = await new ImagePreprocessor(opts).preprocess(await image());
    const f16 = await new ImagePreprocessor({ ...opts, dtype: 'float16' }).preprocess(
      await image(),
    );
    expect(f16.dtype).toBe('float16');
    expect([...f16.data]).toEqual([...float32ToFloat16(f32.data as Float32Array)]);
    // (192 - 128) / 64 = 1 -> half 0x3c00
    const one = await new ImagePreprocessor({ ...opts, dtype: 'float16' }).preprocess(
      await solidPng(W, H, [192, 192, 192]),
    );
    expect([...one.data]).toEqual(new Array(W * H * 3).fill(0x3c00));
  });

  it('drops alpha and reads paths and bytes alike', async () => {
    const rgba = await png(2, 1, 4, [10, 20, 30, 0, 40, 50, 60, 255]);
    const t = await new ImagePreprocessor({
      width: 2,
      height: 1,
      dtype: 'uint8',
      layout: 'nhwc',
    }).preprocess(rgba);
    expect([...t.data]).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it('letterboxes with the pad colour, centred', async () => {
    // 4x2 into 4x4: the image keeps its size, one pad row above and below.
    const src = Array.from({ length: 4 * 2 * 3 }, (_, i) => i + 1);
    const t = await new ImagePreprocessor({
      width: 4,
      height: 4,
      fit: 'letterbox',
      padColor: [7, 8, 9],
      dtype: 'uint8',
      layout: 'nhwc',
      kernel: 'nearest',
    }).preprocess(await png(4, 2, 3, src));
    const data = [...t.data];
    expect(data.slice(0, 12)).toEqual([7, 8, 9, 7, 8, 9, 7, 8, 9, 7, 8, 9]);
    expect(data.slice(12, 36)).toEqual(src);
    expect(data.slice(36, 48)).toEqual([7, 8, 9, 7, 8, 9, 7, 8, 9, 7, 8, 9]);
  });

  it('covers by centre crop', async () => {
    // 6x2: two red, two green, two blue columns; cover into 2x2 keeps only the green middle.
    const cols = [
      [255, 0, 0],
      [255, 0, 0],
      [0, 255, 0],
      [0, 255, 0],
      [0, 0, 255],
      [0, 0, 255],
    ];
    const t = await new ImagePreprocessor({
      width: 2,
      height: 2,
      fit: 'cover',
      dtype: 'uint8',
      layout: 'nhwc',
      kernel: 'nearest',
    }).preprocess(await png(6, 2, 3, [...cols, ...cols].flat()));
    expect([...t.data]).toEqual(new Array(4).fill([0, 255, 0]).flat());
    const stretched = await new ImagePreprocessor({
      width: 2,
      height: 2,
      dtype: 'uint8',
      layout: 'nhwc',
      kernel: 'nearest',
    }).preprocess(await png(6, 2, 3, [...cols, ...cols].flat()));
    expect([...stretched.data]).not.toEqual([...t.data]);
  });

  it('applies the EXIF orientation', async () => {
    // A 2x1 image stored with orientation 6 (rotate 90° clockwise) is 1x2 upright.
    const rotated = await sharp(await png(2, 1, 3, [1, 2, 3, 4, 5, 6]))
      .withMetadata({ orientation: 6 })
      .png()
      .toBuffer();
    const t = await new ImagePreprocessor({
      width: 1,
      height: 2,
      dtype: 'uint8',
      layout: 'nhwc',
    }).preprocess(rotated);
    expect([...t.data]).toEqual([1, 2, 3, 4, 5, 6]);
    const raw = await new ImagePreprocessor({
      width: 2,
      height: 1,
      dtype: 'uint8',
      layout: 'nhwc',
      autoOrient: false,
    }).preprocess(rotated);
    expect([...raw.data]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('reports unreadable input as an IO_ERROR naming it', async () => {
    const pre = new ImagePreprocessor({ width: 2, height: 2 });
    await expect(pre.preprocess(Buffer.from('not an image'))).rejects.toMatchObject({
      code: 'IO_ERROR',
      message: expect.stringMatching(/^cannot read an encoded image of 12 bytes: /),
    });
    await expect(pre.preprocess('/nonexistent/x.png')).rejects.toBeInstanceOf(KilnError);
  });
});

describe('preprocessing options', () => {
  const base = { width: 4, height: 4 };
  it.each([
    [
      { ...base, width: 0 },
      'Expected an integer between 1 and 16384 for options.width but received 0 of type number',
    ],
    [
      { ...base, fit: 'contain' },
      "Expected one of 'stretch', 'letterbox', 'cover' for options.fit but received 'contain' of type string",
    ],
    [{ ...base, color: 'RGB' }, 'options.color'],
    [{ ...base, layout: 'chw' }, 'options.layout'],
    [{ ...base, dtype: 'int8' }, 'options.dtype'],
    [{ ...base, kernel: 'bilinear' }, 'options.kernel'],
    [{ ...base, padColor: [0, 0] }, 'options.padColor'],
    [{ ...base, padColor: 256 }, 'options.padColor'],
    [
      { ...base, normalize: { mean: [1, 2], std: 1 } },
      'Expected a finite number or an array of 1 or 3 finite numbers (one per output channel) for options.normalize.mean',
    ],
    [{ ...base, normalize: { mean: 0, std: [1, 0, 1] } }, 'non-zero standard deviations'],
    [{ ...base, normalize: { mean: 0 } }, 'options.normalize.std'],
    [{ ...base, normalize: { scale: 1, mean: 0 } }, 'options.normalize'],
    [{ ...base, normalize: { offset: 1 } }, 'an object { mean, std } or { scale, offset? }'],
    [
      { ...base, color: 'grayscale', normalize: { mean: [1, 2, 3], std: 1 } },
      'an array of 1 finite numbers',
    ],
    [{ ...base, dtype: 'uint8', normalize: { scale: 2 } }, "nothing with dtype 'uint8'"],
    [{ ...base, fitMode: 'cover' }, 'Expected no such option (known: width, height, fit,'],
    [{ ...base, autoOrient: 'yes' }, 'options.autoOrient'],
  ])('refuses %o', (options, message) => {
    expect(() => new ImagePreprocessor(options as never)).toThrow(message);
  });
  it('accepts and resolves defaults', () => {
    const o = new ImagePreprocessor(base).options;
    expect(o).toMatchObject({
      fit: 'stretch',
      color: 'rgb',
      channels: 3,
      layout: 'nchw',
      dtype: 'float32',
      kernel: 'linear',
      padColor: [0, 0, 0],
      normalize: { kind: 'none' },
    });
  });
});
