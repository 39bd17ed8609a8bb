// One runtime in its own process. The parent (harness.mjs) forks one child per runtime and
// model so that neither runtime's worker threads ever share a process with the other's, then
// sends it one 'round' message at a time; the child is idle between rounds.
//
// Protocol (process IPC): parent -> { type: 'init', job } | { type: 'round', round } | { type: 'exit' }
//                         child  -> { type: 'ready', buildMs } | { type: 'round', ... } | { type: 'error', message }

/**
 * @typedef {object} ChildJob
 * @property {'kiln' | 'ort'} runtime
 * @property {string} model path of the .onnx file
 * @property {{ name: string, shape: number[] }[]} inputs static input shapes
 * @property {number} threads
 */
/**
 * @typedef {object} Runner
 * @property {number} buildMs time to build the engine (kiln) or create the session (ORT)
 * @property {() => void} bindForCompute
 * @property {() => Promise<void>} compute inference on inputs already in place, no host copies
 * @property {() => Promise<void>} endToEnd inference from host tensors to host tensors
 */
/**
 * @typedef {object} RoundRequest
 * @property {number} warmup untimed end-to-end iterations first
 * @property {number} iterations timed iterations of each loop (compute, then end-to-end)
 * @property {number} maxSeconds cap on the two timed loops together; fewer iterations (at least 3) when a model is slow
 */

/** @type {Runner | undefined} */
let runner;

/**
 * @param {() => Promise<void>} fn
 * @param {number} n
 * @returns {Promise<number[]>} milliseconds per call
 */
async function timeLoop(fn, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times;
}

/**
 * @param {RoundRequest} request
 */
async function runRound(request) {
  if (!runner) throw new Error('round before init');
  const warm = await timeLoop(() => runner.endToEnd(), request.warmup);
  const estimate = warm.length > 0 ? warm[warm.length - 1] : 0;
  const affordable =
    estimate > 0 ? Math.floor((request.maxSeconds * 1000) / (2 * estimate)) : Infinity;
  const n = Math.max(Math.min(request.iterations, affordable), Math.min(3, request.iterations));
  runner.bindForCompute();
  const compute = await timeLoop(() => runner.compute(), n);
  const endToEnd = await timeLoop(() => runner.endToEnd(), n);
  return { compute, endToEnd };
}

/** @param {ChildJob} job */
async function init(job) {
  if (job.runtime === 'kiln') {
    const { prepareKiln } = await import('./run-kiln.mjs');
    runner = await prepareKiln(job);
  } else if (job.runtime === 'ort') {
    const { prepareOrt } = await import('./run-ort.mjs');
    runner = await prepareOrt(job);
  } else {
    throw new Error(`unknown runtime '${job.runtime}'`);
  }
  return { buildMs: runner.buildMs };
}

/** @param {unknown} error */
function describe(error) {
  if (error instanceof Error) {
    const code = /** @type {{ code?: unknown }} */ (error).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

// An orphan (the parent was killed) stops instead of finishing its round.
process.on('disconnect', () => process.exit(0));

process.on('message', (message) => {
  const msg = /** @type {{ type: string, job?: ChildJob, round?: RoundRequest }} */ (message);
  if (msg.type === 'exit') {
    process.exit(0);
  }
  const work =
    msg.type === 'init'
      ? init(/** @type {ChildJob} */ (msg.job)).then((r) => ({ type: 'ready', ...r }))
      : runRound(/** @type {RoundRequest} */ (msg.round)).then((r) => ({ type: 'round', ...r }));
  work.then(
    (reply) => process.send?.(reply),
    (error) => process.send?.({ type: 'error', message: describe(error) }),
  );
});
