// Runs kiln engines on a CUDA GPU and checks them against the cpu engine and onnxruntime
// (reference.py's files), then times resnet50 (run on the GPU machine; see README.md here).
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

async function build(m, maxBatch) {
  const builder = new Builder();
  const network = builder.createNetwork();
  new OnnxParser(network).parse(m.onnx);
  const config = builder.createBuilderConfig();
  const profile = builder.createOptimizationProfile();
  const chw = m.shape.slice(1);
  profile.setDimensions(m.input, { min: [1, ...chw], opt: [1, ...chw], max: [maxBatch, ...chw] });
  config.addOptimizationProfile(profile);
  const plan = await builder.buildSerializedNetwork(network, config);
  return new Runtime().deserializeEngine(plan);
}

// The explicit path (DeviceBuffers, enqueue), with the output poisoned (NaN bytes) first so an
// element no kernel wrote cannot pass.
async function runOnDevice(ctx, m, input, shape) {
  const stream = new Stream({ device });
  ctx.setInputShape(m.input, shape);
  const outShape = ctx.getTensorShape(m.output);
  const out = new Float32Array(outShape.reduce((a, b) => a * b, 1));
  const inBuf = new DeviceBuffer(input.byteLength, { device });
  const outBuf = new DeviceBuffer(out.byteLength, { device });
  stream.copyHostToDevice(inBuf, input);
  stream.memset(outBuf, 0xff);
  ctx.setTensorAddress(m.input, inBuf);
  ctx.setTensorAddress(m.output, outBuf);
  ctx.enqueue(stream);
  stream.copyDeviceToHost(out, outBuf);
  await stream.synchronize();
  return out;
}

const engines = {};
for (const name of ['fashion_mnist_cnn', 'resnet50', 'mobilenet_v2']) {
  const m = meta[name];
  check(`${name}: regenerated model's sha256 matches the README`, m.shaOk, m.sha256);
  await attempt(`${name}: agreement`, async () => {
    const engine = await build(m, name === 'resnet50' ? 64 : 8);
    engines[name] = engine;
    const input = readF32(`${refDir}/${name}.input.bin`);
    const ort = readF32(`${refDir}/${name}.ort.bin`);
    const cuda = await runOnDevice(engine.createExecutionContext({ device }), m, input, m.shape);
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

await attempt(
  'an engine with layers cuda lacks is refused at context creation, listing them',
  async () => {
    const engine = await build(meta.deit_tiny, 1);
    let error;
    try {
      engine.createExecutionContext({ device });
    } catch (e) {
      error = e;
    }
    check(
      'deit_tiny on cuda: UNSUPPORTED KilnError naming the layers',
      error?.code === 'UNSUPPORTED' && /cannot run on cuda:0/.test(error.message),
      String(error?.message).slice(0, 300),
    );
    // the cpu context of the same engine still works
    const cpuOut = await engine.createExecutionContext().infer({
      [meta.deit_tiny.input]: new Tensor(
        'float32',
        meta.deit_tiny.shape,
        readF32(`${refDir}/deit_tiny.input.bin`),
      ),
    });
    const r = relL2(cpuOut[meta.deit_tiny.output].data, readF32(`${refDir}/deit_tiny.ort.bin`));
    check('deit_tiny on cpu still runs', r < FP32_TOLERANCE, r.toExponential(2));
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

// ---- benchmark: resnet50 FP32 on cuda, batch 1 latency and batch 64 throughput -------------
await attempt('benchmark', async () => {
  const m = meta.resnet50;
  const ctx = engines.resnet50.createExecutionContext({ device });
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
  results.bench = bench;
  console.log(
    `kiln fp32 cuda: batch 1 ${bench.latency_b1_ms.toFixed(3)} ms (GPU events ${bench.gpu_b1_ms.toFixed(3)} ms), batch 64 ${bench.throughput_b64_img_s.toFixed(0)} img/s`,
  );
});

fs.writeFileSync(outFile, JSON.stringify(results, null, 1));
console.log(`${results.checks.length - failures} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
