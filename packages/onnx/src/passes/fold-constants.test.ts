import { describe, expect, it } from 'vitest';
import { loadModel } from '../io/load';
import { serializeModel } from '../io/save';
import { tensorAttr } from '../ir/attribute';
import { ElemType } from '../ir/elem-type';
import { Initializer } from '../ir/initializer';
import { f32, i64, tinyModel } from '../test-support/build';
import { absent, SHARED_MODELS } from '../test-support/models';
import { makeFeeds, runBytes, sameBytes, session } from '../test-support/ort';
import { foldConstants } from './fold-constants';
import { setBatchSize } from './set-batch-size';
import { checkOpset } from './opset';
import { eliminateDeadNodes } from './eliminate-dead-nodes';

describe('foldConstants', () => {
  it("turns a Constant node's weights into an initializer viewing the same bytes", () => {
    // Bytes at an odd offset of a larger buffer, as raw_data sits in a file.
    const file = new Uint8Array(1 + 2 * 4);
    new DataView(file.buffer).setFloat32(1, 0.1, true);
    new DataView(file.buffer).setFloat32(5, Number.NaN, true);
    const bytes = file.subarray(1);
    const value = Initializer.fromBytes('', ElemType.FLOAT, [2], bytes);
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, [2]]],
      outputs: [['y', ElemType.FLOAT, [2]]],
      nodes: [
        { opType: 'Constant', name: 'w', outputs: ['w'], attributes: [tensorAttr('value', value)] },
        { opType: 'Mul', name: 'use', inputs: ['x', 'w'], outputs: ['y'] },
      ],
    });
    foldConstants(m);
    expect(m.graph.nodes.map((n) => n.name)).toEqual(['use']);
    const w = m.graph.initializers.get('w')!;
    expect(w.name).toBe('w');
    expect(w.dims).toEqual([2]);
    expect(w.bytes()).toBe(bytes);
  });

  it('folds a constant subgraph with float32 rounding, leaving data-dependent nodes', () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, [3]]],
      outputs: [['y', ElemType.FLOAT, [3]]],
      nodes: [
        { opType: 'Mul', name: 'scale', inputs: ['a', 'b'], outputs: ['ab'] },
        { opType: 'Add', name: 'shift', inputs: ['ab', 'c'], outputs: ['k'] },
        { opType: 'Add', name: 'use', inputs: ['x', 'k'], outputs: ['y'] },
      ],
      initializers: [
        ['a', f32([0.1, 0.2, 0.3])],
        ['b', f32([3, 3, 3])],
        ['c', f32([1e-8, 1, 2])],
      ],
    });
    foldConstants(m);
    expect(m.graph.nodes.map((n) => n.name)).toEqual(['use']);
    const k = m.graph.initializers.get('k')!.tensor().data as Float32Array;
    const f = Math.fround;
    expect(Array.from(k)).toEqual([
      f(f(f(0.1) * 3) + f(1e-8)),
      f(f(f(0.2) * 3) + 1),
      f(f(f(0.3) * 3) + 2),
    ]);
    expect(m.graph.initializers.has('a')).toBe(false);
  });

  it('folds Shape-of-static-shape chains into a Reshape target', () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, [2, 3, 4]]],
      outputs: [['y']],
      nodes: [
        { opType: 'Shape', name: 'shape', inputs: ['x'], outputs: ['s'] },
        { opType: 'Gather', name: 'first', inputs: ['s', 'zero'], outputs: ['n'] },
        { opType: 'Unsqueeze', name: 'unsq', inputs: ['n', 'axes'], outputs: ['n1'] },
        { opType: 'Concat', name: 'cat', inputs: ['n1', 'minus1'], outputs: ['t'], attributes: [] },
        { opType: 'Reshape', name: 'r', inputs: ['x', 't'], outputs: ['y'] },
      ],
      initializers: [
        ['zero', i64([0], [])],
        ['axes', i64([0])],
        ['minus1', i64([-1])],
      ],
    });
    m.graph.nodes[3]!.attributes.set('axis', {
      name: 'axis',
      type: 2,
      proto: {
        name: 'axis',
        type: 2,
        i: 0,
        floats: [],
        ints: [],
        strings: [],
        tensors: [],
        graphs: [],
        typeProtos: [],
        sparseTensors: [],
      },
    });
    foldConstants(m);
    expect(m.graph.nodes.map((n) => n.opType)).toEqual(['Reshape']);
    expect(m.graph.initializers.get('t')!.toNumbers()).toEqual([2, -1]);
  });

  it('leaves symbolic Shape chains alone', () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, ['n', 4]]],
      outputs: [['s']],
      nodes: [{ opType: 'Shape', name: 'shape', inputs: ['x'], outputs: ['s'] }],
    });
    foldConstants(m);
    expect(m.graph.nodes.length).toBe(1);
  });

  const deit = SHARED_MODELS.find((m) => m.name === 'deit_tiny')!;
  it.skipIf(absent(deit) !== undefined)(
    'folds deit_tiny at batch 1 without changing its outputs',
    async () => {
      const model = foldConstants(setBatchSize(loadModel(deit.path), 1));
      const before = loadModel(deit.path).graph.nodes.length;
      expect(model.graph.nodes.length).toBeLessThan(before - 100);
      expect(model.graph.nodes.some((n) => n.is('Shape'))).toBe(false);
      const feeds = makeFeeds(model, deit, 1);
      // Reference: the same static-batch model unfolded (static shapes alone change onnxruntime's kernels).
      const reference = serializeModel(setBatchSize(loadModel(deit.path), 1));
      const [a, b] = await Promise.all([session(reference), session(serializeModel(model))]);
      const ra = await runBytes(a, feeds);
      const rb = await runBytes(b, feeds);
      expect(sameBytes(ra.output, rb.output)).toBe(true);
    },
  );
});

describe('checkOpset and eliminateDeadNodes', () => {
  const m = () =>
    tinyModel({
      inputs: [['x', ElemType.FLOAT, [1]]],
      outputs: [['y']],
      nodes: [
        { opType: 'Relu', name: 'live', inputs: ['x'], outputs: ['y'] },
        { opType: 'Neg', name: 'dead', inputs: ['w'], outputs: ['z'] },
      ],
      initializers: [['w', f32([1])]],
      opset: 17,
    });

  it('accepts opsets in range and names the range otherwise', () => {
    expect(checkOpset(m())).toBeDefined();
    expect(() => checkOpset(m(), { max: 13 })).toThrow(
      /opset 17 is outside the supported range 7\.\.13/,
    );
    const none = m();
    none.proto.opsetImport = [];
    expect(() => checkOpset(none)).toThrow(/no default-domain/);
  });

  it('removes dead nodes and the initializers only they read', () => {
    const model = eliminateDeadNodes(m());
    expect(model.graph.nodes.map((n) => n.name)).toEqual(['live']);
    expect(model.graph.initializers.size).toBe(0);
  });
});
