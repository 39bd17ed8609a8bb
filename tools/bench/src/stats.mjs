// Order statistics of latency samples, and the per-round ratio the report leads with.

/**
 * The q-quantile (0..1) of `samples` by the nearest-rank method: a value that was actually
 * measured, never an interpolation between two. With fewer than 1/(1-q) samples the p-th
 * percentile is the maximum, which the report shows as measured.
 * @param {readonly number[]} samples
 * @param {number} q
 * @returns {number}
 */
export function quantile(samples, q) {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * The median; the mean of the two middle values for an even count (so that the median of
 * per-round ratios over an even number of rounds does not favour either runtime).
 * @param {readonly number[]} samples
 * @returns {number}
 */
export function median(samples) {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Median, p90 and p99 of latency samples in milliseconds.
 * @param {readonly number[]} samples
 * @returns {{ n: number, median: number, p90: number, p99: number, min: number }}
 */
export function summarize(samples) {
  return {
    n: samples.length,
    median: median(samples),
    p90: quantile(samples, 0.9),
    p99: quantile(samples, 0.99),
    min: samples.length === 0 ? Number.NaN : Math.min(...samples),
  };
}

/**
 * kiln/ORT as the median of per-round ratios: each round's kiln median over the same round's
 * ORT median. Both ran moments apart, so load that drifts over the run (other processes on the
 * machine) cancels within a round instead of biasing pooled medians.
 * @param {readonly number[]} kilnRoundMedians
 * @param {readonly number[]} ortRoundMedians
 * @returns {{ perRound: number[], ratio: number }}
 */
export function roundRatio(kilnRoundMedians, ortRoundMedians) {
  if (kilnRoundMedians.length !== ortRoundMedians.length)
    throw new Error(
      `per-round medians differ in count: kiln ${kilnRoundMedians.length}, ORT ${ortRoundMedians.length}`,
    );
  const perRound = kilnRoundMedians.map((k, i) => k / ortRoundMedians[i]);
  return { perRound, ratio: median(perRound) };
}

/**
 * The geometric mean of positive numbers (NaN when there are none).
 * @param {readonly number[]} values
 * @returns {number}
 */
export function geometricMean(values) {
  if (values.length === 0) return Number.NaN;
  return Math.exp(values.reduce((s, v) => s + Math.log(v), 0) / values.length);
}
