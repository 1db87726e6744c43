/**
 * The KV secrets engine (mount type "kv"), wire-compatible with OpenBao: version 2 (versioned, the
 * `kv-v2` alias) or version 1 (plain pass-through).
 *
 * STORAGE LAYOUT — an on-disk format, forever. Keys are relative to the mount's storage view; <path> is the
 * secret's path as the client names it (validated: no "", "." or ".." segments, no NUL, ≤ 1024 bytes).
 *
 *   Version 2
 *     config                     JSON KvConfig {maxVersions, casRequired, deleteVersionAfter (s; -1 =
 *                                disabled)}; absent = defaults.
 *     metadata/<path>            JSON KeyMetadata: createdTime, updatedTime, currentVersion, oldestVersion,
 *                                maxVersions, casRequired, deleteVersionAfter (s), customMetadata (map|null),
 *                                versions {"<n>": {createdTime, deletionTime ("" = none), destroyed}}.
 *                                Times are Go RFC 3339 nanosecond strings, stored exactly as rendered.
 *     versions/<path>/<n>        The data of version <n>: the client's JSON object, serialised once at write
 *                                time and never rewritten. Deleted when destroyed, pruned (max_versions) or
 *                                when the key's metadata is deleted.
 *   Version 1
 *     entries/<path>             The request body as JSON.
 *
 * Why this shape: `metadata/` mirrors the client's hierarchy, so LIST metadata/<folder>/ is one call to the
 * view's one-level list() (folders come back ending in "/") with after/limit pushed down to storage. A
 * read is metadata get + version get (2 gets); the metadata record holds every version's bookkeeping so
 * that writes, deletes and destroys touch one record, inside one transaction. `versions/<path>/<n>` is
 * unambiguous because <n> is always the last segment. v1 and v2 use disjoint prefixes so a v1 mount can
 * later be upgraded in place.
 */
import { LogicalBackend } from "../../core/framework/backend.js";
import { configPath } from "./path-config.js";
import { dataPath } from "./path-data.js";
import { deletePath, undeletePath } from "./path-delete.js";
import { destroyPath } from "./path-destroy.js";
import { invalidPath } from "./path-invalid.js";
import { detailedMetadataPath, metadataPath } from "./path-metadata.js";
import { passthroughPath } from "./path-passthrough.js";
import { subkeysPath } from "./path-subkeys.js";

export interface KvBackendOptions {
  /** The mount's `options.version`: 2 for the versioned store, 1 for plain pass-through. */
  version: 1 | 2;
  /** v1 only: the mount's default lease TTL now, which reads answer as lease_duration (OpenBao's rule). */
  defaultLeaseTtl?: () => number;
}

const V2_HELP = `
This backend provides a versioned key-value store. The kv backend reads and writes arbitrary secrets to
the storage backend; they are encrypted by the barrier and never stored in the clear. Each key keeps a
configurable number of versions, which can be read by number, soft-deleted, undeleted or destroyed.
`;

const V1_HELP = `
The kv backend reads and writes arbitrary secrets to the backend. The secrets are encrypted by the
barrier and never stored in the clear.

TTLs can be set on a per-secret basis. These TTLs will be sent down when that secret is read, and it is
assumed that some outside process will revoke and/or replace the secret at that path.
`;

export function createKvBackend(options: KvBackendOptions): LogicalBackend {
  if (options.version === 1) {
    return new LogicalBackend({ type: "kv", paths: [passthroughPath(options.defaultLeaseTtl ?? (() => 0))], help: V1_HELP });
  }
  return new LogicalBackend({
    type: "kv",
    paths: [configPath, dataPath, metadataPath, detailedMetadataPath, deletePath, undeletePath, destroyPath, subkeysPath, invalidPath],
    help: V2_HELP,
  });
}
