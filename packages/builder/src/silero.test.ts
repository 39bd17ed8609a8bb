// Silero VAD (real trained models from npm): If subgraphs chosen by the sample-rate input, LSTM,
// streaming state. Each variant runs chunk after chunk against onnxruntime-node.
import { Tensor } from '@kiln/core';
import { missingReason, npmFile } from '@kiln/test-data';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { Builder } from './builder';
import { buildEngine, maxError, parseOnnx } from './test-support/run';

const variants = ['silero_vad', 'silero_vad_16k_op15', 'silero_vad_half', 'silero_vad_op18_ifless'];
const path = (v: string) => npmFile('silero-vad', 'weights', `${v}.onnx`);
const missing = variants.map((v) => missingReason(path(v))).find((r) => r !== undefined);
if (missing) console.warn(`[skip] Silero VAD tests: ${missing}`);

// A chirp with silent gaps: it moves the speech probability, unlike silence.
function audio(chunk: number, k: number): Float32Array {
  return Float32Array.from({ length: chunk }, (_, i) =>
    k % 3 === 2 ? 0 : 0.4 * Math.sin(((k * chunk + i) * (k + 1)) / 40),
  );
}

describe.skipIf(missing !== undefined)('Silero VAD against onnxruntime-node', () => {
  for (const variant of variants) {
    it(`${variant}: streaming chunks agree, state included`, async () => {
      const network = parseOnnx(path(variant));
      const hasSr = network.inputs.some((t) => t.name === 'sr');
      const builder = new Builder();
      const profile = builder.createOptimizationProfile();
      profile.setDimensions('input', { min: [1, hasSr ? 256 : 512], opt: [1, 512], max: [1, 512] });
      profile.setDimensions('state', { min: [2, 1, 128], opt: [2, 1, 128], max: [2, 1, 128] });
      if (hasSr) profile.setShapeValues('sr', { min: [8000], opt: [16000], max: [16000] });
      const config = builder.createBuilderConfig();
      config.addOptimizationProfile(profile);
      const { engine } = await buildEngine(network, config);
      const session = await ort.InferenceSession.create(path(variant), { intraOpNumThreads: 1 });
      const [probName, stateName] = engine.outputNames as [string, string];
      for (const sr of hasSr ? [16000, 8000] : [16000]) {
        const chunk = sr === 16000 ? 512 : 256;
        const ctx = engine.createExecutionContext();
        let state: Float32Array<ArrayBufferLike> = new Float32Array(256);
        let refState: Float32Array<ArrayBufferLike> = new Float32Array(256);
        for (let k = 0; k < 5; k++) {
          const x = audio(chunk, k);
          const feeds: Record<string, Tensor> = {
            input: new Tensor('float32', [1, chunk], x),
            state: new Tensor('float32', [2, 1, 128], state),
          };
          const refFeeds: Record<string, ort.Tensor> = {
            input: new ort.Tensor('float32', x, [1, chunk]),
            state: new ort.Tensor('float32', refState, [2, 1, 128]),
          };
          if (hasSr) {
            feeds.sr = new Tensor('int64', [], new BigInt64Array([BigInt(sr)]));
            refFeeds.sr = new ort.Tensor('int64', new BigInt64Array([BigInt(sr)]), []);
          }
          const ours = await ctx.infer(feeds);
          const ref = await session.run(refFeeds);
          for (const name of [probName, stateName]) {
            const { err, ref: magnitude } = maxError(
              ours[name]!.data as Float32Array,
              ref[name]!.data as Float32Array,
            );
            expect(err, `${variant} sr=${sr} chunk ${k} ${name}: ${err}`).toBeLessThanOrEqual(
              1e-4 * (1 + magnitude),
            );
          }
          state = ours[stateName]!.data as Float32Array;
          refState = ref[stateName]!.data as Float32Array;
        }
      }
      await session.release();
    }, 60_000);
  }

  it('a condition on input values needs them: at build time through setShapeValues', async () => {
    const builder = new Builder();
    const profile = builder.createOptimizationProfile();
    profile.setDimensions('input', { min: [1, 256], opt: [1, 512], max: [1, 512] });
    profile.setDimensions('state', { min: [2, 1, 128], opt: [2, 1, 128], max: [2, 1, 128] });
    const config = builder.createBuilderConfig();
    config.addOptimizationProfile(profile);
    await expect(buildEngine(parseOnnx(path('silero_vad')), config)).rejects.toThrow(
      /depends on input data.*setShapeValues/,
    );
  });
});
