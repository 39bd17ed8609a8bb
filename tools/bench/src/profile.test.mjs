// profile.mjs and the core's KILN_PROFILE_LAYERS table, on the tiny PP-OCR direction classifier.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { missingReason, npmFile } from '@kiln/test-data';
import { describe, expect, it } from 'vitest';

const cls = npmFile('ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const missing = missingReason(cls);
if (missing) console.warn(`[skip] profile test: ${missing}`);

describe.skipIf(missing !== undefined)('per-layer profile (KILN_PROFILE_LAYERS)', () => {
  it('prints every layer with its op, and totals per op type, when the process exits', () => {
    const script = fileURLToPath(new URL('../profile.mjs', import.meta.url));
    const run = spawnSync(process.execPath, [script, 'ppocr_cls', '--iterations', '2'], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/ppocr_cls b1: [\d.]+ ms per run/);
    // 3 warm-up + 2 timed runs of the compute loop, every one of them timed.
    expect(run.stderr).toMatch(/\[kiln profile\] \d+ layers, 5 runs, [\d.]+ ms per run/);
    const layerLines = run.stderr.match(/^\[kiln profile\] +[\d.]+ +[\d.]+ {2}\S+ +\S+/gm) ?? [];
    expect(layerLines.some((l) => /\bConv +p2o\.Conv\.0$/.test(l))).toBe(true);
    expect(run.stderr).toMatch(/per op type:/);
    expect(run.stderr).toMatch(/^\[kiln profile\] +[\d.]+ +[\d.]+ +\d+ {2}Conv$/m);
  });

  it('prints nothing when the variable is unset', () => {
    const script = fileURLToPath(new URL('../profile.mjs', import.meta.url));
    const run = spawnSync(process.execPath, [script, 'ppocr_cls', '--iterations', '1'], {
      encoding: 'utf8',
      env: { ...process.env, KILN_PROFILE_LAYERS: '0' },
    });
    expect(run.status).toBe(0);
    expect(run.stderr).not.toMatch(/kiln profile/);
  });
});
