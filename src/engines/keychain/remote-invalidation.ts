/**
 * What a write by another node under the mount (an HA cluster on shared storage; the engine's `invalidate`
 * hook) takes from this node's memory. Every record is read afresh; the plaintext cache goes the way the
 * same write makes it go on the node that made it, judged by the storage key and, for a key record, by the
 * record as it is stored now:
 *
 *   - index/…: links, written beside the records they link; nothing is derived from them.
 *   - systems/…, key-configurations/…: a deletion or a new wrapping. The affected ids are unknown here, so
 *     all plaintext is zeroed, without cutting off running requests (a local deletion's `drop` does not).
 *   - keys/<name> still ENABLED or DISABLED with no destroyed version (created, rotated, re-wrapped,
 *     disabled, enabled): plaintext zeroed, running requests go on — they check the L1 state themselves.
 *   - anything else (a key revoked, scheduled for deletion, deleted, forbidden, a version destroyed; a
 *     keystore or its software material; BYOK state; any key not known here; a record that cannot be
 *     read): as a local revoke, plaintext zeroed AND the generation moved, so that a kill switch thrown on
 *     another node also stops what is running here. Correctness first: the unsure case is the strict one.
 */
import type { KeyValueStore } from "../../storage/storage.js";
import type { KeychainEnv } from "./keychain-env.js";
import { records } from "./records.js";

async function keyStillUsable(storage: KeyValueStore, name: string): Promise<boolean> {
  try {
    const key = await records.key(storage, name);
    if (!key || (key.state !== "ENABLED" && key.state !== "DISABLED")) return false;
    return Object.values(key.versions).every((v) => v.destroyed_at === undefined);
  } catch {
    return false;
  }
}

/** `storage`: the mount's view, once the mount is live (before that, every key change is the strict case). */
export async function invalidateFromRemote(env: KeychainEnv, storage: KeyValueStore | undefined, key: string): Promise<void> {
  env.records.changed();
  if (key.startsWith("index/")) return;
  if (key.startsWith("systems/") || key.startsWith("key-configurations/")) {
    env.cache.dropAll();
    return;
  }
  if (key.startsWith("keys/") && storage && (await keyStillUsable(storage, key.slice("keys/".length)))) {
    env.cache.dropAll();
    return;
  }
  env.cache.clear();
}
