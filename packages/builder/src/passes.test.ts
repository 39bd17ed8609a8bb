import { Tensor } from '@kiln/core';
import { describe, expect, it } from 'vitest';

import { Builder } from './builder';
import { NetworkDefinition } from './network';
import { eliminateDeadLayers } from './passes/eliminate-dead-layers';
import { foldBatchNorm } from './passes/fold-batch-norm';
import { foldConvScale } from './passes/fold-conv-scale';
import { fuseHardSwish } from './passes/fuse-hard-swish';
import { fuseGelu } from './passes/fuse-gelu';
import { fuseMatMulBias } from './passes/fuse-matmul-bias';
import { fuseActivations } from './passes/fuse-activation';
import { fuseResidualAdd } from './passes/fuse-residual-add';
import { fuseHorizontal } from './passes/fuse-horizontal';
import { fuseElementwiseChains } from './passes/fuse-elementwise-chains';
import { removeNoOps } from './passes/remove-no-ops';
import { buildEngine, sweep } from './test-support/run';

// x -> Conv -> BatchNorm -> Clip(0, 6) -> Identity -> y, plus a dead branch.
function convBnNet(): NetworkDefinition {
  const net = new NetworkDefinition();
  const x = net.addInput('x', 'float32', [1, 3, 5, 5]);
  const c = (shape: number[], phase: number, scale = 0.5, offset = 0) =>
    net.addConstant(
      shape,
      'float32',
      sweep(
        shape.reduce((a, b) => a * b),
        scale,
        phase,
      ).map((v) => v + offset),
    );
  const conv = net.addConvolution(x, 4, [3, 3], c([4, 3, 3, 3], 1), c([4], 2), {
    padding: [1, 1, 1, 1],
  });
  const bn = net.addNormalization(
    conv.output,
    c([4], 3, 0.5, 1),
    c([4], 4),
    c([4], 5),
    c([4], 6, 0.2, 0.5),
    1e-3,
  );
  const clip = net.addActivation(bn.output, 'clip', 0, 6);
  const id = net.addLayer('Identity', [clip.output]);
  net.addActivation(x, 'sigmoid'); // dead
  net.markOutput(id.output);
  return net;
}

async function run(net: NetworkDefinition, passes: Parameters<typeof buildEngine>[2]) {
  const { engine } = await buildEngine(net, undefined, passes);
  const out = await engine
    .createExecutionContext()
    .infer({ x: new Tensor('float32', [1, 3, 5, 5], sweep(75, 3)) });
  return { engine, y: out[engine.outputNames[0]!]!.data as Float32Array };
}

describe('graph passes', () => {
  it('each pass changes the layer list as it should', () => {
    let net = convBnNet();
    expect(net.layers.map((l) => l.op)).toEqual([
      'Conv',
      'BatchNormalization',
      'Clip',
      'Identity',
      'Sigmoid',
    ]);
    net = removeNoOps(net);
    expect(net.layers.map((l) => l.op)).toEqual(['Conv', 'BatchNormalization', 'Clip', 'Sigmoid']);
    net = foldBatchNorm(net);
    expect(net.layers.map((l) => l.op)).toEqual(['Conv', 'Clip', 'Sigmoid']);
    net = fuseActivations(net);
    expect(net.layers.map((l) => l.op)).toEqual(['Conv', 'Sigmoid']);
    expect(net.layers[0]!.attrs.get('activation')).toEqual({ kind: 's', value: 'Clip' });
    expect(net.layers[0]!.attrs.get('activation_beta')).toEqual({ kind: 'f', value: 6 });
    net = eliminateDeadLayers(net);
    expect(net.layers.map((l) => l.op)).toEqual(['Conv']);
  });

  it('the optimized engine computes what the unoptimized one does', async () => {
    const plain = await run(convBnNet(), { passes: [] });
    const optimized = await run(convBnNet(), undefined);
    expect(optimized.engine.layers().length).toBe(1);
    expect(plain.engine.layers().length).toBe(5);
    let worst = 0;
    plain.y.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - optimized.y[i]!))));
    expect(worst).toBeLessThan(1e-5);
    expect(plain.y.some((v) => v === 6) && plain.y.some((v) => v === 0)).toBe(true); // the clip is exercised
  });

  it('does not fuse across a tensor read twice or marked as an output', () => {
    const net = new NetworkDefinition();
    const x = net.addInput('x', 'float32', [1, 4]);
    const w = net.addConstant([4, 4], 'float32', sweep(16));
    const mm = net.addMatrixMultiply(x, w);
    const relu = net.addActivation(mm.output, 'relu');
    net.markOutput(relu.output);
    net.markOutput(mm.output);
    fuseActivations(net);
    expect(net.layers.map((l) => l.op)).toEqual(['MatMul', 'Relu']);
  });
});

describe('residual fusion', () => {
  // y = relu(conv(x) + x): a ResNet skip connection.
  function residualNet(): NetworkDefinition {
    const net = new NetworkDefinition();
    const x = net.addInput('x', 'float32', [1, 2, 4, 4]);
    const w = net.addConstant([2, 2, 3, 3], 'float32', sweep(36, 0.4, 7));
    const conv = net.addConvolution(x, 2, [3, 3], w, undefined, { padding: [1, 1, 1, 1] });
    conv.output.shape = [1, 2, 4, 4]; // as OnnxParser records inferred shapes
    const add = net.addElementWise(conv.output, x, 'sum');
    add.output.shape = [1, 2, 4, 4];
    net.markOutput(net.addActivation(add.output, 'relu').output);
    return net;
  }

  it('folds Add(Conv, x) into the convolution and computes the same', async () => {
    const plain = await buildEngine(residualNet(), undefined, { passes: [] });
    const fused = await buildEngine(residualNet());
    expect(fused.engine.layers().map((l) => l.op)).toEqual(['Conv']);
    expect(fused.engine.layers()[0]!.inputs).toHaveLength(4);
    const x = new Tensor('float32', [1, 2, 4, 4], sweep(32, 2, 1));
    const a = (await plain.engine.createExecutionContext().infer({ x }))[
      plain.engine.outputNames[0]!
    ]!.data as Float32Array;
    const b = (await fused.engine.createExecutionContext().infer({ x }))[
      fused.engine.outputNames[0]!
    ]!.data as Float32Array;
    a.forEach((v, i) => expect(b[i]).toBeCloseTo(v, 5));
  });

  it('leaves a broadcasting Add alone', () => {
    const net = residualNet();
    const add = net.layers[1]!;
    add.inputs[1] = net.addConstant([1, 2, 1, 1], 'float32', sweep(2));
    expect(fuseResidualAdd(net).layers.map((l) => l.op)).toEqual(['Conv', 'Add', 'Relu']);
  });
});

describe('horizontal fusion', () => {
  // Three convolutions read x: two 1x1 (mergeable, one without bias) and one 3x3.
  function siblings(): NetworkDefinition {
    const net = new NetworkDefinition();
    const x = net.addInput('x', 'float32', [1, 3, 5, 5]);
    const c = (shape: number[], phase: number) =>
      net.addConstant(
        shape,
        'float32',
        sweep(
          shape.reduce((a, b) => a * b),
          0.5,
          phase,
        ),
      );
    const a = net.addConvolution(x, 4, [1, 1], c([4, 3, 1, 1], 1), c([4], 2));
    const b = net.addConvolution(x, 2, [1, 1], c([2, 3, 1, 1], 3));
    const d = net.addConvolution(x, 2, [3, 3], c([2, 3, 3, 3], 4), undefined, {
      padding: [1, 1, 1, 1],
    });
    for (const l of [a, b, d]) net.markOutput(net.addActivation(l.output, 'relu').output);
    return net;
  }

  it('merges the compatible siblings into one convolution and a split', async () => {
    const net = fuseHorizontal(fuseActivations(siblings()));
    expect(net.layers.map((l) => l.op)).toEqual(['Conv', 'Split', 'Conv']);
    expect(net.layers[0]!.inputs[1]!.shape).toEqual([6, 3, 1, 1]);
    expect(net.layers[1]!.attrs.get('split')).toEqual({ kind: 'is', value: [4, 2] });
  });

  it('computes what the separate convolutions compute', async () => {
    const plain = await buildEngine(siblings(), undefined, { passes: [] });
    const fused = await buildEngine(siblings());
    expect(fused.engine.layers().map((l) => l.op)).toEqual(['Conv', 'Split', 'Conv']);
    const x = new Tensor('float32', [1, 3, 5, 5], sweep(75, 2, 9));
    const a = await plain.engine.createExecutionContext().infer({ x });
    const b = await fused.engine.createExecutionContext().infer({ x });
    for (const name of plain.engine.outputNames) {
      const want = a[name]!.data as Float32Array;
      (b[name]!.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    }
  });
});

describe('elementwise-chain fusion', () => {
  // hard-swish written out, as PaddlePaddle exports it: x * clip(x + 3, 0, 6) / 6, then exp.
  function hardSwishNet(): NetworkDefinition {
    const net = new NetworkDefinition();
    const x = net.addInput('x', 'float32', [2, 8]);
    const k = (v: number) => net.addConstant([], 'float32', new Float32Array([v]));
    const shaped = (l: ReturnType<NetworkDefinition['addLayer']>) => ((l.output.shape = [2, 8]), l);
    const add = shaped(net.addLayer('Add', [x, k(3)]));
    const clip = shaped(net.addLayer('Clip', [add.output, k(0), k(6)]));
    const mul = shaped(net.addLayer('Mul', [x, clip.output]));
    const div = shaped(net.addLayer('Div', [mul.output, k(6)]));
    const neg = shaped(net.addLayer('Sub', [k(1), div.output])); // reversed operand order
    net.markOutput(neg.output);
    return net;
  }

  it('fuses the run into one layer with the right program', () => {
    const net = fuseElementwiseChains(hardSwishNet());
    expect(net.layers.map((l) => l.op)).toEqual(['ElementwiseChain']);
    // Add 3, Max 0, Min 6, x * v (v is Mul's second operand: reversed), Div 6, 1 - v.
    expect(net.layers[0]!.attrs.get('steps')).toEqual({
      kind: 'is',
      value: [0, -2, 0, 4, -3, 0, 5, -4, 0, 2, 0, 1, 3, -5, 0, 1, -6, 1],
    });
  });

  it('computes what the separate layers compute', async () => {
    const plain = await buildEngine(hardSwishNet(), undefined, { passes: [] });
    const fused = await buildEngine(hardSwishNet());
    expect(fused.engine.layers().map((l) => l.op)).toEqual(['ElementwiseChain']);
    const x = new Tensor('float32', [2, 8], sweep(16, 5));
    const name = plain.engine.outputNames[0]!;
    const a = (await plain.engine.createExecutionContext().infer({ x }))[name]!
      .data as Float32Array;
    const b = (await fused.engine.createExecutionContext().infer({ x }))[name]!
      .data as Float32Array;
    a.forEach((v, i) => expect(b[i]).toBeCloseTo(v, 6));
  });

  it('stops at a broadcast it cannot prove safe', () => {
    const net = hardSwishNet();
    net.layers[3]!.inputs[1] = net.addConstant([1, 8], 'float32', sweep(8)); // Div by a row: broadcast
    const fused = fuseElementwiseChains(net);
    expect(fused.layers.map((l) => l.op)).toEqual(['ElementwiseChain', 'Div', 'Sub']);
  });
});

describe('conv scale folding and hard-swish fusion', () => {
  // PP-OCR det's block, written out: Conv -> Mul(s) -> Add(c) -> x * clip(x + 3, 0, 6) / 6
  // -> Mul(w) -> Add(b), with dynamic H and W as the model declares them.
  function mobileOneNet(convReaders = 1): NetworkDefinition {
    const net = new NetworkDefinition();
    const x = net.addInput('x', 'float32', [1, 3, -1, -1]);
    const k = (v: number, rank = 0) =>
      net.addConstant(new Array<number>(rank).fill(1), 'float32', new Float32Array([v]));
    const dyn = (l: ReturnType<NetworkDefinition['addLayer']>) => (
      (l.output.shape = [1, 4, -1, -1]),
      l
    );
    const w = net.addConstant([4, 3, 3, 3], 'float32', sweep(108, 0.5, 1));
    const conv = dyn(
      net.addConvolution(x, 4, [3, 3], w, net.addConstant([4], 'float32', sweep(4, 0.3, 2)), {
        padding: [1, 1, 1, 1],
      }),
    );
    const scaled = dyn(net.addLayer('Mul', [k(1.7, 1), conv.output]));
    const shifted = dyn(net.addLayer('Add', [scaled.output, k(-0.4, 1)]));
    const add3 = dyn(net.addLayer('Add', [shifted.output, k(3)]));
    const clip = dyn(net.addLayer('Clip', [add3.output, k(0), k(6)]));
    const mul = dyn(net.addLayer('Mul', [shifted.output, clip.output]));
    const div = dyn(net.addLayer('Div', [mul.output, k(6)]));
    const post = dyn(net.addLayer('Mul', [k(0.9, 1), div.output]));
    const out = dyn(net.addLayer('Add', [post.output, k(0.25, 1)]));
    net.markOutput(out.output);
    if (convReaders > 1) net.markOutput(net.addUnary(conv.output, 'Neg').output);
    return net;
  }

  it('folds the scale and shift into the conv and finds the hard-swish', () => {
    const net = fuseHardSwish(foldConvScale(mobileOneNet()));
    expect(net.layers.map((l) => l.op)).toEqual(['Conv', 'HardSwish', 'Mul', 'Add']);
    expect(net.layers[1]!.inputs[0]).toBe(net.layers[0]!.output);
  });

  it('leaves a conv whose output has another reader', () => {
    const net = fuseHardSwish(foldConvScale(mobileOneNet(2)));
    expect(net.layers.map((l) => l.op)).toEqual([
      'Conv',
      'Mul',
      'Add',
      'HardSwish',
      'Mul',
      'Add',
      'Neg',
    ]);
  });

  it('computes what the separate layers compute, as one conv and one chain', async () => {
    const shape = [1, 3, 6, 7];
    const configFor = (builder: Builder) => {
      const config = builder.createBuilderConfig();
      const profile = builder.createOptimizationProfile();
      profile.setDimensions('x', { min: shape, opt: shape, max: shape });
      config.addOptimizationProfile(profile);
      return config;
    };
    const b1 = new Builder(),
      b2 = new Builder();
    const plain = await buildEngine(mobileOneNet(), configFor(b1), { passes: [] }, b1);
    const fused = await buildEngine(mobileOneNet(), configFor(b2), undefined, b2);
    expect(fused.engine.layers().map((l) => l.op)).toEqual(['Conv', 'ElementwiseChain']);
    const x = new Tensor('float32', shape, sweep(126, 4, 3));
    const name = plain.engine.outputNames[0]!;
    const a = (await plain.engine.createExecutionContext().infer({ x }))[name]!
      .data as Float32Array;
    const b = (await fused.engine.createExecutionContext().infer({ x }))[name]!
      .data as Float32Array;
    // Folding reassociates the float math: a few ulps relative, not a fixed number of digits.
    a.forEach((v, i) =>
      expect(Math.abs(b[i]! - v)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v))),
    );
  });
});

describe('Linear + GELU fusion', () => {
  // A transformer MLP's first half as PyTorch exports it: MatMul, Add(bias), then
  // (x * (1 + erf(x / sqrt(2)))) * 0.5.
  function mlpNet(biasShape = [6]): NetworkDefinition {
    const net = new NetworkDefinition();
    const x = net.addInput('x', 'float32', [2, 3, 4]);
    const k = (v: number) => net.addConstant([], 'float32', new Float32Array([v]));
    const shaped = (l: ReturnType<NetworkDefinition['addLayer']>) => (
      (l.output.shape = [2, 3, 6]),
      l
    );
    const w = net.addConstant([4, 6], 'float32', sweep(24, 0.7, 1));
    const mm = shaped(net.addLayer('MatMul', [x, w]));
    const bias = net.addConstant(biasShape, 'float32', sweep(6, 0.4, 2));
    const y = shaped(net.addLayer('Add', [bias, mm.output])).output;
    const div = shaped(net.addLayer('Div', [y, k(Math.SQRT2)]));
    const erf = shaped(net.addLayer('Erf', [div.output]));
    const one = shaped(net.addLayer('Add', [erf.output, k(1)]));
    const prod = shaped(net.addLayer('Mul', [y, one.output]));
    const half = shaped(net.addLayer('Mul', [prod.output, k(0.5)]));
    net.markOutput(half.output);
    return net;
  }

  it('makes one MatMul with a bias input and a Gelu after it', () => {
    const net = fuseGelu(fuseMatMulBias(mlpNet()));
    expect(net.layers.map((l) => l.op)).toEqual(['MatMul', 'Gelu']);
    expect(net.layers[0]!.inputs).toHaveLength(3);
  });

  it('leaves a bias that is not one value per column', () => {
    const net = fuseMatMulBias(mlpNet([1, 6]));
    expect(net.layers.map((l) => l.op)).toContain('Add');
  });

  it('computes what the separate layers compute, as one layer', async () => {
    const plain = await buildEngine(mlpNet(), undefined, { passes: [] });
    const fused = await buildEngine(mlpNet());
    expect(fused.engine.layers().map((l) => l.op)).toEqual(['MatMul']);
    const x = new Tensor('float32', [2, 3, 4], sweep(24, 3, 5));
    const name = plain.engine.outputNames[0]!;
    const a = (await plain.engine.createExecutionContext().infer({ x }))[name]!
      .data as Float32Array;
    const b = (await fused.engine.createExecutionContext().infer({ x }))[name]!
      .data as Float32Array;
    a.forEach((v, i) =>
      expect(Math.abs(b[i]! - v)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v))),
    );
  });
});

describe('removeNoOps keeps every reader fed', () => {
  it('a no-op Reshape read twice, one reader an Identity that is a graph output', async () => {
    // t = Transpose(x); r = Reshape(t, same shape); out1 = Identity(r); out2 = Neg(r)
    const net = new NetworkDefinition();
    const x = net.addInput('x', 'float32', [2, 3]);
    const t = net.addLayer('Transpose', [x], { perm: [1, 0] });
    t.output.shape = [3, 2];
    const r = net.addShuffle(t.output, [3, 2]);
    r.output.shape = [3, 2];
    const id = net.addLayer('Identity', [r.output]);
    id.output.shape = [3, 2];
    const neg = net.addUnary(r.output, 'Neg');
    net.markOutput(id.output);
    net.markOutput(neg.output);
    removeNoOps(net);
    const produced = new Set<unknown>(net.inputs);
    for (const l of net.layers) {
      for (const i of l.inputs)
        if (i && !i.isConstant) expect(produced.has(i), `${l.name} reads ${i.name}`).toBe(true);
      for (const o of l.outputs) produced.add(o);
    }
    const { engine } = await buildEngine(net);
    const out = await engine
      .createExecutionContext()
      .infer({ x: new Tensor('float32', [2, 3], new Float32Array([1, 2, 3, 4, 5, 6])) });
    expect(Array.from(out[id.output.name]!.data as Float32Array)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(Array.from(out[neg.output.name]!.data as Float32Array)).toEqual([
      -1, -4, -2, -5, -3, -6,
    ]);
  });
});
