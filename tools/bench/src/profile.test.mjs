// profile.mjs on the tiny PP-OCR direction classifier: every layer with its op, totals per op.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { missingReason, npmFile } from '@kiln/test-data';
import { describe, expect, it } from 'vitest';

const cls = npmFile('ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const missing = missingReason(cls);
if (missing) console.warn(`[skip] profile test: ${missing}`);

describe.skipIf(missing !== undefined)('per-layer profile (profile.mjs)', () => {
  it('prints every layer with its op, and totals per op type, for the timed runs only', () => {
    const script = fileURLToPath(new URL('../profile.mjs', import.meta.url));
    const run = spawnSync(process.execPath, [script, 'ppocr_cls', '--iterations', '2'], {
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    // 3 warm-up runs are not profiled; the 2 timed ones are.
    expect(run.stdout).toMatch(/ppocr_cls b1: \d+ layers, 2 runs, [\d.]+ ms per run/);
    expect(run.stdout).toMatch(/^ +[\d.]+ +[\d.]+% {2}Conv {2}p2o\.Conv\.0$/m);
    expect(run.stdout).toMatch(/per op type:/);
    expect(run.stdout).toMatch(/^ +[\d.]+ +[\d.]+% {2}Conv \(\d+\)$/m);
  });
});
