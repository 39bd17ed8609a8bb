import { KilnError, type Logger, type Tensor, invalidParameterError } from '@kiln/core';

import type { Builder, BuildProgress } from '../builder';
import type { NetworkDefinition } from '../network';
import { cloneNetwork } from './calibrate';
import { type Int8Plan, insertQdq, planInt8 } from './insert-qdq';

/**
 * How close an implicit INT8 engine must stay to FP32 (BuilderConfig.int8AccuracyBudget). The
 * builder measures each quantized convolution's sensitivity and keeps the most sensitive ones
 * in FP32 until the engine meets the budget on `batches`.
 */
export interface Int8AccuracyBudget {
  /**
   * 'top1': the share of rows (the first output's last axis) whose argmax matches FP32 must be
   * at least `tolerance` (e.g. 0.99). 'relative': max |int8 - fp32| / max |fp32| over each output
   * must be at most `tolerance`.
   */
  metric: 'top1' | 'relative';
  tolerance: number;
  /** Inputs by name to measure on, e.g. some of the calibration data; shapes may vary. */
  batches: readonly Record<string, Tensor>[];
}

/** Checks a budget before any work starts. */
export function validateBudget(budget: Int8AccuracyBudget): void {
  if (budget === null || typeof budget !== 'object')
    throw invalidParameterError('int8AccuracyBudget', 'an Int8AccuracyBudget object', budget);
  const { metric, tolerance, batches } = budget;
  if (metric !== 'top1' && metric !== 'relative')
    throw invalidParameterError('int8AccuracyBudget.metric', "'top1' or 'relative'", metric);
  const range = metric === 'top1' ? tolerance > 0 && tolerance <= 1 : tolerance >= 0;
  if (typeof tolerance !== 'number' || !range || !Number.isFinite(tolerance))
    throw invalidParameterError(
      'int8AccuracyBudget.tolerance',
      metric === 'top1' ? 'a share in (0, 1]' : 'a non-negative number',
      tolerance,
    );
  if (
    !Array.isArray(batches) ||
    batches.length === 0 ||
    batches.some((b) => !b || typeof b !== 'object')
  )
    throw invalidParameterError(
      'int8AccuracyBudget.batches',
      'a non-empty array of input maps',
      batches,
    );
}

// Per batch, each output's values and last dim.
type Outputs = Record<string, { data: Float32Array; width: number }>[];

/**
 * Sets precision 'fp32' on the fewest convolutions of `plan` (most sensitive first) that bring
 * the INT8 engine within `budget` of FP32, measured on the budget's batches with `scales` (the
 * calibration's). Sensitivity of a convolution: the metric's distance from FP32 when it alone
 * runs in INT8. `builder` builds the trial engines (a quiet one keeps the log readable).
 * Returns the names of the layers kept in FP32.
 */
export async function keepSensitiveLayers(
  builder: Builder,
  network: NetworkDefinition,
  plan: Int8Plan,
  scales: ReadonlyMap<string, number>,
  budget: Int8AccuracyBudget,
  logger: Logger,
  report: (p: BuildProgress) => void,
): Promise<string[]> {
  const convs = plan.convs;
  const total = convs.length + Math.ceil(Math.log2(convs.length + 1)) + 2;
  let builds = 0;
  const index = new Map(network.layers.map((l, i) => [l, i]));
  // The outputs of the network with the convolutions in `fp32` kept in FP32, the rest INT8.
  const run = async (fp32: ReadonlySet<number>): Promise<Outputs> => {
    const copy = cloneNetwork(network);
    for (const i of fp32) copy.layers[index.get(convs[i]!)!]!.precision = 'fp32';
    insertQdq(copy, planInt8(copy), scales);
    const outputs = await runOn(builder, copy, budget.batches);
    report({ stage: 'accuracy', done: ++builds, total });
    return outputs;
  };
  const all = new Set(convs.keys());
  const reference = await run(all);
  const distance = (outputs: Outputs) => measure(budget.metric, outputs, reference);
  const meets = (d: number) =>
    budget.metric === 'top1' ? 1 - d >= budget.tolerance : d <= budget.tolerance;
  const describe = (d: number) =>
    budget.metric === 'top1'
      ? `top-1 agreement ${(1 - d).toFixed(4)}`
      : `relative error ${d.toExponential(2)}`;
  const goal =
    budget.metric === 'top1'
      ? `top-1 agreement >= ${budget.tolerance}`
      : `relative error <= ${budget.tolerance}`;

  const allInt8 = distance(await run(new Set()));
  if (meets(allInt8)) {
    logger.log(
      'info',
      `int8 accuracy budget (${goal}): every convolution in INT8 meets it (${describe(allInt8)})`,
    );
    return [];
  }
  const sensitivity: { i: number; d: number }[] = [];
  for (const i of convs.keys()) {
    const alone = new Set(all);
    alone.delete(i);
    sensitivity.push({ i, d: distance(await run(alone)) });
  }
  sensitivity.sort((a, b) => b.d - a.d || a.i - b.i);
  const kept = (k: number) => new Set(sensitivity.slice(0, k).map((s) => s.i));
  // The smallest k whose top-k in FP32 meets the budget, by bisection (k = all is FP32 itself).
  let [lo, hi] = [0, convs.length];
  let best = 0;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const d = distance(await run(kept(mid)));
    if (meets(d)) [hi, best] = [mid, d];
    else lo = mid;
  }
  const names = sensitivity.slice(0, hi).map((s) => convs[s.i]!.name);
  for (const name of names) network.layers.find((l) => l.name === name)!.precision = 'fp32';
  logger.log(
    'info',
    `int8 accuracy budget (${goal}): every convolution in INT8 gives ${describe(allInt8)}; kept ${hi} of ${convs.length} in FP32, most sensitive first (${sensitivity
      .slice(0, hi)
      .map((s) => `'${convs[s.i]!.name}' ${describe(s.d)} alone`)
      .join(', ')}): ${describe(best)}`,
  );
  return names;
}

// Builds `network` (explicit Q/DQ by now) at the batches' shapes and runs every batch.
async function runOn(
  builder: Builder,
  network: NetworkDefinition,
  batches: readonly Record<string, Tensor>[],
): Promise<Outputs> {
  const config = builder.createBuilderConfig();
  const profile = builder.createOptimizationProfile();
  for (const t of network.inputs) {
    const shapes = batches.map((b) => {
      const x = b[t.name];
      if (!x)
        throw new KilnError(
          'INVALID_ARGUMENT',
          `int8AccuracyBudget.batches lack input '${t.name}'`,
        );
      return x.shape;
    });
    const min = shapes[0]!.map((_, d) => Math.min(...shapes.map((s) => s[d]!)));
    const max = shapes[0]!.map((_, d) => Math.max(...shapes.map((s) => s[d]!)));
    profile.setDimensions(t.name, { min, opt: [...shapes[0]!], max });
  }
  config.addOptimizationProfile(profile);
  const plan = await builder.buildSerializedNetwork(network, config);
  const context = new (await import('@kiln/runtime')).Runtime()
    .deserializeEngine(plan)
    .createExecutionContext();
  const results: Outputs = [];
  for (const batch of batches) {
    const out = await context.infer(batch);
    results.push(
      Object.fromEntries(
        Object.entries(out).map(([k, v]) => [
          k,
          { data: v.to('float32').data as Float32Array, width: v.shape.at(-1) ?? 1 },
        ]),
      ),
    );
  }
  return results;
}

// How far `outputs` are from `reference`: 1 - top-1 agreement, or the largest relative error.
function measure(metric: 'top1' | 'relative', outputs: Outputs, reference: Outputs): number {
  if (metric === 'relative') {
    let worst = 0;
    for (const name of Object.keys(reference[0]!)) {
      let err = 0;
      let peak = 0;
      outputs.forEach((o, b) => {
        const [x, r] = [o[name]!.data, reference[b]![name]!.data];
        for (let i = 0; i < r.length; i++) {
          err = Math.max(err, Math.abs(x[i]! - r[i]!));
          peak = Math.max(peak, Math.abs(r[i]!));
        }
      });
      worst = Math.max(worst, peak > 0 ? err / peak : err);
    }
    return worst;
  }
  const name = Object.keys(reference[0]!)[0]!;
  let rows = 0;
  let same = 0;
  outputs.forEach((o, b) => {
    const [x, r, width] = [o[name]!.data, reference[b]![name]!.data, reference[b]![name]!.width];
    for (let row = 0; row * width < r.length; row++, rows++)
      if (argmax(x, row * width, width) === argmax(r, row * width, width)) same++;
  });
  return 1 - same / rows;
}

function argmax(v: Float32Array, start: number, width: number): number {
  let best = 0;
  for (let c = 1; c < width; c++) if (v[start + c]! > v[start + best]!) best = c;
  return best;
}
