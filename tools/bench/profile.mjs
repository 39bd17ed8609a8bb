// Where kiln's time goes, layer by layer: builds one suite model at batch 1 (or --batch), runs
// the compute loop with the context's per-layer profiling on (ExecutionContext.profiling) and
// prints the layers by time and the totals per op type.
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
// The core sizes its pool at first use, so this is set before the first import of kiln.
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
const n = Number(values.iterations);
runner.context.profiling = true;
const t0 = performance.now();
for (let i = 0; i < n; ++i) await runner.compute();
const wallMs = (performance.now() - t0) / n;
runner.context.profiling = false;
const { runs, layers } = runner.context.layerProfile();
const total = layers.reduce((s, l) => s + l.averageMs, 0);
const row = (ms, what) =>
  `${ms.toFixed(3).padStart(9)} ${((100 * ms) / total).toFixed(1).padStart(6)}%  ${what}`;
console.log(
  `${job.model.id} b${values.batch}: ${layers.length} layers, ${runs} runs, ${wallMs.toFixed(2)} ms per run (${total.toFixed(2)} ms in layers)`,
);
console.log('  mean ms  share  op  layer');
for (const l of [...layers].sort((a, b) => b.averageMs - a.averageMs))
  console.log(row(l.averageMs, `${l.op}  ${l.name}`));
const byOp = new Map();
for (const l of layers) {
  const t = byOp.get(l.op) ?? { ms: 0, count: 0 };
  byOp.set(l.op, { ms: t.ms + l.averageMs, count: t.count + 1 });
}
console.log('per op type:');
for (const [op, t] of [...byOp].sort((a, b) => b[1].ms - a[1].ms))
  console.log(row(t.ms, `${op} (${t.count})`));
