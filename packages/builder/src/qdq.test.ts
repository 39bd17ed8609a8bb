// Explicit quantization (QDQ models) built into 8-bit engines and compared with
// onnxruntime-node's run of the same files: outputs are multiples of the output scale, and at
// least 99% of them must agree within one quantization step.
import { Tensor } from '@kiln/core';
import { missingReason, sharedModel } from '@kiln/test-data';
import { describe, expect, it } from 'vitest';

import { Builder } from './builder';
import { buildEngine, ortRun, parseOnnx, sweep } from './test-support/run';

const models = ['resnet50_int8_qdq.onnx', 'mobilenet_v2_int8_qdq.onnx'];

describe('QDQ models agree with onnxruntime-node', () => {
  for (const file of models) {
    const path = sharedModel(file);
    const missing = missingReason(path);
    if (missing) console.warn(`[skip] ${file}: ${missing}`);
    it.skipIf(missing !== undefined)(
      `${file} within one quantization step on >= 99% of outputs`,
      async () => {
        const network = parseOnnx(path);
        const output = network.outputs[0]!;
        const dq = network.layers.find((l) => l.outputs.includes(output))!;
        expect(dq.op).toBe('DequantizeLinear');
        const step = dq.inputs[1]!.values()[0]!;
        const builder = new Builder();
        const config = builder.createBuilderConfig();
        config.maxBatchSize = 1;
        const { engine, plan } = await buildEngine(network, config);
        // The build turned the convolutions into 8-bit layers.
        expect(plan.byteLength).toBeLessThan(40e6);
        const name = network.inputs[0]!.name;
        const shape = [1, 3, 224, 224];
        const x = new Tensor('float32', shape, sweep(3 * 224 * 224, 2));
        const ours = (await engine.createExecutionContext().infer({ [name]: x }))[output.name]!;
        const ref = (await ortRun(path, { [name]: x }))[output.name]!;
        const got = ours.data as Float32Array;
        expect(got.length).toBe(ref.data.length);
        let within = 0;
        let maxSteps = 0;
        for (let i = 0; i < got.length; i++) {
          const steps = Math.abs(got[i]! - ref.data[i]!) / step;
          if (steps <= 1 + 1e-3) within++;
          maxSteps = Math.max(maxSteps, steps);
        }
        const fraction = within / got.length;
        console.log(
          `${file}: ${(100 * fraction).toFixed(2)}% within one step, max ${maxSteps.toFixed(1)} steps`,
        );
        expect(fraction).toBeGreaterThanOrEqual(0.99);
      },
      300_000,
    );
  }
});
