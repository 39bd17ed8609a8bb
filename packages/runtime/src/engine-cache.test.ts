import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { KilnError, type NativeNetworkDesc, Tensor, nativeAddon } from '@kiln/core';
import { afterAll, describe, expect, it } from 'vitest';

import { type EngineBuildEvent, EngineCache, type EngineCacheOptions } from './engine-cache';
import type { InputRanges } from './engine-store';

// The model: y = relu(x), x: [batch, n] with both dims free. Builds go straight to the native
// core (no @kiln/builder here), with the ranges the cache asks for as the profile.
function planFor(ranges: InputRanges): Promise<Uint8Array> {
  const desc: NativeNetworkDesc = {
    tensors: [
      { name: 'x', dtype: 1, shape: [-1, -1], constant: -1 },
      { name: 'y', dtype: 1, shape: [-1, -1], constant: -1 },
    ],
    layers: [{ name: 'relu', op: 'Relu', inputs: [0], outputs: [1], attrs: {} }],
    inputs: [0],
    outputs: [1],
    profiles: [{ inputs: [{ tensor: 0, ...ranges.x! }] }],
    weights: [],
  };
  return new Promise((resolve, reject) =>
    nativeAddon().buildPlan(desc, (e, b) => (e ? reject(e) : resolve(new Uint8Array(b!)))),
  );
}

const inputs = [{ name: 'x', dtype: 'float32' as const, shape: [-1, -1] }];

/** A cache over the relu model that records every build's ranges. */
function reluCache(options: Partial<EngineCacheOptions> = {}) {
  const built: InputRanges[] = [];
  const started: EngineBuildEvent[] = [];
  const cache = new EngineCache({
    build: async (ranges) => {
      built.push(ranges);
      return planFor(ranges);
    },
    inputs,
    ...options,
  });
  cache.on('buildStart', (e) => started.push(e));
  return { cache, built, started };
}

function feed(shape: number[], phase = 0): Tensor<'float32'> {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(
    'float32',
    shape,
    Float32Array.from({ length: n }, (_, i) => Math.sin(i + phase) * 3),
  );
}

async function expectRelu(cache: EngineCache, shape: number[], phase = 0): Promise<void> {
  const x = feed(shape, phase);
  const { y } = await cache.infer({ x });
  expect(y!.shape).toEqual(shape);
  expect(Array.from(y!.data as Float32Array)).toEqual(Array.from(x.data, (v) => Math.max(0, v)));
}

// The engine files under a cache folder (they sit in a subfolder per key and core version).
function kilnFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.kiln'))
    .map((f) => path.join(dir, f));
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-engine-cache-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('EngineCache (dynamic mode)', () => {
  it('reuses an engine for a smaller batch with the other dims equal', async () => {
    const { cache, built, started } = reluCache();
    await expectRelu(cache, [4, 5]);
    await expectRelu(cache, [2, 5], 1);
    await expectRelu(cache, [1, 5], 2);
    expect(built).toEqual([{ x: { min: [1, 5], opt: [4, 5], max: [4, 5] } }]);
    expect(started).toEqual([{ shapes: { x: [4, 5] }, reason: 'runtime' }]);
    expect(cache.stats).toMatchObject({ hits: 2, misses: 1, builds: 1, evictions: 0, engines: 1 });
    expect(cache.stats.buildMilliseconds).toBeGreaterThan(0);
  });

  it('builds anew for a larger batch or different other dims (like a new H/W)', async () => {
    const { cache, built } = reluCache();
    await expectRelu(cache, [2, 5]);
    await expectRelu(cache, [2, 7]); // same batch, another width
    await expectRelu(cache, [3, 5]); // larger batch
    await expectRelu(cache, [2, 5]); // served by the batch-2 engine again
    expect(built.map((r) => r.x!.max)).toEqual([
      [2, 5],
      [2, 7],
      [3, 5],
    ]);
    expect(cache.stats).toMatchObject({ hits: 1, misses: 3, builds: 3 });
  });

  it('picks the smallest engine that serves a batch', async () => {
    const { cache, built } = reluCache({
      inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }],
      cachedEngineBatches: [8, 2],
    });
    await cache.warmUp();
    expect(built.map((r) => r.x!.max[0])).toEqual([8, 2]);
    await expectRelu(cache, [2, 4]);
    expect(built).toHaveLength(2);
    // Both engines serve batch 2; the batch-2 one is chosen, so it becomes the most recent.
    expect(cache.cachedEngines.map((e) => e.shapes.x)).toEqual([
      [8, 4],
      [2, 4],
    ]);
  });

  it('evicts the least recently used engine at maximumCachedEngines', async () => {
    const { cache, built } = reluCache({ maximumCachedEngines: 2 });
    const evicted: number[][] = [];
    cache.on('evict', (e) => evicted.push(e.shapes.x!));
    await expectRelu(cache, [1, 3]);
    await expectRelu(cache, [1, 4]);
    await expectRelu(cache, [1, 3]); // [1, 3] is now the most recently used
    await expectRelu(cache, [1, 5]); // the limit: [1, 4] goes
    expect(evicted).toEqual([[1, 4]]);
    expect(cache.cachedEngines.map((e) => e.shapes.x)).toEqual([
      [1, 3],
      [1, 5],
    ]);
    await expectRelu(cache, [1, 4]); // built again; now [1, 3] is the oldest
    expect(evicted).toEqual([
      [1, 4],
      [1, 3],
    ]);
    expect(built).toHaveLength(4);
    expect(cache.stats).toMatchObject({ builds: 4, evictions: 2, engines: 2, hits: 1 });
  });

  it('builds once for 10 concurrent requests of one new shape', async () => {
    const { cache, built } = reluCache();
    const shapes = Array.from({ length: 10 }, (_, i) => [1 + (i % 3), 6]);
    await Promise.all(shapes.map((_, i) => expectRelu(cache, [3, 6], i)));
    expect(built).toHaveLength(1);
    // Smaller batches arriving while a larger build is in flight wait for it too.
    const { cache: second, built: built2 } = reluCache();
    const first = expectRelu(second, [3, 6]);
    await Promise.all([first, ...shapes.map((shape, i) => expectRelu(second, shape, i))]);
    expect(built2).toHaveLength(1);
    expect(second.stats).toMatchObject({ builds: 1, misses: 11, hits: 0 });
  });

  it('pre-builds cachedEngineBatches at start', async () => {
    const { cache, started } = reluCache({
      inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 6] }],
      cachedEngineBatches: [4],
    });
    await cache.warmUp();
    expect(started).toEqual([{ shapes: { x: [4, 6] }, reason: 'startup' }]);
    await expectRelu(cache, [3, 6]);
    expect(cache.stats).toMatchObject({ builds: 1, hits: 1, misses: 0 });
    expect(() => reluCache({ cachedEngineBatches: [4] })).toThrow(
      "cachedEngineBatches needs inputs whose dims after the batch are fixed, but 'x' is [-1,-1]",
    );
  });

  it('passes a failed build to every waiter and retries on the next request', async () => {
    let calls = 0;
    const cache = new EngineCache({
      inputs,
      build: async (ranges) => {
        if (++calls === 1) throw new KilnError('OUT_OF_MEMORY', 'no room');
        return planFor(ranges);
      },
    });
    const x = feed([1, 2]);
    const results = await Promise.allSettled([cache.infer({ x }), cache.infer({ x })]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    await expectRelu(cache, [1, 2]);
    expect(calls).toBe(2);
  });
});

describe('EngineCache (static mode)', () => {
  it('builds the static shapes at start and refuses others', async () => {
    const { cache, built, started } = reluCache({
      mode: 'static',
      staticShapes: [{ x: [4, 5] }, { x: [1, 9] }],
    });
    await cache.warmUp();
    expect(started.map((e) => e.reason)).toEqual(['startup', 'startup']);
    await expectRelu(cache, [3, 5]);
    await expectRelu(cache, [1, 9]);
    await expect(cache.infer({ x: feed([2, 7]) })).rejects.toThrow(
      'no engine of this static EngineCache serves x [2x7]; its engines serve: x [<=4x5]; x [<=1x9]. Add the shapes to staticShapes, or set allowRuntimeBuilds',
    );
    await expect(cache.infer({ x: feed([5, 5]) })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    expect(built).toHaveLength(2);
    expect(cache.cachedEngines.every((e) => e.pinned)).toBe(true);
  });

  it('routes other shapes to run-time builds when allowed; static engines are never evicted', async () => {
    const { cache, built } = reluCache({
      mode: 'static',
      staticShapes: [{ x: [2, 2] }],
      allowRuntimeBuilds: true,
      maximumCachedEngines: 1,
    });
    await expectRelu(cache, [2, 7]);
    await expectRelu(cache, [2, 8]);
    await expectRelu(cache, [1, 2]);
    expect(built.map((r) => r.x!.max)).toEqual([
      [2, 2],
      [2, 7],
      [2, 8],
    ]);
    // Least recently used first: the static engine just served [1, 2].
    expect(cache.cachedEngines).toEqual([
      { shapes: { x: [2, 8] }, smallerBatches: true, pinned: false },
      { shapes: { x: [2, 2] }, smallerBatches: true, pinned: true },
    ]);
    expect(cache.stats.evictions).toBe(1);
  });
});

describe('EngineCache persistence', () => {
  it('reads engines back from cacheDir for the same key, never for another', async () => {
    const dir = path.join(tmp, 'persist');
    const first = reluCache({ cacheDir: dir, key: 'model-a' });
    await expectRelu(first.cache, [2, 3]);
    expect(kilnFiles(dir)).toHaveLength(1);
    const again = reluCache({ cacheDir: dir, key: 'model-a' });
    const ready: string[] = [];
    again.cache.on('engineReady', (e) => ready.push(e.source));
    await expectRelu(again.cache, [1, 3]);
    expect(again.built).toHaveLength(0);
    expect(again.started).toHaveLength(0);
    expect(ready).toEqual(['disk']);
    expect(again.cache.stats).toMatchObject({ builds: 0, loads: 1, misses: 1 });
    const other = reluCache({ cacheDir: dir, key: 'model-b' });
    await expectRelu(other.cache, [2, 3]);
    expect(other.built).toHaveLength(1);
  });

  it('rebuilds over a damaged engine file', async () => {
    const dir = path.join(tmp, 'damaged');
    const first = reluCache({ cacheDir: dir, key: 'k' });
    await expectRelu(first.cache, [2, 3]);
    const file = kilnFiles(dir)[0]!;
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 5]! ^= 0xff;
    fs.writeFileSync(file, bytes);
    const again = reluCache({ cacheDir: dir, key: 'k' });
    await expectRelu(again.cache, [2, 3]);
    expect(again.cache.stats).toMatchObject({ builds: 1, loads: 0 });
    const third = reluCache({ cacheDir: dir, key: 'k' });
    await expectRelu(third.cache, [2, 3]);
    expect(third.cache.stats).toMatchObject({ builds: 0, loads: 1 });
  });
});

describe('EngineCache validation', () => {
  it('refuses bad options and inputs with clear errors', async () => {
    expect(() => new EngineCache({} as EngineCacheOptions)).toThrow(
      /Expected a function \(ranges\) => Promise<plan bytes> for build/,
    );
    expect(() => reluCache({ mode: 'static' })).toThrow("mode 'static' needs staticShapes");
    expect(() => reluCache({ staticShapes: [{ x: [1, 1] }] })).toThrow(
      "staticShapes belong to mode 'static'",
    );
    expect(() => reluCache({ maximumCachedEngines: 0 })).toThrow(
      /Expected an integer >= 1 for maximumCachedEngines/,
    );
    expect(() => reluCache({ cacheDir: tmp })).toThrow('cacheDir needs a key');
    expect(() => reluCache({ mode: 'static', staticShapes: [{ x: [1, 2, 3] }] })).toThrow(
      "staticShapes[0]: input 'x' is [-1,-1] (-1: any) but [1,2,3] was given",
    );
    const { cache } = reluCache();
    await expect(cache.infer({ q: feed([1, 1]) })).rejects.toThrow(
      "feeds: 'q' is not an input; the inputs are 'x'",
    );
    await expect(cache.infer({ x: new Tensor('int32', [1, 1]) })).rejects.toThrow(
      "input 'x' is float32 but the tensor is int32",
    );
  });

  it('refuses an engine that does not serve the shapes it was built for', async () => {
    const cache = new EngineCache({
      inputs,
      build: () => planFor({ x: { min: [1, 1], opt: [1, 1], max: [1, 1] } }),
    });
    await expect(cache.infer({ x: feed([2, 2]) })).rejects.toThrow(
      "the build function returned an engine whose input 'x' accepts [1,1] to [1,1], but [1,2] to [2,2] was asked for",
    );
  });
});
