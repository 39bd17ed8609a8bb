import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Tensor } from '@kiln/core';
import { EngineCache } from '@kiln/runtime';
import { missingReason, npmFile, sharedModel } from '@kiln/test-data';
import { afterAll, describe, expect, it } from 'vitest';

import { engineBuilderFor } from './engine-builder';
import { maxError, ortRun, sweep } from './test-support/run';
import { tinyCnn, tinyInput } from './test-support/tiny-cnn';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-engine-builder-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const tinyPath = path.join(tmp, 'tiny.onnx');
fs.writeFileSync(tinyPath, tinyCnn());

// The Engine issue's bar: max abs error <= 1e-4 * (1 + max|ref|).
async function expectLikeOrt(
  model: string,
  feeds: Record<string, Tensor>,
  ours: Record<string, Tensor>,
) {
  const ref = await ortRun(model, feeds);
  for (const [name, r] of Object.entries(ref)) {
    expect(ours[name]!.shape).toEqual(r.dims);
    const { err, ref: magnitude } = maxError(ours[name]!.data as Float32Array, r.data);
    expect(err, `${name}: max abs error ${err} vs max|ref| ${magnitude}`).toBeLessThanOrEqual(
      1e-4 * (1 + magnitude),
    );
  }
}

describe('engineBuilderFor with EngineCache', () => {
  it('reuses an engine for a smaller batch, builds for a new H/W, and matches onnxruntime-node', async () => {
    const cache = new EngineCache(engineBuilderFor(tinyPath));
    const builds: number[][] = [];
    cache.on('buildStart', (e) => builds.push(e.shapes.x!));
    for (const [i, shape] of [
      [4, 2, 8, 8],
      [2, 2, 8, 8],
      [1, 2, 8, 8],
      [2, 2, 12, 10],
    ].entries()) {
      const x = tinyInput(shape, i);
      await expectLikeOrt(tinyPath, { x }, await cache.infer({ x }));
    }
    expect(builds).toEqual([
      [4, 2, 8, 8],
      [2, 2, 12, 10],
    ]);
    expect(cache.stats).toMatchObject({ hits: 2, misses: 2, builds: 2, engines: 2 });
  });

  it('builds once for 10 concurrent requests of a new shape', async () => {
    const cache = new EngineCache(engineBuilderFor(tinyPath));
    const x = tinyInput([2, 2, 6, 5]);
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.infer({ x })));
    expect(cache.stats).toMatchObject({ builds: 1, misses: 10, engines: 1 });
    await expectLikeOrt(tinyPath, { x }, results[9]!);
  });

  it('keys engines by the model bytes and the settings', () => {
    const key = engineBuilderFor(tinyCnn()).key;
    expect(engineBuilderFor(tinyPath).key).toBe(key);
    expect(engineBuilderFor(tinyCnn(1)).key).not.toBe(key);
    expect(engineBuilderFor(tinyCnn(), { memoryPoolLimit: 1 << 30 }).key).not.toBe(key);
    expect(engineBuilderFor(tinyCnn()).inputs).toEqual([
      { name: 'x', dtype: 'float32', shape: [-1, 2, -1, -1] },
    ]);
    expect(() => engineBuilderFor(tinyCnn(), { builderOptimizationLevel: 9 })).toThrow(
      /Expected an integer between 0 and 5 for builderOptimizationLevel/,
    );
  });

  it('persists engines across two processes; a changed model never reuses them', () => {
    const child = fileURLToPath(new URL('./test-support/engine-cache-child.mjs', import.meta.url));
    const model = path.join(tmp, 'persisted.onnx');
    const dir = path.join(tmp, 'engines');
    const run = (shape: string) =>
      JSON.parse(execFileSync(process.execPath, [child, model, dir, shape], { encoding: 'utf8' }));
    fs.writeFileSync(model, tinyCnn());
    expect(run('2,2,6,6')).toMatchObject({ builds: 1, loads: 0, outputShape: [2, 3] });
    // A new process: the batch-2 engine on disk serves batch 1 without a build.
    expect(run('1,2,6,6')).toMatchObject({ builds: 0, loads: 1, outputShape: [1, 3] });
    fs.writeFileSync(model, tinyCnn(1)); // same path, other weights
    expect(run('2,2,6,6')).toMatchObject({ builds: 1, loads: 0 });
  });
});

describe('EngineCache on a real model', () => {
  const file = sharedModel('fashion_mnist_cnn.onnx');
  const missing = missingReason(file);
  if (missing) console.warn(`[skip] fashion_mnist_cnn.onnx: ${missing}`);
  it.skipIf(missing !== undefined)(
    'fashion_mnist_cnn: a pre-built batch-4 engine serves batches 3 and 1 like onnxruntime-node',
    async () => {
      const cache = new EngineCache({ ...engineBuilderFor(file), cachedEngineBatches: [4] });
      await cache.warmUp();
      for (const batch of [3, 1]) {
        const image = new Tensor('float32', [batch, 1, 28, 28], sweep(batch * 784, 2, batch));
        await expectLikeOrt(file, { image }, await cache.infer({ image }));
      }
      expect(cache.stats).toMatchObject({ builds: 1, hits: 2, misses: 0 });
    },
  );
});

describe('EngineCache on PP-OCRv4 detection (free batch, height and width)', () => {
  const file = npmFile('ocr-models', 'assets', 'ch_PP-OCRv4_det_infer.onnx');
  const missing = missingReason(file);
  if (missing) console.warn(`[skip] PP-OCRv4 det: ${missing}`);
  it.skipIf(missing !== undefined)(
    'a smaller batch reuses the engine, another H/W builds one; outputs match onnxruntime-node',
    async () => {
      const cache = new EngineCache(engineBuilderFor(file));
      const builds: number[][] = [];
      cache.on('buildStart', (e) => builds.push(e.shapes.x!));
      for (const [i, shape] of [
        [2, 3, 64, 96],
        [1, 3, 64, 96],
        [1, 3, 96, 64],
      ].entries()) {
        const x = new Tensor(
          'float32',
          shape,
          sweep(
            shape.reduce((a, b) => a * b),
            1,
            i,
          ),
        );
        await expectLikeOrt(file, { x }, await cache.infer({ x }));
      }
      expect(builds).toEqual([
        [2, 3, 64, 96],
        [1, 3, 96, 64],
      ]);
      expect(cache.stats).toMatchObject({ hits: 1, misses: 2, builds: 2 });
    },
  );
});
