import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordLogs, solidPng, tempFolder } from '../test-support/images';
import { type ImageBatch, ImageBatcher } from './image-batcher';
import type { BatcherProgress } from './options';

// Five 4x4 solid images img0..img4 (value 10*i + 10 in every channel), a corrupt bad.jpg
// (sorted first) and a notes.txt the folder listing must ignore.
let folder: { dir: string; remove: () => void };
const value = (i: number) => 10 * i + 10;
const img = (i: number) => join(folder.dir, `img${i}.png`);

beforeAll(async () => {
  folder = tempFolder();
  for (let i = 0; i < 5; i++)
    writeFileSync(img(i), await solidPng(4, 4, [value(i), value(i), value(i)]));
  writeFileSync(join(folder.dir, 'bad.jpg'), Buffer.from('definitely not a jpeg'));
  writeFileSync(join(folder.dir, 'notes.txt'), 'not an image');
  mkdirSync(join(folder.dir, 'sub'));
  writeFileSync(join(folder.dir, 'sub', 'deep.webp'), await solidPng(4, 4, [1, 1, 1]));
});
afterAll(() => folder.remove());

async function collect(batcher: ImageBatcher): Promise<ImageBatch[]> {
  const out: ImageBatch[] = [];
  for await (const b of batcher) out.push(b);
  return out;
}

/** The first element of each image slot of a uint8 batch. */
function slotValues(b: ImageBatch): number[] {
  const size = b.tensor.size / b.tensor.shape[0]!;
  return Array.from({ length: b.tensor.shape[0]! }, (_, i) => Number(b.tensor.data[i * size]));
}

const opts = { width: 2, height: 2, dtype: 'uint8', batchSize: 2 } as const;

describe('ImageBatcher', () => {
  it('lists a folder sorted, skipping other files, and drops the remainder in exact mode', async () => {
    const logs = recordLogs();
    try {
      const batcher = new ImageBatcher({ ...opts, input: folder.dir });
      expect(await batcher.files()).toEqual([
        join(folder.dir, 'bad.jpg'),
        img(0),
        img(1),
        img(2),
        img(3),
        img(4),
      ]);
      expect(await batcher.batchCount()).toBe(3);
      const batches = await collect(batcher);
      // bad.jpg is skipped and replaced, so the batches stay full: (0,1) (2,3); img4 is dropped.
      expect(batches.map((b) => b.paths)).toEqual([
        [img(0), img(1)],
        [img(2), img(3)],
      ]);
      expect(batches.map(slotValues)).toEqual([
        [10, 20],
        [30, 40],
      ]);
      expect(batches.every((b) => b.realCount === 2)).toBe(true);
      expect(batches[0]!.tensor.shape).toEqual([2, 3, 2, 2]);
      const warnings = logs.messages.filter(([s]) => s === 'warning');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]![1]).toMatch(
        /^ImageBatcher skipped 1 unreadable image\(s\) of 6: .*bad\.jpg \(.+\)$/,
      );
      expect(batcher.skipped.map((s) => s.path)).toEqual([join(folder.dir, 'bad.jpg')]);
    } finally {
      logs.restore();
    }
  });

  it('pads the last batch by repeating its last image, or with zeros', async () => {
    const input = [img(0), img(1), img(2)];
    const repeat = await collect(new ImageBatcher({ ...opts, input, remainder: 'pad' }));
    expect(repeat.map((b) => [b.realCount, b.paths.length])).toEqual([
      [2, 2],
      [1, 1],
    ]);
    expect(slotValues(repeat[1]!)).toEqual([30, 30]);
    const zero = await collect(
      new ImageBatcher({
        ...opts,
        input,
        remainder: 'pad',
        padFill: 'zero',
        dtype: 'float32',
        normalize: { mean: 100, std: 1 },
      }),
    );
    const last = zero[1]!.tensor.data as Float32Array;
    expect(last[0]).toBe(30 - 100);
    expect([...last.subarray(12)]).toEqual(new Array(12).fill(0));
  });

  it('caps the count, shuffles by seed, and reports progress', async () => {
    const input = [0, 1, 2, 3, 4].map(img);
    const progress: BatcherProgress[] = [];
    const events: BatcherProgress[] = [];
    const batcher = new ImageBatcher({
      ...opts,
      input,
      batchSize: 1,
      seed: 42,
      maxImages: 4,
      onProgress: (p) => progress.push(p),
    });
    batcher.on('progress', (p) => events.push(p));
    const files = await batcher.files();
    expect(files).toHaveLength(4);
    expect(new Set(files).size).toBe(4);
    expect(files).not.toEqual(input.slice(0, 4));
    expect(await new ImageBatcher({ ...opts, input, seed: 42, maxImages: 4 }).files()).toEqual(
      files,
    );
    const batches = await collect(batcher);
    expect(batches.map((b) => b.paths[0])).toEqual(files);
    expect(progress).toEqual([1, 2, 3, 4].map((n) => ({ done: n, total: 4, batches: n })));
    expect(events).toEqual(progress);
    // A second pass is the same pass.
    expect((await collect(batcher)).map((b) => b.paths[0])).toEqual(files);
  });

  it('reads sub-folders when recursive, and other extensions when asked', async () => {
    const deep = new ImageBatcher({
      ...opts,
      input: folder.dir,
      recursive: true,
      extensions: ['webp'],
    });
    expect(await deep.files()).toEqual([join(folder.dir, 'sub', 'deep.webp')]);
  });

  it('warns once even when the consumer stops early', async () => {
    const logs = recordLogs();
    try {
      for await (const b of new ImageBatcher({ ...opts, input: folder.dir })) {
        expect(b.index).toBe(0);
        break;
      }
      expect(logs.messages.filter(([s]) => s === 'warning')).toHaveLength(1);
    } finally {
      logs.restore();
    }
  });

  it('throws when no image is readable, or too few for one exact batch', async () => {
    const bad = join(folder.dir, 'bad.jpg');
    await expect(
      collect(new ImageBatcher({ ...opts, input: [bad, join(folder.dir, 'missing.png')] })),
    ).rejects.toMatchObject({
      code: 'IO_ERROR',
      message: expect.stringMatching(
        /^none of the 2 images could be read: .*bad\.jpg .*missing\.png/,
      ),
    });
    await expect(collect(new ImageBatcher({ ...opts, input: [img(0)] }))).rejects.toMatchObject({
      code: 'INVALID_STATE',
      message:
        "1 readable image(s) make no full batch of 2; lower batchSize or use remainder: 'pad'",
    });
  });

  it('reports a missing or empty folder', async () => {
    await expect(
      new ImageBatcher({ ...opts, input: join(folder.dir, 'nope') }).files(),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const empty = tempFolder();
    try {
      await expect(new ImageBatcher({ ...opts, input: empty.dir }).files()).rejects.toThrow(
        /^no images \(\.jpg, \.jpeg, \.png, \.webp\) in /,
      );
    } finally {
      empty.remove();
    }
  });

  it('preprocesses single images exactly as it batches them', async () => {
    const batcher = new ImageBatcher({
      width: 3,
      height: 3,
      input: [img(1), img(2)],
      batchSize: 2,
      normalize: { scale: 1 / 255 },
    });
    const [batch] = await collect(batcher);
    const single = await batcher.preprocess(img(2));
    expect(single.shape).toEqual([1, 3, 3, 3]);
    expect([...single.data]).toEqual([...(batch!.tensor.data as Float32Array).subarray(27)]);
  });

  it.each([
    [{ input: '' }, 'options.input'],
    [{ input: [] }, 'Expected a folder path or a non-empty array of image paths for options.input'],
    [{ input: 'x', batchSize: 0 }, 'options.batchSize'],
    [{ input: 'x', remainder: 'drop' }, 'options.remainder'],
    [
      { input: 'x', padFill: 'zero' },
      "Expected nothing unless remainder is 'pad' for options.padFill",
    ],
    [{ input: 'x', maxImages: 0 }, 'options.maxImages'],
    [{ input: 'x', seed: -1 }, 'Expected an integer between 0 and 4294967295 for options.seed'],
    [{ input: 'x', seed: 1.5 }, 'options.seed'],
    [{ input: 'x', extensions: ['.j pg'] }, 'options.extensions'],
    [{ input: 'x', onProgress: 3 }, 'options.onProgress'],
    [{ input: 'x', shuffle: true }, 'no such option'],
  ])('refuses %o', (extra, message) => {
    expect(() => new ImageBatcher({ width: 2, height: 2, ...extra } as never)).toThrow(message);
  });
});
