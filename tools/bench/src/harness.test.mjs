// Self-test: the harness on the tiny PP-OCR direction classifier, 2 short rounds. Checks the
// report's structure, not speed (timed assertions do not belong in unit tests).
import { missingReason, npmFile } from '@kiln/test-data';
import { describe, expect, it } from 'vitest';

import { runBench } from './harness.mjs';
import { compilePeakProbe, measurePeak } from './peak.mjs';
import { parseOptions } from './options.mjs';
import { renderMarkdown } from './report.mjs';
import { median, quantile, roundRatio } from './stats.mjs';

const cls = npmFile('ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const missing = missingReason(cls);
if (missing) console.warn(`[skip] bench self-test: ${missing}`);

describe('stats', () => {
  it('nearest-rank percentiles are measured values; the median of an even count averages', () => {
    const xs = [5, 1, 4, 2, 3, 10, 6, 7, 9, 8];
    expect(quantile(xs, 0.9)).toBe(9);
    expect(quantile(xs, 0.99)).toBe(10);
    expect(median(xs)).toBe(5.5);
    expect(median([3, 1, 2])).toBe(2);
  });

  it('the ratio is the median of per-round ratios, not the ratio of pooled medians', () => {
    // Round 2 ran under load for both: pooled medians would say 2/3, each round says 0.5.
    const r = roundRatio([1, 4, 1], [2, 8, 2]);
    expect(r.perRound).toEqual([0.5, 0.5, 0.5]);
    expect(r.ratio).toBe(0.5);
    expect(() => roundRatio([1], [1, 2])).toThrow('differ in count');
  });
});

describe('options', () => {
  it('validates flags with a message naming the flag', () => {
    expect(() => parseOptions(['--threads', '0'], '.')).toThrow(
      'Expected an integer >= 1 for --threads but received "0"',
    );
    expect(() => parseOptions(['--models', 'alexnet'], '.')).toThrow('for --models');
    const parsed = parseOptions(['--models', 'ppocr_cls', '--batch', '1,8,1'], '/x');
    expect(parsed.help).toBe(false);
    if (!parsed.help) expect(parsed.options.batches).toEqual([1, 8]);
  });
});

describe.skipIf(missing !== undefined)('harness on ppocr_cls', () => {
  it('runs both runtimes in alternating rounds and reports per-round ratios', async () => {
    const messages = [];
    const results = await runBench(
      {
        models: ['ppocr_cls'],
        batches: [1],
        threads: 1,
        rounds: 2,
        iterations: 3,
        warmup: 1,
        maxSeconds: 5,
        peakSeconds: 0,
      },
      (m) => messages.push(m),
    );
    expect(results.jobs).toHaveLength(1);
    const job = results.jobs[0];
    expect(job.model).toBe('ppocr_cls');
    expect(job.inputs).toEqual([{ name: 'x', shape: [1, 3, 48, 192] }]);
    // Conv FLOPs of the classifier at 48x192: about 33 MFLOP.
    expect(job.flops.flops).toBeGreaterThan(30e6);
    expect(job.flops.flops).toBeLessThan(36e6);

    for (const runtime of ['kiln', 'ort']) {
      const side = job[runtime];
      expect(side.status, `${runtime}: ${side.error}`).toBe('ok');
      expect(side.rounds).toHaveLength(2);
      for (const round of side.rounds) {
        expect(round.compute).toHaveLength(3);
        expect(round.endToEnd).toHaveLength(3);
        for (const t of [...round.compute, ...round.endToEnd]) expect(t).toBeGreaterThan(0);
      }
      expect(side.compute.n).toBe(6);
      expect(side.compute.median).toBeLessThanOrEqual(side.compute.p90);
      expect(side.compute.p90).toBeLessThanOrEqual(side.compute.p99);
      expect(job.gflops[runtime]).toBeGreaterThan(0);
    }

    // The ratio comes from each round's own medians.
    const perRound = [0, 1].map(
      (r) => median(job.kiln.rounds[r].compute) / median(job.ort.rounds[r].compute),
    );
    expect(job.ratio.compute.perRound).toEqual(perRound);
    expect(job.ratio.compute.ratio).toBeCloseTo((perRound[0] + perRound[1]) / 2, 12);

    // Alternation: kiln then ORT in every round, one round at a time.
    const order = messages.filter((m) => m.includes('round')).map((m) => m.split(': ')[1]);
    expect(order).toEqual(['round 1/2 kiln', 'round 1/2 ort', 'round 2/2 kiln', 'round 2/2 ort']);

    expect(results.peak).toEqual({ status: 'not measured', reason: 'disabled (--peak-seconds 0)' });
    expect(results.versions.ort.version).toBe('1.30.0');
    expect(results.machine.loadBefore).toHaveLength(3);

    const md = renderMarkdown(results);
    expect(md).toMatch(/\| ppocr_cls \| 1 \| 0\.03 \|/);
    expect(md).toContain('FP32 FMA peak**: not measured: disabled');
    expect(md).toContain('geometric mean of kiln/ORT over 1 models (ppocr_cls)');
  });
});

describe('FMA peak probe', () => {
  it('compiles and reports a positive GFLOP/s, or says why it cannot', async () => {
    const probe = await compilePeakProbe();
    if (typeof probe === 'string') {
      console.warn(`[skip] FMA peak probe: ${probe}`);
      expect(probe).toMatch(/compiler|compile/);
      return;
    }
    try {
      const peak = await measurePeak(probe, 1, 0.2);
      expect(['avx512f', 'avx2+fma']).toContain(peak.isa);
      expect(peak.threads).toBe(1);
      // Positive, not a rate: a runner starved by other jobs (a CI machine at load 8) measured
      // 0.7 GFLOP/s in these 0.2 s, where an idle core gives ~200.
      expect(peak.gflops).toBeGreaterThan(0);
    } finally {
      probe.dispose();
    }
  });
});
