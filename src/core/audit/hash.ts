/**
 * What audit devices write in place of secrets: `hmac-sha256:<hex>` of every string, keyed by the
 * device's salt (OpenBao's format, so `sys/audit-hash` lets an operator find a known value in a log).
 */
import { createHmac } from "node:crypto";

export function hmacString(salt: Buffer, value: string): string {
  return `hmac-sha256:${createHmac("sha256", salt).update(value).digest("hex")}`;
}

/**
 * Copies `value` with every string (at any depth) replaced by its HMAC, except under the keys in
 * `plainKeys` (a mount's audit_non_hmac_*_keys), which are copied as they are.
 */
export function hashStructure(salt: Buffer, value: unknown, plainKeys: ReadonlySet<string> = new Set()): unknown {
  if (typeof value === "string") return hmacString(salt, value);
  if (Array.isArray(value)) return value.map((v) => hashStructure(salt, v, plainKeys));
  if (value !== null && typeof value === "object") {
    if (Buffer.isBuffer(value)) return hmacString(salt, value.toString("base64"));
    // fromEntries defines own properties: a "__proto__" key is recorded like any other (assignment
    // would drop it from the entry while the engine stores it).
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, plainKeys.has(k) ? v : hashStructure(salt, v, plainKeys)]),
    );
  }
  return value;
}
