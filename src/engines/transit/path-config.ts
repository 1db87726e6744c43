/**
 * `config/keys` (disable_upsert) and `cache-config` (accepted for compatibility: the parse cache is keyed by
 * the stored bytes and needs no sizing).
 */
import { definePath } from "../../core/framework/path.js";
import { putJson } from "../../core/view.js";
import { KEYS_CONFIG_PATH, loadKeysConfig } from "./key-store.js";

export const keysConfigPath = definePath({
  pattern: "config/keys",
  fields: { disable_upsert: { type: "bool", description: "Refuse to create keys from encrypt requests." } },
  operations: {
    read: async ({ storage }) => ({ data: { disable_upsert: (await loadKeysConfig(storage)).disableUpsert } }),
    update: {
      transaction: true,
      handler: async ({ fields, storage }) => {
        const c = await loadKeysConfig(storage);
        if (fields.disable_upsert !== undefined) c.disableUpsert = fields.disable_upsert;
        await putJson(storage, KEYS_CONFIG_PATH, c);
        return { data: { disable_upsert: (await loadKeysConfig(storage)).disableUpsert } };
      },
    },
  },
  synopsis: "Configuration common across all keys",
});

export const cacheConfigPath = definePath({
  pattern: "cache-config",
  fields: { size: { type: "int", default: 0, description: "Accepted for compatibility; ignored." } },
  operations: {
    read: async () => ({ data: { size: 0 } }),
    update: async () => ({ data: { size: 0 } }),
  },
  synopsis: "Configure caching strategy",
});
