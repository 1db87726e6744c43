/**
 * `tidy` with `tidy_acme` (OpenBao's semantics): orders go `safety_buffer` after their certificate expires,
 * or once they expired without one, with their authorizations; a valid account older than
 * `acme_account_safety_buffer` with no orders left is marked revoked; a revoked or deactivated account is
 * deleted `acme_account_safety_buffer` after that change. Expired nonces go too.
 */
import type { KeyValueStore } from "../../../storage/storage.js";
import { getRecord, K, type CertEntry } from "../pki-store.js";
import { AK, getAcme, putAcme, type AccountRecord, type OrderRecord } from "./acme-store.js";
import { tidyNonces } from "./nonces.js";

export interface AcmeTidyCounts {
  acme_orders_deleted_count: number;
  acme_account_revoked_count: number;
  acme_account_deleted_count: number;
  acme_nonces_deleted_count: number;
  total_acme_account_count: number;
}

export async function tidyAcme(storage: KeyValueStore, safetyBufferS: number, accountBufferS: number, now = Date.now()): Promise<AcmeTidyCounts> {
  const counts: AcmeTidyCounts = { acme_orders_deleted_count: 0, acme_account_revoked_count: 0, acme_account_deleted_count: 0, acme_nonces_deleted_count: 0, total_acme_account_count: 0 };
  const liveOrdersOf = new Map<string, number>();
  for (const id of await storage.list(AK.orders)) {
    const o = await getAcme<OrderRecord>(storage, AK.order(id));
    if (!o) continue;
    const cert = o.certSerial ? await getRecord<CertEntry>(storage, K.cert(o.certSerial)) : undefined;
    const stale = o.certSerial ? !cert || cert.notAfter * 1000 + safetyBufferS * 1000 < now : o.expires < now;
    if (!stale) {
      liveOrdersOf.set(o.accountId, (liveOrdersOf.get(o.accountId) ?? 0) + 1);
      continue;
    }
    await storage.transaction(async (txn) => {
      for (const a of o.authzIds) await txn.delete(AK.authz(a));
      if (o.certSerial) await txn.delete(AK.issued(o.certSerial));
      await txn.delete(AK.order(o.id));
      await txn.delete(AK.accountOrder(o.accountId, o.id));
    });
    counts.acme_orders_deleted_count++;
  }
  for (const id of await storage.list(AK.accounts)) {
    const a = await getAcme<AccountRecord>(storage, AK.account(id));
    if (!a) continue;
    counts.total_acme_account_count++;
    const since = a.statusChangedAt ?? a.createdAt;
    if (a.status === "valid") {
      if (a.createdAt + accountBufferS * 1000 < now && !liveOrdersOf.has(a.id)) {
        await putAcme(storage, AK.account(a.id), { ...a, status: "revoked", statusChangedAt: now } satisfies AccountRecord);
        counts.acme_account_revoked_count++;
      }
    } else if (since + accountBufferS * 1000 < now) {
      await storage.transaction(async (txn) => {
        await txn.delete(AK.account(a.id));
        const owner = await getAcme<{ accountId: string }>(txn, AK.thumbprint(a.thumbprint));
        if (owner?.accountId === a.id) await txn.delete(AK.thumbprint(a.thumbprint));
      });
      counts.acme_account_deleted_count++;
    }
  }
  counts.acme_nonces_deleted_count = await tidyNonces(storage, now);
  return counts;
}
