/**
 * HYOK sync: the customer owns a HYOK key's availability, so the engine probes each one (from the periodic
 * hook, at most every `hyok_sync_interval`, a mount option, default 1m) and follows what it finds:
 *   ENABLED  → FORBIDDEN  access withdrawn (token revoked, policy changed, key deleted or replaced, object gone,
 *                         grant withdrawn, PIN changed)
 *   ENABLED  → UNKNOWN    the customer's store does not answer
 *   FORBIDDEN/UNKNOWN → ENABLED  when the probe succeeds again
 * The chain refuses every unwrap beneath a FORBIDDEN or UNKNOWN key (chain.ts checkUsable), and moving a key
 * there drops the plaintext cache first, so nothing already unwrapped keeps serving. States an operator set
 * (DISABLED, REVOKED, PENDING_DELETION, DELETED) are never touched by the sync.
 */
import { parseDuration } from "../../core/framework/duration.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { announceUsable, openKeystore, type KeychainEnv } from "./keychain-env.js";
import type { ProbeResult } from "./keystore.js";
import { now, records, type KeyRecord, type KeyState } from "./records.js";

export const DEFAULT_HYOK_SYNC_INTERVAL_S = 60;

/** States the sync owns: the ones a probe result can move between. */
const SYNCED: readonly KeyState[] = ["ENABLED", "FORBIDDEN", "UNKNOWN"];

/** The mount option `hyok_sync_interval` in seconds (a bad value keeps the default). */
export function hyokSyncInterval(options: Record<string, string> | null | undefined): number {
  const raw = options?.hyok_sync_interval;
  if (raw === undefined || raw === "") return DEFAULT_HYOK_SYNC_INTERVAL_S;
  try {
    return parseDuration(raw);
  } catch {
    return DEFAULT_HYOK_SYNC_INTERVAL_S;
  }
}

/** Probes one HYOK key's primary version and records the state it found; returns the new state. */
export async function syncKey(env: KeychainEnv, storage: KeyValueStore, key: KeyRecord): Promise<KeyState> {
  const version = key.versions[String(key.primary_version)];
  if (!version) return key.state;
  let found: ProbeResult;
  try {
    found = await (await openKeystore(env, storage, key.keystore)).probe(version.ref);
  } catch {
    found = "UNKNOWN";
  }
  if (found === key.state) return found;
  // Drop plaintext before the state says so: from here on nothing beneath may be served from memory.
  if (found !== "ENABLED") env.cache.clear();
  let changed: KeyState | undefined;
  try {
    changed = await storage.transaction(async (txn) => {
      const k = await records.key(txn, key.name);
      // An operator's change (revoke, disable, delete) since we read the key wins.
      if (!k || k.id !== key.id || !SYNCED.includes(k.state) || k.state === found) return undefined;
      const from = k.state;
      k.state = found;
      k.updated_at = now();
      await records.putKey(txn, k);
      return from;
    });
  } finally {
    // The chain reads key records through the record cache: the new state must be what it reads next.
    env.records.changed();
  }
  if (changed !== undefined) env.logger.info({ key_name: key.name, from: changed, to: found }, "keychain: HYOK key state changed by sync");
  if (changed !== undefined && found === "ENABLED") await announceUsable(env, key.name);
  return found;
}

/** Runs the sync when its interval has passed (per mount: one instance per backend). */
export class HyokSync {
  private lastRun = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly env: KeychainEnv,
    private readonly intervalSeconds: () => number,
  ) {}

  async runIfDue(storage: KeyValueStore, at: Date): Promise<void> {
    if (at.getTime() - this.lastRun < this.intervalSeconds() * 1000) return;
    this.lastRun = at.getTime();
    for (const name of await records.listKeys(storage)) {
      const key = await records.key(storage, name);
      if (!key || key.origin !== "hyok" || !SYNCED.includes(key.state)) continue;
      try {
        await syncKey(this.env, storage, key);
      } catch (err) {
        this.env.logger.warn({ key_name: name, error: err instanceof Error ? err.message : String(err) }, "keychain: HYOK sync failed");
      }
    }
  }
}
