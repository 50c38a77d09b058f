/**
 * Percentiles by linear interpolation between closest ranks (Hyndman & Fan type 7: numpy's default
 * `np.percentile(..., method="linear")`, Excel's PERCENTILE.INC). Chosen over nearest-rank because
 * the v4.5.1 server computed its p95s with numpy, and because on small samples (a personal server
 * sees tens of requests) it moves smoothly instead of jumping from one sample to the next.
 *
 * For sorted x[0..n-1] and p in [0, 100]: h = (n - 1) * p / 100, result = x[floor(h)] + (h - floor(h))
 * * (x[floor(h) + 1] - x[floor(h)]). An empty sample has no percentile: null, never 0.
 */

/** Percentile `p` (0..100) of an ascending-sorted sample; null when the sample is empty. */
export function percentile(sortedAscending: readonly number[], p: number): number | null {
  const n = sortedAscending.length;
  if (n === 0) return null;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within [0, 100], got ${p}`);
  const h = ((n - 1) * p) / 100;
  const lowerIndex = Math.floor(h);
  const lower = sortedAscending[lowerIndex] as number;
  const upper = sortedAscending[Math.min(lowerIndex + 1, n - 1)] as number;
  return lower + (h - lowerIndex) * (upper - lower);
}

/** Sorts a copy once (numeric order, not JavaScript's default string order) for several percentile reads. */
export function sortedAscending(values: Iterable<number>): number[] {
  // A typed array sorts numerically by default, faster than Array#sort with a comparator.
  return Array.from(Float64Array.from(values).sort());
}
