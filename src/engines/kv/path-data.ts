/**
 * `data/<path>`: read, write, patch and soft-delete versions of a secret — the hot path of the engine.
 * A read costs two storage gets (metadata, then the version's data) and two JSON parses; every
 * read-modify-write runs in one storage transaction so concurrent writers cannot lose updates or both
 * pass the same check-and-set.
 */
import { ArcaError, invalidRequest, notFound } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import type { Response } from "../../core/framework/request.js";
import type { KeyValueReader, KeyValueTxn } from "../../storage/storage.js";
import { isPlainObject, mergePatch, parseCas, serialiseData, validatePath } from "./kv-input.js";
import {
  addVersion,
  isDeleted,
  loadConfig,
  loadMetadata,
  lookupVersion,
  metadataKey,
  newMetadata,
  saveMetadata,
  scheduledDeletion,
  versionKey,
  versionView,
  type KeyMetadata,
  type KvConfig,
  type VersionLookup,
} from "./kv-store.js";
import { formatNs, nowNs } from "./kv-time.js";

/** The `cas` write option, decoded before any storage work so malformed input fails fast. */
type CasOption = { given: false } | { given: true; value: number };

function casOption(options: Record<string, unknown> | undefined): CasOption {
  if (options === undefined || !Object.hasOwn(options, "cas")) return { given: false };
  return { given: true, value: parseCas(options.cas) };
}

function checkCas(cas: CasOption, config: KvConfig, meta: KeyMetadata): void {
  if (cas.given) {
    if (cas.value !== meta.currentVersion) throw invalidRequest("check-and-set parameter did not match the current version");
  } else if (config.casRequired || meta.casRequired) {
    throw invalidRequest("check-and-set parameter required for this call");
  }
}

/** Stores `data` as the key's next version, prunes beyond max_versions, and answers like OpenBao. */
async function appendVersion(txn: KeyValueTxn, path: string, meta: KeyMetadata, config: KvConfig, data: Buffer): Promise<Response> {
  const createdNs = nowNs();
  const version = meta.currentVersion + 1;
  await txn.put(versionKey(path, version), data);
  const removed = addVersion(meta, formatNs(createdNs), scheduledDeletion(createdNs, config, meta), config.maxVersions);
  await saveMetadata(txn, path, meta);
  for (const v of removed) await txn.delete(versionKey(path, v));
  return { data: versionView(meta, version, meta.versions[String(version)]) };
}

/** Looks a version up; on the rare torn read (a destroy/prune landed between our two gets) retries atomically. */
export async function lookupConsistent(
  storage: KeyValueReader & { transaction<T>(fn: (txn: KeyValueTxn) => Promise<T>): Promise<T> },
  path: string,
  version: number,
): Promise<Exclude<VersionLookup, { kind: "torn" }>> {
  let found = await lookupVersion(storage, path, version);
  if (found.kind === "torn") found = await storage.transaction((txn) => lookupVersion(txn, path, version));
  if (found.kind === "torn") throw new ArcaError("internal", "could not find version data");
  return found;
}

const pathField = { type: "string", description: "Location of the secret." } as const;

export const dataPath = definePath({
  pattern: "data/:path+",
  fields: {
    path: pathField,
    version: { type: "int", description: "If provided during a read, the value at the version number will be returned." },
    options: {
      type: "object",
      description:
        'Options for writing a KV entry. Set the "cas" value to use a Check-And-Set operation. If not set the write will be allowed. If set to 0 a write will only be allowed if the key doesn\'t exist. If the index is non-zero the write will only be allowed if the key\'s current version matches the version specified in the cas parameter.',
    },
    data: { type: "any", description: "The contents of the data map will be stored and returned on read." },
  },
  existenceCheck: async ({ params, storage }) => (await storage.get(metadataKey(validatePath(params.path)))) !== undefined,
  operations: {
    read: {
      summary: "Read a version of a secret (the current one unless version is given).",
      handler: async ({ params, fields, storage }) => {
        const path = validatePath(params.path);
        const found = await lookupConsistent(storage, path, fields.version ?? 0);
        if (found.kind === "absent") throw notFound();
        const metadata = versionView(found.meta, found.version, found.record);
        if (found.kind === "gone") throw new ArcaError("not_found", "", { data: { data: null, metadata } });
        return { data: { data: JSON.parse(found.data.toString("utf8")) as unknown, metadata } };
      },
    },
    update: {
      summary: "Write a new version of a secret.",
      transaction: true,
      handler: async (ctx) => {
        const { params, fields, storage } = ctx;
        const path = validatePath(params.path);
        if (path === "") throw invalidRequest("missing path");
        if (!ctx.has("data")) throw invalidRequest("no data provided");
        const data = serialiseData(fields.data);
        const cas = casOption(fields.options);
        const config = await loadConfig(storage);
        const meta = (await loadMetadata(storage, path)) ?? newMetadata(""); // created_time comes from the first version
        checkCas(cas, config, meta);
        return appendVersion(storage, path, meta, config, data);
      },
    },
    patch: {
      summary: "Apply a JSON merge patch to the current version, creating a new version.",
      transaction: true,
      handler: async (ctx) => {
        const { params, fields, storage } = ctx;
        const path = validatePath(params.path);
        if (!ctx.has("data")) throw invalidRequest("no data provided");
        const patch = fields.data;
        if (!isPlainObject(patch)) throw invalidRequest(`error converting input for field "data": expected a JSON object`);
        const cas = casOption(fields.options);
        const meta = await loadMetadata(storage, path);
        if (!meta) throw notFound();
        const config = await loadConfig(storage);
        checkCas(cas, config, meta);
        const current = meta.versions[String(meta.currentVersion)];
        if (!current) throw notFound();
        if (current.destroyed || isDeleted(current)) {
          // OpenBao answers a patch of a deleted version with the flat version metadata (unlike read).
          throw new ArcaError("not_found", "", { data: versionView(meta, meta.currentVersion, current) });
        }
        const raw = await storage.get(versionKey(path, meta.currentVersion));
        if (raw === undefined) throw new ArcaError("internal", "could not find version data");
        const merged = mergePatch(JSON.parse(raw.toString("utf8")), patch);
        return appendVersion(storage, path, meta, config, serialiseData(merged));
      },
    },
    delete: {
      summary: "Soft-delete the current version of a secret.",
      transaction: true,
      handler: async ({ params, storage }) => {
        const path = validatePath(params.path);
        const meta = await loadMetadata(storage, path);
        if (!meta) return;
        const latest = meta.versions[String(meta.currentVersion)];
        if (!latest || latest.destroyed || isDeleted(latest)) return;
        latest.deletionTime = formatNs(nowNs());
        await saveMetadata(storage, path, meta);
        return undefined;
      },
    },
  },
  synopsis: "Write, Patch, Read, and Delete data in the Key-Value Store.",
  description: `
This path takes a key name and based on the operation stores, retrieves or deletes versions of data.

A write takes an "options" object and a "data" object. Every write creates a new version; earlier
versions are kept up to max_versions. With options.cas the write only succeeds if cas equals the key's
current version (0: only if the key does not exist yet).

A patch (HTTP PATCH, application/merge-patch+json) applies the "data" object as a JSON merge patch
(RFC 7386) to the current version and stores the result as a new version; null removes a key. The
current version must be neither deleted nor destroyed.

A read returns the current version, or the one named by "version". A deleted or destroyed version
answers 404 with its metadata.

A delete soft-deletes the current version; it can be undone with undelete/<path>.
`,
});

