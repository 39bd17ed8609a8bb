import { KilnError, Tensor } from '@kiln/core';
import { describe, expect, it } from 'vitest';

import { NetworkDefinition } from './network';
import { buildEngine, sweep } from './test-support/run';

// conv 3x3 (pad 1) -> relu -> 2x2 max pool -> fully connected, computed naively in doubles.
function reference(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  fw: Float32Array,
  fb: Float32Array,
): number[] {
  const [C, M, H, W] = [2, 3, 6, 6];
  const conv = new Float64Array(M * H * W);
  for (let m = 0; m < M; m++)
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++) {
        let acc = b[m]!;
        for (let c = 0; c < C; c++)
          for (let ki = 0; ki < 3; ki++)
            for (let kj = 0; kj < 3; kj++) {
              const y = i + ki - 1,
                xx = j + kj - 1;
              if (y >= 0 && y < H && xx >= 0 && xx < W)
                acc += w[((m * C + c) * 3 + ki) * 3 + kj]! * x[(c * H + y) * W + xx]!;
            }
        conv[(m * H + i) * W + j] = Math.max(acc, 0);
      }
  const pooled: number[] = [];
  for (let m = 0; m < M; m++)
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let best = -Infinity;
        for (let a = 0; a < 2; a++)
          for (let c = 0; c < 2; c++)
            best = Math.max(best, conv[(m * H + 2 * i + a) * W + 2 * j + c]!);
        pooled.push(best);
      }
  return [0, 1, 2, 3].map(
    (o) => fb[o]! + pooled.reduce((s, v, k) => s + v * fw[o * pooled.length + k]!, 0),
  );
}

describe('NetworkDefinition built by API', () => {
  it('builds and runs conv -> relu -> pool -> fully connected', async () => {
    const net = new NetworkDefinition();
    const x = net.addInput('x', 'float32', [1, 2, 6, 6]);
    const w = sweep(3 * 2 * 9, 0.5, 1),
      b = sweep(3, 0.2, 2),
      fw = sweep(4 * 27, 0.3, 3),
      fb = sweep(4, 0.1, 4);
    const conv = net.addConvolution(
      x,
      3,
      [3, 3],
      net.addConstant([3, 2, 3, 3], 'float32', w),
      net.addConstant([3], 'float32', b),
      { padding: [1, 1, 1, 1] },
    );
    const relu = net.addActivation(conv.output, 'relu');
    const pool = net.addPooling(relu.output, 'max', [2, 2]);
    const fc = net.addFullyConnected(
      pool.output,
      net.addConstant([4, 27], 'float32', fw),
      net.addConstant([4], 'float32', fb),
    );
    net.markOutput(fc.output);
    const { engine } = await buildEngine(net);
    expect(engine.inputNames).toEqual(['x']);
    const input = sweep(72, 2, 5);
    const out = await engine
      .createExecutionContext()
      .infer({ x: new Tensor('float32', [1, 2, 6, 6], input) });
    const y = out[engine.outputNames[0]!]!;
    expect(y.shape).toEqual([1, 4]);
    const want = reference(input, w, b, fw, fb);
    want.forEach((v, i) => expect(y.data[i] as number).toBeCloseTo(v, 4));
  });

  it('validates what it is given', () => {
    const net = new NetworkDefinition();
    net.addInput('x', 'float32', [1, 3]);
    expect(() => net.addInput('x', 'float32', [1])).toThrow(/already has a tensor named 'x'/);
    expect(() => net.addInput('y', 'float64' as never, [1])).toThrow(KilnError);
    expect(() => net.addInput('z', 'float32', [1, -2])).toThrow(/non-negative integers or -1/);
    expect(() => net.addConstant([2, 2], 'float32', new Float32Array(3))).toThrow(
      /needs 16 bytes, got 12/,
    );
    expect(() => net.addLayer('Relu', [{} as never])).toThrow(
      /Expected a NetworkTensor or null for inputs\[0\]/,
    );
    expect(() => net.addActivation(net.inputs[0]!, 'swish' as never)).toThrow(KilnError);
    expect(() => net.addLayer('Conv', [], { pads: [1.5] })).toThrow(/integers \(use \{ floats/);
  });

  it('refuses to build a network without outputs or with dangling tensors', async () => {
    const net = new NetworkDefinition();
    const x = net.addInput('x', 'float32', [1, 3]);
    await expect(buildEngine(net)).rejects.toThrow(/no outputs/);
    const other = new NetworkDefinition();
    const relu = other.addActivation(x, 'relu'); // x belongs to another network
    other.markOutput(relu.output);
    await expect(buildEngine(other)).rejects.toThrow(/nothing produces: 'x'/);
  });
});

describe('more NetworkDefinition layers', () => {
  it('slice, gather, concat, transpose, reduce and resize compute what ONNX defines', async () => {
    const net = new NetworkDefinition();
    const x = net.addInput('x', 'float32', [2, 3, 4]);
    const sliced = net.addSlice(x, [0, 1], [2, 3], [1, 2]); // [2, 2, 2]: rows 0..1, cols 1..2
    const picked = net.addGather(x, net.addConstant([2], 'int64', new BigInt64Array([2n, 0n])), 1); // [2, 2, 4]
    const joined = net.addConcatenation([picked.output, x], 1); // [2, 5, 4]
    const moved = net.addShuffleWith(joined.output, {
      firstTranspose: [0, 2, 1],
      reshape: [2, -1],
    }); // [2, 20]
    const summed = net.addReduce(x, 'sum', [2], false); // [2, 3]
    const grown = net.addResize(net.addShuffle(x, [1, 2, 3, 4]).output, [1, 2, 6, 8]); // nearest x2
    for (const l of [sliced, moved, summed, grown]) net.markOutput(l.output);
    const { engine } = await buildEngine(net);
    const data = Float32Array.from({ length: 24 }, (_, i) => i);
    const out = await engine
      .createExecutionContext()
      .infer({ x: new Tensor('float32', [2, 3, 4], data) });
    const [s, m, r, g] = engine.outputNames.map((n) => out[n]!);
    expect(Array.from(s!.data as Float32Array)).toEqual([1, 2, 5, 6, 13, 14, 17, 18]);
    expect(m!.shape).toEqual([2, 20]);
    // joined[0] = rows [x0 row2, x0 row0, x0 row0, row1, row2]; transposed, its first row is column 0.
    expect(Array.from((m!.data as Float32Array).slice(0, 5))).toEqual([8, 0, 0, 4, 8]);
    expect(Array.from(r!.data as Float32Array)).toEqual([6, 22, 38, 54, 70, 86]);
    expect(g!.shape).toEqual([1, 2, 6, 8]);
    expect(Array.from((g!.data as Float32Array).slice(0, 4))).toEqual([0, 0, 1, 1]);
  });
});

describe('NetworkTensor constants', () => {
  it('reads float32 weights into a Float32Array of their own, wherever the bytes sit', () => {
    const net = new NetworkDefinition();
    // Weights viewed at an odd offset of a larger buffer, as raw_data in an .onnx file sits.
    const file = new Uint8Array(1 + 3 * 4);
    new DataView(file.buffer).setFloat32(1, 1.5, true);
    new DataView(file.buffer).setFloat32(5, -2, true);
    new DataView(file.buffer).setFloat32(9, 0.25, true);
    const w = net.addConstant([3], 'float32', file.subarray(1));
    const floats = w.floats();
    expect([...floats]).toEqual([1.5, -2, 0.25]);
    floats[0] = 7; // a copy: the network's bytes stay as they were
    expect(w.values()).toEqual([1.5, -2, 0.25]);
    expect(w.isFloatScalar).toBe(false);
    expect(net.addConstant([1, 1], 'float32', Float32Array.of(3)).isFloatScalar).toBe(true);
    expect(net.addConstant([], 'int32', Int32Array.of(3)).isFloatScalar).toBe(false);
    expect(() => net.addConstant([1], 'int32', Int32Array.of(3)).floats()).toThrow(KilnError);
  });
});
