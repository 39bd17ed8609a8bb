import { describe, expect, it } from 'vitest';
import { loadModel } from '../io/load';
import { serializeModel } from '../io/save';
import { graphAttr, intsAttr } from '../ir/attribute';
import { Graph } from '../ir/graph';
import { Node } from '../ir/node';
import { Value } from '../ir/value';
import { ElemType } from '../ir/elem-type';
import type { Model } from '../ir/model';
import { insertNodes, replaceUses } from '../surgery/edit';
import { f32, tinyModel } from '../test-support/build';
import { absent, SHARED_MODELS } from '../test-support/models';
import { makeFeeds, ort, session } from '../test-support/ort';
import {
  cancelTransposePairs,
  inputsAsNchw,
  outputsAsNchw,
  toChannelsFirst,
  toChannelsLast,
} from './layout';

const spec = SHARED_MODELS.find((m) => m.name === 'fashion_mnist_cnn')!;

// The NHWC twin of an NCHW model: it takes [N, H, W, C] and transposes to NCHW first, the way
// a TensorFlow export does.
function nhwcTwin(path: string): Model {
  const m = loadModel(path);
  const g = m.graph;
  const x = g.inputs[0]!;
  const inner = g.uniqueName(`${x.name}_nchw`);
  replaceUses(g, x.name, inner);
  insertNodes(g, [
    {
      opType: 'Transpose',
      inputs: [x.name],
      outputs: [inner],
      attributes: [intsAttr('perm', [0, 3, 1, 2])],
    },
  ]);
  x.shape = [x.shape![0]!, x.shape![2]!, x.shape![3]!, x.shape![1]!];
  return m;
}

function nhwc(data: Float32Array, [n, c, h, w]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n!; b++)
    for (let k = 0; k < c!; k++)
      for (let y = 0; y < h!; y++)
        for (let x = 0; x < w!; x++) {
          out[((b * h! + y) * w! + x) * c! + k] = data[((b * c! + k) * h! + y) * w! + x]!;
        }
  return out;
}

describe('inputsAsNchw on an NHWC model', () => {
  it.skipIf(absent(spec) !== undefined)(
    'matches the NHWC model fed transposed inputs, and the Transposes cancel',
    async () => {
      const twin = nhwcTwin(spec.path);
      const nchw = inputsAsNchw(nhwcTwin(spec.path));
      expect(nchw.graph.inputs[0]!.shape).toEqual(['batch', 1, 28, 28]);
      expect(nchw.graph.nodes.filter((n) => n.is('Transpose')).length).toBe(0);
      const original = loadModel(spec.path);
      const feeds = makeFeeds(original, spec, 2);
      const x = feeds.image!;
      const [sTwin, sNchw] = await Promise.all([
        session(serializeModel(twin)),
        session(serializeModel(nchw)),
      ]);
      const a = await sTwin.run({
        image: new ort.Tensor(
          'float32',
          nhwc(x.data as Float32Array, x.dims as number[]),
          [2, 28, 28, 1],
        ),
      });
      const b = await sNchw.run(feeds);
      expect(Buffer.from((b.logits!.data as Float32Array).buffer)).toEqual(
        Buffer.from((a.logits!.data as Float32Array).buffer),
      );
    },
  );
});

describe('layout passes on small graphs', () => {
  const perms = { 3: [0, 2, 1], 4: [0, 2, 3, 1], 5: [0, 2, 3, 4, 1] } as const;
  it.each([3, 4, 5] as const)('inverts channel perms at rank %i', (r) => {
    expect(toChannelsLast(r)).toEqual(perms[r]);
    const first = toChannelsFirst(r);
    expect(first.map((p) => perms[r][p])).toEqual(Array.from({ length: r }, (_, i) => i));
  });

  it('inserts a Transpose before an NHWC input that does not start with one', () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, ['n', 8, 8, 3]]],
      outputs: [['y', ElemType.FLOAT, ['n', 8, 8, 3]]],
      nodes: [{ opType: 'Relu', name: 'r', inputs: ['x'], outputs: ['y'] }],
    });
    inputsAsNchw(m);
    expect(m.graph.inputs[0]!.shape).toEqual(['n', 3, 8, 8]);
    const t = m.graph.nodes[0]!;
    expect(t.opType).toBe('Transpose');
    expect(t.ints('perm')).toEqual([0, 2, 3, 1]);
    expect(m.graph.nodes[1]!.inputs[0]).toBe(t.outputs[0]);
  });

  it('turns an NHWC output into NCHW with a Transpose at the end', async () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, [1, 2, 2, 3]]],
      outputs: [['y', ElemType.FLOAT, [1, 2, 2, 3]]],
      nodes: [{ opType: 'Relu', name: 'r', inputs: ['x'], outputs: ['y'] }],
    });
    outputsAsNchw(m);
    expect(m.graph.outputs[0]!.shape).toEqual([1, 3, 2, 2]);
    const s = await session(serializeModel(m));
    const data = Float32Array.from({ length: 12 }, (_, i) => i);
    const out = await s.run({ x: new ort.Tensor('float32', data, [1, 2, 2, 3]) });
    expect(out.y!.dims).toEqual([1, 3, 2, 2]);
    // Channel 1 of NCHW is every third NHWC element from 1.
    expect(Array.from((out.y!.data as Float32Array).slice(4, 8))).toEqual([1, 4, 7, 10]);
  });

  it('refuses names that are not inputs', () => {
    const m = tinyModel({
      inputs: [['x', ElemType.FLOAT, [1, 2, 2, 3]]],
      outputs: [['x']],
      nodes: [],
    });
    expect(() => inputsAsNchw(m, { names: ['nope'] })).toThrow(/'nope' is not a graph input/);
  });
});

// An If branch graph with no inputs that returns Identity(`reads`) from the outer scope.
function branch(name: string, reads: string): Graph {
  const g = new Graph();
  g.name = name;
  g.nodes = [
    new Node({ opType: 'Identity', name: `${name}/id`, inputs: [reads], outputs: [`${name}_out`] }),
  ];
  g.outputs = [new Value(`${name}_out`, ElemType.FLOAT, undefined)];
  return g;
}

describe('subgraphs (graphAttr)', () => {
  it('an If whose branches read outer tensors serializes, runs, and keeps what its branches read', async () => {
    // t2 = Transpose(Transpose(x)) is read only by the then branch; the else branch reads x.
    const m = tinyModel({
      inputs: [
        ['x', ElemType.FLOAT, [1, 2, 3]],
        ['c', ElemType.BOOL, []],
      ],
      outputs: [['y', ElemType.FLOAT]],
      nodes: [
        {
          opType: 'Transpose',
          name: 't1',
          inputs: ['x'],
          outputs: ['t1'],
          attributes: [intsAttr('perm', [0, 2, 1])],
        },
        {
          opType: 'Transpose',
          name: 't2',
          inputs: ['t1'],
          outputs: ['t2'],
          attributes: [intsAttr('perm', [0, 2, 1])],
        },
        { opType: 'Neg', name: 'neg', inputs: ['x'], outputs: ['negx'] },
        {
          opType: 'If',
          name: 'if',
          inputs: ['c'],
          outputs: ['y'],
          attributes: [
            graphAttr('then_branch', branch('then', 't2')),
            graphAttr('else_branch', branch('else', 'negx')),
          ],
        },
      ],
    });
    cancelTransposePairs(m.graph);
    // The pair cancels: the then branch now reads x, and neither Transpose is left over.
    expect(m.graph.nodes.filter((n) => n.is('Transpose'))).toEqual([]);
    expect(m.graph.nodes.find((n) => n.is('If'))!.subgraphs()[0]!.nodes[0]!.inputs).toEqual(['x']);
    m.graph.check('if');
    const s = await session(serializeModel(m));
    const x = f32([1, 2, 3, 4, 5, 6], [1, 2, 3]);
    const feeds = (c: boolean) => ({
      x: new ort.Tensor('float32', x.data as Float32Array, [1, 2, 3]),
      c: new ort.Tensor('bool', Uint8Array.from([c ? 1 : 0]), []),
    });
    expect(Array.from((await s.run(feeds(true))).y!.data as Float32Array)).toEqual([
      1, 2, 3, 4, 5, 6,
    ]);
    expect(Array.from((await s.run(feeds(false))).y!.data as Float32Array)).toEqual([
      -1, -2, -3, -4, -5, -6,
    ]);
  });

  it('keeps a Transpose that only a subgraph reads', () => {
    const m = tinyModel({
      inputs: [
        ['x', ElemType.FLOAT, [1, 2, 3]],
        ['c', ElemType.BOOL, []],
      ],
      outputs: [['y', ElemType.FLOAT]],
      nodes: [
        {
          opType: 'Transpose',
          name: 't1',
          inputs: ['x'],
          outputs: ['t1'],
          attributes: [intsAttr('perm', [0, 2, 1])],
        },
        {
          opType: 'If',
          name: 'if',
          inputs: ['c'],
          outputs: ['y'],
          attributes: [
            graphAttr('then_branch', branch('then', 't1')),
            graphAttr('else_branch', branch('else', 't1')),
          ],
        },
      ],
    });
    cancelTransposePairs(m.graph);
    expect(m.graph.nodes.map((n) => n.name)).toEqual(['t1', 'if']);
  });
});
