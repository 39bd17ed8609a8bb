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
 * The FMA peak, sampled several times through the run: other processes on the machine can only
 * lower a measurement, so the best sample is the peak and more samples make a quiet moment
 * likelier. Says why when it cannot be measured.
 */
class PeakSampler {
  /** @type {import('./peak.mjs').PeakProbe | string} */
  probe = 'not compiled';
  /** @type {{ when: string, threads: number, gflops: number }[]} */
  samples = [];
  isa = '';

  /** @param {number} threads @param {number} seconds */
  constructor(threads, seconds) {
    this.threads = threads;
    this.seconds = seconds;
  }

  async start() {
    this.probe = this.seconds <= 0 ? 'disabled (--peak-seconds 0)' : await compilePeakProbe();
  }

  /** @param {string} when @param {boolean} singleThreadToo */
  async sample(when, singleThreadToo) {
    if (typeof this.probe === 'string') return;
    const counts = singleThreadToo && this.threads !== 1 ? [1, this.threads] : [this.threads];
    for (const threads of counts) {
      const m = await measurePeak(this.probe, threads, this.seconds);
      this.isa = m.isa;
      this.samples.push({ when, threads, gflops: Math.round(m.gflops * 10) / 10 });
    }
  }

  finish() {
    if (typeof this.probe === 'string') return { status: 'not measured', reason: this.probe };
    this.probe.dispose();
    const best = (/** @type {number} */ t) =>
      Math.max(...this.samples.filter((s) => s.threads === t).map((s) => s.gflops));
    return {
      status: 'measured',
      isa: this.isa,
      compiler: this.probe.compiler,
      threads: this.threads,
      gflops: best(this.threads),
      singleThreadGflops: best(1),
      samples: this.samples,
    };
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

  const sampler = new PeakSampler(options.threads, options.peakSeconds);
  await sampler.start();
  progress('measuring the FMA peak (before the models)');
  await sampler.sample('before', true);
  const results = [];
  for (const [i, job] of jobs.entries()) {
    progress(`[${i + 1}/${jobs.length}] ${job.model.id} batch ${job.batch}`);
    results.push({ ...(await runJob(job, options, progress)), loadAfter: currentLoad() });
    await sampler.sample(`after ${job.model.id} b${job.batch}`, false);
  }
  progress('measuring the FMA peak (after the models)');
  await sampler.sample('after', true);

  const peak = sampler.finish();
  if (peak.status === 'measured') {
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
