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

/** Refuses a create that would take `name` past the project's quota (`count` is what exists now). */
export async function checkQuota(storage: KeyValueStore, name: QuotaName, count: () => Promise<number>): Promise<void> {
  const q = (await loadQuotas(storage))?.[name];
  if (q === undefined || q < 0) return;
  if ((await count()) >= q) {
    throw new BarbicanError("permission_denied", `Creation not allowed because a quota has been reached. Quota for ${name} is ${q}.`);
  }
}
