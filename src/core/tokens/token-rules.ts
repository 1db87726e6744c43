/**
 * Policy-set and TTL rules shared by every way a token is made (token store, auth methods), after
 * OpenBao's sdk/helper/policyutil, strutil and framework.CalculateTTL.
 */
import { ArcaError } from "../../common/errors.js";
import { formatDuration } from "../framework/duration.js";

const badRequest = (msg: string): ArcaError => new ArcaError("invalid_request", msg);

// ---- policy helpers (sdk/helper/policyutil, strutil) ---------------------------------------------

/** policyutil.SanitizePolicies: lower-case, trim, drop empties, `root` swallows the rest, sorted unique. */
export function sanitizePolicies(policies: readonly string[], addDefault: boolean): string[] {
  let out: string[] = [];
  let defaultFound = false;
  for (const raw of policies) {
    const p = raw.trim().toLowerCase();
    if (p === "") continue;
    if (p === "root") {
      out = ["root"];
      defaultFound = true;
      break;
    }
    if (p === "default") defaultFound = true;
    out.push(p);
  }
  if (addDefault && !defaultFound) out.push("default");
  return removeDuplicates(out);
}

/** strutil.RemoveDuplicates(items, lowercase=true): trimmed, lower-cased, sorted, unique, no empties. */
export function removeDuplicates(items: readonly string[]): string[] {
  return [...new Set(items.map((i) => i.trim().toLowerCase()).filter((i) => i !== ""))].sort();
}

/** strutil.GlobbedStringsMatch: `*` at either end of the pattern only. */
function globMatches(pattern: string, value: string): boolean {
  if (pattern === "*") return true;
  const pre = pattern.startsWith("*");
  const suf = pattern.endsWith("*");
  const core = pattern.slice(pre ? 1 : 0, suf ? -1 : undefined);
  if (pre && suf) return value.includes(core);
  if (pre) return value.endsWith(core);
  if (suf) return value.startsWith(core);
  return value === pattern;
}

export const containsGlob = (patterns: readonly string[], value: string): boolean => patterns.some((p) => globMatches(p, value));

// ---- TTLs (sdk/framework.CalculateTTL) ------------------------------------------------------------

/** Go's time.Duration.String() without trailing zero units, as OpenBao's warnings print it. */
export function humanDuration(seconds: number): string {
  let s = formatDuration(seconds);
  if (s.endsWith("m0s")) s = s.slice(0, -2);
  const idx = s.indexOf("h0m");
  if (idx > 0) s = s.slice(0, idx + 1) + s.slice(idx + 3);
  return s;
}

interface TtlInput {
  increment: number;
  backendTtl: number;
  period: number;
  backendMaxTtl: number;
  explicitMaxTtl: number;
  /** Unix seconds the lease started (creation time). */
  start: number;
  sysMaxTtl: number;
  sysDefaultTtl: number;
}

/** framework.CalculateTTL: the lease TTL and its warnings; all values in seconds. */
export function calculateTtl(i: TtlInput): { ttl: number; warnings: string[] } {
  const now = Math.floor(Date.now() / 1000);
  const warnings: string[] = [];
  let maxTtl = i.sysMaxTtl;
  if (i.backendMaxTtl > 0 && i.backendMaxTtl < maxTtl) maxTtl = i.backendMaxTtl;
  if (i.explicitMaxTtl > 0 && i.explicitMaxTtl < maxTtl) maxTtl = i.explicitMaxTtl;
  if (maxTtl <= 0) throw new ArcaError("internal", "max TTL must be greater than zero");

  let ttl: number;
  let maxValid: number | undefined;
  if (i.period > 0) {
    let period = i.period;
    if (period > maxTtl) {
      warnings.push(`period of "${humanDuration(period)}" exceeded the effective max_ttl of "${humanDuration(maxTtl)}"; period value is capped accordingly`);
      period = maxTtl;
    }
    ttl = period;
    if (i.explicitMaxTtl > 0) maxValid = i.start + i.explicitMaxTtl;
  } else {
    ttl = i.increment > 0 ? i.increment : i.backendTtl > 0 ? i.backendTtl : i.sysDefaultTtl;
    maxValid = i.start + maxTtl;
  }
  if (maxValid !== undefined) {
    const left = maxValid - now;
    if (left <= 0) throw badRequest("past the max TTL, cannot renew");
    if (left < ttl) {
      warnings.push(`TTL of "${humanDuration(ttl)}" exceeded the effective max_ttl of "${humanDuration(left)}"; TTL value is capped accordingly`);
      ttl = left;
    }
  }
  return { ttl, warnings };
}

