import { expectInteger, invalidParameterError } from '@kiln/core';

/** Tuning of the KL-divergence threshold search. */
export interface EntropyOptions {
  /** Quantized levels the kept range is squeezed into: 128 for INT8 (the sign is separate). */
  quantizedBins?: number;
  /** First candidate count of kept bins; defaults to quantizedBins. */
  startBin?: number;
  /** Step between candidates (1 tries every count). */
  stride?: number;
  /**
   * Probability given to bins where Q is 0 but P is not (taken proportionally from Q's other
   * bins), so clipping into an empty bin scores finite; default 1e-4, 0 disables it.
   */
  smoothing?: number;
}

/** The result of an entropy search: the chosen threshold and the KL divergence at each candidate. */
export interface EntropyResult {
  /** The clipping threshold (amax): the upper edge of the last kept bin. */
  amax: number;
  /** Bins kept below the threshold. */
  keptBins: number;
  /** KL(P || Q) for each candidate kept-bin count, in the order tried. */
  divergences: { keptBins: number; divergence: number }[];
}

/**
 * KL(P || Q) of two unnormalized distributions over the same bins: each is normalized, and terms
 * with p = 0 add nothing. Infinity when some q = 0 where p > 0.
 */
export function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length) {
    throw invalidParameterError('q', `a distribution of ${p.length} bins like p`, q.length);
  }
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i]!;
    sq += q[i]!;
  }
  if (sp <= 0 || sq <= 0) return Infinity;
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]! / sp;
    if (pi === 0) continue;
    const qi = q[i]! / sq;
    if (qi === 0) return Infinity;
    kl += pi * Math.log(pi / qi);
  }
  return kl;
}

/**
 * The candidate distribution Q of `counts` squeezed into `levels` levels and expanded back: the
 * bins are split into groups (group j holds bins [floor(j*n/levels), floor((j+1)*n/levels))),
 * and each group's total count is spread evenly over the bins where `support` (default: counts)
 * is non-zero; the other bins stay 0.
 */
export function quantizeBins(
  counts: ArrayLike<number>,
  levels: number,
  support: ArrayLike<number> = counts,
): Float64Array {
  const n = counts.length;
  expectInteger('levels', levels, 1, Math.max(1, n));
  if (support.length !== n) {
    throw invalidParameterError('support', `${n} bins like counts`, support.length);
  }
  const q = new Float64Array(n);
  for (let j = 0; j < levels; j++) {
    const start = Math.floor((j * n) / levels);
    const end = Math.floor(((j + 1) * n) / levels);
    let sum = 0;
    let nonEmpty = 0;
    for (let i = start; i < end; i++) {
      sum += counts[i]!;
      if (support[i]! !== 0) nonEmpty++;
    }
    if (nonEmpty === 0) continue;
    const share = sum / nonEmpty;
    for (let i = start; i < end; i++) if (support[i]! !== 0) q[i] = share;
  }
  return q;
}

/**
 * TensorRT-style entropy calibration over a histogram of |x| (see Histogram): for every
 * candidate count of kept bins i, P is the first i bins with every count beyond folded into bin
 * i-1 (clipping), Q is those i bins (without the clipped counts) squeezed into `quantizedBins`
 * levels and spread back over the bins where P is non-zero (quantizeBins); the i with the
 * smallest KL(P || Q) wins (the first on ties), and amax = i * binWidth. Where Q is 0 but P
 * is not, Q is smoothed first (see EntropyOptions.smoothing), as TensorRT and MXNet do: without
 * it every candidate that clips an outlier into an empty bin would score Infinity.
 */
export function entropyThreshold(
  counts: ArrayLike<number>,
  binWidth: number,
  options: EntropyOptions = {},
): EntropyResult {
  const bins = counts.length;
  if (typeof binWidth !== 'number' || !(binWidth > 0) || !Number.isFinite(binWidth)) {
    throw invalidParameterError('binWidth', 'a finite number > 0', binWidth);
  }
  const levels = expectInteger('options.quantizedBins', options.quantizedBins ?? 128, 1);
  if (bins < levels) {
    throw invalidParameterError('counts', `at least ${levels} bins (options.quantizedBins)`, bins);
  }
  const start = expectInteger('options.startBin', options.startBin ?? levels, levels, bins);
  const stride = expectInteger('options.stride', options.stride ?? 1, 1);
  const smoothing = options.smoothing ?? 1e-4;
  if (typeof smoothing !== 'number' || !(smoothing >= 0 && smoothing < 1)) {
    throw invalidParameterError('options.smoothing', 'a number in [0, 1)', smoothing);
  }

  const divergences: { keptBins: number; divergence: number }[] = [];
  let best = bins;
  let bestDivergence = Infinity;
  // Suffix sums give each candidate's clipped mass in O(1).
  const beyond = new Float64Array(bins + 1);
  for (let i = bins - 1; i >= 0; i--) beyond[i] = beyond[i + 1]! + counts[i]!;
  for (let kept = start; kept <= bins; kept += stride) {
    const head = Float64Array.from({ length: kept }, (_, i) => counts[i]!);
    const p = head.slice();
    p[kept - 1] = p[kept - 1]! + beyond[kept]!;
    const q = smooth(quantizeBins(head, levels, p), p, smoothing);
    const divergence = klDivergence(p, q);
    divergences.push({ keptBins: kept, divergence });
    if (divergence < bestDivergence) {
      bestDivergence = divergence;
      best = kept;
    }
  }
  return { amax: best * binWidth, keptBins: best, divergences };
}

/** Gives `eps` of Q's mass to each bin where Q is 0 and P is not, scaling the rest down. */
function smooth(q: Float64Array, p: ArrayLike<number>, eps: number): Float64Array {
  if (eps === 0) return q;
  let total = 0;
  let holes = 0;
  for (let i = 0; i < q.length; i++) {
    total += q[i]!;
    if (q[i] === 0 && p[i]! > 0) holes++;
  }
  if (holes === 0 || total === 0 || eps * holes >= 1) return q;
  const keep = (1 - eps * holes) / total;
  for (let i = 0; i < q.length; i++) q[i] = q[i] === 0 ? (p[i]! > 0 ? eps : 0) : q[i]! * keep;
  return q;
}
