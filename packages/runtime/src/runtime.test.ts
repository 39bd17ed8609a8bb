import { availableParallelism } from 'node:os';

import {
  DeviceBuffer,
  KilnError,
  type NativeNetworkDesc,
  Stream,
  Tensor,
  nativeAddon,
} from '@kiln/core';
import { describe, expect, it } from 'vitest';

import { Runtime } from './engine';

// y = relu(x @ W^T), x: [-1, 3] with a profile of batch 1..4; W: [2, 3].
const W = new Float32Array([1, -1, 0, 0.5, 0.5, 2]);
function plan(): Promise<Uint8Array> {
  const desc: NativeNetworkDesc = {
    tensors: [
      { name: 'x', dtype: 1, shape: [-1, 3], constant: -1 },
      { name: 'w', dtype: 1, shape: [2, 3], constant: 0 },
      { name: 'z', dtype: 1, shape: [], constant: -1 },
      { name: 'y', dtype: 1, shape: [-1, 2], constant: -1 },
    ],
    layers: [
      {
        name: 'fc',
        op: 'Gemm',
        inputs: [0, 1],
        outputs: [2],
        attrs: { transB: { kind: 'i', value: 1 } },
      },
      { name: 'relu', op: 'Relu', inputs: [2], outputs: [3], attrs: {} },
    ],
    inputs: [0],
    outputs: [3],
    profiles: [{ inputs: [{ tensor: 0, min: [1, 3], opt: [2, 3], max: [4, 3] }] }],
    weights: [W],
  };
  return new Promise((resolve, reject) =>
    nativeAddon().buildPlan(desc, (e, b) => (e ? reject(e) : resolve(b!))),
  );
}

function expected(x: number[][]): number[] {
  return x.flatMap((row) =>
    [0, 1].map((o) =>
      Math.max(
        0,
        row.reduce((s, v, k) => s + v * W[o * 3 + k]!, 0),
      ),
    ),
  );
}

describe('Runtime and Engine', () => {
  it('describe IO, profiles, layers and memory', async () => {
    const engine = new Runtime().deserializeEngine(await plan());
    expect(engine.ioTensors).toEqual([
      { name: 'x', dtype: 'float32', shape: [-1, 3], mode: 'input' },
      { name: 'y', dtype: 'float32', shape: [-1, 2], mode: 'output' },
    ]);
    expect(engine.profiles).toEqual([[{ name: 'x', min: [1, 3], opt: [2, 3], max: [4, 3] }]]);
    expect(engine.layers().map((l) => `${l.name}:${l.op}`)).toEqual(['fc:Gemm', 'relu:Relu']);
    // z at batch 4 (32 bytes) in a 64-byte aligned slot, plus per thread the few hundred bytes the
    // GEMM packs its 4 x 3 A into.
    expect(engine.deviceMemorySize).toBeGreaterThan(64);
    expect(engine.deviceMemorySize).toBeLessThan(64 + 1024 * (availableParallelism() + 2));
    expect(() => engine.getTensorInfo('nope')).toThrow(
      "the engine has no tensor 'nope'; its IO tensors are 'x', 'y'",
    );
    expect(JSON.parse(JSON.stringify(engine.inspect())).layers[0].attrs).toEqual({ transB: 1 });
  });

  it('refuses what is not an engine', () => {
    expect(() => new Runtime().deserializeEngine('plan' as never)).toThrow(
      /Expected a Uint8Array or Buffer for planBytes/,
    );
    expect(() => new Runtime().deserializeEngine(new Uint8Array(3))).toThrow(KilnError);
  });
});

describe('ExecutionContext', () => {
  it('infer() runs host tensors through the engine at several batch sizes', async () => {
    const ctx = new Runtime().deserializeEngine(await plan()).createExecutionContext();
    for (const rows of [
      [[1, 2, 3]],
      [
        [-1, 0, 4],
        [2, 2, 2],
        [0.5, -3, 1],
      ],
    ]) {
      const out = await ctx.infer({
        x: new Tensor('float32', [rows.length, 3], Float32Array.from(rows.flat())),
      });
      expect(out.y!.shape).toEqual([rows.length, 2]);
      expect(Array.from(out.y!.data as Float32Array)).toEqual(expected(rows).map(Math.fround));
    }
  });

  it('profiling sums per-layer times over runs; switching it on zeroes them', async () => {
    const engine = new Runtime().deserializeEngine(await plan());
    const ctx = engine.createExecutionContext();
    const x = new Tensor('float32', [4, 3], new Float32Array(12).fill(1));
    expect(ctx.profiling).toBe(false);
    await ctx.infer({ x }); // not timed
    expect(ctx.layerProfile()).toEqual({ runs: 0, layers: [] });
    ctx.profiling = true;
    const started = performance.now();
    for (let i = 0; i < 3; i++) await ctx.infer({ x });
    const wallMs = performance.now() - started;
    ctx.profiling = false;
    await ctx.infer({ x }); // off again: not added
    const p = ctx.layerProfile();
    expect(p.runs).toBe(3);
    expect(p.layers.map((l) => `${l.name}:${l.op}`)).toEqual(['fc:Gemm', 'relu:Relu']);
    for (const l of p.layers) {
      expect(l.totalMs).toBeGreaterThan(0);
      expect(l.averageMs).toBeCloseTo(l.totalMs / 3, 12);
    }
    // The layers ran inside the three infer() calls.
    expect(p.layers.reduce((s, l) => s + l.totalMs, 0)).toBeLessThan(wallMs);
    ctx.profiling = true;
    expect(ctx.layerProfile().runs).toBe(0);
    expect(() => {
      ctx.profiling = 'yes' as never;
    }).toThrow(KilnError);
  });

  it('enqueue() with bound device buffers on a stream', async () => {
    const engine = new Runtime().deserializeEngine(await plan());
    const ctx = engine.createExecutionContext();
    const stream = new Stream();
    const x = new DeviceBuffer(2 * 3 * 4);
    const y = new DeviceBuffer(2 * 2 * 4);
    ctx.setInputShape('x', [2, 3]);
    expect(ctx.getTensorShape('y')).toEqual([2, 2]);
    ctx.setTensorAddress('x', x);
    expect(() => ctx.enqueue(stream)).toThrow(
      "no buffer is bound to 'y': call setTensorAddress('y', buffer) first",
    );
    ctx.setTensorAddress('y', y);
    stream.copyHostToDevice(x, new Float32Array([1, 1, 1, 3, 0, -1]));
    ctx.enqueue(stream);
    const out = new Float32Array(4);
    stream.copyDeviceToHost(out, y);
    await stream.synchronize();
    expect(Array.from(out)).toEqual(
      expected([
        [1, 1, 1],
        [3, 0, -1],
      ]),
    );
  });

  it('checks shapes, names, dtypes and buffer sizes', async () => {
    const ctx = new Runtime().deserializeEngine(await plan()).createExecutionContext();
    expect(() => ctx.getTensorShape('x')).toThrow("set the shape of input 'x' first");
    expect(() => ctx.setInputShape('x', [5, 3])).toThrow(
      "input 'x' dim 0 = 5 is outside profile 0's range [1, 4]",
    );
    expect(() => ctx.setInputShape('x', [2, 4])).toThrow(
      "input 'x' dim 1 is fixed at 3 but 4 was given",
    );
    expect(() => ctx.setInputShape('y', [2, 2])).toThrow("'y' is an output, not an input");
    await expect(ctx.infer({ q: new Tensor('float32', [1, 3]) })).rejects.toThrow(
      "'q' is not an input; the inputs are 'x'",
    );
    await expect(ctx.infer({ x: new Tensor('int32', [1, 3]) })).rejects.toThrow(
      "input 'x' is float32 but the tensor is int32",
    );
    ctx.setInputShape('x', [4, 3]);
    ctx.setTensorAddress('x', new DeviceBuffer(4 * 3 * 4));
    ctx.setTensorAddress('y', new DeviceBuffer(8));
    expect(() => ctx.enqueue(new Stream())).toThrow(
      "the buffer bound to 'y' has 8 bytes but its shape [4x2] needs 32",
    );
  });
});
