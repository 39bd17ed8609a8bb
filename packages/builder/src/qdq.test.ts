// Explicit quantization (QDQ models) built into 8-bit engines and compared with
// onnxruntime-node's run of the same files: outputs are multiples of the output scale, and at
// least 99% of them must agree within one quantization step.
import { Tensor } from '@kiln/core';
import { missingReason, sharedModel } from '@kiln/test-data';
import { describe, expect, it } from 'vitest';

import { Builder } from './builder';
import type { NetworkTensor } from './network';
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

describe('QDQ with int8 activations (TensorRT-style, zero point 0)', () => {
  it('fused 8-bit layers agree with the unfused Q/DQ graph within one step', async () => {
    // x -> Q(int8) -> DQ -> Conv(DQ(int8 w), bias) -> Relu -> Q(int8) -> DQ -> Conv -> Q -> DQ
    const messages: string[] = [];
    const build = (fused: boolean) => {
      const builder = new Builder({ log: (_s, m) => messages.push(m) });
      const n = builder.createNetwork();
      const x = n.addInput('x', 'float32', [1, 8, 9, 11]);
      const f32 = (v: number) => n.addConstant([], 'float32', Float32Array.of(v));
      const i8 = (v: number) => n.addConstant([], 'int8', Int8Array.of(v));
      const qdq = (t: NetworkTensor, s: number) => {
        const q = n.addLayer('QuantizeLinear', [t, f32(s), i8(0)]);
        q.output.dtype = 'int8';
        return n.addLayer('DequantizeLinear', [q.output, f32(s), i8(0)]).output;
      };
      const conv = (t: NetworkTensor, cin: number, cout: number, seed: number) => {
        const w = Int8Array.from(
          { length: cout * cin * 9 },
          (_, i) => ((i * 37 + seed) % 255) - 127,
        );
        const ws = Float32Array.from({ length: cout }, (_, m) => 0.002 + 0.0005 * m);
        const dq = n.addLayer(
          'DequantizeLinear',
          [n.addConstant([cout, cin, 3, 3], 'int8', w), n.addConstant([cout], 'float32', ws), null],
          { axis: 0 },
        );
        const bias = n.addConstant(
          [cout],
          'float32',
          Float32Array.from({ length: cout }, (_, m) => 0.1 * m - 0.5),
        );
        return n.addLayer('Conv', [t, dq.output, bias], {
          kernel_shape: [3, 3],
          pads: [1, 1, 1, 1],
        }).output;
      };
      const h = n.addLayer('Relu', [conv(qdq(x, 0.02), 8, 16, 3)]).output;
      const y = conv(qdq(h, 0.05), 16, 12, 11);
      n.markOutput(qdq(y, 0.1));
      const config = builder.createBuilderConfig();
      return buildEngine(n, config, fused ? undefined : { passes: [] }, builder);
    };
    const x = new Tensor('float32', [1, 8, 9, 11], sweep(8 * 9 * 11, 2));
    const fused = await build(true);
    expect(messages).toContain('int8: 2 layers run in INT8'); // both convolutions fused
    const plain = await build(false);
    const got = Object.values(await fused.engine.createExecutionContext().infer({ x }))[0]!;
    const want = Object.values(await plain.engine.createExecutionContext().infer({ x }))[0]!;
    const a = got.data as Float32Array;
    const b = want.data as Float32Array;
    let within = 0;
    for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) <= 0.1 * (1 + 1e-3)) within++;
    expect(within / a.length).toBeGreaterThanOrEqual(0.99);
    expect(new Set(Array.from(a)).size).toBeGreaterThan(10); // not a constant output
  });
});

describe('QDQ fully connected layer (DequantizeLinear -> Gemm -> QuantizeLinear)', () => {
  // x -> Q -> DQ -> Gemm(DQ(int8 w [N, K], per-output scales), bias, transB) (-> Relu) -> Q -> DQ
  const cases = [
    { act: 'uint8' as const, zp: 128, relu: false },
    { act: 'int8' as const, zp: -3, relu: true },
  ];
  for (const c of cases) {
    it(`becomes one 8-bit layer that agrees with the unfused graph (${c.act}${c.relu ? ', relu' : ''})`, async () => {
      const [rows, k, n] = [3, 37, 13];
      const messages: string[] = [];
      const build = (fused: boolean) => {
        const builder = new Builder({ log: (_s, m) => messages.push(m) });
        const net = builder.createNetwork();
        const x = net.addInput('x', 'float32', [rows, k]);
        const f32 = (v: number) => net.addConstant([], 'float32', Float32Array.of(v));
        const zero = (v: number) =>
          c.act === 'int8'
            ? net.addConstant([], 'int8', Int8Array.of(v))
            : net.addConstant([], 'uint8', Uint8Array.of(v));
        const qdq = (t: NetworkTensor, s: number, zp: number) => {
          const q = net.addLayer('QuantizeLinear', [t, f32(s), zero(zp)]);
          q.output.dtype = c.act;
          return net.addLayer('DequantizeLinear', [q.output, f32(s), zero(zp)]).output;
        };
        const w = Int8Array.from({ length: n * k }, (_, i) => ((i * 53 + 7) % 255) - 127);
        const ws = Float32Array.from({ length: n }, (_, m) => 0.003 + 0.0004 * m);
        const dq = net.addLayer(
          'DequantizeLinear',
          [net.addConstant([n, k], 'int8', w), net.addConstant([n], 'float32', ws), null],
          { axis: 0 },
        );
        const bias = net.addConstant(
          [n],
          'float32',
          Float32Array.from({ length: n }, (_, m) => 0.2 * m - 1),
        );
        let y = net.addLayer('Gemm', [qdq(x, 0.02, c.zp), dq.output, bias], { transB: 1 }).output;
        if (c.relu) y = net.addLayer('Relu', [y]).output;
        net.markOutput(qdq(y, 0.05, c.zp));
        return buildEngine(
          net,
          builder.createBuilderConfig(),
          fused ? undefined : { passes: [] },
          builder,
        );
      };
      const x = new Tensor('float32', [rows, k], sweep(rows * k, 3));
      const fused = await build(true);
      expect(messages).toContain('int8: 1 layers run in INT8');
      const plain = await build(false);
      const got = Object.values(await fused.engine.createExecutionContext().infer({ x }))[0]!;
      const want = Object.values(await plain.engine.createExecutionContext().infer({ x }))[0]!;
      const a = got.data as Float32Array;
      const b = want.data as Float32Array;
      let within = 0;
      for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) <= 0.05 * (1 + 1e-3)) within++;
      expect(within / a.length).toBeGreaterThanOrEqual(0.99);
      expect(new Set(Array.from(a)).size).toBeGreaterThan(10); // not a constant output
    });
  }
});
