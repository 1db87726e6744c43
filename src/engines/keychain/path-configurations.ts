/**
 * `key-configurations/:name` (L2, a tenant KEK): wrapped inside the keystore by its primary L1. PATCH
 * `{primary_key}` moves it to another L1 as a background job (config-switch.ts; progress in `job` on GET).
 * DELETE is refused while systems use it.
 */
import { invalidRequest, notFound } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { newL2 } from "./chain.js";
import { runSwitch, startSwitch } from "./config-switch.js";
import { mutating, type KeychainEnv } from "./keychain-env.js";
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
    ...(c.switch ? { job: c.switch } : {}),
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
      create: { summary: "Create a key configuration (a new L2 under primary_key).", handler: mutating(env, async ({ storage, fields }) => void (await createConfig(env, storage, fields))) },
      update: { summary: "Create a key configuration (a new L2 under primary_key).", handler: mutating(env, async ({ storage, fields }) => void (await createConfig(env, storage, fields))) },
      patch: {
        summary: "Switch the configuration to another L1 key (re-wraps its L2).",
        handler: mutating(env, async ({ storage, fields }) => {
          if (!fields.primary_key) throw invalidRequest("primary_key is required");
          const cfg = await startSwitch(env, storage, fields.name, fields.primary_key);
          // Started now; the periodic hook resumes it if this process stops or the attempt fails.
          if (cfg.switch?.state === "running") {
            void runSwitch(env, storage, cfg.name).catch((err: unknown) => env.logger.warn({ key_configuration: cfg.name, error: err instanceof Error ? err.message : String(err) }, "keychain: key configuration switch failed; will retry"));
          }
          return { data: await configData(storage, cfg) };
        }),
      },
      read: async ({ storage, fields }) => {
        const c = await records.config(storage, fields.name);
        return c ? { data: await configData(storage, c) } : undefined;
      },
      delete: mutating(env, async ({ storage, fields }) => {
        const c = await records.config(storage, fields.name);
        if (!c) return undefined;
        const systems = await records.systemsOfConfig(storage, c.name);
        if (systems.length > 0) throw invalidRequest(`key configuration ${c.name} has systems (${systems.slice(0, 10).join(", ")}): unlink them first`);
        await storage.transaction(async (txn) => {
          await records.deleteConfig(txn, c.name);
          await records.unlinkConfig(txn, c.l1_id, c.name);
          await records.unmarkSwitching(txn, c.name);
        });
        env.cache.drop(`l2/${c.id}`);
        return undefined;
      }),
    },
    synopsis: "Manage a key configuration (L2)",
  });
}
