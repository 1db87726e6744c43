/**
 * Barbican's timestamps: Python's naive `datetime.isoformat()` in UTC — microseconds when non-zero, never a
 * zone suffix (`2026-11-22T08:51:16.151956`, `2099-01-01T00:00:00`). Clients parse them as UTC.
 */
import { badRequest } from "./barbican-error.js";

/** `at` as Python's naive isoformat; `micros` (0–999) refines the millisecond clock so stamps stay distinct. */
export function pyIsoformat(at: Date, micros = 0): string {
  const base = at.toISOString().slice(0, 19);
  const us = at.getUTCMilliseconds() * 1000 + micros;
  return us === 0 ? base : `${base}.${String(us).padStart(6, "0")}`;
}

let lastMs = 0;
let sub = 0;
/** Now, with a sub-millisecond counter so two records made in one millisecond keep their order. */
export function nowStamp(): string {
  const now = Date.now();
  if (now === lastMs) sub = Math.min(sub + 1, 999);
  else {
    lastMs = now;
    sub = 0;
  }
  return pyIsoformat(new Date(now), sub);
}

/** Offset-free ISO-8601 inputs are UTC (as Barbican reads them). */
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}:?\d{2})?$/;

/** Parses a client's expiration; undefined for null. Throws Barbican's 400 for garbage or the past. */
export function parseExpiration(raw: unknown, schema: string): string | null {
  if (raw === null || raw === undefined || raw === "") return null;
  if (typeof raw !== "string" || !ISO.test(raw.trim())) throw badRequest(`Invalid date for 'expiration'`);
  let text = raw.trim().replace(" ", "T");
  if (!/(?:Z|[+-]\d{2}:?\d{2})$/.test(text)) text += "Z";
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) throw badRequest(`Invalid date for 'expiration'`);
  if (at.getTime() <= Date.now()) {
    throw badRequest(`Provided object does not match schema '${schema}': 'expiration' is before current time. Invalid property: 'expiration'`);
  }
  const fraction = /\.(\d{1,6})/.exec(text)?.[1] ?? "";
  const micros = Number(fraction.padEnd(6, "0").slice(3)) || 0;
  return pyIsoformat(at, micros);
}

/** Whether a stored naive expiration has passed. */
export function isExpired(expiration: string | null, now = Date.now()): boolean {
  return expiration !== null && new Date(`${expiration}Z`).getTime() <= now;
}
