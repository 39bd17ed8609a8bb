import { describe, expect, it } from 'vitest';
import { loadModel } from '../io/load';
import { serializeModel } from '../io/save';
import { Value } from '../ir/value';
import { isStaticShape } from '../ir/shape';
import { ElemType } from '../ir/elem-type';
import { ALL_MODELS, absent, type TestModel } from '../test-support/models';
import { makeFeeds, maxAbsDiff, session } from '../test-support/ort';
import { f32, i64, tinyModel } from '../test-support/build';
import { inferShapes, runInference } from './infer';

function fixInputs(spec: TestModel, path = spec.path) {
  const model = loadModel(path);
  for (const v of model.graph.inputs) {
    v.shape = v.shape?.map((d, i) => (typeof d === 'number' ? d : (spec.dims?.[v.name]?.[i] ?? 1)));
  }
  return model;
}

// Every tensor of every real model: inference must give a full static shape, and onnxruntime,
// asked for the same tensors, must report exactly those shapes.
describe.each(ALL_MODELS)('shape inference on $name', (spec) => {
  it.skipIf(absent(spec) !== undefined)(
    'matches the shapes onnxruntime computes for every tensor',
    async () => {
      const model = fixInputs(spec);
      const feeds = makeFeeds(model, spec);
      const inputValues = Object.fromEntries(
        Object.entries(spec.values ?? {}).filter(([k]) =>
          model.graph.inputs.some((v) => v.name === k),
        ),
      );
      const infos = runInference(model, { strict: true, inputValues });
      const outputs = new Set(model.graph.outputs.map((v) => v.name));
      // Behind an If on a runtime condition, a dim may truly depend on the branch taken.
      const branchy = new Set<string>();
      for (const n of model.graph.nodes) {
        if (n.is('If') || n.inputs.some((i) => branchy.has(i)))
          n.outputs.forEach((o) => branchy.add(o));
      }
      const probe: Value[] = [];
      for (const n of model.graph.nodes) {
        for (const o of n.outputs) {
          if (o === '' || outputs.has(o)) continue;
          const info = infos.get(o);
          expect(info?.shape, `rank of ${o} (${n.opType})`).toBeDefined();
          if (!branchy.has(o))
            expect(
              isStaticShape(info!.shape),
              `static shape of ${o} (${n.opType}): ${JSON.stringify(info!.shape)}`,
            ).toBe(true);
          probe.push(new Value(o, info!.elemType, info!.shape));
        }
      }
      expect(probe.filter((v) => isStaticShape(v.shape)).length / probe.length).toBeGreaterThan(
        0.9,
      );
      for (const v of model.graph.outputs)
        expect(infos.get(v.name)?.shape, `output ${v.name}`).toBeDefined();
      // Ask onnxruntime for a sample of the tensors (all of them for small models) and compare shapes.
      const step = Math.max(1, Math.floor(probe.length / 150));
      const sample = probe.filter((_, i) => i % step === 0);
      const expected = new Map(sample.map((v) => [v.name, v]));
      // Probe a fresh copy: what inference wrote under inputValues is a specialisation.
      const fresh = loadModel(spec.path);
      fresh.graph.outputs.push(...sample.map((v) => new Value(v.name)));
      fresh.graph.valueInfo.clear();
      const s = await session(serializeModel(fresh));
      const out = await s.run(feeds);
      for (const [name, v] of expected) {
        const dims = out[name]?.dims;
        expect(dims?.length, `rank of ${name}`).toBe(v.shape!.length);
        expect(
          v.shape!.map((d, i) => (d === null ? dims![i] : d)),
          `shape of ${name}`,
        ).toEqual(dims);
        expect(out[name]?.type, `type of ${name}`).toBe(ortType(v.elemType));
      }
      await s.release();
    },
  );

  it.skipIf(absent(spec) !== undefined)(
    'writes value_info that onnxruntime accepts, with the same outputs',
    async () => {
      const model = loadModel(spec.path);
      const before = model.graph.outputs.map((v) => v.shape?.length);
      inferShapes(model);
      expect(model.graph.outputs.map((v) => v.shape?.length)).toEqual(before);
      expect(model.graph.valueInfo.size).toBeGreaterThan(0);
      const feeds = makeFeeds(model, spec);
      const [a, b] = await Promise.all([session(spec.path), session(serializeModel(model))]);
      // Known shapes let onnxruntime pick other kernels, so compare with a tolerance.
      const ra = await a.run(feeds);
      const rb = await b.run(feeds);
      for (const k of Object.keys(ra)) {
        expect(rb[k]!.dims, k).toEqual(ra[k]!.dims);
        expect(
          maxAbsDiff(ra[k]!.data as Float32Array, rb[k]!.data as Float32Array),
          k,
        ).toBeLessThan(1e-3);
      }
      await Promise.all([a.release(), b.release()]);
    },
  );
});

function ortType(t: number | undefined): string {
  return (
    (
      {
        1: 'float32',
        2: 'uint8',
        3: 'int8',
        6: 'int32',
        7: 'int64',
        9: 'bool',
        10: 'float16',
      } as Record<number, string>
    )[t ?? 0] ?? `?${t}`
  );
}

describe('symbolic dims', () => {
  it('carries batch through flatten-into-rows reshapes and back', () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, ['batch', 196, 192]]],
      outputs: [['y']],
      nodes: [
        { opType: 'Reshape', name: 'rows', inputs: ['x', 'rows_shape'], outputs: ['r'] },
        { opType: 'Shape', name: 'shape', inputs: ['x'], outputs: ['s'] },
        { opType: 'Reshape', name: 'back', inputs: ['r', 's'], outputs: ['y'] },
      ],
      initializers: [['rows_shape', i64([-1, 64])]],
    });
    const infos = runInference(m);
    expect(infos.get('r')!.shape).toEqual(['588*batch', 64]);
    expect(infos.get('s')!.value).toEqual(['batch', 196, 192]);
    expect(m.graph.outputs[0]!.shape).toEqual(['batch', 196, 192]);
    expect(m.graph.valueInfo.get('r')!.shape).toEqual(['588*batch', 64]);
  });

  it('names the node whose inference is inconsistent', () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, [2, 3]]],
      outputs: [['y']],
      nodes: [{ opType: 'Reshape', name: 'bad', inputs: ['x', 'shape'], outputs: ['y'] }],
      initializers: [['shape', i64([-1, -1])]],
    });
    expect(() => runInference(m)).toThrow(/'bad'.*more than one -1/);
  });

  it('fails in strict mode on an op it does not know, naming the node', () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, [2]]],
      outputs: [['y']],
      nodes: [{ opType: 'Frobnicate', name: 'mystery', inputs: ['x'], outputs: ['y'] }],
    });
    expect(() => runInference(m, { strict: true })).toThrow(/'mystery'.*Frobnicate/);
    expect(runInference(m).get('y')).toEqual({});
  });

  it('keeps Conv output dims symbolic for the batch and numeric for space', () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, ['n', 3, 32, 32]]],
      outputs: [['y']],
      nodes: [{ opType: 'Conv', name: 'c', inputs: ['x', 'w'], outputs: ['y'], attributes: [] }],
      initializers: [['w', f32(Array(8 * 3 * 9).fill(0), [8, 3, 3, 3])]],
    });
    inferShapes(m);
    expect(m.graph.outputs[0]!.shape).toEqual(['n', 8, 30, 30]);
  });
});
