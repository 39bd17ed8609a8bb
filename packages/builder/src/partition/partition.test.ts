import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { type Logger, Tensor, nativeAddon, setLogger } from '@kiln/core';
import { ElemType, Graph, Initializer, Model, Node, Value, serializeModel } from '@kiln/onnx';
import { missingReason, sharedModel } from '@kiln/test-data';
import { afterAll, describe, expect, it } from 'vitest';

import { maxError, ortRun, sweep } from '../test-support/run';
import { tinyCnn, tinyInput } from '../test-support/tiny-cnn';
import { onnxruntimeFallback } from './fallback';
import { PartitionedModel } from './partitioned-model';
import { partitionModel } from './segments';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-partition-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const tinyPath = path.join(tmp, 'tiny.onnx');
fs.writeFileSync(tinyPath, tinyCnn());

const brief = (segments: ReturnType<typeof partitionModel>) =>
  segments.map((s) => ({
    kind: s.kind,
    nodes: s.nodes.map((n) => n.name),
    inputs: s.inputs,
    outputs: s.outputs,
  }));

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
    expect(magnitude).toBeGreaterThan(1e-3); // the comparison is not between two near-zero outputs
  }
}

describe('partitionModel', () => {
  it('splits around a forced-unsupported op and keeps runs of minimumSegmentSize', () => {
    const options = { unsupportedOps: ['Relu'], minimumSegmentSize: 2 };
    expect(brief(partitionModel(tinyCnn(), options))).toEqual([
      { kind: 'kiln', nodes: ['conv1', 'scale'], inputs: ['x'], outputs: ['a1'] },
      { kind: 'fallback', nodes: ['relu'], inputs: ['a1'], outputs: ['r'] },
      {
        kind: 'kiln',
        nodes: ['conv2', 'sigmoid', 'swish', 'pool', 'flatten'],
        inputs: ['r'],
        outputs: ['y'],
      },
    ]);
    // At 3, the leading run of two joins the fallback, which says why.
    const segments = partitionModel(tinyCnn(), { ...options, minimumSegmentSize: 3 });
    expect(brief(segments).map((s) => [s.kind, s.nodes.length])).toEqual([
      ['fallback', 3],
      ['kiln', 5],
    ]);
    expect(segments[0]!.nodes.map((n) => n.reason)).toEqual([
      'in a run of 2 supported node(s), under minimumSegmentSize 3',
      'in a run of 2 supported node(s), under minimumSegmentSize 3',
      'listed in unsupportedOps',
    ]);
    expect(partitionModel(tinyCnn()).map((s) => s.kind)).toEqual(['kiln']);
  });

  it('keeps each kind together where the file interleaves independent branches', async () => {
    // x -> sigmoid -> neg and x -> relu -> relu2, joined by add; the file alternates kinds.
    const g = new Graph();
    g.inputs = [new Value('x', ElemType.FLOAT, ['N', 6])];
    g.outputs = [new Value('y', ElemType.FLOAT, ['N', 6])];
    const node = (opType: string, name: string, inputs: string[]) =>
      new Node({ opType, name, inputs, outputs: [name] });
    g.nodes = [
      node('Sigmoid', 'a', ['x']),
      node('Relu', 'u', ['x']),
      node('Neg', 'b', ['a']),
      node('Relu', 'v', ['u']),
      node('Add', 'y', ['b', 'v']),
    ];
    const bytes = serializeModel(
      new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] }),
    );
    const options = { unsupportedOps: ['Relu'], minimumSegmentSize: 1 };
    expect(brief(partitionModel(bytes, options))).toEqual([
      { kind: 'kiln', nodes: ['a', 'b'], inputs: ['x'], outputs: ['b'] },
      { kind: 'fallback', nodes: ['u', 'v'], inputs: ['x'], outputs: ['v'] },
      { kind: 'kiln', nodes: ['y'], inputs: ['b', 'v'], outputs: ['y'] },
    ]);
    const file = path.join(tmp, 'branches.onnx');
    fs.writeFileSync(file, bytes);
    const model = await PartitionedModel.create(file, options);
    const x = tinyInput([3, 6]);
    await expectLikeOrt(file, { x }, await model.infer({ x }));
  });

  it('without a fallback, lists every node kiln cannot build', async () => {
    expect(() =>
      partitionModel(tinyCnn(), { unsupportedOps: ['Relu', 'Sigmoid'], fallback: false }),
    ).toThrow(
      /2 node\(s\) cannot be built by kiln and no fallback executor is available \(install onnxruntime-node, an optional peer dependency of @kiln\/builder\):\n {2}relu \(Relu\): listed in unsupportedOps\n {2}sigmoid \(Sigmoid\): listed in unsupportedOps/,
    );
    // A missing onnxruntime-node means no fallback, and PartitionedModel says the same.
    expect(await onnxruntimeFallback(() => Promise.reject(new Error('not installed')))).toBe(
      undefined,
    );
    await expect(
      PartitionedModel.create(tinyCnn(), { unsupportedOps: ['Relu'], fallback: false }),
    ).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    // With nothing unsupported, a small model is kiln's even below minimumSegmentSize.
    const all = partitionModel(tinyCnn(), { minimumSegmentSize: 100, fallback: false });
    expect(all.map((s) => s.kind)).toEqual(['kiln']);
  });
});

describe('PartitionedModel', () => {
  it('runs kiln engines and the onnxruntime-node fallback as one model, at several shapes', async () => {
    const messages: string[] = [];
    const logger: Logger = {
      log: (severity, message) => severity === 'info' && messages.push(message),
    };
    const previous = setLogger(logger);
    let model: PartitionedModel;
    try {
      model = await PartitionedModel.create(tinyPath, {
        unsupportedOps: ['Relu'],
        minimumSegmentSize: 2,
      });
    } finally {
      setLogger(previous);
    }
    expect(model.segments.map((s) => s.kind)).toEqual(['kiln', 'fallback', 'kiln']);
    const log = messages.find((m) => m.startsWith('partition of'))!;
    expect(log).toContain('3 segment(s), 2 kiln, 1 fallback (onnxruntime-node)');
    expect(log).toContain(
      '#1 fallback: 1 node(s) (Relu); in: a1; out: r; relu: listed in unsupportedOps',
    );
    expect(log).toContain('#2 kiln: 5 node(s) (Conv, Sigmoid, Mul, GlobalAveragePool, Flatten)');
    for (const [i, shape] of [
      [2, 2, 7, 9],
      [1, 2, 5, 5],
    ].entries()) {
      const x = tinyInput(shape, i);
      await expectLikeOrt(tinyPath, { x }, await model.infer({ x }));
    }
    await expect(model.infer({ q: tinyInput([1, 2, 5, 5]) } as never)).rejects.toThrow(
      "input 'x' needs a Tensor",
    );
  });

  it('runs past an op kiln has neither a kernel nor a shape rule for (CumSum)', async () => {
    // sigmoid -> neg -> exp -> CumSum -> tanh -> neg -> sigmoid: the segment after CumSum learns
    // its input's type at the first call.
    const g = new Graph();
    g.inputs = [new Value('x', ElemType.FLOAT, ['N', 6])];
    g.outputs = [new Value('y', ElemType.FLOAT, ['N', 6])];
    const axis = new Tensor('int64', [], new BigInt64Array([1n]));
    g.initializers.set('axis', Initializer.fromTensor('axis', axis));
    const node = (opType: string, name: string, inputs: string[]) =>
      new Node({ opType, name, inputs, outputs: [name] });
    g.nodes = [
      node('Sigmoid', 'a', ['x']),
      node('Neg', 'b', ['a']),
      node('Exp', 'c', ['b']),
      node('CumSum', 'd', ['c', 'axis']),
      node('Tanh', 'e', ['d']),
      node('Neg', 'f', ['e']),
      node('Sigmoid', 'y', ['f']),
    ];
    const file = path.join(tmp, 'cumsum.onnx');
    fs.writeFileSync(
      file,
      serializeModel(new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] })),
    );
    // Should the core learn CumSum, forcing it keeps this test about the fallback.
    const unsupportedOps = nativeAddon().supportedOps().includes('CumSum') ? ['CumSum'] : [];
    const model = await PartitionedModel.create(file, { unsupportedOps });
    expect(model.segments.map((s) => `${s.kind}:${s.nodes.map((n) => n.op).join('+')}`)).toEqual([
      'kiln:Sigmoid+Neg+Exp',
      'fallback:CumSum',
      'kiln:Tanh+Neg+Sigmoid',
    ]);
    for (const [i, shape] of [
      [2, 6],
      [5, 6],
    ].entries()) {
      const x = tinyInput(shape, i);
      await expectLikeOrt(file, { x }, await model.infer({ x }));
    }
  });

  const file = sharedModel('fashion_mnist_cnn.onnx');
  const missing = missingReason(file);
  if (missing) console.warn(`[skip] fashion_mnist_cnn.onnx: ${missing}`);
  it.skipIf(missing !== undefined)(
    'fashion_mnist_cnn with MaxPool forced unsupported matches onnxruntime-node end to end',
    async () => {
      const model = await PartitionedModel.create(file, { unsupportedOps: ['MaxPool'] });
      expect(model.segments.map((s) => s.kind)).toEqual([
        'kiln',
        'fallback',
        'kiln',
        'fallback',
        'kiln',
      ]);
      expect(
        model.segments
          .filter((s) => s.kind === 'fallback')
          .flatMap((s) => s.nodes.map((n) => n.op)),
      ).toEqual(['MaxPool', 'MaxPool']);
      for (const batch of [2, 1]) {
        const image = new Tensor('float32', [batch, 1, 28, 28], sweep(batch * 784, 2, batch));
        await expectLikeOrt(file, { image }, await model.infer({ image }));
      }
    },
  );
});
