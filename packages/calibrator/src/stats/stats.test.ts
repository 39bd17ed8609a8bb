import { describe, expect, it } from 'vitest';
import { entropyThreshold, klDivergence, quantizeBins } from './entropy';
import { Histogram } from './histogram';
import { MinMaxAccumulator, scaleFromAmax } from './minmax';
import { percentileThreshold } from './percentile';

describe('MinMaxAccumulator', () => {
  it('accumulates over batches and leaves NaN out', () => {
    const acc = new MinMaxAccumulator();
    expect(acc.absMax).toBe(0);
    acc.update(new Float32Array([1, -3, 2])).update(new Float32Array([NaN, 5]));
    expect([acc.min, acc.max, acc.absMax, acc.count, acc.nanCount]).toEqual([-3, 5, 5, 5, 1]);
    acc.update(new Float32Array([-7]));
    expect(acc.absMax).toBe(7);
  });
  it('scaleFromAmax divides by 127 in float32', () => {
    expect(scaleFromAmax(127)).toBe(1);
    expect(scaleFromAmax(1)).toBe(Math.fround(1 / 127));
    expect(() => scaleFromAmax(-1)).toThrow(/amax/);
  });
});

describe('Histogram', () => {
  it('bins |x|, keeping the maximum in the last bin', () => {
    const h = new Histogram(4).update(new Float32Array([0.5, -1, 2]));
    expect(h.range).toBe(2);
    expect(h.binWidth).toBe(0.5);
    expect([...h.counts]).toEqual([0, 1, 1, 1]);
  });
  it('doubles its range by merging bin pairs when a larger value arrives', () => {
    const h = new Histogram(4).update(new Float32Array([0.5, -1, 2]));
    h.update(new Float32Array([3.9]));
    expect(h.range).toBe(4);
    expect([...h.counts]).toEqual([1, 2, 0, 1]);
    h.update(new Float32Array([15]));
    expect(h.range).toBe(16);
    expect([...h.counts]).toEqual([4, 0, 0, 1]);
    expect(h.total).toBe(5);
  });
  it('holds zeros until the range is known, and counts NaN apart', () => {
    const h = new Histogram(4).update(new Float32Array([0, 0, NaN]));
    expect(h.total).toBe(2);
    h.update(new Float32Array([1]));
    expect([...h.counts]).toEqual([2, 0, 0, 1]);
    expect(h.nanCount).toBe(1);
  });
});

describe('percentileThreshold', () => {
  it('returns the upper edge of the bin where the cumulative count reaches the percentile', () => {
    const counts = [5, 3, 1, 1];
    expect(percentileThreshold(counts, 2, 50)).toBe(2);
    expect(percentileThreshold(counts, 2, 80)).toBe(4);
    expect(percentileThreshold(counts, 2, 85)).toBe(6);
    expect(percentileThreshold(counts, 2, 90)).toBe(6);
    expect(percentileThreshold(counts, 2, 100)).toBe(8);
    expect(percentileThreshold([0, 0], 2, 99)).toBe(0);
    expect(() => percentileThreshold(counts, 2, 0)).toThrow(/percentile/);
  });
});

describe('entropy calibration', () => {
  it('klDivergence normalizes and skips p = 0 terms', () => {
    expect(klDivergence([1, 1], [1, 3])).toBeCloseTo(0.5 * Math.log(2) + 0.5 * Math.log(2 / 3), 14);
    expect(klDivergence([0, 2], [5, 5])).toBeCloseTo(Math.log(2), 14);
    expect(klDivergence([1, 1], [1, 0])).toBe(Infinity);
    expect(klDivergence([3, 1], [3, 1])).toBe(0);
  });

  it('quantizeBins spreads each group over its non-empty bins', () => {
    expect([...quantizeBins([1, 0, 3, 4], 2)]).toEqual([1, 0, 3.5, 3.5]);
    expect([...quantizeBins([2, 4, 6], 2)]).toEqual([2, 5, 5]);
    // The support (P with the clipped mass) decides which bins are non-empty.
    expect([...quantizeBins([2, 0], 1, [2, 3])]).toEqual([1, 1]);
  });

  it('picks the kept-bin count of least divergence (hand-computed)', () => {
    // kept 2: P=[4,4] Q=[4,2] -> 0.5 ln 1.125; kept 3: P=[4,2,2] Q=[4,1.5,1.5] -> 0.5 ln(49/48);
    // kept 4: P=[4,2,1,1] Q=[3,3,1,1] -> 0.5 ln(4/3) + 0.25 ln(2/3).
    const r = entropyThreshold([4, 2, 1, 1], 0.5, { quantizedBins: 2 });
    expect(r.divergences.map((d) => d.keptBins)).toEqual([2, 3, 4]);
    expect(r.divergences[0]!.divergence).toBeCloseTo(0.05889151782819173, 14);
    expect(r.divergences[1]!.divergence).toBeCloseTo(0.010309643601367805, 14);
    expect(r.divergences[2]!.divergence).toBeCloseTo(0.04247475919884931, 14);
    expect(r.keptBins).toBe(3);
    expect(r.amax).toBe(1.5);
  });

  it('smooths Q where it is 0 but P is not (hand-computed)', () => {
    // kept 2: P=[2,1]/3, Q=[2,0] -> [0.9, 0.1] after smoothing 0.1.
    const expected = (2 / 3) * Math.log(2 / 3 / 0.9) + (1 / 3) * Math.log(1 / 3 / 0.1);
    const r = entropyThreshold([2, 0, 0, 1], 1, { quantizedBins: 2, smoothing: 0.1 });
    expect(r.divergences[0]!.divergence).toBeCloseTo(expected, 14);
    expect(r.keptBins).toBe(4);
    const raw = entropyThreshold([2, 0, 0, 1], 1, { quantizedBins: 2, smoothing: 0 });
    expect(raw.divergences[0]!.divergence).toBe(Infinity);
  });

  it('clips a few far outliers that MinMax would keep', () => {
    // A deterministic bell of 20000 values (sum of 4 uniforms, |x| <= 2) plus one outlier.
    let state = 12345;
    const uniform = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5;
    const values = new Float32Array(20001);
    for (let i = 0; i < 20000; i++) values[i] = uniform() + uniform() + uniform() + uniform();
    values[20000] = 8;
    const h = new Histogram(2048).update(values);
    expect(new MinMaxAccumulator().update(values).absMax).toBe(8);
    const { amax, keptBins } = entropyThreshold(h.counts, h.binWidth);
    // The bell spans 512 of the 2048 bins; the threshold lands inside it, far below 8.
    expect(amax).toBeGreaterThan(0.5);
    expect(amax).toBeLessThan(2);
    expect(keptBins).toBeGreaterThan(128);
    expect(percentileThreshold(h.counts, h.binWidth, 99.9)).toBeLessThan(2);
    // An outlier so far that the bell fits in fewer bins than the first candidate (128): the
    // search cannot clip below 128 bins, as in TensorRT.
    values[20000] = 40;
    const far = new Histogram(2048).update(values);
    expect(entropyThreshold(far.counts, far.binWidth).keptBins).toBe(128);
  });

  it('validates its options', () => {
    expect(() => entropyThreshold([1, 2], 1)).toThrow(/at least 128 bins/);
    expect(() => entropyThreshold([1, 2, 3], 0, { quantizedBins: 2 })).toThrow(/binWidth/);
    expect(() => entropyThreshold([1, 2, 3], 1, { quantizedBins: 2, startBin: 1 })).toThrow(
      /startBin/,
    );
  });
});
