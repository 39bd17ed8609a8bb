// onnxruntime-node's side of a benchmark, run inside a child process (see child.mjs).
import ort from 'onnxruntime-node';

import { elementCount, sweep } from './inputs.mjs';

/**
 * Opens an InferenceSession with the thread count of the job, sequential execution and all
 * graph optimizations, and returns the two timed operations.
 * @param {import('./child.mjs').ChildJob} job
 * @returns {Promise<import('./child.mjs').Runner>}
 */
export async function prepareOrt(job) {
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(job.model, {
    intraOpNumThreads: job.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const buildMs = performance.now() - t0;
  const feeds = Object.fromEntries(
    job.inputs.map((input, i) => [
      input.name,
      new ort.Tensor('float32', sweep(elementCount(input.shape), i), input.shape),
    ]),
  );
  // Outputs preallocated from one run: ORT then writes into them and the compute loop skips
  // the allocation and copy of fresh output arrays (its analogue of --noDataTransfers; the
  // inputs are wrapped without a copy either way).
  const first = await session.run(feeds);
  const fetches = Object.fromEntries(
    Object.entries(first).map(([name, t]) => [
      name,
      new ort.Tensor(t.type, new t.data.constructor(t.data.length), t.dims),
    ]),
  );
  return {
    buildMs,
    bindForCompute() {},
    async compute() {
      await session.run(feeds, fetches);
    },
    async endToEnd() {
      await session.run(feeds);
    },
  };
}
