import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '@kiln/core';
import { describe, expect, it } from 'vitest';

import { ActivationRanges } from '../stats/activation-ranges';
import { entropyThreshold } from '../stats/entropy';
import { Histogram } from '../stats/histogram';
import { EntropyCalibrator, MinMaxCalibrator, PercentileCalibrator } from './batch-calibrator';

const batch = (v: number) => ({ x: new Tensor('float32', [2, 1], Float32Array.of(v, -v)) });

describe('MinMax / Entropy / Percentile calibrators over batches', () => {
  it('hand out every batch, then null, then start a new pass', async () => {
    const c = new MinMaxCalibrator({ batches: () => [batch(1), batch(2)], batchSize: 2 });
    expect(c.algorithm).toBe('minmax');
    const seen = [];
    for (let b = await c.getBatch(['x']); b; b = await c.getBatch(['x'])) seen.push(b.x!.data[0]);
    expect(seen).toEqual([1, 2]);
    expect((await c.getBatch(['x']))!.x!.data[0]).toBe(1);
  });

  it('take async generators and say which input a batch lacks', async () => {
    const c = new EntropyCalibrator({
      batches: async function* () {
        yield batch(3);
      },
      batchSize: 2,
    });
    expect(c.algorithm).toBe('entropy');
    await expect(c.getBatch(['x', 'y'])).rejects.toThrow(/no tensor for input 'y'/);
  });

  it('read and write the cache file, null before it exists', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kiln-cal-')), 'sub', 'c.cache');
    const c = new PercentileCalibrator({
      batches: () => [],
      batchSize: 1,
      cacheFile: file,
      percentile: 99,
    });
    expect(c.percentile).toBe(99);
    expect(await c.readCalibrationCache()).toBeNull();
    await c.writeCalibrationCache(new TextEncoder().encode('KILN-1-PercentileCalibration\n'));
    expect(new TextDecoder().decode((await c.readCalibrationCache())!)).toBe(
      'KILN-1-PercentileCalibration\n',
    );
    expect(
      await new MinMaxCalibrator({ batches: () => [], batchSize: 1 }).readCalibrationCache(),
    ).toBeNull();
  });

  it('validate their options', () => {
    expect(() => new MinMaxCalibrator({ batches: () => [], batchSize: 0 })).toThrow(/batchSize/);
    expect(() => new MinMaxCalibrator({ batches: [] as never, batchSize: 1 })).toThrow(/batches/);
    expect(
      () => new PercentileCalibrator({ batches: () => [], batchSize: 1, percentile: 0 }),
    ).toThrow(/percentile/);
  });
});

describe('ActivationRanges', () => {
  // A Relu-like tensor: half zeros, the rest spread over (0, 10], one outlier at 40.
  const relu = Float32Array.from({ length: 20001 }, (_, i) => (i % 2 ? (i % 1000) / 100 : 0));
  relu[20000] = 40;

  it('gives MinMax scales of max |x| / 127 per tensor', () => {
    const r = new ActivationRanges('minmax').update('a', Float32Array.of(-3, 1)).update('b', relu);
    expect(r.names()).toEqual(['a', 'b']);
    expect(r.scales().get('a')).toBe(Math.fround(3 / 127));
    expect(r.amax('b')).toBe(40);
  });

  it('clips outliers with entropy, over 256 levels for unsigned tensors', () => {
    const r = new ActivationRanges('entropy').update('b', relu);
    const h = new Histogram().update(relu);
    expect(r.amax('b')).toBe(entropyThreshold(h.counts, h.binWidth).amax);
    expect(r.amax('b', true)).toBe(
      entropyThreshold(h.counts, h.binWidth, { quantizedBins: 256 }).amax,
    );
    expect(r.amax('b')).toBeLessThan(40);
    expect(r.scales(new Set(['b'])).get('b')).toBe(Math.fround(r.amax('b', true) / 127));
  });

  it('reads percentiles of |x| and refuses unknown tensors', () => {
    const r = new ActivationRanges('percentile', 50).update('b', relu);
    expect(r.amax('b')).toBeLessThan(10);
    expect(() => r.amax('c')).toThrow(/name/);
    expect(() => new ActivationRanges('kl' as never)).toThrow(/algorithm/);
  });
});
