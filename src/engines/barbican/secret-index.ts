/**
 * A creation-ordered index of a project's live secrets, so a plain list (no filters) reads one page of
 * records instead of every record of the project.
 *
 * STORAGE LAYOUT (forever; keys relative to the mount's view):
 *   index/secret/<created>_<id>     empty: one per live secret, sorting as Barbican lists (oldest first)
 *   index/secret-special/<id>       empty: the secret has an expiration or an ACL without project access,
 *                                   so whether a caller sees it is decided per record (lists then scan)
 *   index/secret-built              empty: the index covers every secret (written once, by the first list
 *                                   after an upgrade, from a full scan)
 * Cost: a plain list is one key listing (no decryption) and `limit` record reads; a create or delete writes
 * one more small key. Anything the index cannot answer exactly falls back to the full scan.
 */
import type { KeyValueStore } from "../../storage/storage.js";
import type { SecretRecord } from "./secret-record.js";

const ORDER = "index/secret/";
const SPECIAL = "index/secret-special/";
const BUILT = "index/secret-built";
const EMPTY = Buffer.alloc(0);

const orderKey = (s: Pick<SecretRecord, "created" | "id">): string => `${ORDER}${s.created}_${s.id}`;

/** Whether who sees the secret (or whether it is live at all) depends on more than the index holds. */
export const isSpecial = (s: SecretRecord): boolean => s.expiration !== null || (s.acl !== null && !s.acl.projectAccess);

/** After a secret was written: its place in the index and its special mark. */
export async function indexSecret(storage: KeyValueStore, s: SecretRecord, isNew: boolean): Promise<void> {
  if (isNew) await storage.put(orderKey(s), EMPTY);
  if (isSpecial(s)) await storage.put(`${SPECIAL}${s.id}`, EMPTY);
  else if (!isNew) await storage.delete(`${SPECIAL}${s.id}`);
}

/** After a secret was deleted. */
export async function unindexSecret(storage: KeyValueStore, s: Pick<SecretRecord, "created" | "id">): Promise<void> {
  await storage.delete(orderKey(s));
  await storage.delete(`${SPECIAL}${s.id}`);
}

/**
 * The ids of all live secrets in list order, when the index can answer exactly: it is built and no secret
 * is special. Undefined otherwise (the caller scans).
 */
export async function indexedIds(storage: KeyValueStore): Promise<string[] | undefined> {
  if ((await storage.get(BUILT)) === undefined) return undefined;
  if ((await storage.list(SPECIAL, { limit: 1 })).length > 0) return undefined;
  return (await storage.list(ORDER)).map((k) => k.slice(k.lastIndexOf("_") + 1));
}

/** Builds the index from a full scan's live secrets unless it exists (entries of concurrent creates stay). */
export async function ensureIndex(storage: KeyValueStore, live: SecretRecord[]): Promise<void> {
  if ((await storage.get(BUILT)) !== undefined) return;
  await storage.transaction(async (txn) => {
    for (const s of live) {
      await txn.put(orderKey(s), EMPTY);
      if (isSpecial(s)) await txn.put(`${SPECIAL}${s.id}`, EMPTY);
    }
    await txn.put(BUILT, EMPTY);
  });
}
