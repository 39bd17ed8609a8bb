// Renders the results of runBench as the committed markdown table.

/** @param {number | undefined} ms */
function ms(ms) {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** @param {number | undefined} x */
function ratio(x) {
  return x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(2);
}

/**
 * GFLOP/s with the fraction of the measured peak when there is one.
 * @param {any} job
 * @param {'kiln' | 'ort'} runtime
 */
function throughput(job, runtime) {
  const g = job.gflops[runtime];
  if (g === undefined) return '–';
  const f = job.peakFraction?.[runtime];
  return f === undefined ? g.toFixed(1) : `${g.toFixed(1)} (${(f * 100).toFixed(0)}%)`;
}

/**
 * @param {any} side one runtime's results in a job
 * @param {'compute' | 'endToEnd'} loop
 */
function latencies(side, loop) {
  if (side.status !== 'ok') return ['not run', '', ''];
  const s = side[loop];
  return [ms(s.median), ms(s.p90), ms(s.p99)];
}

/**
 * One line of text for a table or list (errors can span lines and be long).
 * @param {string} text
 */
function oneLine(text) {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

/** @param {string[]} cells */
const row = (cells) => `| ${cells.join(' | ')} |`;

/**
 * @param {any} results what runBench returned
 * @returns {string} markdown
 */
export function renderMarkdown(results) {
  const { machine, versions, settings, peak } = results;
  const lines = [];
  lines.push('# kiln vs onnxruntime-node: benchmark results', '');
  lines.push(
    '<!-- Written by `pnpm --filter @kiln/bench bench`; do not edit by hand. See README.md for the columns. -->',
    '',
  );
  const dirty = versions.kiln.dirty ? ' plus uncommitted changes in packages/ or native/' : '';
  lines.push(
    `- **When**: ${results.date} (${results.durationSeconds} s)`,
    `- **Machine**: ${machine.cpu} (kiln reads "${machine.kilnCpuModel}"), ${machine.logicalCores} logical cores, ${machine.os}, Node ${machine.node}`,
    `- **CPU features** (@kiln/core): ${machine.flags.join(', ')}; kiln kernel tier \`${machine.isa}\``,
    `- **Versions**: kiln ${versions.kiln.commit}${dirty} (core ${versions.kiln.coreVersion}), onnxruntime-node ${versions.ort.version}`,
    `- **Settings**: ${settings.threads} threads for each runtime; ${settings.rounds} rounds alternating kiln, ORT; per round and runtime ${settings.warmup} warm-up + up to ${settings.iterations} timed iterations per loop (fewer, at least 3, where a loop would exceed ${settings.maxSeconds / 2} s)`,
    `- **Machine load** (1/5/15-min load average): ${machine.loadBefore.join(' / ')} before, ${machine.loadAfter.join(' / ')} after${machine.loadBefore[0] > 0.5 || machine.loadAfter[0] > 0.5 ? ' — other processes were running, so absolute times are noisy; the per-round ratio is the robust figure' : ''}`,
  );
  if (peak.status === 'measured') {
    lines.push(
      `- **FP32 FMA peak, measured in this run**: ${peak.gflops.toFixed(0)} GFLOP/s on ${peak.threads} threads (${peak.singleThreadGflops.toFixed(0)} on 1 thread), ${peak.isa} probe built by ${peak.compiler}; the best of the ${peak.threads}-thread samples taken before, between and after the models (${peak.samples
        .filter((/** @type {any} */ s) => s.threads === peak.threads)
        .map((/** @type {any} */ s) => s.gflops.toFixed(0))
        .join(', ')})`,
    );
    const above = results.jobs.some((/** @type {any} */ j) =>
      Object.values(j.peakFraction ?? {}).some((f) => /** @type {number} */ (f) > 1),
    );
    if (above)
      lines.push(
        '- **Note**: a fraction above 100% means every peak sample was taken while other processes held a core, so the peak is understated; compare GFLOP/s between the runtimes instead',
      );
  } else {
    lines.push(`- **FP32 FMA peak**: not measured: ${peak.reason}`);
  }
  lines.push('');

  const jobs = results.jobs;
  lines.push('## Compute: inputs already in device memory, no host copies', '');
  lines.push(
    row([
      'model',
      'batch',
      'GFLOP',
      'kiln median ms',
      'p90',
      'p99',
      'ORT median ms',
      'p90',
      'p99',
      '**kiln/ORT**',
      'per-round kiln/ORT',
      'kiln GFLOP/s (% peak)',
      'ORT GFLOP/s (% peak)',
    ]),
  );
  lines.push(row(Array(13).fill('---')));
  for (const j of jobs) {
    const perRound = j.ratio?.compute.perRound ?? [];
    lines.push(
      row([
        j.model,
        String(j.batch),
        typeof j.flops.flops === 'number' ? (j.flops.flops / 1e9).toFixed(2) : '–',
        ...latencies(j.kiln, 'compute'),
        ...latencies(j.ort, 'compute'),
        `**${ratio(j.ratio?.compute.ratio)}**`,
        perRound.length ? perRound.map(ratio).join(' ') : '–',
        throughput(j, 'kiln'),
        throughput(j, 'ort'),
      ]),
    );
  }
  lines.push('');

  lines.push('## End to end: host tensors in, host tensors out', '');
  lines.push(
    row([
      'model',
      'batch',
      'kiln median ms',
      'p90',
      'p99',
      'ORT median ms',
      'p90',
      'p99',
      '**kiln/ORT**',
      'kiln build ms',
      'ORT session ms',
      'samples kiln/ORT',
    ]),
  );
  lines.push(row(Array(12).fill('---')));
  for (const j of jobs) {
    const n = (/** @type {any} */ s) => (s.status === 'ok' ? String(s.compute.n) : '–');
    lines.push(
      row([
        j.model,
        String(j.batch),
        ...latencies(j.kiln, 'endToEnd'),
        ...latencies(j.ort, 'endToEnd'),
        `**${ratio(j.ratio?.endToEnd.ratio)}**`,
        j.kiln.status === 'ok' ? String(j.kiln.buildMs) : '–',
        j.ort.status === 'ok' ? String(j.ort.buildMs) : '–',
        `${n(j.kiln)}/${n(j.ort)}`,
      ]),
    );
  }
  lines.push('');

  lines.push('## Summary', '');
  for (const [key, s] of Object.entries(results.summary)) {
    if (s.models.length === 0) continue;
    lines.push(
      `- ${key.replace('batch', 'batch ')}: geometric mean of kiln/ORT over ${s.models.length} models (${s.models.join(', ')}): **${ratio(s.geomeanCompute)}** compute, ${ratio(s.geomeanEndToEnd)} end to end`,
    );
  }
  const failures = jobs.flatMap((j) =>
    ['kiln', 'ort']
      .filter((r) => j[r].status !== 'ok')
      .map(
        (r) =>
          `- ${j.model} batch ${j.batch}: ${r === 'ort' ? 'ORT' : r} not run: ${oneLine(j[r].error)}`,
      ),
  );
  const skipped = results.skipped.map(
    (/** @type {any} */ s) =>
      `- ${s.id}${s.batch === undefined ? '' : ` batch ${s.batch}`}: skipped: ${s.reason}`,
  );
  if (failures.length + skipped.length > 0) {
    lines.push('', '## Not run', '', ...failures, ...skipped);
  }
  lines.push('');
  return lines.join('\n');
}
