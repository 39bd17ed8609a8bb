// The soak: one engine, N execution contexts each driven by its own async worker, M streams
// shared among them. Every iteration is either a valid inference (host path through infer(),
// or bound DeviceBuffers and explicit copies through enqueue()) whose output is compared with
// onnxruntime-node's on the same input, or an invalid request (a batch outside the profile, a
// wrong rank or fixed dim, a wrong dtype, an undersized output buffer) that must fail with a
// KilnError and leave the context usable. RSS is sampled after a warm-up and at the end.
import { clearInterval, setInterval } from 'node:timers';

import { DeviceBuffer, isKilnError, Stream, Tensor } from '@kiln/core';
import { Builder, OnnxParser } from '@kiln/builder';
import { Runtime } from '@kiln/runtime';
import ort from 'onnxruntime-node';

const MAX_BATCH = 8;

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 4294967296;
  };
}

/** Builds `modelPath` (input [batch, ...rest]) with a batch 1..MAX_BATCH profile. */
export async function buildEngine(modelPath) {
  const builder = new Builder();
  const network = builder.createNetwork();
  new OnnxParser(network).parse(modelPath);
  const input = network.inputs[0];
  const rest = input.shape.slice(1);
  const config = builder.createBuilderConfig();
  config.addOptimizationProfile(
    builder.createOptimizationProfile().setDimensions(input.name, {
      min: [1, ...rest],
      opt: [4, ...rest],
      max: [MAX_BATCH, ...rest],
    }),
  );
  const plan = await builder.buildSerializedNetwork(network, config);
  return new Runtime().deserializeEngine(plan);
}

// Inputs of every batch size with onnxruntime-node's outputs: the soak draws from this pool.
async function referencePool(modelPath, engine, perBatch, random) {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  const [inputName] = engine.inputNames;
  const [outputName] = engine.outputNames;
  const rest = engine.getTensorInfo(inputName).shape.slice(1);
  const pool = [];
  for (let batch = 1; batch <= MAX_BATCH; batch++) {
    for (let k = 0; k < perBatch; k++) {
      const shape = [batch, ...rest];
      const size = shape.reduce((a, b) => a * b);
      const data = Float32Array.from({ length: size }, () => random() * 4 - 2);
      const out = await session.run({ [inputName]: new ort.Tensor('float32', data, shape) });
      pool.push({ input: new Tensor('float32', shape, data), reference: out[outputName] });
    }
  }
  await session.release();
  return { pool, inputName, outputName, rest };
}

/** Throws unless `output` matches `reference` within the agreement tests' bound. */
function checkOutput(output, reference, what) {
  const a = output.data;
  const b = reference.data;
  if (a.length !== b.length || output.shape.join() !== reference.dims.join())
    throw new Error(`${what}: shape ${output.shape} but the reference is ${reference.dims}`);
  let err = 0;
  let mag = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    mag = Math.max(mag, Math.abs(b[i]));
  }
  if (!(err <= 1e-4 * (1 + mag)))
    throw new Error(`${what}: max abs error ${err} against max|ref| ${mag}`);
}

/** Runs `fn` and requires a KilnError from it (thrown or rejected). */
async function expectKilnError(fn, what) {
  try {
    await fn();
  } catch (e) {
    if (isKilnError(e)) return e.code;
    throw new Error(`${what}: expected a KilnError, got ${e?.stack ?? e}`);
  }
  throw new Error(`${what}: expected a KilnError, but it succeeded`);
}

function rssMiB() {
  return process.memoryUsage().rss / 2 ** 20;
}

/**
 * Soaks `engine` for `seconds` with `contexts` contexts over `streams` streams; a fraction
 * `invalid` of the iterations are invalid requests. Resolves with counts and RSS samples;
 * rejects on the first wrong output or error of the wrong kind.
 */
export async function soak({
  modelPath,
  seconds,
  contexts = 4,
  streams = 2,
  invalid = 0.2,
  seed = 1,
  perBatch = 2,
  warmupFraction = 0.25,
}) {
  const random = rng(seed);
  const engine = await buildEngine(modelPath);
  const { pool, inputName, outputName, rest } = await referencePool(
    modelPath,
    engine,
    perBatch,
    random,
  );
  const outBytes = (batch) =>
    engine
      .getTensorInfo(outputName)
      .shape.slice(1)
      .reduce((a, b) => a * b, 1) *
    batch *
    4;
  const shared = Array.from({ length: streams }, () => new Stream());
  const counts = { valid: 0, invalid: 0, inferPath: 0, enqueuePath: 0, errors: {} };
  const start = performance.now();
  const warmupEnd = start + seconds * 1000 * warmupFraction;
  const end = start + seconds * 1000;
  // RSS once a second, after a collection when --expose-gc allows it, so garbage the next
  // collection would free does not read as growth.
  const samples = [];
  const sampler = setInterval(() => {
    globalThis.gc?.();
    samples.push({ t: (performance.now() - start) / 1000, rss: rssMiB() });
  }, 1000);

  const invalidRequests = [
    async (ctx) => {
      const batch = random() < 0.5 ? 0 : MAX_BATCH + 1 + Math.floor(random() * 4);
      return ctx.infer({ [inputName]: new Tensor('float32', [batch, ...rest]) });
    },
    async (ctx) => ctx.infer({ [inputName]: new Tensor('float32', [1, ...rest, 1]) }),
    async (ctx) =>
      ctx.infer({ [inputName]: new Tensor('float32', [1, ...rest.map((d) => d + 1)]) }),
    async (ctx) => ctx.infer({ [inputName]: new Tensor('int32', [1, ...rest]) }),
    async (ctx, stream) => {
      const item = pool[Math.floor(random() * pool.length)];
      const batch = item.input.shape[0];
      ctx.setInputShape(inputName, item.input.shape);
      ctx.setTensorAddress(inputName, new DeviceBuffer(item.input.byteLength));
      ctx.setTensorAddress(outputName, new DeviceBuffer(outBytes(batch) - 4));
      ctx.enqueue(stream);
    },
  ];

  async function worker(index) {
    const ctx = engine.createExecutionContext();
    const input = new DeviceBuffer(pool.at(-1).input.byteLength);
    const output = new DeviceBuffer(outBytes(MAX_BATCH));
    while (performance.now() < end) {
      const stream = shared[Math.floor(random() * shared.length)];
      if (random() < invalid) {
        const which = Math.floor(random() * invalidRequests.length);
        const code = await expectKilnError(
          () => invalidRequests[which](ctx, stream),
          `context ${index} invalid request ${which}`,
        );
        counts.errors[code] = (counts.errors[code] ?? 0) + 1;
        counts.invalid++;
        continue;
      }
      const item = pool[Math.floor(random() * pool.length)];
      const batch = item.input.shape[0];
      const what = `context ${index} batch ${batch}`;
      if (random() < 0.5) {
        const out = await ctx.infer({ [inputName]: item.input }, { stream });
        checkOutput(out[outputName], item.reference, what);
        counts.inferPath++;
      } else {
        const host = new Tensor('float32', [batch, ...item.reference.dims.slice(1)]);
        ctx.setInputShape(inputName, item.input.shape);
        ctx.setTensorAddress(inputName, input);
        ctx.setTensorAddress(outputName, output);
        stream.copyHostToDevice(input, item.input.data, { byteLength: item.input.byteLength });
        ctx.enqueue(stream);
        stream.copyDeviceToHost(host.data, output, { byteLength: host.byteLength });
        await stream.synchronize();
        checkOutput(host, item.reference, what);
        counts.enqueuePath++;
      }
      counts.valid++;
    }
  }

  try {
    await Promise.all(Array.from({ length: contexts }, (_, i) => worker(i)));
    for (const s of shared) await s.synchronize();
  } finally {
    clearInterval(sampler);
  }
  globalThis.gc?.();
  const steady = samples.filter((x) => x.t >= (warmupEnd - start) / 1000);
  return {
    seconds: (performance.now() - start) / 1000,
    contexts,
    streams,
    ...counts,
    rssAfterWarmupMiB: steady[0]?.rss ?? rssMiB(),
    rssEndMiB: rssMiB(),
    rssMaxAfterWarmupMiB: Math.max(...steady.map((x) => x.rss)),
    rssSamples: samples.map((x) => Math.round(x.rss)),
  };
}
