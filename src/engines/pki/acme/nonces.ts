/**
 * Anti-replay nonces (RFC 8555 §6.5), kept in the mount's storage so that every node of a cluster accepts
 * the nonces any node handed out. A nonce is used once: consuming it deletes it inside one transaction, so
 * of two requests racing with the same nonce exactly one finds it. Unused nonces expire; tidy (tidy_acme)
 * removes the expired ones.
 */
import { randomBytes } from "node:crypto";
import type { KeyValueStore } from "../../../storage/storage.js";
import { AK, getAcme, putAcme } from "./acme-store.js";

/** How long an issued nonce stays usable. */
export const NONCE_TTL_MS = 15 * 60 * 1000;

interface NonceRecord {
  expires: number;
}

/** base64url of 128 random bits: the alphabet RFC 8555 §6.5.1 requires. */
export async function issueNonce(storage: KeyValueStore, now = Date.now()): Promise<string> {
  const nonce = randomBytes(16).toString("base64url");
  await putAcme(storage, AK.nonce(nonce), { expires: now + NONCE_TTL_MS } satisfies NonceRecord);
  return nonce;
}

/** True when `nonce` was issued, not yet used and not expired; it is used up either way. */
export async function consumeNonce(storage: KeyValueStore, nonce: string, now = Date.now()): Promise<boolean> {
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(nonce)) return false;
  return storage.transaction(async (txn) => {
    const rec = await getAcme<NonceRecord>(txn, AK.nonce(nonce));
    if (!rec) return false;
    await txn.delete(AK.nonce(nonce));
    return rec.expires > now;
  });
}

/** Deletes expired nonces (tidy_acme); returns how many. */
export async function tidyNonces(storage: KeyValueStore, now = Date.now()): Promise<number> {
  let removed = 0;
  for (const n of await storage.list(AK.nonces)) {
    const rec = await getAcme<NonceRecord>(storage, AK.nonce(n));
    if (rec && rec.expires <= now) {
      await storage.delete(AK.nonce(n));
      removed++;
    }
  }
  return removed;
}
