/**
 * Background work of the keychain engine, run from the `periodic` hook (and started at once by `rotate`):
 *   - re-wrap: after a rotation, every L2 under an older version of the L1 is unwrapped and wrapped again
 *     under the primary version, with progress in the key's `rewrap` record (shown on GET);
 *   - crypto-shredding: a key whose deletion window has passed has every version it owns destroyed in the
 *     keystore (and a byok key's unused import wrapping pair), then becomes DELETED. Nothing beneath can be
 *     unwrapped again;
 *   - configuration switches (PATCH key-configurations/:name {primary_key}) still running: config-switch.ts.
 */
import type { KeyValueStore } from "../../storage/storage.js";
import { l2Aad } from "./chain.js";
import { runPendingSwitches } from "./config-switch.js";
import { discardPendingImport } from "./path-byok.js";
import { openKeystore, type KeychainEnv } from "./keychain-env.js";
import { now, records, type KeyRecord } from "./records.js";

/** L2s re-wrapped per batch (keystore calls in flight at once, and one commit). */
const BATCH = 64;

/** Saves `update` applied to the freshest copy of the key (handlers may have changed its state meanwhile). */
async function updateKey(env: KeychainEnv, storage: KeyValueStore, name: string, id: string, update: (k: KeyRecord) => void): Promise<KeyRecord | undefined> {
  try {
    return await storage.transaction(async (txn) => {
      const k = await records.key(txn, name);
      if (!k || k.id !== id) return undefined;
      update(k);
      await records.putKey(txn, k);
      return k;
    });
  } finally {
    env.records.changed();
  }
}

/** One configuration's L2, unwrapped under its version and wrapped under `target` (no write yet). */
interface Rewrapped {
  name: string;
  id: string;
  fromVersion: number;
  wrapped: string;
}

async function rewrapOne(env: KeychainEnv, storage: KeyValueStore, key: KeyRecord, cfgName: string, target: number): Promise<Rewrapped | undefined> {
  const cfg = await records.config(storage, cfgName);
  if (!cfg || cfg.l1_id !== key.id || cfg.l1_version >= target) return undefined;
  const from = key.versions[String(cfg.l1_version)];
  const to = key.versions[String(target)];
  if (!from || !to) return undefined;
  const provider = await openKeystore(env, storage, key.keystore);
  const l2 = await provider.unwrap(from.ref, Buffer.from(cfg.wrapped, "base64"), l2Aad(key.id, cfg.l1_version, cfg.id));
  try {
    const wrapped = await provider.wrap(to.ref, l2, l2Aad(key.id, target, cfg.id));
    return { name: cfgName, id: cfg.id, fromVersion: cfg.l1_version, wrapped: wrapped.toString("base64") };
  } finally {
    l2.fill(0);
  }
}

/**
 * Re-wraps one batch: the keystore calls run concurrently, then one transaction stores every result whose
 * configuration did not change meanwhile, with the job's progress (one commit per batch, not per L2).
 */
async function rewrapBatch(env: KeychainEnv, storage: KeyValueStore, key: KeyRecord, names: string[], target: number, progress: { done: number; failed: number; total: number }): Promise<void> {
  const results = await Promise.allSettled(names.map((c) => rewrapOne(env, storage, key, c, target)));
  try {
    await storage.transaction(async (txn) => {
      for (const r of results) {
        if (r.status === "rejected") {
          progress.failed++;
          continue;
        }
        progress.done++;
        const out = r.value;
        if (!out) continue;
        const fresh = await records.config(txn, out.name);
        // Changed meanwhile (a PATCH to another L1, a delete): that change wins.
        if (!fresh || fresh.id !== out.id || fresh.l1_id !== key.id || fresh.l1_version !== out.fromVersion) continue;
        await records.putConfig(txn, { ...fresh, l1_version: target, wrapped: out.wrapped, updated_at: now() });
      }
      const k = await records.key(txn, key.name);
      if (k?.id === key.id && k.rewrap?.target_version === target) {
        Object.assign(k.rewrap, progress);
        await records.putKey(txn, k);
      }
    });
  } finally {
    env.records.changed();
  }
}

/** Runs the key's pending re-wrap job to the end (or until the key stops allowing it). */
export async function runRewrap(env: KeychainEnv, storage: KeyValueStore, name: string): Promise<void> {
  if (env.running.has(name)) return;
  env.running.add(name);
  try {
    const key = await records.key(storage, name);
    const job = key?.rewrap;
    if (!key || !job || job.state !== "running") return;
    const names = await records.configsOfKey(storage, key.id);
    const progress = { done: 0, failed: 0, total: names.length };
    for (let i = 0; i < names.length; i += BATCH) {
      const current = await records.key(storage, name);
      // Revoked, disabled for deletion, or re-created: the job waits for the key to allow unwrapping again.
      if (!current || current.id !== key.id || (current.state !== "ENABLED" && current.state !== "DISABLED")) return;
      await rewrapBatch(env, storage, key, names.slice(i, i + BATCH), job.target_version, progress);
    }
    await updateKey(env, storage, name, key.id, (k) => {
      if (k.rewrap?.target_version !== job.target_version) return;
      // Failures stay "running": the next periodic run tries them again.
      Object.assign(k.rewrap, progress, { state: progress.failed === 0 ? "done" : "running" }, progress.failed === 0 ? { finished_at: now() } : {});
    });
  } finally {
    env.running.delete(name);
  }
}

/** Destroys the material of a key whose deletion window has passed; the key becomes DELETED. */
export async function shredIfDue(env: KeychainEnv, storage: KeyValueStore, key: KeyRecord, at: Date): Promise<boolean> {
  if (key.state !== "PENDING_DELETION" || !key.deletion_date || Date.parse(key.deletion_date) > at.getTime()) return false;
  const provider = await openKeystore(env, storage, key.keystore);
  for (const [v, version] of Object.entries(key.versions)) {
    if (version.destroyed_at || !version.ref.owned) continue;
    await provider.destroy(version.ref);
    await updateKey(env, storage, key.name, key.id, (k) => {
      const kv = k.versions[v];
      if (kv) kv.destroyed_at = now();
    });
  }
  // Deleted before its material was imported: the wrapping pair made for the import goes too.
  await discardPendingImport(storage, provider, key);
  await updateKey(env, storage, key.name, key.id, (k) => {
    k.state = "DELETED";
    delete k.rewrap;
    k.updated_at = now();
  });
  // Nothing beneath may stay in memory either.
  env.cache.clear();
  return true;
}

/** The periodic hook: due deletions first, then unfinished re-wrap jobs, then configuration switches. */
export async function runKeychainJobs(env: KeychainEnv, storage: KeyValueStore, at: Date): Promise<void> {
  await runKeyJobs(env, storage, at);
  await runPendingSwitches(env, storage);
}

async function runKeyJobs(env: KeychainEnv, storage: KeyValueStore, at: Date): Promise<void> {
  for (const name of await records.listKeys(storage)) {
    const key = await records.key(storage, name);
    if (!key) continue;
    try {
      if (await shredIfDue(env, storage, key, at)) continue;
      if (key.rewrap?.state === "running") await runRewrap(env, storage, name);
    } catch (err) {
      env.logger.warn({ key_name: name, error: err instanceof Error ? err.message : String(err) }, "keychain background job failed");
    }
  }
}
