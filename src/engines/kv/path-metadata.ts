/**
 * `metadata/<path>` (per-key settings, version bookkeeping, key listing) and OpenBao's
 * `detailed-metadata/<path>` (a listing with every key's metadata in key_info, one consistent snapshot).
 */
import { notFound } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import type { Response } from "../../core/framework/request.js";
import type { KeyValueReader } from "../../storage/storage.js";
import { nonNegative } from "./path-config.js";
import { rootNotSupported } from "./path-invalid.js";
import { listPrefix, parseCustomMetadata, setOwn, validateCustomMetadata, validatePath } from "./kv-input.js";
import {
  loadConfig,
  loadMetadata,
  METADATA_PREFIX,
  metadataKey,
  metadataView,
  newMetadata,
  saveMetadata,
  versionKey,
  type KeyMetadata,
} from "./kv-store.js";
import { formatNs, nowNs } from "./kv-time.js";

const CAS_IGNORED_WARNING = '"cas_required" set to false, but is mandated by backend config. This value will be ignored.';

const listFields = {
  after: { type: "string", description: "Optional entry to begin listing after, not required to exist. Only used for listing." },
  limit: { type: "int", description: "Optional number of entries to return; defaults to all entries. Only used for listing." },
} as const;

interface Page {
  after: string | undefined;
  limit: number | undefined;
}

/** One level of keys below `metadata/<prefix>` (folders end in "/"). */
function listLevel(r: KeyValueReader, prefix: string, page: Page): Promise<string[]> {
  return r.list(METADATA_PREFIX + prefix, { after: page.after || undefined, limit: page.limit && page.limit > 0 ? page.limit : undefined });
}

/** Every key below `metadata/<prefix>`, recursively, relative to the prefix, in byte order (SCAN). */
async function scanKeys(r: KeyValueReader, prefix: string, page: Page): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of await r.list(METADATA_PREFIX + prefix + rel)) {
      if (name.endsWith("/")) await walk(rel + name);
      else out.push(rel + name);
    }
  };
  await walk("");
  // Listing is byte-ordered and a folder "a/" sorts exactly where its keys do, so `out` is sorted.
  const after = page.after ?? "";
  const from = after === "" ? out : out.filter((k) => k > after);
  return page.limit && page.limit > 0 ? from.slice(0, page.limit) : from;
}

/** custom_metadata to store: OpenBao keeps an empty map as nil, rendered null. */
function storedCustomMetadata(cm: Record<string, string>): Record<string, string> | null {
  return Object.keys(cm).length === 0 ? null : cm;
}

export const metadataPath = definePath({
  pattern: "metadata/:path*",
  fields: {
    path: { type: "string", description: "Location of the secret." },
    cas_required: {
      type: "bool",
      description: "If true the key will require the cas parameter to be set on all write requests. If false, the backend's configuration will be used.",
    },
    max_versions: { type: "int", description: "The number of versions to keep. If not set, the backend's configured max version is used." },
    delete_version_after: {
      type: "duration",
      description:
        "The length of time before a version is deleted. If not set, the backend's configured delete_version_after is used. Cannot be greater than the backend's delete_version_after. A zero duration clears the current setting. A negative duration will cause an error.",
    },
    custom_metadata: {
      type: "any",
      description: "User-provided key-value pairs that are used to describe arbitrary and version-agnostic information about a secret.",
    },
    ...listFields,
  },
  existenceCheck: async ({ params, storage }) => {
    const path = validatePath(params.path);
    return path !== "" && (await storage.get(metadataKey(path))) !== undefined;
  },
  operations: {
    list: {
      summary: "List the keys (and folders, ending in /) below a path.",
      handler: async ({ params, fields, storage }) => {
        const keys = await listLevel(storage, listPrefix(params.path), fields);
        if (keys.length === 0) throw notFound();
        return { data: { keys } };
      },
    },
    scan: {
      summary: "List every key below a path, recursively.",
      handler: async ({ params, fields, storage }) => {
        const keys = await scanKeys(storage, listPrefix(params.path), fields);
        if (keys.length === 0) throw notFound();
        return { data: { keys } };
      },
    },
    read: {
      summary: "Read a key's metadata and the state of all its versions.",
      handler: async ({ params, storage }) => {
        const path = validatePath(params.path);
        if (path === "") return rootNotSupported();
        const meta = await loadMetadata(storage, path);
        if (!meta) throw notFound();
        return { data: metadataView(meta) };
      },
    },
    update: {
      summary: "Create a key's metadata or replace its settings.",
      transaction: true,
      handler: async (ctx) => {
        const { params, fields, req, storage: txn } = ctx;
        const path = validatePath(params.path);
        if (path === "") return rootNotSupported();
        const cmGiven = ctx.has("custom_metadata");
        // OpenBao writes nothing (and creates no key) when no setting is given.
        if (!ctx.has("max_versions") && !ctx.has("cas_required") && !ctx.has("delete_version_after") && !cmGiven) return undefined;
        const maxVersions = fields.max_versions === undefined ? undefined : nonNegative("max_versions", fields.max_versions);
        let customMetadata: Record<string, string> | undefined;
        if (cmGiven) {
          customMetadata = parseCustomMetadata(req.data.custom_metadata, false) as Record<string, string>;
          validateCustomMetadata(customMetadata);
        }
        const config = await loadConfig(txn);
        const meta = (await loadMetadata(txn, path)) ?? newMetadata(formatNs(nowNs()));
        if (maxVersions !== undefined) meta.maxVersions = maxVersions;
        if (fields.cas_required !== undefined) meta.casRequired = fields.cas_required;
        if (fields.delete_version_after !== undefined) meta.deleteVersionAfter = fields.delete_version_after;
        if (customMetadata !== undefined) meta.customMetadata = storedCustomMetadata(customMetadata);
        await saveMetadata(txn, path, meta);
        return fields.cas_required === false && config.casRequired ? { warnings: [CAS_IGNORED_WARNING] } : undefined;
      },
    },
    patch: {
      summary: "Change some of a key's settings (JSON merge patch; custom_metadata keys set to null are removed).",
      transaction: true,
      handler: async ({ params, fields, req, storage: txn }): Promise<Response | undefined> => {
        const path = validatePath(params.path);
        if (path === "") return rootNotSupported();
        const given = (name: string): boolean => Object.hasOwn(req.data, name);
        const maxVersions = fields.max_versions === undefined ? undefined : nonNegative("max_versions", fields.max_versions);
        const cmRaw = req.data.custom_metadata;
        const cmPatch = given("custom_metadata") && cmRaw !== null ? parseCustomMetadata(cmRaw, true) : undefined;
        const meta = await loadMetadata(txn, path);
        if (!meta) throw notFound();
        const config = await loadConfig(txn);
        // A null in a merge patch resets the setting to its default.
        if (given("max_versions")) meta.maxVersions = maxVersions ?? 0;
        if (given("cas_required")) meta.casRequired = fields.cas_required ?? false;
        if (given("delete_version_after")) meta.deleteVersionAfter = fields.delete_version_after ?? 0;
        if (given("custom_metadata")) meta.customMetadata = patchCustomMetadata(meta, cmPatch);
        await saveMetadata(txn, path, meta);
        return fields.cas_required === false && config.casRequired ? { warnings: [CAS_IGNORED_WARNING] } : undefined;
      },
    },
    delete: {
      summary: "Delete a key: its metadata and the data of all its versions.",
      transaction: true,
      handler: async ({ params, storage }) => {
        const path = validatePath(params.path);
        if (path === "") return rootNotSupported();
        const meta = await loadMetadata(storage, path);
        if (!meta) return;
        for (const [n, v] of Object.entries(meta.versions)) if (!v.destroyed) await storage.delete(versionKey(path, Number(n)));
        await storage.delete(metadataKey(path));
        return undefined;
      },
    },
  },
  synopsis: "Allows interaction with key metadata and settings in the KV store.",
  description: `
Read a key's metadata (all versions with their created/deletion times and destroyed flags, the current
and oldest version, the key's settings and custom_metadata); write or patch the key's settings
(max_versions, cas_required, delete_version_after, custom_metadata); delete the key with all its
versions; or LIST the keys below a path (folders end in "/"), paginated with "after" and "limit".

custom_metadata is a map of strings: at most 64 keys, keys of 1 to 128 bytes and values of 1 to 512
bytes, printable characters only.
`,
});

/** Merges a custom_metadata patch (null = remove all; a null value = remove that key) and re-validates. */
function patchCustomMetadata(meta: KeyMetadata, patch: Record<string, string | null> | undefined): Record<string, string> | null {
  if (patch === undefined) return null;
  const merged: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta.customMetadata ?? {})) setOwn(merged, k, v);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete merged[k];
    else setOwn(merged, k, v);
  }
  validateCustomMetadata(merged);
  return storedCustomMetadata(merged);
}

export const detailedMetadataPath = definePath({
  pattern: "detailed-metadata/:path*",
  fields: {
    path: { type: "string", description: "Location of the secret." },
    ...listFields,
  },
  operations: {
    list: {
      summary: "List keys below a path together with their full metadata.",
      handler: async ({ params, fields, storage }) => {
        const prefix = listPrefix(params.path);
        return storage.transaction(async (txn) => withKeyInfo(txn, prefix, await listLevel(txn, prefix, fields)));
      },
    },
    scan: {
      summary: "List every key below a path, recursively, together with its full metadata.",
      handler: async ({ params, fields, storage }) => {
        const prefix = listPrefix(params.path);
        return storage.transaction(async (txn) => withKeyInfo(txn, prefix, await scanKeys(txn, prefix, fields)));
      },
    },
  },
  synopsis: "Lists keys in the KV store together with their metadata.",
  description: `
LIST (or SCAN, recursively) the keys below a path like metadata/<path>, and return each key's metadata in
key_info, read in the same transaction as the listing. Folders (ending in "/") have no key_info.
`,
});

async function withKeyInfo(r: KeyValueReader, prefix: string, keys: string[]): Promise<Response> {
  if (keys.length === 0) throw notFound();
  const keyInfo: Record<string, unknown> = {};
  for (const key of keys) {
    if (key.endsWith("/")) continue;
    const meta = await loadMetadata(r, prefix + key);
    if (meta) setOwn(keyInfo, key, metadataView(meta));
  }
  return { data: { keys, key_info: keyInfo } };
}
