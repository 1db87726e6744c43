/**
 * `key-configurations/:name` (L2, a tenant KEK): wrapped inside the keystore by its primary L1. PATCH
 * `{primary_key}` moves it to another L1 (unwrap under the old, wrap under the new, one step; the answer
 * carries the finished job). DELETE is refused while systems use it.
 */
import { invalidRequest, notFound } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { checkUsable, l2Aad, newL2, primaryKeyOf, unwrapL2Fresh } from "./chain.js";
import { openKeystore, type KeychainEnv } from "./keychain-env.js";
import { checkName, mustGet, newId, now, records, type ConfigurationRecord } from "./records.js";

async function configData(storage: KeyValueStore, c: ConfigurationRecord): Promise<Record<string, unknown>> {
  return {
    name: c.name,
    description: c.description,
    primary_key: c.primary_key,
    primary_key_version: c.l1_version,
    systems: await records.systemsOfConfig(storage, c.name),
    created_at: c.created_at,
    updated_at: c.updated_at,
  };
}

async function createConfig(env: KeychainEnv, storage: KeyValueStore, f: { name: string; primary_key?: string; description?: string }): Promise<void> {
  const name = checkName("key configuration", f.name);
  if (!f.primary_key) throw invalidRequest("primary_key is required");
  if (await records.config(storage, name)) throw invalidRequest(`key configuration ${name} already exists`);
  const key = await mustGet(`key ${f.primary_key}`, records.key(storage, f.primary_key));
  const id = newId();
  const wrapped = await newL2(env, storage, key, id);
  const at = now();
  await storage.transaction(async (txn) => {
    if (await records.config(txn, name)) throw invalidRequest(`key configuration ${name} already exists`);
    await records.putConfig(txn, { id, name, description: f.description ?? "", primary_key: key.name, l1_id: key.id, l1_version: key.primary_version, wrapped, created_at: at, updated_at: at });
    await records.linkConfig(txn, key.id, name);
  });
}

/** Moves the configuration's L2 under another L1 (both must be ENABLED: this is new wrapping). */
async function switchPrimary(env: KeychainEnv, storage: KeyValueStore, name: string, target: string): Promise<ConfigurationRecord> {
  const cfg = await mustGet(`key configuration ${name}`, records.config(storage, name));
  const from = await primaryKeyOf(storage, cfg);
  checkUsable(from, "decrypt");
  const to = await mustGet(`key ${target}`, records.key(storage, target));
  checkUsable(to, "encrypt");
  if (to.id === from.id) return cfg;
  const toVersion = to.versions[String(to.primary_version)];
  if (!toVersion) throw invalidRequest(`L1 key ${to.name} has no key material yet`);
  const l2 = await unwrapL2Fresh(env, storage, from, cfg);
  let wrapped: Buffer;
  try {
    wrapped = await (await openKeystore(env, storage, to.keystore)).wrap(toVersion.ref, l2, l2Aad(to.id, to.primary_version, cfg.id));
  } finally {
    l2.fill(0);
  }
  return storage.transaction(async (txn) => {
    const fresh = await mustGet(`key configuration ${name}`, records.config(txn, name));
    if (fresh.id !== cfg.id || fresh.l1_id !== cfg.l1_id || fresh.l1_version !== cfg.l1_version) throw invalidRequest(`key configuration ${name} changed meanwhile; retry`);
    const next = { ...fresh, primary_key: to.name, l1_id: to.id, l1_version: to.primary_version, wrapped: wrapped.toString("base64"), updated_at: now() };
    await records.putConfig(txn, next);
    await records.unlinkConfig(txn, from.id, name);
    await records.linkConfig(txn, to.id, name);
    return next;
  });
}

export function configurationsListPath(_env: KeychainEnv) {
  return definePath({
    pattern: "key-configurations",
    operations: {
      list: async ({ storage }) => {
        const keys = await records.listConfigs(storage);
        if (keys.length === 0) throw notFound();
        return { data: { keys } };
      },
    },
    synopsis: "List key configurations",
  });
}

export function configurationsPath(env: KeychainEnv) {
  return definePath({
    pattern: "key-configurations/:name",
    fields: {
      name: { type: "string", required: true },
      primary_key: { type: "string", description: "The L1 key that wraps this configuration's L2." },
      description: { type: "string" },
    },
    existenceCheck: async ({ storage, fields }) => (await records.config(storage, fields.name)) !== undefined,
    operations: {
      create: { summary: "Create a key configuration (a new L2 under primary_key).", handler: async ({ storage, fields }) => void (await createConfig(env, storage, fields)) },
      update: { summary: "Create a key configuration (a new L2 under primary_key).", handler: async ({ storage, fields }) => void (await createConfig(env, storage, fields)) },
      patch: {
        summary: "Switch the configuration to another L1 key (re-wraps its L2).",
        handler: async ({ storage, fields }) => {
          if (!fields.primary_key) throw invalidRequest("primary_key is required");
          const started = now();
          const cfg = await switchPrimary(env, storage, fields.name, fields.primary_key);
          return { data: { ...(await configData(storage, cfg)), job: { state: "done", total: 1, done: 1, started_at: started, finished_at: now() } } };
        },
      },
      read: async ({ storage, fields }) => {
        const c = await records.config(storage, fields.name);
        return c ? { data: await configData(storage, c) } : undefined;
      },
      delete: async ({ storage, fields }) => {
        const c = await records.config(storage, fields.name);
        if (!c) return undefined;
        const systems = await records.systemsOfConfig(storage, c.name);
        if (systems.length > 0) throw invalidRequest(`key configuration ${c.name} has systems (${systems.slice(0, 10).join(", ")}): unlink them first`);
        await storage.transaction(async (txn) => {
          await records.deleteConfig(txn, c.name);
          await records.unlinkConfig(txn, c.l1_id, c.name);
        });
        env.cache.drop(`l2/${c.id}`);
        return undefined;
      },
    },
    synopsis: "Manage a key configuration (L2)",
  });
}
