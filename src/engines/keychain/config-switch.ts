/**
 * PATCH key-configurations/:name {primary_key}: moving a configuration's L2 under another L1, as a background
 * job with progress on GET (`job`). The PATCH checks what it can at once (both keys usable, the target has
 * material) and answers with the job running; the job unwraps the L2 under the old L1, wraps it under the
 * new one and, in one transaction, switches the record — unless the configuration changed meanwhile (a
 * rotation's re-wrap, a delete), when it tries again. A failure (a keystore away) leaves the job running and
 * the periodic hook retries it; a target that can no longer take it (revoked, deleted, re-created) ends it
 * as `failed` with the reason, and the configuration stays under its old L1.
 *
 * The job total is 1 (one L2 per configuration); the shape matches the L1 re-wrap job's (jobs.ts).
 */
import { invalidRequest } from "../../common/errors.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { checkUsable, l2Aad, primaryKeyOf, unwrapL2Fresh } from "./chain.js";
import { openKeystore, type KeychainEnv } from "./keychain-env.js";
import { mustGet, now, records, type ConfigurationRecord, type KeyRecord, type PrimarySwitchJob } from "./records.js";

/** Attempts per run when the configuration keeps changing under the job. */
const ATTEMPTS = 3;

const runningId = (cfg: string): string => `switch:${cfg}`;

/** The target key, when it still is the one the switch was asked for and may take new wrappings. */
async function targetOf(storage: KeyValueStore, job: PrimarySwitchJob): Promise<KeyRecord> {
  const to = await mustGet(`key ${job.target_key}`, records.key(storage, job.target_key));
  if (to.id !== job.target_id) throw invalidRequest(`L1 key ${job.target_key} was re-created since the switch was asked for`);
  checkUsable(to, "encrypt");
  if (!to.versions[String(to.primary_version)]) throw invalidRequest(`L1 key ${to.name} has no key material yet`);
  return to;
}

/**
 * Checks the switch and records it as a running job (returns the record to answer with). The same target
 * again while it runs is the same job; another target while one runs is refused.
 */
export async function startSwitch(env: KeychainEnv, storage: KeyValueStore, name: string, target: string): Promise<ConfigurationRecord> {
  const cfg = await mustGet(`key configuration ${name}`, records.config(storage, name));
  const from = await primaryKeyOf(env, storage, cfg);
  checkUsable(from, "decrypt");
  const to = await mustGet(`key ${target}`, records.key(storage, target));
  if (to.id === from.id) return cfg;
  const job: PrimarySwitchJob = { target_key: to.name, target_id: to.id, total: 1, done: 0, failed: 0, state: "running", started_at: now() };
  await targetOf(storage, job);
  return storage.transaction(async (txn) => {
    const fresh = await mustGet(`key configuration ${name}`, records.config(txn, name));
    const running = fresh.switch?.state === "running" ? fresh.switch : undefined;
    if (running && running.target_id === to.id) return fresh;
    if (running) throw invalidRequest(`key configuration ${name} is being moved to ${running.target_key}; wait for that job to end`);
    const next = { ...fresh, switch: job };
    await records.putConfig(txn, next);
    await records.markSwitching(txn, name);
    return next;
  });
}

/** Saves the job's outcome on the freshest record (if it still is this job). */
async function finish(storage: KeyValueStore, name: string, cfgId: string, update: (job: PrimarySwitchJob) => void): Promise<void> {
  await storage.transaction(async (txn) => {
    const c = await records.config(txn, name);
    if (!c || c.id !== cfgId || !c.switch) return;
    update(c.switch);
    await records.putConfig(txn, c);
    if (c.switch.state !== "running") await records.unmarkSwitching(txn, name);
  });
}

/** One attempt: true when done (or nothing left to do), false when the configuration changed meanwhile. */
async function attempt(env: KeychainEnv, storage: KeyValueStore, name: string): Promise<boolean> {
  const cfg = await records.config(storage, name);
  const job = cfg?.switch;
  if (!cfg || !job || job.state !== "running") {
    if (!cfg) await records.unmarkSwitching(storage, name);
    return true;
  }
  let to: KeyRecord;
  try {
    to = await targetOf(storage, job);
  } catch (err) {
    // The target can no longer take it: the job ends, the configuration stays where it was.
    await finish(storage, name, cfg.id, (j) => Object.assign(j, { state: "failed", failed: 1, error: messageOf(err), finished_at: now() }));
    return true;
  }
  const from = await primaryKeyOf(env, storage, cfg);
  checkUsable(from, "decrypt");
  const l2 = await unwrapL2Fresh(env, storage, from, cfg);
  let wrapped: Buffer;
  try {
    wrapped = await (await openKeystore(env, storage, to.keystore)).wrap(to.versions[String(to.primary_version)].ref, l2, l2Aad(to.id, to.primary_version, cfg.id));
  } finally {
    l2.fill(0);
  }
  return storage.transaction(async (txn) => {
    const fresh = await records.config(txn, name);
    if (!fresh || fresh.id !== cfg.id || fresh.switch?.state !== "running" || fresh.switch.target_id !== job.target_id) return true;
    if (fresh.l1_id !== cfg.l1_id || fresh.l1_version !== cfg.l1_version) return false;
    const finished = { ...fresh.switch, done: 1, state: "done" as const, finished_at: now() };
    delete finished.error;
    await records.putConfig(txn, { ...fresh, primary_key: to.name, l1_id: to.id, l1_version: to.primary_version, wrapped: wrapped.toString("base64"), updated_at: now(), switch: finished });
    await records.unlinkConfig(txn, cfg.l1_id, name);
    await records.linkConfig(txn, to.id, name);
    await records.unmarkSwitching(txn, name);
    return true;
  });
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Runs the configuration's switch job (one runner per configuration in this process). */
export async function runSwitch(env: KeychainEnv, storage: KeyValueStore, name: string): Promise<void> {
  if (env.running.has(runningId(name))) return;
  env.running.add(runningId(name));
  try {
    for (let i = 0; i < ATTEMPTS; i++) if (await attempt(env, storage, name)) return;
  } catch (err) {
    // A keystore away, the old L1 revoked meanwhile…: the job stays running and the periodic hook retries.
    const cfg = await records.config(storage, name);
    if (cfg) await finish(storage, name, cfg.id, (j) => Object.assign(j, { error: messageOf(err) }));
    throw err;
  } finally {
    env.running.delete(runningId(name));
    env.records.changed();
  }
}

/** The periodic hook: every switch job still running. */
export async function runPendingSwitches(env: KeychainEnv, storage: KeyValueStore): Promise<void> {
  for (const name of await records.switching(storage)) {
    await runSwitch(env, storage, name).catch((err: unknown) => env.logger.warn({ key_configuration: name, error: messageOf(err) }, "keychain: key configuration switch failed; will retry"));
  }
}
