/** Latency statistics shared by the in-process benches (the HTTP ones take theirs from wrk). */
import { performance } from "node:perf_hooks";

/** The p-th percentile of ascending-sorted samples (nearest rank); NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

/** One case of an in-process bench: completed operations per second and latency percentiles in ms. */
export interface BenchResult {
  name: string;
  ops: number;
  p50: number;
  p99: number;
}

export interface ClosedLoopOptions {
  seconds: number;
  /** Workers each running `op` back to back (operations in flight). */
  concurrency: number;
  /** Sequential calls before the clock starts (JIT, caches). */
  warmup: number;
}

/**
 * Runs `op` in a closed loop for `seconds` with `concurrency` workers; `op(worker)` gets its worker's index
 * (0 .. concurrency-1) so a case can give each worker state of its own (an ACME account, say).
 */
export async function measureClosedLoop(name: string, op: (worker: number) => Promise<unknown>, opts: ClosedLoopOptions): Promise<BenchResult> {
  for (let i = 0; i < opts.warmup; i++) await op(i % opts.concurrency);
  const lat: number[] = [];
  const end = performance.now() + opts.seconds * 1000;
  let done = 0;
  const worker = async (w: number): Promise<void> => {
    while (performance.now() < end) {
      const t = performance.now();
      await op(w);
      lat.push(performance.now() - t);
      done++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { name, ops: done / secs, p50: percentile(lat, 50), p99: percentile(lat, 99) };
}
