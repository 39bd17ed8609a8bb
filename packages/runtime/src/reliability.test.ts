// Failures while running and their aftermath: a failed request leaves the context usable, work
// that fails on its stream rejects that stream's synchronize with a KilnError, engines dropped
// while work is queued are safe, and memory that cannot exist fails cleanly.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

import {
  DeviceBuffer,
  KilnError,
  type NativeNetworkDesc,
  Stream,
  Tensor,
  isKilnError,
  nativeAddon,
} from '@kiln/core';
import { injectFault } from '@kiln/core/testing';
import { afterEach, describe, expect, it } from 'vitest';

import { Runtime } from './engine';

function build(desc: NativeNetworkDesc): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    nativeAddon().buildPlan(desc, (e, b) => (e ? reject(e) : resolve(b!))),
  );
}

// y = x * 2 + 1 over x: [-1, 4], batch 1..max.
function affine(max: number): Promise<Uint8Array> {
  return build({
    tensors: [
      { name: 'x', dtype: 1, shape: [-1, 4], constant: -1 },
      { name: 'two', dtype: 1, shape: [], constant: 0 },
      { name: 'one', dtype: 1, shape: [], constant: 1 },
      { name: 'm', dtype: 1, shape: [-1, 4], constant: -1 },
      { name: 'y', dtype: 1, shape: [-1, 4], constant: -1 },
    ],
    layers: [
      { name: 'mul', op: 'Mul', inputs: [0, 1], outputs: [3], attrs: {} },
      { name: 'add', op: 'Add', inputs: [3, 2], outputs: [4], attrs: {} },
    ],
    inputs: [0],
    outputs: [4],
    profiles: [{ inputs: [{ tensor: 0, min: [1, 4], opt: [1, 4], max: [max, 4] }] }],
    weights: [new Float32Array([2]), new Float32Array([1])],
  });
}

const x = (rows: number) =>
  new Tensor(
    'float32',
    [rows, 4],
    Float32Array.from({ length: rows * 4 }, (_, i) => i - 3),
  );
const expected = (rows: number) => Array.from({ length: rows * 4 }, (_, i) => (i - 3) * 2 + 1);

async function rejection(p: Promise<unknown>): Promise<KilnError> {
  try {
    await p;
  } catch (e) {
    expect(isKilnError(e), String(e)).toBe(true);
    return e as KilnError;
  }
  throw new Error('expected a rejection');
}

afterEach(() => injectFault('stream.task', 0));

describe('a failed request leaves the context usable', () => {
  it('bad bindings and shapes out of range throw a KilnError at once and poison nothing', async () => {
    const engine = new Runtime().deserializeEngine(await affine(4));
    const ctx = engine.createExecutionContext();
    const stream = new Stream();
    const input = new DeviceBuffer(4 * 4 * 4);
    const output = new DeviceBuffer(4 * 4 * 4);
    ctx.setInputShape('x', [2, 4]);
    expect(() => ctx.setInputShape('x', [5, 4])).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(ctx.getTensorShape('y')).toEqual([2, 4]); // the refused shape did not replace it
    ctx.setTensorAddress('x', input);
    ctx.setTensorAddress('y', new DeviceBuffer(8));
    expect(() => ctx.enqueue(stream)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    await stream.synchronize(); // nothing was queued, nothing failed
    ctx.setTensorAddress('y', output);
    stream.copyHostToDevice(input, x(2).data, { byteLength: 32 });
    ctx.enqueue(stream);
    const out = new Float32Array(8);
    stream.copyDeviceToHost(out, output, { byteLength: out.byteLength });
    await stream.synchronize();
    expect(Array.from(out)).toEqual(expected(2));
  });

  it('work that fails on the stream rejects its synchronize; the next enqueue runs', async () => {
    const engine = new Runtime().deserializeEngine(await affine(4));
    const ctx = engine.createExecutionContext();
    const stream = new Stream();
    const input = new DeviceBuffer(3 * 4 * 4);
    const output = new DeviceBuffer(3 * 4 * 4);
    ctx.setInputShape('x', [3, 4]);
    ctx.setTensorAddress('x', input);
    ctx.setTensorAddress('y', output);
    stream.copyHostToDevice(input, x(3).data, { byteLength: 48 });
    await stream.synchronize();
    injectFault('stream.task', 1); // the inference task itself fails
    ctx.enqueue(stream);
    const error = await rejection(stream.synchronize());
    expect(error.message).toMatch(/injected fault at stream.task/);
    ctx.enqueue(stream);
    const out = new Float32Array(12);
    stream.copyDeviceToHost(out, output, { byteLength: out.byteLength });
    await stream.synchronize();
    expect(Array.from(out)).toEqual(expected(3));
    // infer() reports such a failure as its own rejection, and works again afterwards.
    injectFault('stream.task', 1);
    await rejection(ctx.infer({ x: x(1) }));
    expect(Array.from((await ctx.infer({ x: x(1) })).y!.data as Float32Array)).toEqual(expected(1));
  });

  it('a failure on one stream does not reach another stream or context', async () => {
    const engine = new Runtime().deserializeEngine(await affine(4));
    const [a, b] = [engine.createExecutionContext(), engine.createExecutionContext()];
    const [sa, sb] = [new Stream(), new Stream()];
    await a.infer({ x: x(1) }, { stream: sa }); // warm both
    injectFault('stream.task', 1);
    await rejection(a.infer({ x: x(2) }, { stream: sa }));
    const out = await b.infer({ x: x(4) }, { stream: sb });
    expect(Array.from(out.y!.data as Float32Array)).toEqual(expected(4));
  });
});

describe('engines and contexts dropped while work is queued', () => {
  it('the queued work completes with the right results after a garbage collection', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const stream = new Stream();
    const outputs: { host: Float32Array; rows: number }[] = [];
    await (async () => {
      const engine = new Runtime().deserializeEngine(await affine(64));
      for (let i = 0; i < 8; i++) {
        const ctx = engine.createExecutionContext();
        const rows = 64;
        const input = new DeviceBuffer(rows * 16);
        const output = new DeviceBuffer(rows * 16);
        ctx.setInputShape('x', [rows, 4]);
        ctx.setTensorAddress('x', input);
        ctx.setTensorAddress('y', output);
        stream.copyHostToDevice(input, x(rows).data);
        for (let k = 0; k < 20; k++) ctx.enqueue(stream);
        const host = new Float32Array(rows * 4);
        stream.copyDeviceToHost(host, output);
        outputs.push({ host, rows });
      }
    })();
    // Nothing references the engine, its contexts or their buffers any more: collect them
    // while the stream still holds their work.
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    await stream.synchronize();
    for (const { host, rows } of outputs) expect(Array.from(host)).toEqual(expected(rows));
  });
});

describe('memory that cannot exist', () => {
  it('activations larger than the machine fail with OUT_OF_MEMORY, not a crash', async () => {
    // y = mean over rows of x expanded to 2^40 rows: small IO, 16 TiB in the arena.
    const plan = await build({
      tensors: [
        { name: 'x', dtype: 1, shape: [1, 4], constant: -1 },
        { name: 'shape', dtype: 7, shape: [2], constant: 0 },
        { name: 'e', dtype: 1, shape: [-1, 4], constant: -1 },
        { name: 'y', dtype: 1, shape: [4], constant: -1 },
      ],
      layers: [
        { name: 'expand', op: 'Expand', inputs: [0, 1], outputs: [2], attrs: {} },
        {
          name: 'mean',
          op: 'ReduceMean',
          inputs: [2],
          outputs: [3],
          attrs: { axes: { kind: 'is', value: [0] }, keepdims: { kind: 'i', value: 0 } },
        },
      ],
      inputs: [0],
      outputs: [3],
      profiles: [],
      weights: [new BigInt64Array([2n ** 40n, 4n])],
    });
    const engine = new Runtime().deserializeEngine(plan);
    expect(engine.deviceMemorySize).toBeGreaterThanOrEqual(2 ** 44);
    const ctx = engine.createExecutionContext();
    // Refused before the arena is allocated, saying what it would take.
    const error = await ctx.infer({ x: x(1) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'OUT_OF_MEMORY' });
    expect(String(error)).toMatch(
      /needs \d+ bytes \(activations \d+, kernel scratch \d+\) but the device has \d+/,
    );
    // A huge buffer asked for directly fails the same way.
    expect(() => new DeviceBuffer(2 ** 50)).toThrow(
      expect.objectContaining({ code: 'OUT_OF_MEMORY' }),
    );
  });

  it('a profile whose element counts overflow 64 bits is refused when the engine is built', async () => {
    const error = await rejection(affine(2 ** 62));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/overflows/);
  });
});
