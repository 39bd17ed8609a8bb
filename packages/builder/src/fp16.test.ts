// FP16 weight storage ('fp16' flag) on the shared models: the plan's weights take half the
// bytes, and outputs agree with the FP32 engine within 1e-2 of the output's largest magnitude.
import { Tensor } from '@kiln/core';
import { missingReason, sharedModel } from '@kiln/test-data';
import { describe, expect, it } from 'vitest';

import { Builder } from './builder';
import { buildEngine, maxError, parseOnnx, sweep } from './test-support/run';

const cases = [
  { file: 'fashion_mnist_cnn.onnx', shape: [1, 1, 28, 28] },
  { file: 'resnet50.onnx', shape: [1, 3, 224, 224] },
  { file: 'mobilenet_v2.onnx', shape: [1, 3, 224, 224] },
];

describe('fp16 engines agree with FP32', () => {
  for (const c of cases) {
    const path = sharedModel(c.file);
    const missing = missingReason(path);
    if (missing) console.warn(`[skip] ${c.file}: ${missing}`);
    it.skipIf(missing !== undefined)(
      `${c.file}`,
      async () => {
        const builder = new Builder();
        const build = (fp16: boolean) => {
          const config = builder.createBuilderConfig();
          config.maxBatchSize = 1;
          if (fp16) config.setFlag('fp16');
          return buildEngine(parseOnnx(path), config);
        };
        const fp32 = await build(false);
        const half = await build(true);
        expect(half.plan.byteLength).toBeLessThan(0.6 * fp32.plan.byteLength);
        const name = fp32.engine.inputNames[0]!;
        const x = new Tensor(
          'float32',
          c.shape,
          sweep(
            c.shape.reduce((a, b) => a * b),
            2,
          ),
        );
        const want = await fp32.engine.createExecutionContext().infer({ [name]: x });
        const got = await half.engine.createExecutionContext().infer({ [name]: x });
        for (const out of fp32.engine.outputNames) {
          const { err, ref } = maxError(
            got[out]!.data as Float32Array,
            want[out]!.data as Float32Array,
          );
          console.log(
            `${c.file} ${out}: fp16 vs fp32 max error ${err.toExponential(2)}, max |fp32| ${ref.toExponential(2)}`,
          );
          expect(err).toBeGreaterThan(0); // the weights really were rounded
          expect(err).toBeLessThanOrEqual(1e-2 * ref);
        }
      },
      300_000,
    );
  }
});
