import { describe, expect, it } from 'vitest';
import { loadModel } from '../io/load';
import { serializeModel } from '../io/save';
import { ElemType } from '../ir/elem-type';
import { Node } from '../ir/node';
import { Value } from '../ir/value';
import { f32, tinyModel } from '../test-support/build';
import { absent, SHARED_MODELS } from '../test-support/models';
import { makeFeeds, ort, runBytes, session } from '../test-support/ort';
import { cleanup } from './cleanup';
import { insertNodes, removeNode, renameIO, replaceNode, replaceUses } from './edit';
import { extractSubgraph } from './extract';
import { findNode, findNodes, findTensors } from './find';

function chain() {
  return tinyModel({
    inputs: [['x', ElemType.FLOAT, [2]]],
    outputs: [['y', ElemType.FLOAT, [2]]],
    nodes: [
      { opType: 'Relu', name: 'relu', inputs: ['x'], outputs: ['a'] },
      { opType: 'Identity', name: 'id', inputs: ['a'], outputs: ['b'] },
      { opType: 'Add', name: 'add', inputs: ['b', 'w'], outputs: ['y'] },
      { opType: 'Neg', name: 'unused', inputs: ['x'], outputs: ['dead'] },
    ],
    initializers: [
      ['w', f32([1, 2])],
      ['orphan', f32([0])],
    ],
  });
}

describe('IR maps and order', () => {
  it('gives producers and consumers', () => {
    const g = chain().graph;
    expect(g.producers().get('b')!.name).toBe('id');
    expect(
      g
        .consumers()
        .get('x')!
        .map((n) => n.name),
    ).toEqual(['relu', 'unused']);
  });

  it('sorts topologically, keeping a sorted graph as it is', () => {
    const g = chain().graph;
    const names = g.nodes.map((n) => n.name);
    g.nodes.reverse();
    g.topologicalSort();
    expect(g.nodes.map((n) => n.name).indexOf('relu')).toBeLessThan(
      g.nodes.map((n) => n.name).indexOf('add'),
    );
    const sorted = chain().graph;
    sorted.topologicalSort();
    expect(sorted.nodes.map((n) => n.name)).toEqual(names);
  });

  it('finds a cycle and names its nodes', () => {
    const g = chain().graph;
    g.nodes[0]!.inputs = ['b'];
    expect(
      g
        .findCycle()!
        .map((n) => n.name)
        .sort(),
    ).toEqual(['id', 'relu']);
    expect(() => g.topologicalSort()).toThrow(/cycle.*'(relu|id)'/);
  });

  it('makes unique names', () => {
    const g = chain().graph;
    expect(g.uniqueName('a')).toBe('a_1');
    expect(g.uniqueName('fresh')).toBe('fresh');
    expect(g.uniqueName('relu')).toBe('relu_1');
  });
});

describe('graph surgery', () => {
  it('finds nodes and tensors', () => {
    const g = chain().graph;
    expect(findNodes(g, { opType: 'Relu' }).map((n) => n.name)).toEqual(['relu']);
    expect(findNodes(g, { name: /^a/ }).map((n) => n.name)).toEqual(['add']);
    expect(findNode(g, 'id')!.opType).toBe('Identity');
    expect(findTensors(g, /^[ab]$/).sort()).toEqual(['a', 'b']);
  });

  it('removes a passthrough node and rewires its readers', () => {
    const g = chain().graph;
    removeNode(g, findNode(g, 'id')!);
    expect(findNode(g, 'add')!.inputs[0]).toBe('a');
    expect(() => removeNode(g, findNode(g, 'add')!)).toThrow(/graph output 'y'/);
  });

  it('inserts nodes in topological position with unique names', () => {
    const g = chain().graph;
    replaceUses(g, 'a', 'a2', { except: [] });
    const [n] = insertNodes(g, [{ opType: 'Sigmoid', inputs: ['a'], outputs: ['a2'] }]);
    expect(n!.name).toBe('kiln_Sigmoid');
    const order = g.nodes.map((x) => x.name);
    expect(order.indexOf('kiln_Sigmoid')).toBeGreaterThan(order.indexOf('relu'));
    expect(order.indexOf('kiln_Sigmoid')).toBeLessThan(order.indexOf('id'));
  });

  it('replaces a node, requiring the replacement to produce its outputs', () => {
    const g = chain().graph;
    expect(() =>
      replaceNode(g, findNode(g, 'relu')!, [
        { opType: 'Sigmoid', inputs: ['x'], outputs: ['other'] },
      ]),
    ).toThrow(/output 'a'/);
    replaceNode(g, findNode(g, 'relu')!, [
      new Node({ opType: 'Sigmoid', name: 'sig', inputs: ['x'], outputs: ['a'] }),
    ]);
    expect(g.producers().get('a')!.name).toBe('sig');
  });

  it('cleans up dead nodes, unused initializers and (when asked) inputs', () => {
    const m = chain();
    m.graph.inputs.push(m.graph.inputs[0]!.clone('unused_input'));
    cleanup(m);
    expect(m.graph.nodes.map((n) => n.name)).toEqual(['relu', 'id', 'add']);
    expect([...m.graph.initializers.keys()]).toEqual(['w']);
    expect(m.graph.inputs.length).toBe(2);
    cleanup(m, { removeUnusedInputs: true });
    expect(m.graph.inputs.map((v) => v.name)).toEqual(['x']);
  });

  it('renames inputs and outputs everywhere', () => {
    const g = chain().graph;
    renameIO(g, 'x', 'image');
    renameIO(g, 'y', 'logits');
    expect(g.inputs[0]!.name).toBe('image');
    expect(findNode(g, 'relu')!.inputs[0]).toBe('image');
    expect(findNode(g, 'add')!.outputs[0]).toBe('logits');
    expect(() => renameIO(g, 'a', 'z')).toThrow(/not an input or output/);
    expect(() => renameIO(g, 'image', 'w')).toThrow(/taken/);
  });
});

describe('extractSubgraph', () => {
  it('takes the nodes between tensors and fails on a missing dependency', () => {
    const m = chain();
    const sub = extractSubgraph(m, ['a'], ['y']);
    expect(sub.graph.nodes.map((n) => n.name)).toEqual(['id', 'add']);
    expect([...sub.graph.initializers.keys()]).toEqual(['w']);
    expect(() => extractSubgraph(m, ['b'], ['y', 'dead'])).toThrow(/'x' is needed/);
  });

  const spec = SHARED_MODELS.find((m) => m.name === 'fashion_mnist_cnn')!;
  it.skipIf(absent(spec) !== undefined)(
    'extracts a middle piece of a real model that onnxruntime runs',
    async () => {
      const m = loadModel(spec.path);
      const convs = findNodes(m.graph, { opType: 'Conv' });
      const from = convs[1]!.inputs[0]!;
      const to = convs[2]!.outputs[0]!;
      const sub = extractSubgraph(m, [from], [to]);
      expect(sub.graph.nodes.length).toBeGreaterThan(1);
      expect(sub.graph.nodes.length).toBeLessThan(m.graph.nodes.length);
      // Feed the full model's intermediate tensor to the piece: its output must match the full model's.
      const full = loadModel(spec.path);
      full.graph.outputs.push(new Value(from), new Value(to));
      const fs = await session(serializeModel(full));
      const outs = await fs.run(makeFeeds(full, spec, 1));
      const ss = await session(serializeModel(sub));
      const r = await runBytes(ss, { [from]: outs[from] as ort.Tensor });
      expect(Buffer.from(r[to]!)).toEqual(Buffer.from((outs[to]!.data as Float32Array).buffer));
    },
  );
});
