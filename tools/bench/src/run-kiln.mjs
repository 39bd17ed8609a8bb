// kiln's side of a benchmark, run inside a child process (see child.mjs).
import { Builder, OnnxParser } from '@kiln/builder';
import { DeviceBuffer, Stream, Tensor, dataTypeSize, shapeSize } from '@kiln/core';
import { Runtime } from '@kiln/runtime';

import { sweep } from './inputs.mjs';

/**
 * Builds `job.model` into an engine with a static profile at the job's input shapes and
 * returns the two timed operations.
 * @param {import('./child.mjs').ChildJob} job
 * @returns {Promise<import('./child.mjs').Runner>}
 */
export async function prepareKiln(job) {
  const t0 = performance.now();
  const builder = new Builder();
  const network = builder.createNetwork();
  new OnnxParser(network).parse(job.model);
  const config = builder.createBuilderConfig();
  const profile = builder.createOptimizationProfile();
  for (const input of job.inputs)
    profile.setDimensions(input.name, { min: input.shape, opt: input.shape, max: input.shape });
  config.addOptimizationProfile(profile);
  const plan = await builder.buildSerializedNetwork(network, config);
  const buildMs = performance.now() - t0;

  const engine = new Runtime().deserializeEngine(plan);
  const ctx = engine.createExecutionContext();
  const stream = new Stream();
  const feeds = Object.fromEntries(
    job.inputs.map((input, i) => [
      input.name,
      new Tensor('float32', input.shape, sweep(shapeSize(input.shape), i)),
    ]),
  );

  // Device buffers filled once: the compute loop then times enqueue + synchronize alone,
  // like trtexec --noDataTransfers.
  const bound = new Map();
  for (const input of job.inputs) {
    ctx.setInputShape(input.name, input.shape);
    const tensor = feeds[input.name];
    const buffer = new DeviceBuffer(tensor.byteLength);
    stream.copyHostToDevice(buffer, tensor.data, { byteLength: tensor.byteLength });
    bound.set(input.name, buffer);
  }
  for (const name of engine.outputNames) {
    const info = engine.getTensorInfo(name);
    const bytes = shapeSize(ctx.getTensorShape(name)) * dataTypeSize(info.dtype);
    bound.set(name, new DeviceBuffer(Math.max(bytes, 1)));
  }
  await stream.synchronize();

  return {
    buildMs,
    /** The ExecutionContext (profile.mjs switches its per-layer profiling on). */
    context: ctx,
    // infer() binds its own buffers, so every compute phase binds ours again first.
    bindForCompute() {
      for (const [name, buffer] of bound) ctx.setTensorAddress(name, buffer);
    },
    async compute() {
      ctx.enqueue(stream);
      await stream.synchronize();
    },
    async endToEnd() {
      await ctx.infer(feeds, { stream });
    },
  };
}
