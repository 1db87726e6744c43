/**
 * Anti-replay nonces (RFC 8555 §6.5). A nonce is minted without a write — expiry, randomness and an HMAC
 * under the mount's nonce key (kept in the mount's storage, so every node of a cluster accepts any node's
 * nonces) — so that unauthenticated HEAD/GET floods store nothing. Using one stores it in the used set inside
 * one transaction: of two requests racing with the same nonce exactly one finds it unused. Used entries
 * expire with the nonce; tidy (tidy_acme) removes them.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { KeyValueStore } from "../../../storage/storage.js";
import { AK, getAcme, putAcme } from "./acme-store.js";

/** How long an issued nonce stays usable. */
export const NONCE_TTL_MS = 15 * 60 * 1000;

const EXPIRY_BYTES = 8;
const RANDOM_BYTES = 8;
const MAC_BYTES = 16;
const NONCE_BYTES = EXPIRY_BYTES + RANDOM_BYTES + MAC_BYTES;

interface UsedNonce {
  expires: number;
}

/** The mount's nonce key, read (or made) once per backend instance. */
export class NonceKeys {
  private key: Promise<Buffer> | undefined;

  get(storage: KeyValueStore): Promise<Buffer> {
    this.key ??= storage
      .transaction(async (txn) => {
        const existing = await getAcme<{ key: string }>(txn, AK.nonceKey);
        if (existing) return Buffer.from(existing.key, "base64");
        const key = randomBytes(32);
        await putAcme(txn, AK.nonceKey, { key: key.toString("base64") });
        return key;
      })
      .catch((err: unknown) => {
        this.key = undefined;
        throw err;
      });
    return this.key;
  }
}

function mac(key: Buffer, body: Buffer): Buffer {
  return createHmac("sha256", key).update(body).digest().subarray(0, MAC_BYTES);
}

/** base64url (RFC 8555 §6.5.1) of expiry ‖ random ‖ HMAC. */
export async function issueNonce(storage: KeyValueStore, keys: NonceKeys, now = Date.now()): Promise<string> {
  const body = Buffer.alloc(EXPIRY_BYTES + RANDOM_BYTES);
  body.writeBigUInt64BE(BigInt(now + NONCE_TTL_MS), 0);
  randomBytes(RANDOM_BYTES).copy(body, EXPIRY_BYTES);
  return Buffer.concat([body, mac(await keys.get(storage), body)]).toString("base64url");
}

/** True when `nonce` is ours, unexpired and not used before; it is used up by this call. */
export async function consumeNonce(storage: KeyValueStore, keys: NonceKeys, nonce: string, now = Date.now()): Promise<boolean> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(nonce)) return false;
  const raw = Buffer.from(nonce, "base64url");
  if (raw.length !== NONCE_BYTES) return false;
  const body = raw.subarray(0, EXPIRY_BYTES + RANDOM_BYTES);
  if (!timingSafeEqual(raw.subarray(EXPIRY_BYTES + RANDOM_BYTES), mac(await keys.get(storage), body))) return false;
  const expires = Number(raw.readBigUInt64BE(0));
  if (expires <= now) return false;
  return storage.transaction(async (txn) => {
    if (await txn.get(AK.usedNonce(nonce))) return false;
    await putAcme(txn, AK.usedNonce(nonce), { expires } satisfies UsedNonce);
    return true;
  });
}

/** Deletes used-nonce entries whose nonces have expired anyway (tidy_acme); returns how many. */
export async function tidyNonces(storage: KeyValueStore, now = Date.now()): Promise<number> {
  let removed = 0;
  for (const n of await storage.list(AK.usedNonces)) {
    const rec = await getAcme<UsedNonce>(storage, AK.usedNonce(n));
    if (rec && rec.expires <= now) {
      await storage.delete(AK.usedNonce(n));
      removed++;
    }
  }
  return removed;
}
