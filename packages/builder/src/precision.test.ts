// Per-layer precision constraints (Layer.precision, like trtexec --layerPrecisions) against
// the flags: 'fp32' keeps a layer out of INT8 (implicit and Q/DQ) and of FP16 weight storage;
// 'fp16' stores a layer's weights in half precision without the flag.
import { type Logger, Tensor } from '@kiln/core';
import { MinMaxCalibrator } from '@kiln/calibrator';
import { missingReason, sharedModel } from '@kiln/test-data';
import { describe, expect, it } from 'vitest';

import { Builder } from './builder';
import type { NetworkDefinition } from './network';
import { buildEngine, maxError, parseOnnx, sweep } from './test-support/run';

const fashion = sharedModel('fashion_mnist_cnn.onnx');
const mobilenet = sharedModel('mobilenet_v2_int8_qdq.onnx');

function firstConv(network: NetworkDefinition) {
  return network.layers.find((l) => l.op === 'Conv')!;
}

function logged(): { logger: Logger; messages: string[] } {
  const messages: string[] = [];
  return { logger: { log: (_s, m) => messages.push(m) }, messages };
}

describe.skipIf(missingReason(fashion) !== undefined)('layer precision constraints', () => {
  const x = new Tensor('float32', [4, 1, 28, 28], sweep(4 * 784, 1.5));
  const config = (builder: Builder) => {
    const c = builder.createBuilderConfig();
    c.maxBatchSize = 4;
    return c;
  };

  it("'fp32' keeps a convolution out of implicit INT8", async () => {
    const { logger, messages } = logged();
    const builder = new Builder(logger);
    const network = parseOnnx(fashion);
    const conv = firstConv(network);
    conv.precision = 'fp32';
    const c = config(builder).setFlag('int8');
    c.int8Calibrator = new MinMaxCalibrator({
      batches: () =>
        [0, 1].map((p) => ({
          image: new Tensor('float32', [4, 1, 28, 28], sweep(4 * 784, 1.5, p)),
        })),
      batchSize: 4,
    });
    const { engine } = await buildEngine(network, c, undefined, builder);
    expect(messages).toContain('int8: 6 layers run in INT8');
    expect(messages.find((m) => m.includes('stay FP32'))).toContain(`Conv '${conv.name}'`);
    const { engine: fp32 } = await buildEngine(parseOnnx(fashion), config(builder));
    const [a, b] = await Promise.all([
      engine.createExecutionContext().infer({ image: x }),
      fp32.createExecutionContext().infer({ image: x }),
    ]);
    const { err, ref } = maxError(a.logits!.data as Float32Array, b.logits!.data as Float32Array);
    expect(err).toBeLessThan(0.1 * ref); // INT8 elsewhere: close to FP32, not equal
  });

  it("'fp32' and 'fp16' steer FP16 weight storage", async () => {
    const builder = new Builder(logged().logger);
    const size = async (edit: (n: NetworkDefinition) => void, fp16: boolean) => {
      const network = parseOnnx(fashion);
      edit(network);
      const c = config(builder);
      if (fp16) c.setFlag('fp16');
      return (await buildEngine(network, c, undefined, builder)).plan.byteLength;
    };
    const fp32 = await size(() => {}, false);
    const half = await size(() => {}, true);
    const allButOne = await size(
      (n) => (n.layers.filter((l) => l.op === 'Conv').at(-1)!.precision = 'fp32'),
      true,
    );
    const onlyOne = await size(
      (n) => (n.layers.filter((l) => l.op === 'Conv').at(-1)!.precision = 'fp16'),
      false,
    );
    expect(half).toBeLessThan(0.6 * fp32);
    expect(allButOne).toBeGreaterThan(half);
    expect(allButOne).toBeLessThan(fp32);
    expect(onlyOne).toBeLessThan(fp32);
    expect(onlyOne).toBeGreaterThan(half);
  });

  it("precisionConstraints: 'none' ignores layer precisions, 'prefer' warns, 'obey' fails", async () => {
    const build = async (mode: 'none' | 'prefer' | 'obey', precision?: 'fp16' | 'int8') => {
      const { logger, messages } = logged();
      const builder = new Builder(logger);
      const network = parseOnnx(fashion);
      const conv = network.layers.filter((l) => l.op === 'Conv').at(-1)!;
      conv.precision = precision;
      const c = config(builder);
      c.precisionConstraints = mode;
      // Plan sizes are compared: tactics timed on a busy machine could pick conv.gemm in one
      // build and conv.winograd in the next (names of different lengths); the heuristic is fixed.
      c.builderOptimizationLevel = 0;
      const { plan } = await buildEngine(network, c, undefined, builder);
      return { size: plan.byteLength, messages, name: conv.name };
    };
    const plain = await build('prefer');
    const ignored = await build('none', 'fp16');
    expect(ignored.size).toBe(plain.size);
    expect(ignored.messages).toContain(
      "precisionConstraints 'none': the precisions of 1 layers are ignored",
    );
    const preferred = await build('prefer', 'fp16');
    expect(preferred.size).toBeLessThan(plain.size);
    expect(preferred.messages).toContain(
      `layer '${preferred.name}' (Conv) is constrained to fp16 but computes in FP32 (only weights are stored in FP16)`,
    );
    // No INT8 flag, no calibrator: an int8 constraint cannot be met, and 'obey' says so.
    await expect(build('obey', 'int8')).rejects.toThrow(
      /precisionConstraints 'obey': 1 layer precision\(s\) cannot be met:\n {2}layer '.+' \(Conv\) is constrained to int8 but has no INT8 kernel/,
    );
    await expect(build('obey', 'fp16')).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    const c = new Builder().createBuilderConfig();
    c.precisionConstraints = 'strict' as 'obey';
    expect(() => c.validate()).toThrow(/precisionConstraints/);
  });
});

describe.skipIf(missingReason(mobilenet) !== undefined)('layer precision in Q/DQ models', () => {
  it("'fp32' keeps a Q/DQ convolution in float", async () => {
    const { logger, messages } = logged();
    const builder = new Builder(logger);
    const network = parseOnnx(mobilenet);
    const conv = firstConv(network);
    conv.precision = 'fp32';
    const c = builder.createBuilderConfig();
    c.maxBatchSize = 1;
    await buildEngine(network, c, undefined, builder);
    // 62 of the 63 8-bit layers (52 convolutions, 10 adds, the classifier's QLinearGemm).
    expect(messages).toContain('int8: 62 layers run in INT8');
    expect(messages.find((m) => m.includes('stay FP32'))).toContain(`Conv '${conv.name}'`);
  });
});
