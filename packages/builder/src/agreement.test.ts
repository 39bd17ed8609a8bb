// Real models built by kiln and run by @kiln/runtime, compared with onnxruntime-node on the
// same inputs: max abs error <= 1e-4 * (1 + max|ref|), the Engine issue's bar.
import { Tensor } from '@kiln/core';
import { missingReason, sharedModel } from '@kiln/test-data';
import { Runtime } from '@kiln/runtime';
import { describe, expect, it } from 'vitest';

import { buildEngine, maxError, ortRun, parseOnnx, sweep } from './test-support/run';
import { Builder } from './builder';

interface Case {
  file: string;
  shape: number[];
  scale: number;
}

const cases: Case[] = [
  { file: 'fashion_mnist_cnn.onnx', shape: [1, 1, 28, 28], scale: 2 },
  { file: 'resnet50.onnx', shape: [1, 3, 224, 224], scale: 2 },
  { file: 'mobilenet_v2.onnx', shape: [1, 3, 224, 224], scale: 2 },
  { file: 'deit_tiny.onnx', shape: [1, 3, 224, 224], scale: 2 },
];

describe('agreement with onnxruntime-node on the shared models', () => {
  for (const c of cases) {
    const path = sharedModel(c.file);
    const missing = missingReason(path);
    if (missing) console.warn(`[skip] ${c.file}: ${missing}`);
    it.skipIf(missing !== undefined)(
      `${c.file} at batch 1 and a larger batch`,
      async () => {
        const network = parseOnnx(path);
        const builder = new Builder();
        const config = builder.createBuilderConfig();
        const name = network.inputs[0]!.name;
        const batched = network.inputs[0]!.shape[0] === -1;
        if (batched) {
          const rest = c.shape.slice(1);
          config.addOptimizationProfile(
            builder
              .createOptimizationProfile()
              .setDimensions(name, { min: [1, ...rest], opt: [1, ...rest], max: [4, ...rest] }),
          );
        }
        const { engine } = await buildEngine(network, config);
        const context = engine.createExecutionContext();
        for (const batch of batched ? [1, 3] : [1]) {
          const shape = [batch, ...c.shape.slice(1)];
          const x = new Tensor(
            'float32',
            shape,
            sweep(
              shape.reduce((a, b) => a * b),
              c.scale,
              batch,
            ),
          );
          const ours = await context.infer({ [name]: x });
          const ref = await ortRun(path, { [name]: x });
          for (const out of engine.outputNames) {
            expect(ours[out]!.shape).toEqual(ref[out]!.dims);
            const { err, ref: magnitude } = maxError(
              ours[out]!.data as Float32Array,
              ref[out]!.data,
            );
            expect(
              err,
              `${c.file} ${out} batch ${batch}: max abs error ${err} vs max|ref| ${magnitude}`,
            ).toBeLessThanOrEqual(1e-4 * (1 + magnitude));
            // Random-weight nets can squash their outputs near zero (mobilenet_v2: ~5e-9), where the
            // absolute bound alone proves little: the error must also be small against the output.
            expect(err, `${c.file} ${out}: relative to max|ref| ${magnitude}`).toBeLessThanOrEqual(
              1e-3 * magnitude,
            );
          }
        }
      },
      120_000,
    );
  }
});

const fashion = sharedModel('fashion_mnist_cnn.onnx');
function buildFashion() {
  const config = new Builder().createBuilderConfig();
  config.maxBatchSize = 4;
  return buildEngine(parseOnnx(fashion), config);
}

describe.skipIf(missingReason(fashion) !== undefined)('engine files', () => {
  it('an engine written out and read back gives identical outputs', async () => {
    const { plan, engine } = await buildFashion();
    const reloaded = new Runtime().deserializeEngine(Buffer.from(plan));
    const x = new Tensor('float32', [1, 1, 28, 28], sweep(784, 1.5));
    const a = await engine.createExecutionContext().infer({ image: x });
    const b = await reloaded.createExecutionContext().infer({ image: x });
    expect(Array.from(b.logits!.data as Float32Array)).toEqual(
      Array.from(a.logits!.data as Float32Array),
    );
    expect(Array.from(reloaded.serialize())).toEqual(Array.from(plan));
  });

  it('a truncated or altered engine file is refused with a clear error', async () => {
    const { plan } = await buildFashion();
    const runtime = new Runtime();
    expect(() => runtime.deserializeEngine(plan.subarray(0, plan.length - 10))).toThrow(
      expect.objectContaining({
        code: 'INVALID_PLAN',
        message: expect.stringMatching(/truncated/),
      }),
    );
    const altered = plan.slice();
    altered[Math.floor(altered.length / 2)]! ^= 0x10;
    expect(() => runtime.deserializeEngine(altered)).toThrow(
      expect.objectContaining({ code: 'INVALID_PLAN', message: expect.stringMatching(/checksum/) }),
    );
    expect(() =>
      runtime.deserializeEngine(new TextEncoder().encode('not an engine at all')),
    ).toThrow(/not a kiln engine file/);
  });

  it('contexts of one engine run concurrently and agree', async () => {
    const { engine } = await buildFashion();
    const inputs = [0, 1, 2, 3].map((k) => new Tensor('float32', [1, 1, 28, 28], sweep(784, 1, k)));
    const serial: Awaited<ReturnType<typeof one.infer>>[] = [];
    const one = engine.createExecutionContext();
    for (const x of inputs) serial.push(await one.infer({ image: x }));
    const parallel = await Promise.all(
      inputs.map((x) => engine.createExecutionContext().infer({ image: x })),
    );
    parallel.forEach((p, k) =>
      expect(Array.from(p.logits!.data as Float32Array)).toEqual(
        Array.from(serial[k]!.logits!.data as Float32Array),
      ),
    );
  });
});
