/**
 * Durations as OpenBao accepts them: integer seconds (number or numeric string) or Go duration
 * strings, including compound ones such as "2160h0m0s" (cert-manager sends time.Duration.String()),
 * plus a "d" (day) unit. Results are whole seconds.
 */
const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  "µs": 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
};

const GO_DURATION = /^(\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g;

export class DurationError extends Error {}

export function parseDuration(input: unknown): number {
  if (typeof input === "number") {
    if (!Number.isFinite(input)) throw new DurationError("invalid duration");
    return Math.trunc(input);
  }
  if (typeof input !== "string") throw new DurationError("invalid duration");
  let s = input.trim();
  if (s === "") return 0;
  let sign = 1;
  if (s.startsWith("-") || s.startsWith("+")) {
    sign = s.startsWith("-") ? -1 : 1;
    s = s.slice(1);
  }
  if (/^\d+$/.test(s)) return sign * Number(s);
  if (s === "0") return 0;
  if (!GO_DURATION.test(s)) throw new DurationError(`invalid duration "${input.slice(0, 64)}"`);
  let total = 0;
  for (const m of s.matchAll(PART)) total += Number(m[1]) * UNIT_SECONDS[m[2]];
  if (!Number.isFinite(total) || total > 2 ** 53) throw new DurationError("duration out of range");
  return sign * Math.trunc(total);
}

/** Go's time.Duration.String() for whole seconds, e.g. 9000 → "2h30m0s". */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return "0s";
  const neg = seconds < 0;
  let s = Math.abs(Math.trunc(seconds));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const out = h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
  return neg ? `-${out}` : out;
}
