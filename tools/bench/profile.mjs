// Where kiln's time goes, layer by layer: builds one suite model at batch 1 (or --batch), runs
// the compute loop with KILN_PROFILE_LAYERS=1 and lets the core print its per-layer table
// (mean ms per run, share, totals per op type) to stderr when the process exits.
//   node tools/bench/profile.mjs resnet50 [--iterations 20] [--batch 1] [--threads 2]
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    iterations: { type: 'string', default: '20' },
    batch: { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
  },
});
if (positionals.length !== 1) {
  console.error('usage: node tools/bench/profile.mjs <model id> [--iterations N] [--batch N]');
  process.exit(2);
}
// The core reads both when it loads, so they are set before the first import of kiln.
process.env.KILN_PROFILE_LAYERS ??= '1';
process.env.KILN_NUM_THREADS ??= values.threads;

const { planJobs } = await import('./src/suite.mjs');
const { prepareKiln } = await import('./src/run-kiln.mjs');
const { jobs, skipped } = planJobs([positionals[0]], [Number(values.batch)]);
if (jobs.length === 0) {
  console.error(skipped.map((s) => `${s.id}: ${s.reason}`).join('\n') || 'unknown model id');
  process.exit(1);
}
const job = jobs[0];
const runner = await prepareKiln({ model: job.model.path, inputs: job.inputs });
runner.bindForCompute();
for (let i = 0; i < 3; ++i) await runner.compute();
const t0 = performance.now();
const n = Number(values.iterations);
for (let i = 0; i < n; ++i) await runner.compute();
console.log(
  `${job.model.id} b${values.batch}: ${((performance.now() - t0) / n).toFixed(2)} ms per run (includes the warm-up runs in the table below)`,
);
