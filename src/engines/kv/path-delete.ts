/**
 * `delete/<path>` and `undelete/<path>`: soft-delete or restore chosen versions of a secret. Soft deletion
 * only stamps a deletion time in the key's metadata; the data stays until destroyed or pruned.
 */
import { invalidRequest } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import { parseVersions, validatePath } from "./kv-input.js";
import { isDeleted, loadConfig, loadMetadata, saveMetadata, scheduledDeletion, type KeyMetadata } from "./kv-store.js";
import type { KeyValueReader } from "../../storage/storage.js";
import { formatNs, nowNs } from "./kv-time.js";

const pathField = { type: "string", description: "Location of the secret." } as const;

/**
 * What delete, undelete and destroy act on: the secret's path, the versions named (none is a 400 with the
 * endpoint's own OpenBao wording) and its metadata; undefined when the key does not exist (nothing to do).
 */
export async function versionsTarget(
  storage: KeyValueReader,
  rawPath: string,
  rawVersions: unknown,
  noneGiven: string,
): Promise<{ path: string; versions: number[]; meta: KeyMetadata } | undefined> {
  const path = validatePath(rawPath);
  const versions = parseVersions(rawVersions);
  if (versions.length === 0) throw invalidRequest(noneGiven);
  const meta = await loadMetadata(storage, path);
  return meta ? { path, versions, meta } : undefined;
}

export const deletePath = definePath({
  pattern: "delete/:path+",
  fields: {
    path: pathField,
    versions: {
      type: "any",
      description: "The versions to be archived. The versioned data will not be deleted, but it will no longer be returned in normal get requests.",
    },
  },
  operations: {
    update: {
      transaction: true,
      handler: async ({ params, fields, storage }) => {
        const target = await versionsTarget(storage, params.path, fields.versions, "No version number provided");
        if (!target) return;
        const { path, versions, meta } = target;
        const now = nowNs();
        for (const n of versions) {
          const v = meta.versions[String(n)];
          if (!v || v.destroyed || isDeleted(v, now)) continue;
          v.deletionTime = formatNs(now);
        }
        await saveMetadata(storage, path, meta);
        return undefined;
      },
    },
  },
  synopsis: "Marks one or more versions as deleted in the KV store.",
  description: `
Deletes the data for the provided versions and path in the key-value store. The versioned data is not
removed, but marked as deleted and no longer returned by normal get requests. This can be undone with
undelete/<path>.
`,
});

export const undeletePath = definePath({
  pattern: "undelete/:path+",
  fields: {
    path: pathField,
    versions: {
      type: "any",
      description: "The versions to unarchive. The versions will be restored and their data will be returned on normal get requests.",
    },
  },
  operations: {
    update: {
      transaction: true,
      handler: async ({ params, fields, storage }) => {
        const target = await versionsTarget(storage, params.path, fields.versions, "No version number provided");
        if (!target) return;
        const { path, versions, meta } = target;
        const config = await loadConfig(storage);
        for (const n of versions) {
          const v = meta.versions[String(n)];
          if (!v || v.destroyed) continue;
          // A restored version gets a fresh deletion deadline when delete_version_after applies (OpenBao).
          v.deletionTime = scheduledDeletion(nowNs(), config, meta);
        }
        await saveMetadata(storage, path, meta);
        return undefined;
      },
    },
  },
  synopsis: "Undeletes one or more versions from the KV store.",
  description: `
Undeletes the data for the provided versions and path in the key-value store, so that get requests
return it again. Destroyed versions cannot be restored.
`,
});
