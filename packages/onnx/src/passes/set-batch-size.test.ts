import { describe, expect, it } from 'vitest';
import { isKilnError } from '@kiln/core';
import { loadModel } from '../io/load';
import { serializeModel } from '../io/save';
import { ElemType } from '../ir/elem-type';
import { type Model } from '../ir/model';
import { i64, f32, tinyModel } from '../test-support/build';
import { absent, NPM_MODELS, SHARED_MODELS, type TestModel } from '../test-support/models';
import { makeFeeds, maxAbsDiff, ort, session } from '../test-support/ort';
import { foldConstants } from './fold-constants';
import { setBatchSize } from './set-batch-size';

const byName = (n: string) => [...SHARED_MODELS, ...NPM_MODELS].find((m) => m.name === n)!;

/** Runs `batched` at batch 8 and the original eight times at batch 1; returns the worst difference. */
async function compareBatch8(
  original: string,
  batched: Model,
  spec: TestModel,
): Promise<{ bitIdentical: boolean; maxDiff: number }> {
  const one = loadModel(original);
  const samples = Array.from({ length: 8 }, (_, i) => makeFeeds(one, spec, 1, 100 + i));
  const inputName = one.graph.inputs[0]!.name;
  const per = samples[0]![inputName]!.data.length;
  const big = new Float32Array(per * 8);
  samples.forEach((s, i) => big.set(s[inputName]!.data as Float32Array, i * per));
  const dims = [8, ...samples[0]![inputName]!.dims.slice(1)];
  const [s1, s8] = await Promise.all([session(original), session(serializeModel(batched))]);
  const out8 = await s8.run({ [inputName]: new ort.Tensor('float32', big, dims) });
  let bitIdentical = true;
  let maxDiff = 0;
  for (let i = 0; i < 8; i++) {
    const out1 = await s1.run(samples[i]!);
    for (const [k, t] of Object.entries(out1)) {
      const a = t.data as Float32Array;
      const b = (out8[k]!.data as Float32Array).subarray(i * a.length, (i + 1) * a.length);
      expect(out8[k]!.dims[0]).toBe(8);
      const d = maxAbsDiff(a, b);
      maxDiff = Math.max(maxDiff, d);
      if (
        Buffer.compare(
          Buffer.from(a.buffer, a.byteOffset, a.byteLength),
          Buffer.from(b.buffer, b.byteOffset, b.byteLength),
        ) !== 0
      )
        bitIdentical = false;
    }
  }
  await Promise.all([s1.release(), s8.release()]);
  return { bitIdentical, maxDiff };
}

describe.each(
  ['resnet50', 'mobilenet_v2', 'deit_tiny', 'ch_ppocr_mobile_v2.0_cls_infer'].map(byName),
)('setBatchSize(8) on $name', (spec) => {
  it.skipIf(absent(spec) !== undefined)(
    'runs at batch 8 in onnxruntime, equal to eight batch-1 runs',
    async () => {
      const model = setBatchSize(loadModel(spec.path), 8);
      expect(model.graph.inputs[0]!.shape![0]).toBe(8);
      expect(model.graph.outputs[0]!.shape![0]).toBe(8);
      const r = await compareBatch8(spec.path, model, spec);
      console.log(
        `[agreement] setBatchSize(8) ${spec.name}: bit-identical=${r.bitIdentical} maxAbsDiff=${r.maxDiff}`,
      );
      expect(r.maxDiff).toBeLessThan(1e-4);
    },
  );
});

describe('setBatchSize on a batch-pinned deit_tiny', () => {
  const spec = byName('deit_tiny');
  it.skipIf(absent(spec) !== undefined)(
    'rewrites the Reshapes and the class-token constant that pin batch 1',
    async () => {
      // Fixing batch 1 and folding turns deit's Shape->Concat reshape targets into constants that
      // start with 1, like a model exported with a static batch.
      const pinned = foldConstants(setBatchSize(loadModel(spec.path), 1));
      const pinnedReshapes = pinned.graph.nodes.filter(
        (n) => n.is('Reshape') && pinned.graph.initializers.get(n.inputs[1]!)?.toNumbers()[0] === 1,
      );
      expect(pinnedReshapes.length).toBeGreaterThan(10);
      const fixed = setBatchSize(pinned, 8);
      const r = await compareBatch8(spec.path, fixed, spec);
      console.log(
        `[agreement] setBatchSize(8) on pinned deit_tiny: bit-identical=${r.bitIdentical} maxAbsDiff=${r.maxDiff}`,
      );
      expect(r.maxDiff).toBeLessThan(1e-4);
    },
  );
});

function expectPin(f: () => unknown, ...parts: string[]) {
  try {
    f();
  } catch (e) {
    expect(isKilnError(e), String(e)).toBe(true);
    for (const p of parts) expect((e as Error).message).toContain(p);
    return;
  }
  throw new Error('expected a KilnError');
}

describe('setBatchSize on small graphs', () => {
  it('rewrites a Reshape whose constant target starts with the old batch', () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, [1, 6, 4]]],
      outputs: [['y', ElemType.FLOAT, [1, 24]]],
      nodes: [{ opType: 'Reshape', name: 'flat', inputs: ['x', 's'], outputs: ['y'] }],
      initializers: [['s', i64([1, 24])]],
    });
    setBatchSize(m, 5);
    expect(m.graph.initializers.get(m.graph.nodes[0]!.inputs[1]!)!.toNumbers()).toEqual([0, 24]);
    expect(m.graph.outputs[0]!.shape).toEqual([5, 24]);
  });

  it('uses a symbolic batch name everywhere with { dynamic }', () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, [1, 6, 4]]],
      outputs: [['y']],
      nodes: [{ opType: 'Reshape', name: 'flat', inputs: ['x', 's'], outputs: ['y'] }],
      initializers: [['s', i64([-1, 4])]],
    });
    setBatchSize(m, { dynamic: 'N' });
    expect(m.graph.inputs[0]!.shape).toEqual(['N', 6, 4]);
    expect(m.graph.outputs[0]!.shape).toEqual(['6*N', 4]);
  });

  it('fails naming the node when a Reshape folds the batch into another dim', () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, [2, 6]]],
      outputs: [['y']],
      nodes: [{ opType: 'Reshape', name: 'merge', inputs: ['x', 's'], outputs: ['y'] }],
      initializers: [['s', i64([12])]],
    });
    expectPin(() => setBatchSize(m, 8), "'merge'", 'pins the batch');
  });

  it('fails naming the node when a constant sized for the old batch meets batch data', () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, [4, 3]]],
      outputs: [['y']],
      nodes: [{ opType: 'Add', name: 'bias4', inputs: ['x', 'b'], outputs: ['y'] }],
      initializers: [['b', f32(Array(12).fill(1), [4, 3])]],
    });
    expectPin(() => setBatchSize(m, 8), "'bias4'", 'old batch');
  });

  it('expands a batch-1 constant concatenated with batch data', () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, [1, 2, 3]]],
      outputs: [['y']],
      nodes: [
        { opType: 'Concat', name: 'cat', inputs: ['tok', 'x'], outputs: ['y'], attributes: [] },
      ],
      initializers: [['tok', f32([1, 2, 3], [1, 1, 3])]],
    });
    m.graph.nodes[0]!.setAttr({
      name: 'axis',
      type: 2,
      proto: {
        name: 'axis',
        type: 2,
        i: 1,
        floats: [],
        ints: [],
        strings: [],
        tensors: [],
        graphs: [],
        typeProtos: [],
        sparseTensors: [],
      },
    });
    setBatchSize(m, 3);
    expect(m.graph.outputs[0]!.shape).toEqual([3, 3, 3]);
    expect(m.graph.nodes.some((n) => n.is('Expand'))).toBe(true);
  });

  it('rejects a bad size', () => {
    const m = tinyModel({ inputs: [['x', ElemType.FLOAT, [1]]], outputs: [['x']], nodes: [] });
    expectPin(() => setBatchSize(m, 0), 'positive integer');
    expectPin(() => setBatchSize(m, { dynamic: '' } as never), 'dynamic');
  });
});
