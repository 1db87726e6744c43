/**
 * Per-project quotas (`config/quotas`): -1 (or unset) is unlimited, 0 forbids. Barbican's names: secrets,
 * orders, containers, consumers, cas.
 */
import type { KeyValueStore } from "../../storage/storage.js";
import { getJson } from "../../core/view.js";
import { BarbicanError } from "./barbican-error.js";

export const QUOTA_NAMES = ["secrets", "orders", "containers", "consumers", "cas"] as const;
export type QuotaName = (typeof QUOTA_NAMES)[number];
export type Quotas = Partial<Record<QuotaName, number>>;

export const QUOTAS_KEY = "config/quotas";

export async function loadQuotas(storage: KeyValueStore): Promise<Quotas | undefined> {
  return getJson<Quotas>(storage, QUOTAS_KEY);
}

/**
 * The project's quotas as this mount last read or wrote them. Every create checks them, and most projects
 * have none: without the cache each create paid a storage read (a miss, which the barrier's read cache does
 * not keep). Only this mount's `project-quota` path writes the key, and it goes through `set`; on another
 * node of an HA cluster the mount's `invalidate` hook calls `forget`.
 */
export class QuotaCache {
  private known: { value: Quotas | undefined } | undefined;

  async get(storage: KeyValueStore): Promise<Quotas | undefined> {
    this.known ??= { value: await loadQuotas(storage) };
    return this.known.value;
  }

  /** Read again on next use: another node wrote the key. */
  forget(): void {
    this.known = undefined;
  }

  /** After a write (`undefined`: deleted). */
  set(value: Quotas | undefined): void {
    this.known = { value };
  }
}

/** Refuses a create that would take `name` past the project's quota (`count` is what exists now). */
export async function checkQuota(storage: KeyValueStore, name: QuotaName, count: () => Promise<number>, cache?: QuotaCache): Promise<void> {
  const q = (cache ? await cache.get(storage) : await loadQuotas(storage))?.[name];
  if (q === undefined || q < 0) return;
  if ((await count()) >= q) {
    throw new BarbicanError("permission_denied", `Creation not allowed because a quota has been reached. Quota for ${name} is ${q}.`);
  }
}
