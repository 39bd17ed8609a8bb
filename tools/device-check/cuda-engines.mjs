// Runs kiln engines on a CUDA GPU and checks them against the cpu engine and onnxruntime
// (reference.py's files), FP16 engines against FP32 ones, CUDA graph replays against plain
// enqueues, then times resnet50 FP32 and FP16 (run on the GPU machine; see README.md here).
// Exits non-zero on any failed check.
//   node tools/device-check/cuda-engines.mjs REF_DIR OUT.json
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

import { DeviceBuffer, Event, Stream, Tensor, devices } from '@kiln/core';
import { Builder, OnnxParser } from '@kiln/builder';
import { Runtime } from '@kiln/runtime';

const [refDir, outFile] = process.argv.slice(2);
const meta = JSON.parse(fs.readFileSync(`${refDir}/meta.json`, 'utf8'));
const device = 'cuda:0';
// FP32 engines against FP32 references: relative L2 error (||a - b|| / ||b||) must stay under
// this; float32 arithmetic in another summation order lands far below it.
const FP32_TOLERANCE = 1e-4;
// FP16 engines (tensor cores, half activations) against the FP32 engine on cuda: issue 12's
// criterion.
const FP16_TOLERANCE = 1e-2;
const results = { gpu: devices().find((d) => d.name === device), models: {}, checks: [] };
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

function readF32(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

function relL2(a, ref) {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = a[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return Number.isFinite(num) ? Math.sqrt(num / den) : Infinity;
}

// `keepFp32(layer)`: layers constrained to FP32 (TensorRT's layer precision) in an FP16 build.
async function build(m, maxBatch, fp16 = false, keepFp32 = () => false) {
  const builder = new Builder();
  const network = builder.createNetwork();
  new OnnxParser(network).parse(m.onnx);
  for (const layer of network.layers) if (keepFp32(layer)) layer.precision = 'fp32';
  const config = builder.createBuilderConfig();
  if (fp16) config.setFlag('fp16');
  const profile = builder.createOptimizationProfile();
  const chw = m.shape.slice(1);
  profile.setDimensions(m.input, { min: [1, ...chw], opt: [1, ...chw], max: [maxBatch, ...chw] });
  config.addOptimizationProfile(profile);
  const plan = await builder.buildSerializedNetwork(network, config);
  return new Runtime().deserializeEngine(plan);
}

// The explicit path (DeviceBuffers, enqueue), with the output poisoned (NaN bytes) first so an
// element no kernel wrote cannot pass.
// `bufs` ({ inBuf, outBuf }, large enough) binds the same buffers across calls.
async function runOnDevice(ctx, m, input, shape, bufs = undefined) {
  const stream = new Stream({ device });
  ctx.setInputShape(m.input, shape);
  const outShape = ctx.getTensorShape(m.output);
  const out = new Float32Array(outShape.reduce((a, b) => a * b, 1));
  const inBuf = bufs?.inBuf ?? new DeviceBuffer(input.byteLength, { device });
  const outBuf = bufs?.outBuf ?? new DeviceBuffer(out.byteLength, { device });
  stream.copyHostToDevice(inBuf, input);
  stream.memset(outBuf, 0xff);
  ctx.setTensorAddress(m.input, inBuf);
  ctx.setTensorAddress(m.output, outBuf);
  ctx.enqueue(stream);
  stream.copyDeviceToHost(out, outBuf, { byteLength: out.byteLength });
  await stream.synchronize();
  return out;
}

const engines = {};
const fp16Engines = {};
const fp32Out = {};
for (const name of ['fashion_mnist_cnn', 'resnet50', 'mobilenet_v2', 'deit_tiny']) {
  const m = meta[name];
  check(`${name}: regenerated model's sha256 matches the README`, m.shaOk, m.sha256);
  await attempt(`${name}: agreement`, async () => {
    const engine = await build(m, name === 'resnet50' ? 64 : 8);
    engines[name] = engine;
    const input = readF32(`${refDir}/${name}.input.bin`);
    const ort = readF32(`${refDir}/${name}.ort.bin`);
    const cuda = await runOnDevice(engine.createExecutionContext({ device }), m, input, m.shape);
    fp32Out[name] = cuda;
    const cpuOut = await engine
      .createExecutionContext()
      .infer({ [m.input]: new Tensor('float32', m.shape, input) });
    const cpu = cpuOut[m.output].data;
    // infer() on cuda too: the convenience path picks the context's device by itself.
    const viaInfer = await engine
      .createExecutionContext({ device })
      .infer({ [m.input]: new Tensor('float32', m.shape, input) });
    const r = {
      cudaVsOrt: relL2(cuda, ort),
      cpuVsOrt: relL2(cpu, ort),
      cudaVsCpu: relL2(cuda, cpu),
      inferVsEnqueue: relL2(viaInfer[m.output].data, cuda),
      allWritten: cuda.every(Number.isFinite),
    };
    results.models[name] = r;
    check(`${name}: every output element written and finite on cuda`, r.allWritten);
    check(
      `${name}: cuda vs onnxruntime rel L2 < ${FP32_TOLERANCE}`,
      r.cudaVsOrt < FP32_TOLERANCE,
      r.cudaVsOrt.toExponential(2),
    );
    check(
      `${name}: cuda vs cpu engine rel L2 < ${FP32_TOLERANCE}`,
      r.cudaVsCpu < FP32_TOLERANCE,
      r.cudaVsCpu.toExponential(2),
    );
    check(
      `${name}: cpu vs onnxruntime rel L2 < ${FP32_TOLERANCE}`,
      r.cpuVsOrt < FP32_TOLERANCE,
      r.cpuVsOrt.toExponential(2),
    );
    check(
      `${name}: infer() on cuda equals enqueue()`,
      r.inferVsEnqueue === 0,
      String(r.inferVsEnqueue),
    );
  });
}

// deit_tiny at batch 3 (the reference has batch 1): the class token's Expand and the batched
// attention MatMuls at a batch above 1, cuda against the cpu engine.
await attempt('deit_tiny at batch 3: cuda vs cpu engine', async () => {
  const m = meta.deit_tiny;
  const one = readF32(`${refDir}/deit_tiny.input.bin`);
  const input = new Float32Array(one.length * 3);
  for (let i = 0; i < input.length; i++)
    input[i] = one[i % one.length] * (1 + (i / one.length) * 0.5);
  const shape = [3, ...m.shape.slice(1)];
  const cuda = await runOnDevice(
    engines.deit_tiny.createExecutionContext({ device }),
    m,
    input,
    shape,
  );
  const cpuOut = await engines.deit_tiny
    .createExecutionContext()
    .infer({ [m.input]: new Tensor('float32', shape, input) });
  const r = relL2(cuda, cpuOut[m.output].data);
  results.models['deit_tiny batch 3'] = { cudaVsCpu: r };
  check(
    `deit_tiny batch 3: cuda vs cpu engine rel L2 < ${FP32_TOLERANCE}`,
    r < FP32_TOLERANCE,
    r.toExponential(2),
  );
});

// FP16 engines: the builder's 'fp16' flag; on cuda their Conv/Gemm layers and the activations
// between them compute in half precision. mobilenet_v2's random weights shrink its activations
// block after block: from features.7 on they are mostly below FP16's smallest normal number
// (6.1e-5; the output's L2 norm is about 4e-8), so an all-FP16 engine flushes them to zero
// (rel L2 1.0, recorded, not checked). The checked engine keeps those layers in FP32 by layer
// precision constraints, as one would for TensorRT: an FP16 region, then an FP32 one.
const mobilenetFp16Blocks = (layer) => /^\/features\/features\.[0-6]\//.test(layer.name);
const fp16Runs = [
  { name: 'fashion_mnist_cnn', checked: true },
  { name: 'resnet50', checked: true },
  { name: 'deit_tiny', checked: true },
  { name: 'mobilenet_v2', label: 'mobilenet_v2 all-fp16', checked: false },
  {
    name: 'mobilenet_v2',
    label: 'mobilenet_v2 fp16 (features.0-6)',
    keepFp32: (l) => !mobilenetFp16Blocks(l),
    checked: true,
  },
];
for (const { name, label = name, keepFp32, checked } of fp16Runs) {
  const m = meta[name];
  await attempt(`${label}: fp16 agreement`, async () => {
    const engine = await build(m, name === 'resnet50' ? 64 : 8, true, keepFp32);
    fp16Engines[label] = engine;
    const input = readF32(`${refDir}/${name}.input.bin`);
    const half = await runOnDevice(engine.createExecutionContext({ device }), m, input, m.shape);
    const r = {
      fp16VsFp32: relL2(half, fp32Out[name]),
      fp16VsOrt: relL2(half, readF32(`${refDir}/${name}.ort.bin`)),
      allWritten: half.every(Number.isFinite),
    };
    results.models[`${label} fp16`] = r;
    const detail = `${r.fp16VsFp32.toExponential(2)} (vs onnxruntime ${r.fp16VsOrt.toExponential(2)})`;
    if (!checked) {
      console.log(`info ${label} vs fp32 on cuda rel L2: ${detail}`);
      return;
    }
    check(`${label}: every output element written and finite`, r.allWritten);
    check(
      `${label} vs fp32 on cuda rel L2 < ${FP16_TOLERANCE}`,
      r.fp16VsFp32 < FP16_TOLERANCE,
      detail,
    );
  });
}

// FP16 convolutions one at a time (cuDNN's graph API with fused bias, residual Add and Relu,
// or its legacy calls where the graph API has no engine): the FP16 engine on cuda against the
// FP32 engine on cpu, for geometries resnet50 lacks (groups, dilation, no bias, batch 3).
const convCases = [
  {
    name: 'stem 7x7 s2 C=3 bias relu',
    x: [1, 3, 32, 32],
    m: 64,
    k: 7,
    attrs: { strides: [2, 2], pads: [3, 3, 3, 3] },
    bias: true,
    relu: true,
  },
  {
    name: '3x3 bias + residual + relu',
    x: [2, 64, 14, 14],
    m: 64,
    k: 3,
    attrs: { pads: [1, 1, 1, 1] },
    bias: true,
    residual: true,
    relu: true,
  },
  { name: '1x1 s2 bias', x: [2, 64, 14, 14], m: 128, k: 1, attrs: { strides: [2, 2] }, bias: true },
  {
    name: 'depthwise 3x3 relu, no bias',
    x: [2, 32, 15, 15],
    m: 32,
    k: 3,
    attrs: { group: 32, pads: [1, 1, 1, 1] },
    relu: true,
  },
  {
    name: '3x3 dilation 2 residual, odd M',
    x: [3, 16, 12, 12],
    m: 24,
    k: 3,
    attrs: { dilations: [2, 2], pads: [2, 2, 2, 2] },
    bias: true,
    residual: true,
  },
];
await attempt('fp16 convolutions', async () => {
  for (const c of convCases) {
    let seed = c.name.length * 7919;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648 - 0.5;
    };
    const cg = c.x[1] / (c.attrs.group ?? 1);
    const fanIn = cg * c.k * c.k;
    const weights = Float32Array.from(
      { length: c.m * fanIn },
      () => (rand() * 3.4) / Math.sqrt(fanIn),
    );
    const bias = Float32Array.from({ length: c.m }, rand);
    const [s, p, d] = [
      c.attrs.strides?.[0] ?? 1,
      c.attrs.pads?.[0] ?? 0,
      c.attrs.dilations?.[0] ?? 1,
    ];
    const side = (v) => Math.floor((v + 2 * p - d * (c.k - 1) - 1) / s) + 1;
    const outShape = [c.x[0], c.m, side(c.x[2]), side(c.x[3])];
    const residual = Float32Array.from({ length: outShape.reduce((a, b) => a * b, 1) }, rand);
    // x -> Conv(w, b) (-> Add z) (-> Relu): the builder fuses the Add and Relu into the Conv.
    const engineOf = async (fp16) => {
      const builder = new Builder();
      const n = builder.createNetwork();
      const x = n.addInput('x', 'float32', c.x);
      const w = n.addConstant([c.m, cg, c.k, c.k], 'float32', weights, 'w');
      const b = c.bias ? n.addConstant([c.m], 'float32', bias, 'b') : null;
      let y = n.addLayer('Conv', b ? [x, w, b] : [x, w], {
        kernel_shape: [c.k, c.k],
        ...c.attrs,
      }).output;
      if (c.residual) y = n.addLayer('Add', [y, n.addInput('z', 'float32', outShape)]).output;
      if (c.relu) y = n.addLayer('Relu', [y]).output;
      n.markOutput(y);
      const config = builder.createBuilderConfig();
      if (fp16) config.setFlag('fp16');
      return new Runtime().deserializeEngine(await builder.buildSerializedNetwork(n, config));
    };
    const input = Float32Array.from({ length: c.x.reduce((p, q) => p * q, 1) }, () => rand() * 4);
    const feeds = { x: new Tensor('float32', c.x, input) };
    if (c.residual) feeds.z = new Tensor('float32', outShape, residual);
    const cpu = Object.values(
      await (await engineOf(false)).createExecutionContext().infer(feeds),
    )[0].data;
    const half = Object.values(
      await (await engineOf(true)).createExecutionContext({ device }).infer(feeds),
    )[0].data;
    const e = relL2(half, cpu);
    check(
      `fp16 conv ${c.name}: cuda vs fp32 cpu rel L2 < ${FP16_TOLERANCE}`,
      half.every(Number.isFinite) && e < FP16_TOLERANCE,
      e.toExponential(2),
    );
  }
});

// CUDA graphs: the replay computes what the plain enqueue does, at a second shape and after
// rebinding buffers (re-capture) too.
await attempt('cudaGraph replays equal plain enqueues', async () => {
  const m = meta.mobilenet_v2;
  const input = readF32(`${refDir}/mobilenet_v2.input.bin`);
  const engine = fp16Engines['mobilenet_v2 fp16 (features.0-6)'];
  const plain = await runOnDevice(engine.createExecutionContext({ device }), m, input, m.shape);
  const ctx = engine.createExecutionContext({ device, cudaGraph: true });
  const bufs = {
    inBuf: new DeviceBuffer(input.byteLength, { device }),
    outBuf: new DeviceBuffer(plain.byteLength, { device }),
  };
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push(await runOnDevice(ctx, m, input, m.shape, bufs));
  const one = [1, ...m.shape.slice(1)];
  const first = input.slice(
    0,
    one.reduce((a, b) => a * b, 1),
  );
  const plainOne = await runOnDevice(engine.createExecutionContext({ device }), m, first, one);
  const graphOne = await runOnDevice(ctx, m, first, one, bufs);
  const again = await runOnDevice(ctx, m, input, m.shape); // other buffers: re-captured
  const diffs = [...runs, again].map((r) => relL2(r, plain));
  check(
    'cudaGraph: capture, replays, re-capture after rebinding equal the plain enqueue',
    diffs.every((d) => d === 0),
    diffs.map((d) => d.toExponential(2)).join(' '),
  );
  const d1 = relL2(graphOne, plainOne);
  check('cudaGraph: a second input shape gets its own graph', d1 === 0, d1.toExponential(2));
});

// MeanVarianceNormalization has no cuda kernel: its engine is refused on cuda at context
// creation, and runs on cpu.
await attempt(
  'an engine with layers cuda lacks is refused at context creation, listing them',
  async () => {
    const builder = new Builder();
    const network = builder.createNetwork();
    const x = network.addInput('x', 'float32', [1, 4, 3, 3]);
    network.markOutput(network.addLayer('MeanVarianceNormalization', [x], {}, 1, 'mvn').output);
    const engine = new Runtime().deserializeEngine(
      await builder.buildSerializedNetwork(network, builder.createBuilderConfig()),
    );
    let error;
    try {
      engine.createExecutionContext({ device });
    } catch (e) {
      error = e;
    }
    check(
      'MeanVarianceNormalization on cuda: UNSUPPORTED KilnError naming the layer',
      error?.code === 'UNSUPPORTED' &&
        /cannot run on cuda:0.*mvn \(MeanVarianceNormalization/.test(error.message),
      String(error?.message).slice(0, 300),
    );
    const cpuOut = await engine
      .createExecutionContext()
      .infer({ x: new Tensor('float32', [1, 4, 3, 3], new Float32Array(36).fill(1)) });
    const y = cpuOut[engine.outputNames[0]].data;
    check(
      'the MeanVarianceNormalization engine still runs on cpu',
      y.length === 36 && y.every(Number.isFinite),
    );
  },
);

await attempt('a cpu stream for a cuda context is refused', async () => {
  const ctx = engines.fashion_mnist_cnn.createExecutionContext({ device });
  let error;
  try {
    ctx.enqueue(new Stream());
  } catch (e) {
    error = e;
  }
  check(
    'a cpu stream for a cuda context is refused',
    error?.code === 'INVALID_ARGUMENT',
    String(error?.message),
  );
});

// ---- benchmark: resnet50 on cuda, batch 1 latency and batch 64 throughput ---------------
async function benchmark(label, engine, cudaGraph) {
  const m = meta.resnet50;
  const ctx = engine.createExecutionContext({ device, cudaGraph });
  const stream = new Stream({ device });
  const bench = {};
  for (const batch of [1, 64]) {
    const shape = [batch, ...m.shape.slice(1)];
    const count = shape.reduce((a, b) => a * b, 1);
    const input = new Float32Array(count).map(() => Math.random() * 2 - 1);
    ctx.setInputShape(m.input, shape);
    const inBuf = new DeviceBuffer(input.byteLength, { device });
    const outBuf = new DeviceBuffer(batch * 1000 * 4, { device });
    stream.copyHostToDevice(inBuf, input);
    ctx.setTensorAddress(m.input, inBuf);
    ctx.setTensorAddress(m.output, outBuf);
    for (let i = 0; i < (batch === 1 ? 20 : 5); i++) ctx.enqueue(stream);
    await stream.synchronize();
    if (batch === 1) {
      const wall = [];
      const gpu = [];
      const e0 = new Event({ device });
      const e1 = new Event({ device });
      for (let i = 0; i < 200; i++) {
        const t = performance.now();
        e0.record(stream);
        ctx.enqueue(stream);
        e1.record(stream);
        await stream.synchronize();
        wall.push(performance.now() - t);
        gpu.push(Event.elapsedTime(e0, e1));
      }
      const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
      bench.latency_b1_ms = median(wall);
      bench.gpu_b1_ms = median(gpu);
    } else {
      const iters = 30;
      const t = performance.now();
      for (let i = 0; i < iters; i++) ctx.enqueue(stream);
      await stream.synchronize();
      bench.throughput_b64_img_s = (batch * iters) / ((performance.now() - t) / 1000);
    }
  }
  results.bench[label] = bench;
  console.log(
    `kiln ${label}: batch 1 ${bench.latency_b1_ms.toFixed(3)} ms (GPU events ${bench.gpu_b1_ms.toFixed(3)} ms), batch 64 ${bench.throughput_b64_img_s.toFixed(0)} img/s`,
  );
}

results.bench = {};
await attempt('benchmark fp32', () => benchmark('fp32', engines.resnet50, false));
await attempt('benchmark fp16', () => benchmark('fp16', fp16Engines.resnet50, false));
await attempt('benchmark fp16 cudaGraph', () =>
  benchmark('fp16, CUDA graph', fp16Engines.resnet50, true),
);

fs.writeFileSync(outFile, JSON.stringify(results, null, 1));
console.log(`${results.checks.length - failures} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
