/**
 * Timestamps as OpenBao renders them: Go's `time.RFC3339Nano` in UTC, i.e. nanoseconds with trailing zeros
 * trimmed ("2024-01-01T00:00:00.123456789Z", "2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00Z"). Clients
 * (hvac, the Go api, node-vault users) parse these strings, and some compare them textually across
 * versions, so we keep Go's exact shape rather than JavaScript's millisecond ISO form.
 */

let lastNs = 0n;

/** Wall-clock "now" in nanoseconds since the epoch, strictly increasing within this process. */
export function nowNs(): bigint {
  // Date.now() is only millisecond-precise. The sub-millisecond digits are taken from the monotonic clock:
  // they carry no wall-clock meaning, but they give Go's nine-digit shape and keep timestamps strictly
  // increasing, so two versions written in the same millisecond still order by created_time.
  let ns = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  if (ns <= lastNs) ns = lastNs + 1n;
  lastNs = ns;
  return ns;
}

/** Formats nanoseconds since the epoch like Go's `t.UTC().Format(time.RFC3339Nano)`. */
export function formatNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const base = new Date(ms).toISOString().slice(0, 19); // "YYYY-MM-DDTHH:MM:SS"
  const frac = (((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return frac === "" ? `${base}Z` : `${base}.${frac}Z`;
}

/** Nanoseconds since the epoch of a timestamp produced by formatNs, or undefined if it is not one. */
export function parseNs(text: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}Z`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

