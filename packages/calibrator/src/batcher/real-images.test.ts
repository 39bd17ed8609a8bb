import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { recordLogs } from '../test-support/images';
import { SKIMAGE_DATA, skimageMissing } from '../test-support/skimage';
import { ImageBatcher } from './image-batcher';
import { ImagePreprocessor } from './preprocessor';

// Natural images from Debian's python3-skimage (fetched by `node tools/test-data/fetch.mjs`).
const file = (name: string) => join(SKIMAGE_DATA, name);
const MAGENTA = [255, 0, 255] as const;

/** Rows (or columns) of an NHWC uint8 image where some pixel differs from `pad`. */
function contentExtent(
  data: Uint8Array,
  w: number,
  h: number,
  pad: readonly number[],
  axis: 'rows' | 'cols',
): [number, number] {
  const outer = axis === 'rows' ? h : w;
  const inner = axis === 'rows' ? w : h;
  const hits: number[] = [];
  for (let a = 0; a < outer; a++) {
    for (let b = 0; b < inner; b++) {
      const [y, x] = axis === 'rows' ? [a, b] : [b, a];
      const i = (y * w + x) * 3;
      if (data[i] !== pad[0] || data[i + 1] !== pad[1] || data[i + 2] !== pad[2]) {
        hits.push(a);
        break;
      }
    }
  }
  return [hits[0]!, hits[hits.length - 1]!];
}

describe.skipIf(skimageMissing !== undefined)('ImageBatcher on python3-skimage images', () => {
  it('letterboxes a wide photo: pad rows exactly the pad colour, aspect kept', async () => {
    // rocket.jpg is 640x427 -> 128x85 at rows 21..105.
    const pre = new ImagePreprocessor({
      width: 128,
      height: 128,
      fit: 'letterbox',
      padColor: [114, 114, 114],
      dtype: 'uint8',
      layout: 'nhwc',
    });
    const t = await pre.preprocess(file('rocket.jpg'));
    const data = t.data as Uint8Array;
    expect(data.subarray(0, 21 * 128 * 3).every((v) => v === 114)).toBe(true);
    expect(data.subarray(106 * 128 * 3).every((v) => v === 114)).toBe(true);
    expect(contentExtent(data, 128, 128, [114, 114, 114], 'rows')).toEqual([21, 105]);
    const contentRows = 105 - 21 + 1;
    expect(Math.abs(contentRows / 128 - 427 / 640)).toBeLessThan(1 / 128);
  });

  it('letterboxes a tall gray page with magenta columns, none inside the page', async () => {
    // page.png (384x191, gray) turned upright-tall: 191x384 into 96x96 -> 48x96 at cols 24..71.
    const tall = await sharp(file('page.png')).rotate(90).png().toBuffer();
    const t = await new ImagePreprocessor({
      width: 96,
      height: 96,
      fit: 'letterbox',
      padColor: [...MAGENTA],
      dtype: 'uint8',
      layout: 'nhwc',
    }).preprocess(tall);
    const data = t.data as Uint8Array;
    let magentaInside = 0;
    for (let y = 0; y < 96; y++) {
      for (let x = 0; x < 96; x++) {
        const i = (y * 96 + x) * 3;
        const isPad = data[i] === 255 && data[i + 1] === 0 && data[i + 2] === 255;
        if (x < 24 || x > 71) expect(isPad).toBe(true);
        else if (isPad) magentaInside++;
      }
    }
    expect(magentaInside).toBe(0);
    expect(contentExtent(data, 96, 96, MAGENTA, 'cols')).toEqual([24, 71]);
  });

  it('covers by the centre crop of the aspect-kept resize', async () => {
    // rocket 640x427 into 100x100: resize to 150x100, keep columns 25..124.
    const opts = { dtype: 'uint8', layout: 'nhwc' } as const;
    const cover = await new ImagePreprocessor({
      ...opts,
      width: 100,
      height: 100,
      fit: 'cover',
    }).preprocess(file('rocket.jpg'));
    const wide = await new ImagePreprocessor({ ...opts, width: 150, height: 100 }).preprocess(
      file('rocket.jpg'),
    );
    const expected = new Uint8Array(100 * 100 * 3);
    for (let y = 0; y < 100; y++)
      expected.set(
        (wide.data as Uint8Array).subarray((y * 150 + 25) * 3, (y * 150 + 125) * 3),
        y * 300,
      );
    expect(Buffer.compare(Buffer.from(cover.data as Uint8Array), Buffer.from(expected))).toBe(0);
    const stretch = await new ImagePreprocessor({ ...opts, width: 100, height: 100 }).preprocess(
      file('rocket.jpg'),
    );
    expect(Buffer.compare(Buffer.from(stretch.data as Uint8Array), Buffer.from(expected))).not.toBe(
      0,
    );
    // A square photo into a wide box crops rows: astronaut 512x512 -> 64x64, rows 16..47.
    const crop = await new ImagePreprocessor({
      ...opts,
      width: 64,
      height: 32,
      fit: 'cover',
    }).preprocess(file('astronaut.png'));
    const square = await new ImagePreprocessor({ ...opts, width: 64, height: 64 }).preprocess(
      file('astronaut.png'),
    );
    expect([...crop.data]).toEqual([
      ...(square.data as Uint8Array).subarray(16 * 64 * 3, 48 * 64 * 3),
    ]);
  });

  it('orders channels: BGR is RGB reversed, grayscale follows BT.601 within rounding', async () => {
    const base = { width: 32, height: 32, dtype: 'uint8' } as const;
    const rgb = (await new ImagePreprocessor(base).preprocess(file('chelsea.png')))
      .data as Uint8Array;
    const bgr = (
      await new ImagePreprocessor({ ...base, color: 'bgr' }).preprocess(file('chelsea.png'))
    ).data as Uint8Array;
    const gray = (
      await new ImagePreprocessor({ ...base, color: 'grayscale' }).preprocess(file('chelsea.png'))
    ).data as Uint8Array;
    const plane = 32 * 32;
    expect([...bgr.subarray(0, plane)]).toEqual([...rgb.subarray(2 * plane)]);
    expect([...bgr.subarray(2 * plane)]).toEqual([...rgb.subarray(0, plane)]);
    for (let p = 0; p < plane; p++) {
      expect(gray[p]).toBe(
        Math.round(0.299 * rgb[p]! + 0.587 * rgb[plane + p]! + 0.114 * rgb[2 * plane + p]!),
      );
    }
    // The cat photo has colour: the channels are not all equal.
    expect([...rgb.subarray(0, plane)]).not.toEqual([...rgb.subarray(2 * plane)]);
  });

  it('batches the whole data folder, skipping truncated.jpg with one warning', async () => {
    const logs = recordLogs();
    try {
      const batcher = new ImageBatcher({
        input: SKIMAGE_DATA,
        width: 64,
        height: 48,
        fit: 'letterbox',
        batchSize: 8,
        remainder: 'pad',
        normalize: { mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] },
      });
      const files = await batcher.files();
      expect(files.length).toBeGreaterThanOrEqual(30);
      let real = 0;
      let last = -1;
      for await (const batch of batcher) {
        expect(batch.tensor.shape).toEqual([8, 3, 48, 64]);
        expect(batch.paths).toHaveLength(batch.realCount);
        const data = batch.tensor.data as Float32Array;
        expect(data.every(Number.isFinite)).toBe(true);
        real += batch.realCount;
        last = batch.index;
      }
      const skipped = batcher.skipped.map((s) => s.path);
      expect(skipped).toContain(file('truncated.jpg'));
      expect(real).toBe(files.length - skipped.length);
      expect(last + 1).toBe(Math.ceil(real / 8));
      const warnings = logs.messages.filter(([s]) => s === 'warning');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]![1]).toContain('truncated.jpg (');
    } finally {
      logs.restore();
    }
  });
});
