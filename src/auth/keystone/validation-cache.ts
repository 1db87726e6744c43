/**
 * Recent successful validations, so a burst of requests with one Keystone token costs one Keystone call.
 * Keyed by SHA-256 of the token, never the token: a heap dump shows which validations are cached, not
 * a credential. Bounded (oldest entry out first) and time-limited; a cached entry is also dropped once the
 * Keystone token itself has expired. Only successes are cached: a refused token is asked about again.
 */
import { createHash } from "node:crypto";
import type { KeystoneToken } from "./keystone-client.js";

const DEFAULT_MAX_ENTRIES = 10_000;

export function tokenDigest(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export class ValidationCache {
  private readonly entries = new Map<string, { value: KeystoneToken; until: number }>();

  constructor(private readonly maxEntries = DEFAULT_MAX_ENTRIES) {}

  get(token: string, now = Date.now()): KeystoneToken | undefined {
    const key = tokenDigest(token);
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (now >= hit.until || now >= hit.value.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.value;
  }

  /** Remembers `value` for `ttlMs` (0: not at all). */
  set(token: string, value: KeystoneToken, ttlMs: number, now = Date.now()): void {
    if (ttlMs <= 0) return;
    const key = tokenDigest(token);
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { value, until: now + ttlMs });
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
