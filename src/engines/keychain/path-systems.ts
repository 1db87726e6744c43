/**
 * `systems/:name` (L3, a service KEK wrapped by its configuration's L2) and its data keys (L4):
 * `datakey`, `decrypt`, `rewrap`. A system belongs to one configuration; DELETE unlinks it (its L3 is
 * erased, so its data keys are unreadable from then on).
 */
import { invalidRequest, notFound } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { decryptDataKey, generateDataKey, newL3, rewrapDataKey } from "./chain.js";
import type { KeychainEnv } from "./keychain-env.js";
import { checkName, mustGet, newId, now, records, type SystemRecord } from "./records.js";

function systemData(s: SystemRecord): Record<string, unknown> {
  return {
    name: s.name,
    key_configuration: s.key_configuration,
    type: s.type,
    region: s.region,
    labels: s.labels,
    latest_version: s.latest_version,
    created_at: s.created_at,
    updated_at: s.updated_at,
  };
}

async function createSystem(env: KeychainEnv, storage: KeyValueStore, f: { name: string; key_configuration?: string; type: string; region: string; labels?: Record<string, string> }): Promise<void> {
  const name = checkName("system", f.name);
  if (!f.key_configuration) throw invalidRequest("key_configuration is required");
  const existing = await records.system(storage, name);
  if (existing) throw invalidRequest(`system ${name} is already linked to key configuration ${existing.key_configuration}: unlink it first`);
  const cfg = await mustGet(`key configuration ${f.key_configuration}`, records.config(storage, f.key_configuration));
  const id = newId();
  const wrapped = await newL3(env, storage, cfg, id, 1);
  const at = now();
  // Own-property copy: labels come from the caller (a "__proto__" label stays a label).
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(f.labels ?? {})) labels[k] = v;
  await storage.transaction(async (txn) => {
    if (await records.system(txn, name)) throw invalidRequest(`system ${name} already exists`);
    await records.putSystem(txn, { id, name, key_configuration: cfg.name, config_id: cfg.id, type: f.type, region: f.region, labels, latest_version: 1, l3: { "1": wrapped }, created_at: at, updated_at: at });
    await records.linkSystem(txn, cfg.name, name);
  });
}

export function systemsListPath(_env: KeychainEnv) {
  return definePath({
    pattern: "systems",
    operations: {
      list: async ({ storage }) => {
        const keys = await records.listSystems(storage);
        if (keys.length === 0) throw notFound();
        return { data: { keys } };
      },
    },
    synopsis: "List systems",
  });
}

export function systemsPath(env: KeychainEnv) {
  return definePath({
    pattern: "systems/:name",
    fields: {
      name: { type: "string", required: true },
      key_configuration: { type: "string", description: "The key configuration (L2) the system's L3 is wrapped by." },
      type: { type: "string", default: "SYSTEM" },
      region: { type: "string", default: "" },
      labels: { type: "map" },
    },
    existenceCheck: async ({ storage, fields }) => (await records.system(storage, fields.name)) !== undefined,
    operations: {
      create: { summary: "Link a system to a key configuration (a new L3).", handler: async ({ storage, fields }) => void (await createSystem(env, storage, fields)) },
      update: { summary: "Link a system to a key configuration (a new L3).", handler: async ({ storage, fields }) => void (await createSystem(env, storage, fields)) },
      read: async ({ storage, fields }) => {
        const s = await records.system(storage, fields.name);
        return s ? { data: systemData(s) } : undefined;
      },
      delete: async ({ storage, fields }) => {
        const s = await records.system(storage, fields.name);
        if (!s) return undefined;
        await storage.transaction(async (txn) => {
          await records.deleteSystem(txn, s.name);
          await records.unlinkSystem(txn, s.key_configuration, s.name);
        });
        for (const v of Object.keys(s.l3)) env.cache.drop(`l3/${s.id}/${v}`);
        return undefined;
      },
    },
    synopsis: "Manage a system (L3)",
  });
}

export function dataKeyPaths(env: KeychainEnv) {
  return [
    definePath({
      pattern: "systems/:name/datakey",
      fields: { name: { type: "string", required: true }, bits: { type: "int", default: 256, description: "128 or 256." } },
      operations: {
        update: {
          summary: "A new data key (L4): in the clear and wrapped by the system's L3.",
          handler: async ({ storage, fields }) => ({ data: { ...(await generateDataKey(env, storage, fields.name, fields.bits)) } }),
        },
      },
      synopsis: "Generate a data key",
    }),
    definePath({
      pattern: "systems/:name/decrypt",
      fields: { name: { type: "string", required: true }, ciphertext: { type: "string", required: true } },
      operations: {
        update: {
          summary: "The data key inside a ciphertext from datakey (this system's only).",
          handler: async ({ storage, fields }) => ({ data: { plaintext: await decryptDataKey(env, storage, fields.name, fields.ciphertext) } }),
        },
      },
      synopsis: "Decrypt a data key",
    }),
    definePath({
      pattern: "systems/:name/rewrap",
      fields: { name: { type: "string", required: true }, ciphertext: { type: "string", required: true } },
      operations: {
        update: {
          summary: "A data key's ciphertext re-wrapped under the system's latest L3.",
          handler: async ({ storage, fields }) => ({ data: { ciphertext: await rewrapDataKey(env, storage, fields.name, fields.ciphertext) } }),
        },
      },
      synopsis: "Rewrap a data key",
    }),
  ];
}
