// The bounded CI soak (README.md has the long run and its numbers).
import { missingReason, sharedModel } from '@kiln/test-data';
import { describe, expect, it } from 'vitest';

import { soak } from './soak.mjs';

const SECONDS = Number(process.env.KILN_SOAK_SECONDS ?? 40);
const model = sharedModel('fashion_mnist_cnn.onnx');
const missing = missingReason(model);
if (missing) console.warn(`[skip] soak: ${missing}`);

describe.skipIf(missing !== undefined)('soak on fashion_mnist_cnn', () => {
  it(`4 contexts x 2 streams for ${SECONDS} s: outputs right, invalid requests refused, RSS flat`, async () => {
    expect(globalThis.gc, 'vitest.config.mjs runs this with --expose-gc').toBeTypeOf('function');
    const r = await soak({ modelPath: model, seconds: SECONDS, contexts: 4, streams: 2, seed: 3 });
    console.log(JSON.stringify(r));
    expect(r.inferPath).toBeGreaterThan(50);
    expect(r.enqueuePath).toBeGreaterThan(50);
    expect(r.invalid).toBeGreaterThan(20);
    expect(Object.keys(r.errors)).toEqual(['INVALID_ARGUMENT']);
    // After warm-up RSS must stay within a band: the long runs in README.md stay within it.
    expect(r.rssEndMiB - r.rssAfterWarmupMiB).toBeLessThan(24);
  });
});
