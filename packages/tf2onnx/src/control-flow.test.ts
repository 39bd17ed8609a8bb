import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { isKilnError } from '@kiln/core';
import type { Model } from '@kiln/onnx';
import { convertGraphDef, encodeGraphDef, type TfNode } from './index';
import { runOnnx } from '../test-support/data';

// tf.cond as frozen graphs carry it (Switch / Merge with pivots), built by hand and run in
// onnxruntime-node for both values of the predicate.

const FLOAT = 1;
const BOOL = 10;

const n = (name: string, op: string, inputs: string[]): TfNode => ({ name, op, inputs, attr: {} });
const placeholder = (name: string, type: number, shape: number[]): TfNode => ({
  name,
  op: 'Placeholder',
  inputs: [],
  attr: { dtype: { type }, shape: { shape } },
});
const scalar = (name: string, value: number, control: string[] = []): TfNode => ({
  name,
  op: 'Const',
  inputs: control,
  attr: {
    dtype: { type: FLOAT },
    value: {
      tensor: { dtype: FLOAT, shape: [], data: new Uint8Array(new Float32Array([value]).buffer) },
    },
  },
});
const convert = (nodes: TfNode[], outputs: string[]): Model =>
  convertGraphDef(encodeGraphDef({ nodes, functions: new Map() }), { outputs }).model;

const X = [1, -2, 3];

async function run(model: Model, flags: Record<string, boolean>): Promise<number[]> {
  const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', X, [3]) };
  for (const [k, v] of Object.entries(flags))
    feeds[k] = new ort.Tensor('bool', Uint8Array.from([v ? 1 : 0]), []);
  const out = await runOnnx(model, feeds);
  return Array.from(out[model.graph.outputs[0]!.name]!.data as Float32Array);
}

// Every node of a graph and its subgraphs, with the depth of If nesting.
function opsOf(model: Model): string[] {
  const out: string[] = [];
  const walk = (nodes: Model['graph']['nodes'], depth: number): void => {
    for (const node of nodes) {
      out.push(`${depth}:${node.opType}`);
      for (const g of node.subgraphs()) walk(g.nodes, depth + 1);
    }
  };
  walk(model.graph.nodes, 0);
  return out;
}

// z = (p ? 2 * x : -x) - x, as tf.cond v1 writes it: Merge(else, then), the constant gated by
// the then pivot, x read by the branches through a Switch and outside directly.
const simpleCond = [
  placeholder('x', FLOAT, [3]),
  placeholder('p', BOOL, []),
  n('cond/switch_pred', 'Switch', ['p', 'p']),
  n('cond/pivot_t', 'Identity', ['cond/switch_pred:1']),
  n('cond/pivot_f', 'Identity', ['cond/switch_pred']),
  n('cond/Switch', 'Switch', ['x', 'p']),
  scalar('cond/two', 2, ['^cond/pivot_t']),
  n('cond/double', 'Mul', ['cond/Switch:1', 'cond/two']),
  n('cond/negate', 'Neg', ['cond/Switch']),
  n('cond/Merge', 'Merge', ['cond/negate', 'cond/double']),
  n('z', 'Sub', ['cond/Merge', 'x']),
];

describe('tf.cond (Switch / Merge) becomes an ONNX If', () => {
  it('runs the branch the predicate picks; the rest of the graph stays outside', async () => {
    const model = convert(simpleCond, ['z:0']);
    expect(opsOf(model)).toEqual(['0:If', '1:Mul', '1:Identity', '1:Neg', '1:Identity', '0:Sub']);
    expect(await run(model, { p: true })).toEqual(X.map((v) => 2 * v - v));
    expect(await run(model, { p: false })).toEqual(X.map((v) => -v - v));
  });

  it('a cond nested in a branch becomes an If inside the If; a Merge can be the output', async () => {
    // m = p ? (q ? 3 * x : x) : -x, the inner cond reading x and q through the outer Switches.
    const model = convert(
      [
        placeholder('x', FLOAT, [3]),
        placeholder('p', BOOL, []),
        placeholder('q', BOOL, []),
        n('outer/Switch', 'Switch', ['x', 'p']),
        n('outer/Switch_q', 'Switch', ['q', 'p']),
        n('outer/then/q', 'Identity', ['outer/Switch_q:1']),
        n('inner/Switch', 'Switch', ['outer/Switch:1', 'outer/then/q']),
        n('inner/pivot_t', 'Identity', ['inner/Switch:1']),
        scalar('inner/three', 3, ['^inner/pivot_t']),
        n('inner/triple', 'Mul', ['inner/Switch:1', 'inner/three']),
        n('inner/same', 'Identity', ['inner/Switch']),
        n('inner/Merge', 'Merge', ['inner/triple', 'inner/same']),
        n('outer/negate', 'Neg', ['outer/Switch']),
        n('outer/Merge', 'Merge', ['inner/Merge', 'outer/negate']),
      ],
      ['outer/Merge:0'],
    );
    expect(opsOf(model).filter((o) => o.endsWith(':If'))).toEqual(['0:If', '1:If']);
    expect(await run(model, { p: true, q: true })).toEqual(X.map((v) => 3 * v));
    expect(await run(model, { p: true, q: false })).toEqual(X);
    expect(await run(model, { p: false, q: true })).toEqual(X.map((v) => -v));
  });

  it('the report counts the Switches, Merges and branch nodes', () => {
    const { report } = convertGraphDef(
      encodeGraphDef({ nodes: simpleCond, functions: new Map() }),
      {
        outputs: ['z:0'],
      },
    );
    expect(report.opsMapped).toMatchObject({ Switch: 2, Merge: 1, Mul: 1, Neg: 1, Sub: 1 });
  });

  it('a while loop fails with every node it cannot convert, never a partial model', () => {
    // i = 0; while (i < 10) i = i + 1
    const loop = [
      scalar('zero', 0),
      scalar('ten', 10),
      scalar('one', 1),
      n('while/Enter', 'Enter', ['zero']),
      n('while/Merge', 'Merge', ['while/Enter', 'while/NextIteration']),
      n('while/Less', 'Less', ['while/Merge', 'ten']),
      n('while/LoopCond', 'LoopCond', ['while/Less']),
      n('while/Switch', 'Switch', ['while/Merge', 'while/LoopCond']),
      n('while/Identity', 'Identity', ['while/Switch:1']),
      n('while/add', 'AddV2', ['while/Identity', 'one']),
      n('while/NextIteration', 'NextIteration', ['while/add']),
      n('while/Exit', 'Exit', ['while/Switch']),
    ];
    try {
      convert(loop, ['while/Exit:0']);
      expect.unreachable();
    } catch (e) {
      expect(isKilnError(e, 'UNSUPPORTED')).toBe(true);
      for (const op of ['Enter', 'Merge', 'LoopCond', 'Switch', 'NextIteration', 'Exit'])
        expect(String(e)).toContain(`while/${op} (${op})`);
    }
  });
});
