import { KilnError, type NativeNetworkDesc, features, nativeAddon } from '@kiln/core';
import { describe, expect, it } from 'vitest';

import { Runtime } from './engine';

// y = relu(x) on a fixed [1, 4] input: enough to create contexts on a device.
function plan(): Promise<Uint8Array> {
  const desc: NativeNetworkDesc = {
    tensors: [
      { name: 'x', dtype: 1, shape: [1, 4], constant: -1 },
      { name: 'y', dtype: 1, shape: [1, 4], constant: -1 },
    ],
    layers: [{ name: 'relu', op: 'Relu', inputs: [0], outputs: [1], attrs: {} }],
    inputs: [0],
    outputs: [1],
    profiles: [],
    weights: [],
  };
  return new Promise((resolve, reject) =>
    nativeAddon().buildPlan(desc, (e, b) => (e ? reject(e) : resolve(b!))),
  );
}

function thrown(body: () => unknown): KilnError {
  try {
    body();
  } catch (e) {
    if (e instanceof KilnError) return e;
    throw e;
  }
  throw new Error('expected a KilnError');
}

describe('ExecutionContext device', () => {
  it("runs on 'cpu' by default and when asked for it", async () => {
    const engine = new Runtime().deserializeEngine(await plan());
    expect(engine.createExecutionContext().device).toBe('cpu');
    const ctx = engine.createExecutionContext({ device: 'cpu' });
    expect(ctx.device).toBe('cpu');
  });

  it('refuses device names that are not devices, before the native core sees them', async () => {
    const engine = new Runtime().deserializeEngine(await plan());
    expect(thrown(() => engine.createExecutionContext({ device: 'gpu' as 'cpu' })).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(thrown(() => engine.createExecutionContext(null as never)).code).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('names the missing GPU, and says when the build has no cuda device', async () => {
    const engine = new Runtime().deserializeEngine(await plan());
    const e = thrown(() => engine.createExecutionContext({ device: 'cuda:9' }));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toContain("'cuda:9'");
    if (!features().cudaBuilt) expect(e.message).toContain('no cuda device');
  });

  it('validates cudaGraph, which needs a cuda device', async () => {
    const engine = new Runtime().deserializeEngine(await plan());
    expect(thrown(() => engine.createExecutionContext({ cudaGraph: 1 as never })).code).toBe(
      'INVALID_ARGUMENT',
    );
    const e = thrown(() => engine.createExecutionContext({ device: 'cpu', cudaGraph: true }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain('cuda device');
    expect(engine.createExecutionContext({ cudaGraph: false }).device).toBe('cpu');
    if (!features().cudaBuilt)
      expect(
        thrown(() => engine.createExecutionContext({ device: 'cuda:0', cudaGraph: true })).code,
      ).toBe('NOT_FOUND');
  });

  it('per-layer profiling stays available on the cpu', async () => {
    const ctx = new Runtime().deserializeEngine(await plan()).createExecutionContext();
    ctx.profiling = true;
    expect(ctx.profiling).toBe(true);
  });
});
