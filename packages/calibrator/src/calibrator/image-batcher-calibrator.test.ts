import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageBatcher } from '../batcher/image-batcher';
import { readCalibrationCache, writeCalibrationCache } from '../cache/calibration-cache';
import { solidPng, tempFolder } from '../test-support/images';
import { CALIBRATOR_NAMES } from './calibrator';
import { ImageBatcherCalibrator } from './image-batcher-calibrator';

let folder: { dir: string; remove: () => void };
let files: string[];

beforeAll(async () => {
  folder = tempFolder();
  files = [];
  for (let i = 0; i < 5; i++) {
    const path = join(folder.dir, `img${i}.png`);
    writeFileSync(path, await solidPng(4, 4, [i, i, i]));
    files.push(path);
  }
});
afterAll(() => folder.remove());

const batcher = () => new ImageBatcher({ input: files, width: 2, height: 2, batchSize: 2 });

describe('ImageBatcherCalibrator', () => {
  it('hands out the batcher batches under the input name, then null, and again after reset', async () => {
    const calibrator = new ImageBatcherCalibrator({ batcher: batcher(), algorithm: 'minmax' });
    expect(calibrator.batchSize).toBe(2);
    const firsts: number[] = [];
    for (
      let b = await calibrator.getBatch(['input']);
      b !== null;
      b = await calibrator.getBatch(['input'])
    ) {
      expect(Object.keys(b)).toEqual(['input']);
      expect(b.input!.shape).toEqual([2, 3, 2, 2]);
      firsts.push(b.input!.data[0] as number);
    }
    expect(firsts).toEqual([0, 2]);
    expect(await calibrator.getBatch(['input'])).toBeNull();
    await calibrator.reset();
    expect((await calibrator.getBatch(['input']))!.input!.data[0]).toBe(0);
  });

  it('refuses networks it cannot feed', async () => {
    const calibrator = new ImageBatcherCalibrator({ batcher: batcher(), inputName: 'images' });
    await expect(calibrator.getBatch(['a', 'b'])).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(calibrator.getBatch(['pixels'])).rejects.toThrow(
      "the images were meant for input 'images' but the network's input is 'pixels'",
    );
    expect((await calibrator.getBatch(['images']))!.images).toBeDefined();
  });

  it('reads null before a cache exists, then what was written', async () => {
    const cacheFile = join(folder.dir, 'cache', 'model.cache');
    const calibrator = new ImageBatcherCalibrator({
      batcher: batcher(),
      algorithm: 'minmax',
      cacheFile,
    });
    expect(await calibrator.readCalibrationCache()).toBeNull();
    const text = writeCalibrationCache({
      calibrator: CALIBRATOR_NAMES[calibrator.algorithm],
      fingerprint: 'abc',
      scales: { input: 1 / 127 },
    });
    await calibrator.writeCalibrationCache(new TextEncoder().encode(text));
    expect(existsSync(cacheFile)).toBe(true);
    expect(readFileSync(cacheFile, 'utf8')).toBe(text);
    const bytes = await calibrator.readCalibrationCache();
    const cache = readCalibrationCache(bytes!, {
      calibrator: 'MinMaxCalibration',
      fingerprint: 'abc',
    });
    expect(cache.scales.get('input')).toBe(Math.fround(1 / 127));
    const none = new ImageBatcherCalibrator({ batcher: batcher() });
    await none.writeCalibrationCache(new Uint8Array(1));
    expect(await none.readCalibrationCache()).toBeNull();
  });

  it('validates its options', () => {
    expect(() => new ImageBatcherCalibrator({ batcher: {} as never })).toThrow('options.batcher');
    expect(
      () => new ImageBatcherCalibrator({ batcher: batcher(), algorithm: 'kl' as never }),
    ).toThrow('options.algorithm');
    expect(() => new ImageBatcherCalibrator({ batcher: batcher(), percentile: 99 })).toThrow(
      "nothing unless algorithm is 'percentile'",
    );
    expect(
      () =>
        new ImageBatcherCalibrator({
          batcher: batcher(),
          algorithm: 'percentile',
          percentile: 101,
        }),
    ).toThrow('options.percentile');
    expect(
      new ImageBatcherCalibrator({ batcher: batcher(), algorithm: 'percentile' }).percentile,
    ).toBe(99.99);
    expect(new ImageBatcherCalibrator({ batcher: batcher() }).algorithm).toBe('entropy');
  });
});
