/** `keystores/:name`: where L1 keys live (type-specific settings; secrets are never shown back). */
import { invalidRequest, notFound } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import { keystoreContext, type KeychainEnv } from "./keychain-env.js";
import { checkName, mustGet, now, records } from "./records.js";
import type { KeyValueReader } from "../../storage/storage.js";

/** Names of the L1 keys (not yet DELETED) that live in keystore `name`. */
export async function keysInKeystore(storage: KeyValueReader, name: string): Promise<string[]> {
  const out: string[] = [];
  for (const k of await records.listKeys(storage)) {
    const key = await records.key(storage, k);
    if (key && key.keystore === name && key.state !== "DELETED") out.push(k);
  }
  return out;
}

export function keystoresListPath(_env: KeychainEnv) {
  return definePath({
    pattern: "keystores",
    operations: {
      list: async ({ storage }) => {
        const keys = await records.listKeystores(storage);
        if (keys.length === 0) throw notFound();
        return { data: { keys } };
      },
    },
    synopsis: "List keystores",
  });
}

export function keystoresPath(env: KeychainEnv) {
  return definePath({
    pattern: "keystores/:name",
    fields: {
      name: { type: "string", required: true },
      type: { type: "string", description: `Keystore type: ${env.keystoreTypes.names().join(", ")}.` },
    },
    // Each keystore type reads its own settings (uri, address, token …) from the body.
    takesArbitraryInput: true,
    existenceCheck: async ({ storage, fields }) => (await records.keystore(storage, fields.name)) !== undefined,
    operations: {
      create: {
        summary: "Declare a keystore.",
        handler: async ({ storage, fields, req }) => {
          const name = checkName("keystore", fields.name);
          const type = env.keystoreTypes.get(fields.type ?? "");
          if (!type) throw invalidRequest(`type must be one of: ${env.keystoreTypes.names().join(", ")}`);
          const parsed = await type.parse({ ...req.data }, keystoreContext(env, storage));
          await storage.transaction(async (txn) => {
            if (await records.keystore(txn, name)) throw invalidRequest(`keystore ${name} already exists`);
            await records.putKeystore(txn, { name, type: type.type, config: parsed.config, secrets: parsed.secrets, created_at: now() });
          });
          return undefined;
        },
      },
      update: async ({ fields }) => {
        throw invalidRequest(`keystore ${fields.name.slice(0, 128)} already exists: delete it first (keystores cannot be changed under their keys)`);
      },
      read: async ({ storage, fields }) => {
        const ks = await records.keystore(storage, fields.name);
        if (!ks) return undefined;
        return { data: { name: ks.name, type: ks.type, ...ks.config, keys: await keysInKeystore(storage, ks.name), created_at: ks.created_at } };
      },
      delete: async ({ storage, fields }) => {
        await mustGet(`keystore ${fields.name}`, records.keystore(storage, fields.name));
        const used = await keysInKeystore(storage, fields.name);
        if (used.length > 0) throw invalidRequest(`keystore ${fields.name} holds keys (${used.slice(0, 10).join(", ")}): delete them first`);
        await records.deleteKeystore(storage, fields.name);
        return undefined;
      },
    },
    synopsis: "Manage a keystore",
  });
}
