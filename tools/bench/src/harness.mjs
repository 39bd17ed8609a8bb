// Runs the suite: per model and batch, kiln and onnxruntime-node each in its own child
// process, alternating kiln, ORT, kiln, ORT... one round at a time, then summarizes.
import { ChildRuntime } from './child-runtime.mjs';
import { countFlops } from './flops.mjs';
import { currentLoad, machineInfo, versions } from './machine.mjs';
import { compilePeakProbe, measurePeak } from './peak.mjs';
import { geometricMean, roundRatio, summarize } from './stats.mjs';
import { planJobs } from './suite.mjs';

/**
 * @typedef {object} BenchOptions
 * @property {string[]} models ids from suite.mjs
 * @property {number[]} batches
 * @property {number} threads for both runtimes
 * @property {number} rounds
 * @property {number} iterations timed iterations per loop per round
 * @property {number} warmup untimed iterations per round
 * @property {number} maxSeconds cap per runtime per round on the timed loops
 * @property {number} peakSeconds time per peak measurement; 0 skips the peak
 */

const RUNTIMES = /** @type {const} */ (['kiln', 'ort']);

/** @param {number[]} xs */
const round3 = (xs) => xs.map((x) => Math.round(x * 1000) / 1000);

/**
 * Measures the FMA peak with 1 thread and with `threads`, or says why it cannot.
 * @param {number} threads
 * @param {number} seconds
 */
async function peakNow(threads, seconds) {
  if (seconds <= 0) return 'disabled (--peak-seconds 0)';
  const probe = await compilePeakProbe();
  if (typeof probe === 'string') return probe;
  try {
    const one = await measurePeak(probe, 1, seconds);
    const all = await measurePeak(probe, threads, seconds);
    return {
      isa: one.isa,
      compiler: probe.compiler,
      singleThread: one.gflops,
      threads: all.gflops,
    };
  } finally {
    probe.dispose();
  }
}

/**
 * Runs one model at one batch size. Either runtime failing to start (kiln cannot build the
 * model, say) is recorded and the other still runs, so the table shows what ran.
 * @param {import('./suite.mjs').Job} job
 * @param {BenchOptions} options
 * @param {(message: string) => void} progress
 */
async function runJob(job, options, progress) {
  const label = `${job.model.id} b${job.batch}`;
  const shapes = Object.fromEntries(job.inputs.map((i) => [i.name, i.shape]));
  let flops;
  try {
    flops = countFlops(job.model.path, shapes);
  } catch (error) {
    flops = { error: String(error) };
  }

  /** @type {Record<string, any>} */
  const side = {};
  /** @type {Record<string, ChildRuntime>} */
  const children = {};
  try {
    for (const runtime of RUNTIMES) {
      progress(
        `${label}: starting ${runtime}${runtime === 'kiln' ? ' (building the engine)' : ''}`,
      );
      const child = new ChildRuntime(runtime, options.threads);
      children[runtime] = child;
      try {
        const ready = await child.request({
          type: 'init',
          job: {
            runtime,
            model: job.model.path,
            inputs: job.inputs,
            threads: options.threads,
          },
        });
        side[runtime] = { status: 'ok', buildMs: Math.round(ready.buildMs), rounds: [] };
      } catch (error) {
        side[runtime] = { status: 'failed', error: /** @type {Error} */ (error).message };
        progress(`${label}: ${runtime} failed: ${side[runtime].error}`);
        await child.close();
        delete children[runtime];
      }
    }
    for (let r = 0; r < options.rounds; r++) {
      for (const runtime of RUNTIMES) {
        if (side[runtime].status !== 'ok') continue;
        progress(`${label}: round ${r + 1}/${options.rounds} ${runtime}`);
        try {
          const reply = await children[runtime].request({
            type: 'round',
            round: {
              warmup: options.warmup,
              iterations: options.iterations,
              maxSeconds: options.maxSeconds,
            },
          });
          side[runtime].rounds.push({
            compute: round3(reply.compute),
            endToEnd: round3(reply.endToEnd),
          });
        } catch (error) {
          side[runtime] = { status: 'failed', error: /** @type {Error} */ (error).message };
          progress(`${label}: ${runtime} failed: ${side[runtime].error}`);
        }
      }
    }
  } finally {
    await Promise.all(Object.values(children).map((c) => c.close()));
  }

  for (const runtime of RUNTIMES) {
    const s = side[runtime];
    if (s.status !== 'ok') continue;
    for (const loop of /** @type {const} */ (['compute', 'endToEnd'])) {
      s[loop] = summarize(s.rounds.flatMap((/** @type {any} */ r) => r[loop]));
      s[`${loop}RoundMedians`] = s.rounds.map((/** @type {any} */ r) => summarize(r[loop]).median);
    }
  }
  let ratio = null;
  if (side.kiln.status === 'ok' && side.ort.status === 'ok') {
    ratio = {
      compute: roundRatio(side.kiln.computeRoundMedians, side.ort.computeRoundMedians),
      endToEnd: roundRatio(side.kiln.endToEndRoundMedians, side.ort.endToEndRoundMedians),
    };
  }
  // GFLOP/s from the compute median (FLOPs per ms / 1e6 = GFLOP/s).
  const gflops = {};
  if (typeof flops.flops === 'number' && flops.unknown.length === 0) {
    for (const runtime of RUNTIMES)
      if (side[runtime].status === 'ok')
        gflops[runtime] = flops.flops / side[runtime].compute.median / 1e6;
  }
  return {
    model: job.model.id,
    batch: job.batch,
    inputs: job.inputs,
    quantized: job.model.quantized,
    flops,
    kiln: side.kiln,
    ort: side.ort,
    ratio,
    gflops,
  };
}

/**
 * Runs the whole bench and returns the results object that report.mjs renders.
 * @param {BenchOptions} options
 * @param {(message: string) => void} [progress]
 */
export async function runBench(options, progress = () => {}) {
  const started = new Date();
  const loadBefore = currentLoad();
  const { jobs, skipped } = planJobs(options.models, options.batches);
  for (const s of skipped)
    progress(`skip ${s.id}${s.batch === undefined ? '' : ` b${s.batch}`}: ${s.reason}`);

  progress('measuring the FMA peak (before)');
  const peakBefore = await peakNow(options.threads, options.peakSeconds);
  const results = [];
  for (const [i, job] of jobs.entries()) {
    progress(`[${i + 1}/${jobs.length}] ${job.model.id} batch ${job.batch}`);
    results.push({ ...(await runJob(job, options, progress)), loadAfter: currentLoad() });
  }
  progress('measuring the FMA peak (after)');
  const peakAfter = await peakNow(options.threads, options.peakSeconds);

  let peak;
  if (typeof peakBefore === 'string' || typeof peakAfter === 'string') {
    peak = {
      status: 'not measured',
      reason: typeof peakBefore === 'string' ? peakBefore : peakAfter,
    };
  } else {
    // Other processes only ever lower a measurement, so the higher of the two is the peak.
    peak = {
      status: 'measured',
      isa: peakBefore.isa,
      compiler: peakBefore.compiler,
      threads: options.threads,
      gflops: Math.max(peakBefore.threads, peakAfter.threads),
      singleThreadGflops: Math.max(peakBefore.singleThread, peakAfter.singleThread),
      before: peakBefore,
      after: peakAfter,
    };
    for (const r of results) {
      if (r.quantized) continue;
      r.peakFraction = Object.fromEntries(
        Object.entries(r.gflops).map(([k, v]) => [k, v / peak.gflops]),
      );
    }
  }

  const summary = {};
  for (const batch of options.batches) {
    const rows = results.filter((r) => r.batch === batch && r.ratio);
    summary[`batch${batch}`] = {
      models: rows.map((r) => r.model),
      geomeanCompute: geometricMean(rows.map((r) => r.ratio.compute.ratio)),
      geomeanEndToEnd: geometricMean(rows.map((r) => r.ratio.endToEnd.ratio)),
    };
  }

  return {
    schema: 1,
    date: started.toISOString(),
    durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
    machine: { ...machineInfo(), loadBefore, loadAfter: currentLoad() },
    versions: versions(),
    settings: {
      threads: options.threads,
      rounds: options.rounds,
      iterations: options.iterations,
      warmup: options.warmup,
      maxSeconds: options.maxSeconds,
      batches: options.batches,
      models: options.models,
    },
    peak,
    jobs: results,
    skipped,
    summary,
  };
}
