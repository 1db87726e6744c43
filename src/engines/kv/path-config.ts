/**
 * `config`: mount-wide settings of a KV v2 mount (max_versions, cas_required, delete_version_after).
 */
import { invalidRequest } from "../../common/errors.js";
import { DurationError, formatDuration, parseDuration } from "../../core/framework/duration.js";
import { definePath } from "../../core/framework/path.js";
import { DELETE_VERSION_AFTER_DISABLED, loadConfig, saveConfig } from "./kv-store.js";

/** Like the framework's duration field, but signed: OpenBao reads a negative value as "disabled". */
export function parseSignedDuration(name: string, raw: unknown): number {
  try {
    return parseDuration(raw);
  } catch (err) {
    if (err instanceof DurationError) throw invalidRequest(`error converting input for field "${name}": ${err.message}`);
    throw err;
  }
}

export function nonNegative(name: string, n: number): number {
  if (n < 0) throw invalidRequest(`${name} must not be negative`);
  return n;
}

export const configPath = definePath({
  pattern: "config",
  fields: {
    max_versions: { type: "int", description: "The number of versions to keep for each key. Defaults to 10." },
    cas_required: { type: "bool", description: "If true, the backend will require the cas parameter to be set for each write." },
    delete_version_after: {
      type: "any",
      description:
        "If set, the length of time before a version is deleted. A negative duration disables the use of delete_version_after on all keys. A zero duration clears the current setting. Accepts a Go duration format string.",
    },
  },
  operations: {
    read: {
      summary: "Read the backend level settings.",
      handler: async ({ storage }) => {
        const c = await loadConfig(storage);
        return {
          data: {
            cas_required: c.casRequired,
            delete_version_after: formatDuration(c.deleteVersionAfter),
            max_versions: c.maxVersions,
          },
        };
      },
    },
    update: {
      summary: "Configure backend level settings that are applied to every key in the key-value store.",
      transaction: true,
      handler: async (ctx) => {
        const { fields, storage } = ctx;
        if (!ctx.has("max_versions") && !ctx.has("cas_required") && !ctx.has("delete_version_after")) return undefined;
        const maxVersions = fields.max_versions === undefined ? undefined : nonNegative("max_versions", fields.max_versions);
        const dva = ctx.has("delete_version_after") ? parseSignedDuration("delete_version_after", fields.delete_version_after) : undefined;
        const c = await loadConfig(storage);
        if (maxVersions !== undefined) c.maxVersions = maxVersions;
        if (fields.cas_required !== undefined) c.casRequired = fields.cas_required;
        if (dva !== undefined) c.deleteVersionAfter = dva < 0 ? DELETE_VERSION_AFTER_DISABLED : dva;
        await saveConfig(storage, c);
        return undefined;
      },
    },
  },
  synopsis: "Configures settings for the KV store",
  description: `
This path configures backend level settings that are applied to every key in the key-value store:

  * max_versions (int) - The number of versions to keep for each key. 0 means the default of 10.
  * cas_required (bool) - If true, every write must carry the cas option.
  * delete_version_after (duration) - If set, the length of time after which a new version is deleted.
    A negative duration disables delete_version_after on all keys; zero clears the setting.
`,
});
