// INT8 engines on a CUDA GPU against the same plans on the cpu device (run on the GPU machine;
// see README.md here). fashion_mnist_cnn's INT8 plans (int8-plans.mjs: MinMax calibration on
// 512 Fashion-MNIST training images, as packages/builder/src/int8.test.ts does) and its FP32
// engine are scored on the 10k test images on cuda and cpu; the probe plan's extra output, fed
// by the 8-bit layers alone, must agree bit for bit; mobilenet_v2's QDQ model runs on both
// devices; with resnet50.onnx and resnet50_int8_qdq.onnx in DATA_DIR (run-on-gpu.sh makes them
// there), resnet50's INT8 throughput at batch 64 is timed next to FP16's (reported, not
// checked) and its INT8 engine compared with cpu at batch 2. Exits non-zero on any failed check.
//   node tools/device-check/cuda-int8.mjs DATA_DIR OUT.json
// DATA_DIR: fashion_mnist_cnn.onnx, fashion_int8.plan, fashion_int8_probe.plan,
// mobilenet_v2_int8_qdq.onnx, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';

import { DeviceBuffer, Stream, Tensor, devices } from '@kiln/core';
import { Builder, OnnxParser } from '@kiln/builder';
import { Runtime } from '@kiln/runtime';

const [dataDir, outFile] = process.argv.slice(2);
const device = 'cuda:0';
const BATCH = 100;
// The issue's criterion: INT8 keeps fashion accuracy within 0.3 points of FP32.
const MAX_ACCURACY_LOSS = 0.003;
const results = { checks: [] };
let failures = 0;

function check(name, ok, detail = '') {
  results.checks.push({ name, ok, detail });
  if (!ok) failures++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
}

async function attempt(name, body) {
  try {
    await body();
  } catch (e) {
    check(name, false, String(e?.stack ?? e));
  }
}

function readIdx(file) {
  const bytes = gunzipSync(fs.readFileSync(`${dataDir}/${file}`));
  return bytes.subarray(4 + 4 * bytes[3]);
}

// The model's preprocessing: (x / 255 - 0.2860) / 0.3530, NCHW [n, 1, 28, 28].
function images(data, start, count) {
  const x = new Float32Array(count * 784);
  for (let i = 0; i < x.length; i++) x[i] = (data[start * 784 + i] / 255 - 0.286) / 0.353;
  return new Tensor('float32', [count, 1, 28, 28], x);
}

// Element count, mismatches, largest absolute difference and relative L2 of a against ref.
function compare(a, ref) {
  let mismatches = 0;
  let maxAbs = 0;
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = a[i] - ref[i];
    if (!(a[i] === ref[i])) mismatches++;
    maxAbs = Math.max(maxAbs, Math.abs(d));
    num += d * d;
    den += ref[i] * ref[i];
  }
  return { count: ref.length, mismatches, maxAbs, relL2: Math.sqrt(num / den) };
}

const test = readIdx('t10k-images-idx3-ubyte.gz');
const labels = readIdx('t10k-labels-idx1-ubyte.gz');

const loadPlan = (file) => new Runtime().deserializeEngine(fs.readFileSync(`${dataDir}/${file}`));

async function buildFp32() {
  const builder = new Builder();
  const network = builder.createNetwork();
  new OnnxParser(network).parse(fs.readFileSync(`${dataDir}/fashion_mnist_cnn.onnx`));
  const config = builder.createBuilderConfig();
  config.addOptimizationProfile(
    builder.createOptimizationProfile().setDimensions('image', {
      min: [1, 1, 28, 28],
      opt: [BATCH, 1, 28, 28],
      max: [BATCH, 1, 28, 28],
    }),
  );
  return new Runtime().deserializeEngine(await builder.buildSerializedNetwork(network, config));
}

// Every output of the engine over the 10k test images, concatenated per output name.
async function runAll(engine, options) {
  const context = engine.createExecutionContext(options);
  const parts = {};
  for (let start = 0; start < labels.length; start += BATCH) {
    const out = await context.infer({ image: images(test, start, BATCH) });
    for (const [name, t] of Object.entries(out)) (parts[name] ??= []).push(t.data);
  }
  const joined = {};
  for (const [name, list] of Object.entries(parts)) {
    const all = new Float32Array(list.reduce((n, a) => n + a.length, 0));
    let at = 0;
    for (const a of list) all.set(a, (at += a.length) - a.length);
    joined[name] = all;
  }
  return joined;
}

function accuracy(logits) {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < 10; c++) if (logits[i * 10 + c] > logits[i * 10 + best]) best = c;
    if (best === labels[i]) correct++;
  }
  return correct / labels.length;
}

await attempt('the builder answers for cuda:0', async () => {
  const gpu = devices().find((d) => d.name === device);
  const builder = new Builder(undefined, { device });
  const fast = { fp16: builder.platformHasFastFp16, int8: builder.platformHasFastInt8 };
  results.builder = { gpu, fast };
  check(
    `Builder({ device: '${device}' }): fast fp16 and int8 on an sm_80+ GPU`,
    Number(gpu.computeCapability.split('.')[0]) >= 8 && fast.fp16 && fast.int8,
    JSON.stringify(results.builder),
  );
});

await attempt('fashion_mnist_cnn int8 on cuda', async () => {
  const fp32 = await buildFp32();
  const int8 = loadPlan('fashion_int8.plan');
  const acc = {};
  const logits = {};
  for (const [name, engine] of [
    ['fp32', fp32],
    ['int8', int8],
  ]) {
    for (const dev of ['cpu', device]) {
      const out = await runAll(engine, { device: dev });
      logits[`${name} ${dev}`] = out.logits;
      acc[`${name} ${dev}`] = accuracy(out.logits);
    }
  }
  results.fashionAccuracy = acc;
  const pct = (v) => `${(100 * v).toFixed(2)}%`;
  console.log(
    `accuracy on 10k test images: ${JSON.stringify(acc, (_, v) => (typeof v === 'number' ? pct(v) : v))}`,
  );
  const loss = acc[`fp32 ${device}`] - acc[`int8 ${device}`];
  check(
    `fashion int8 on cuda loses <= ${100 * MAX_ACCURACY_LOSS} points against fp32 on cuda`,
    loss <= MAX_ACCURACY_LOSS,
    `${pct(acc[`int8 ${device}`])} vs ${pct(acc[`fp32 ${device}`])}`,
  );
  check(
    'fashion int8: cuda accuracy equals cpu accuracy',
    acc[`int8 ${device}`] === acc['int8 cpu'],
    `${pct(acc[`int8 ${device}`])} vs ${pct(acc['int8 cpu'])}`,
  );
  // The logits come from a float32 GlobalAveragePool and Gemm after the 8-bit layers, whose
  // summation order differs between devices: compared with the FP32 engine's device gap.
  const int8Gap = compare(logits[`int8 ${device}`], logits['int8 cpu']);
  const fp32Gap = compare(logits[`fp32 ${device}`], logits['fp32 cpu']);
  results.fashionLogits = { int8: int8Gap, fp32: fp32Gap };
  check(
    'fashion int8 logits: cuda vs cpu rel L2 < 1e-5 (float32 head only)',
    int8Gap.relL2 < 1e-5,
    `int8 ${JSON.stringify(int8Gap)}; fp32 engines ${JSON.stringify(fp32Gap)}`,
  );

  const probe = loadPlan('fashion_int8_probe.plan');
  const cpu = await runAll(probe, { device: 'cpu' });
  const cuda = await runAll(probe, { device });
  const probeGap = compare(cuda['/5/MaxPool_output_0'], cpu['/5/MaxPool_output_0']);
  results.fashionProbe = probeGap;
  check(
    'fashion int8 probe (8-bit layers only): cuda equals cpu bit for bit on 10k images',
    probeGap.mismatches === 0,
    JSON.stringify(probeGap),
  );

  // A CUDA graph replays the same 8-bit work.
  const ctx = int8.createExecutionContext({ device, cudaGraph: true });
  const x = images(test, 0, BATCH);
  await ctx.infer({ image: x });
  const replay = (await ctx.infer({ image: x })).logits.data;
  const plain = logits[`int8 ${device}`].subarray(0, replay.length);
  check(
    'fashion int8: cudaGraph replay equals the plain enqueue',
    compare(replay, plain).mismatches === 0,
  );
});

// A QDQ model's INT8 engine at batch 2 on a seeded normal input, cuda against cpu: mismatches
// and the largest gap in quantization steps.
async function qdqGap(file) {
  const builder = new Builder();
  const network = builder.createNetwork();
  new OnnxParser(network).parse(fs.readFileSync(`${dataDir}/${file}`));
  const config = builder.createBuilderConfig().setFlag('int8');
  const shape = [2, 3, 224, 224];
  config.addOptimizationProfile(
    builder
      .createOptimizationProfile()
      .setDimensions('input', { min: shape, opt: shape, max: shape }),
  );
  const engine = new Runtime().deserializeEngine(
    await builder.buildSerializedNetwork(network, config),
  );
  // Seeded normal noise (xorshift + Box-Muller).
  let s = 12345;
  const uniform = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 1) / 4294967297;
  };
  const x = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < x.length; i++)
    x[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const input = { input: new Tensor('float32', shape, x) };
  const cpu = Object.values(await engine.createExecutionContext().infer(input))[0].data;
  const cuda = Object.values(await engine.createExecutionContext({ device }).infer(input))[0].data;
  const gap = compare(cuda, cpu);
  // The output is DequantizeLinear(QuantizeLinear(Gemm(...))): report how many quantization
  // steps apart (the step is the smallest non-zero gap between distinct cpu output values).
  const sorted = [...new Set(cpu)].sort((a, b) => a - b);
  let step = Infinity;
  for (let i = 1; i < sorted.length; i++) step = Math.min(step, sorted[i] - sorted[i - 1]);
  gap.maxSteps = gap.maxAbs / step;
  gap.finite = cuda.every(Number.isFinite);
  return gap;
}

await attempt('mobilenet_v2 QDQ int8 on cuda', async () => {
  const gap = await qdqGap('mobilenet_v2_int8_qdq.onnx');
  results.mobilenetQdq = gap;
  check(
    'mobilenet_v2 QDQ: cuda output within one quantization step of cpu',
    gap.maxSteps <= 1.0001 && gap.finite,
    JSON.stringify(gap),
  );
});

// ---- 8-bit layers on geometries the two models lack: a network x -> QuantizeLinear ->
// QLinearConv -> MaxPool (8-bit; left out where `pool` is null) -> QLinearAdd (with itself) ->
// DequantizeLinear -> y per case, seeded random weights, run on cpu and cuda: the outputs must
// be equal bit for bit. Cases marked NHWC (one group, C a multiple of 64, M of 8) run the NHWC
// tensor-core kernel (qconv_nhwc.cu) with transposes where NCHW layers meet it; the others the
// dp4a or cuBLAS paths.
function seeded(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

const layerCases = [
  // uint8 in, int8 out, stride 2, asymmetric pads, per-channel scales, bias, fused Relu
  {
    name: 'u8 3x3 s2 asym pads relu',
    x: [3, 5, 13, 11],
    m: 70,
    k: [3, 3],
    xType: 'uint8',
    yType: 'int8',
    attrs: { strides: [2, 2], pads: [0, 1, 2, 1] },
    relu: true,
    pool: { kernel_shape: [2, 2], pads: [1, 1, 0, 0] },
  },
  // int8 in, uint8 out, dilation 2, two groups, one weight scale, no bias
  {
    name: 'i8 3x3 dil2 group2',
    x: [2, 8, 12, 12],
    m: 6,
    k: [3, 3],
    xType: 'int8',
    yType: 'uint8',
    attrs: { dilations: [2, 2], group: 2, pads: [2, 2, 2, 2] },
    perTensorW: true,
    noBias: true,
    pool: { kernel_shape: [3, 3], strides: [2, 2] },
  },
  // depthwise 5x5 with SAME_UPPER
  {
    name: 'u8 depthwise 5x5 same_upper',
    x: [2, 16, 9, 7],
    m: 16,
    k: [5, 5],
    xType: 'uint8',
    yType: 'uint8',
    attrs: { group: 16, auto_pad: 'SAME_UPPER' },
    relu: true,
    pool: { kernel_shape: [2, 2], strides: [1, 1] },
  },
  // 1x1 with K = 300 (not a multiple of 16) and M = 130 (not a multiple of 64)
  {
    name: 'i8 1x1 K300 M130',
    x: [1, 300, 5, 6],
    m: 130,
    k: [1, 1],
    xType: 'int8',
    yType: 'int8',
    attrs: {},
    pool: { kernel_shape: [1, 2] },
  },
  // NHWC path: the MaxPool after it reads NCHW (a transpose between them)
  {
    name: 'NHWC u8 3x3 s2 asym pads relu C64 M72',
    x: [2, 64, 13, 11],
    m: 72,
    k: [3, 3],
    xType: 'uint8',
    yType: 'uint8',
    attrs: { strides: [2, 2], pads: [0, 1, 2, 1] },
    relu: true,
    pool: { kernel_shape: [2, 2], pads: [1, 1, 0, 0] },
  },
  // NHWC path with the QLinearAdd on NHWC data too, dilation and SAME_UPPER
  {
    name: 'NHWC i8 3x3 dil2 same_upper C128 M16, NHWC add',
    x: [3, 128, 9, 10],
    m: 16,
    k: [3, 3],
    xType: 'int8',
    yType: 'int8',
    attrs: { dilations: [2, 2], auto_pad: 'SAME_UPPER' },
    perTensorW: true,
    pool: null,
  },
  // NHWC path: 63 pixels and 200 channels, both short of a 128 tile
  {
    name: 'NHWC u8 1x1 C192 M200, NHWC add',
    x: [1, 192, 7, 9],
    m: 200,
    k: [1, 1],
    xType: 'uint8',
    yType: 'int8',
    attrs: {},
    pool: null,
  },
];

function layerNetwork(c, rand) {
  const builder = new Builder();
  const n = builder.createNetwork();
  const [batch, ch, h, w] = c.x;
  const x = n.addInput('x', 'float32', c.x);
  const f32 = (v, name) => n.addConstant([], 'float32', new Float32Array([v]), name);
  const zero = (type, v, name) =>
    n.addConstant([], type, type === 'int8' ? new Int8Array([v]) : new Uint8Array([v]), name);
  const xs = f32(0.02, 'xs');
  const xz = zero(c.xType, c.xType === 'uint8' ? 100 : -7, 'xz');
  const q = n.addLayer('QuantizeLinear', [x, xs, xz]).output;
  const cg = ch / (c.attrs.group ?? 1);
  const wCount = c.m * cg * c.k[0] * c.k[1];
  const wq = n.addConstant(
    [c.m, cg, ...c.k],
    'int8',
    Int8Array.from({ length: wCount }, () => Math.floor(rand() * 255) - 127),
    'w',
  );
  const ws = c.perTensorW
    ? f32(0.01, 'ws')
    : n.addConstant(
        [c.m],
        'float32',
        Float32Array.from({ length: c.m }, () => 0.002 + 0.02 * rand()),
        'ws',
      );
  const wz = c.perTensorW
    ? zero('int8', 0, 'wz')
    : n.addConstant([c.m], 'int8', new Int8Array(c.m), 'wz');
  const ys = f32(0.5, 'ys');
  const yz = zero(c.yType, c.yType === 'uint8' ? 20 : 3, 'yz');
  const bias = c.noBias
    ? null
    : n.addConstant(
        [c.m],
        'int32',
        Int32Array.from({ length: c.m }, () => Math.floor(rand() * 20000) - 10000),
        'b',
      );
  const attrs = { ...c.attrs, kernel_shape: c.k, ...(c.relu ? { activation: 'Relu' } : {}) };
  const conv = n.addLayer('QLinearConv', [q, xs, xz, wq, ws, wz, ys, yz, bias], attrs).output;
  const pooled = c.pool ? n.addLayer('MaxPool', [conv], c.pool).output : conv;
  const sum = n.addLayer('QLinearAdd', [pooled, ys, yz, pooled, ys, yz, f32(0.7, 'cs'), yz], {
    activation: 'Relu',
  }).output;
  n.markOutput(n.addLayer('DequantizeLinear', [sum, f32(0.7, 'ds'), yz]).output);
  const input = new Float32Array(batch * ch * h * w).map(() => (rand() * 2 - 1) * 3);
  return { builder, network: n, input };
}

await attempt('8-bit layer geometries', async () => {
  for (const c of layerCases) {
    const rand = seeded(c.name.length * 7919);
    const { builder, network, input } = layerNetwork(c, rand);
    const config = builder.createBuilderConfig();
    config.addOptimizationProfile(
      builder.createOptimizationProfile().setDimensions('x', { min: c.x, opt: c.x, max: c.x }),
    );
    const engine = new Runtime().deserializeEngine(
      await builder.buildSerializedNetwork(network, config),
    );
    const feeds = { x: new Tensor('float32', c.x, input) };
    const cpu = Object.values(await engine.createExecutionContext().infer(feeds))[0].data;
    const cuda = Object.values(await engine.createExecutionContext({ device }).infer(feeds))[0]
      .data;
    const gap = compare(cuda, cpu);
    const distinct = new Set(cpu).size;
    check(
      `8-bit layers, ${c.name}: cuda equals cpu bit for bit`,
      gap.mismatches === 0 && distinct > 2,
      `${JSON.stringify(gap)}, ${distinct} distinct values`,
    );
  }
});

// ---- resnet50 throughput at batch 64, INT8 (the QDQ model) next to FP16, both with CUDA
// graphs: 30 batches back to back after 5 warm-up ones, as cuda-engines.mjs times FP16.
async function throughput(onnx, flag) {
  const builder = new Builder();
  const network = builder.createNetwork();
  new OnnxParser(network).parse(fs.readFileSync(onnx));
  const config = builder.createBuilderConfig().setFlag(flag);
  const shape = [64, 3, 224, 224];
  config.addOptimizationProfile(
    builder
      .createOptimizationProfile()
      .setDimensions('input', { min: shape, opt: shape, max: shape }),
  );
  const engine = new Runtime().deserializeEngine(
    await builder.buildSerializedNetwork(network, config),
  );
  const ctx = engine.createExecutionContext({ device, cudaGraph: true });
  const stream = new Stream({ device });
  const input = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => Math.random() * 2 - 1);
  const inBuf = new DeviceBuffer(input.byteLength, { device });
  const outBuf = new DeviceBuffer(64 * 1000 * 4, { device });
  stream.copyHostToDevice(inBuf, input);
  ctx.setInputShape('input', shape);
  ctx.setTensorAddress('input', inBuf);
  ctx.setTensorAddress('output', outBuf);
  for (let i = 0; i < 5; i++) ctx.enqueue(stream);
  await stream.synchronize();
  const iters = 30;
  const t = performance.now();
  for (let i = 0; i < iters; i++) ctx.enqueue(stream);
  await stream.synchronize();
  return (64 * iters) / ((performance.now() - t) / 1000);
}

if (fs.existsSync(`${dataDir}/resnet50_int8_qdq.onnx`)) {
  await attempt('resnet50 int8 vs fp16 throughput', async () => {
    const fp16 = await throughput(`${dataDir}/resnet50.onnx`, 'fp16');
    const int8 = await throughput(`${dataDir}/resnet50_int8_qdq.onnx`, 'int8');
    results.resnet50Batch64 = { fp16, int8, ratio: int8 / fp16 };
    console.log(
      `info resnet50 batch 64 with CUDA graphs: fp16 ${fp16.toFixed(0)} img/s, int8 (QDQ) ${int8.toFixed(0)} img/s, int8/fp16 ${(int8 / fp16).toFixed(2)} (issue 12's goal: >= 2)`,
    );
  });
}

if (fs.existsSync(`${dataDir}/resnet50_int8_qdq.onnx`)) {
  await attempt('resnet50 QDQ int8 on cuda', async () => {
    // 53 QLinearConvs, 52 of them on the NHWC kernel, with QLinearAdds on NHWC data.
    const gap = await qdqGap('resnet50_int8_qdq.onnx');
    results.resnet50Qdq = gap;
    check(
      'resnet50 QDQ (batch 2): cuda output within one quantization step of cpu',
      gap.maxSteps <= 1.0001 && gap.finite,
      JSON.stringify(gap),
    );
  });
}

fs.writeFileSync(outFile, JSON.stringify(results, null, 2));
console.log(failures === 0 ? 'all int8 checks passed' : `${failures} int8 check(s) FAILED`);
process.exit(failures === 0 ? 0 : 1);
