import { invalidParameterError } from '@kiln/core';

/**
 * The percentile threshold of a histogram of |x| (see Histogram): the upper edge of the first
 * bin at which the cumulative count reaches `percentile`% of the total (99.99 is a common choice).
 * 0 for an empty histogram.
 */
export function percentileThreshold(
  counts: ArrayLike<number>,
  binWidth: number,
  percentile: number,
): number {
  if (typeof percentile !== 'number' || !(percentile > 0 && percentile <= 100)) {
    throw invalidParameterError('percentile', 'a number in (0, 100]', percentile);
  }
  if (typeof binWidth !== 'number' || !(binWidth >= 0) || !Number.isFinite(binWidth)) {
    throw invalidParameterError('binWidth', 'a finite number >= 0', binWidth);
  }
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return 0;
  const target = (percentile / 100) * total;
  let cumulative = 0;
  for (let i = 0; i < counts.length; i++) {
    cumulative += counts[i]!;
    if (cumulative >= target) return (i + 1) * binWidth;
  }
  return counts.length * binWidth;
}
