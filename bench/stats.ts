/** Latency statistics shared by the in-process benches (the HTTP ones take theirs from wrk). */

/** The p-th percentile of ascending-sorted samples (nearest rank); NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}
