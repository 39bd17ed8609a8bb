import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { convertGraphDef, encodeGraphDef, type TfNode } from './index';
import { runOnnx } from '../test-support/data';

// SpaceToBatchND / BatchToSpaceND (a dilated convolution's wrapping), with paddings and crops fed
// at run time as TF computes them, and Slice with run-time begin/size; checked against the ops'
// definitions in onnxruntime-node.

const FLOAT = 1;
const INT32 = 3;

const n = (name: string, op: string, inputs: string[]): TfNode => ({ name, op, inputs, attr: {} });
const placeholder = (name: string, type: number, shape: number[]): TfNode => ({
  name,
  op: 'Placeholder',
  inputs: [],
  attr: { dtype: { type }, shape: { shape } },
});
const ints = (name: string, values: number[]): TfNode => ({
  name,
  op: 'Const',
  inputs: [],
  attr: {
    dtype: { type: INT32 },
    value: {
      tensor: {
        dtype: INT32,
        shape: [values.length],
        data: new Uint8Array(new Int32Array(values).buffer),
      },
    },
  },
});

async function run(
  nodes: TfNode[],
  output: string,
  feeds: Record<string, ort.Tensor>,
): Promise<ort.Tensor> {
  const pb = encodeGraphDef({ nodes, functions: new Map() });
  const { model } = convertGraphDef(pb, { outputs: [`${output}:0`] });
  return (await runOnnx(model, feeds))[output]!;
}

// x[n, h, w, c] = 1000 n + 100 h + 10 w + c: every element names where it came from.
function tagged([N, H, W, C]: number[]): ort.Tensor {
  const data = new Float32Array(N! * H! * W! * C!);
  let k = 0;
  for (let a = 0; a < N!; a++)
    for (let h = 0; h < H!; h++)
      for (let w = 0; w < W!; w++)
        for (let c = 0; c < C!; c++) data[k++] = a * 1000 + h * 100 + w * 10 + c;
  return new ort.Tensor('float32', data, [N!, H!, W!, C!]);
}

const pairs = (v: number[]): ort.Tensor => new ort.Tensor('int32', Int32Array.from(v), [2, 2]);

describe('SpaceToBatchND / BatchToSpaceND with run-time paddings and crops', () => {
  const graph = [
    placeholder('x', FLOAT, [-1, -1, -1, -1]),
    placeholder('paddings', INT32, [2, 2]),
    placeholder('crops', INT32, [2, 2]),
    ints('block', [2, 3]),
    n('s2b', 'SpaceToBatchND', ['x', 'block', 'paddings']),
    n('b2s', 'BatchToSpaceND', ['s2b', 'block', 'crops']),
  ];
  // x: [2, 3, 4, 2]; paddings [[1, 0], [0, 2]] -> padded [2, 4, 6, 2] -> [12, 2, 2, 2].
  const x = tagged([2, 3, 4, 2]);
  const feeds = { x, paddings: pairs([1, 0, 0, 2]), crops: pairs([1, 0, 0, 2]) };

  it('SpaceToBatchND puts block offset (i, j) of image n in batch (i * 3 + j) * 2 + n', async () => {
    const y = await run(graph, 's2b', feeds);
    expect(y.dims).toEqual([12, 2, 2, 2]);
    const v = y.data as Float32Array;
    const src = x.data as Float32Array;
    for (let b = 0; b < 12; b++) {
      const [img, i, j] = [b % 2, Math.floor(b / 2 / 3), Math.floor(b / 2) % 3];
      for (let h = 0; h < 2; h++)
        for (let w = 0; w < 2; w++)
          for (let c = 0; c < 2; c++) {
            // Position in the padded image, then in x (top padding 1, left padding 0).
            const [ph, pw] = [h * 2 + i - 1, w * 3 + j];
            const want = ph < 0 || pw >= 4 ? 0 : src[((img * 3 + ph) * 4 + pw) * 2 + c]!;
            expect(v[((b * 2 + h) * 2 + w) * 2 + c], `b${b} h${h} w${w} c${c}`).toBe(want);
          }
    }
  });

  it('BatchToSpaceND with the same crops gives x back', async () => {
    const y = await run(graph, 'b2s', feeds);
    expect(y.dims).toEqual([2, 3, 4, 2]);
    expect(Array.from(y.data as Float32Array)).toEqual(Array.from(x.data as Float32Array));
  });
});

describe('Slice with run-time begin and size', () => {
  it('takes size elements from begin, and the rest of an axis where size is -1', async () => {
    const y = await run(
      [
        placeholder('x', FLOAT, [-1, -1, -1, -1]),
        placeholder('begin', INT32, [4]),
        placeholder('size', INT32, [4]),
        n('slice', 'Slice', ['x', 'begin', 'size']),
      ],
      'slice',
      {
        x: tagged([2, 3, 4, 2]),
        begin: new ort.Tensor('int32', Int32Array.from([1, 0, 1, 0]), [4]),
        size: new ort.Tensor('int32', Int32Array.from([1, 2, -1, 1]), [4]),
      },
    );
    expect(y.dims).toEqual([1, 2, 3, 1]);
    expect(Array.from(y.data as Float32Array)).toEqual([1010, 1020, 1030, 1110, 1120, 1130]);
  });
});

describe('BroadcastTo', () => {
  it('repeats x to the given shape', async () => {
    const y = await run(
      [
        placeholder('x', FLOAT, [1, 3]),
        ints('shape', [2, 3]),
        n('b', 'BroadcastTo', ['x', 'shape']),
      ],
      'b',
      { x: new ort.Tensor('float32', Float32Array.from([1, 2, 3]), [1, 3]) },
    );
    expect(y.dims).toEqual([2, 3]);
    expect(Array.from(y.data as Float32Array)).toEqual([1, 2, 3, 1, 2, 3]);
  });
});
