/**
 * Storage-backed state of a KV v2 mount: the mount configuration, one metadata record per key (which holds
 * the bookkeeping of every version), and one entry per version holding the secret data. The key layout is
 * documented at the top of backend.ts; it is an on-disk format and must not change without a migration.
 *
 * Records are JSON. Times are stored already formatted as the wire wants them (Go RFC 3339 with
 * nanoseconds, "" when unset) so that the read path does no date work beyond one comparison.
 */
import { getJson, putJson } from "../../core/view.js";
import { formatDuration } from "../../core/framework/duration.js";
import type { KeyValueReader, KeyValueWriter } from "../../storage/storage.js";
import { formatNs, nowNs, parseNs } from "./kv-time.js";

export const CONFIG_KEY = "config";
export const METADATA_PREFIX = "metadata/";
export const VERSIONS_PREFIX = "versions/";

/** Versions kept per key when neither the mount nor the key says otherwise (OpenBao's default). */
export const DEFAULT_MAX_VERSIONS = 10;
/** Stored `deleteVersionAfter` meaning "disabled on this mount" (OpenBao stores -1s). */
export const DELETE_VERSION_AFTER_DISABLED = -1;

/** Mount configuration (`config`). */
export interface KvConfig {
  /** 0 = default (10). */
  maxVersions: number;
  casRequired: boolean;
  /** Seconds; 0 = unset, -1 = disabled for every key. */
  deleteVersionAfter: number;
}

export interface VersionRecord {
  createdTime: string;
  /** "" when the version is live and has no scheduled deletion. */
  deletionTime: string;
  destroyed: boolean;
}

/** Per-key metadata (`metadata/<path>`). */
export interface KeyMetadata {
  createdTime: string;
  updatedTime: string;
  currentVersion: number;
  /** 0 until the first pruning, as in OpenBao. */
  oldestVersion: number;
  /** 0 = use the mount's. */
  maxVersions: number;
  casRequired: boolean;
  /** Seconds; 0 = use the mount's. */
  deleteVersionAfter: number;
  /** null when empty: OpenBao renders an empty map as JSON null. */
  customMetadata: Record<string, string> | null;
  /** Keyed by the version number in decimal. */
  versions: Record<string, VersionRecord>;
}

export function metadataKey(path: string): string {
  return METADATA_PREFIX + path;
}

export function versionKey(path: string, version: number): string {
  // Unambiguous although `path` may itself contain "/": the version number is always the last segment.
  return `${VERSIONS_PREFIX}${path}/${version}`;
}

export async function loadConfig(r: KeyValueReader): Promise<KvConfig> {
  const c = await getJson<Partial<KvConfig>>(r, CONFIG_KEY);
  return { maxVersions: c?.maxVersions ?? 0, casRequired: c?.casRequired ?? false, deleteVersionAfter: c?.deleteVersionAfter ?? 0 };
}

export function saveConfig(w: KeyValueWriter, config: KvConfig): Promise<void> {
  return putJson(w, CONFIG_KEY, config);
}

export function loadMetadata(r: KeyValueReader, path: string): Promise<KeyMetadata | undefined> {
  return getJson<KeyMetadata>(r, metadataKey(path));
}

export function saveMetadata(w: KeyValueWriter, path: string, meta: KeyMetadata): Promise<void> {
  return putJson(w, metadataKey(path), meta);
}

export function newMetadata(now: string): KeyMetadata {
  return {
    createdTime: now,
    updatedTime: now,
    currentVersion: 0,
    oldestVersion: 0,
    maxVersions: 0,
    casRequired: false,
    deleteVersionAfter: 0,
    customMetadata: null,
    versions: {},
  };
}

/**
 * A version counts as deleted once its deletion time has passed (delete_version_after included). Compared
 * in nanoseconds against the same monotonic clock that stamped it, so a version deleted "now" reads as
 * deleted at once even within the same millisecond.
 */
export function isDeleted(v: VersionRecord, now: bigint = nowNs()): boolean {
  if (v.deletionTime === "") return false;
  const at = parseNs(v.deletionTime);
  // An unreadable deletion time can only come from a damaged record: hide the data rather than serve it.
  return at === undefined || at < now;
}

/**
 * The deletion time for a version created at `createdNs`: creation plus the smaller non-zero of the
 * mount's and the key's delete_version_after, or "" when neither is set or the mount disables it.
 */
export function scheduledDeletion(createdNs: bigint, config: KvConfig, meta: KeyMetadata): string {
  if (config.deleteVersionAfter === DELETE_VERSION_AFTER_DISABLED) return "";
  const mount = config.deleteVersionAfter;
  const key = meta.deleteVersionAfter;
  if (mount === 0 && key === 0) return "";
  let d = key;
  if ((mount !== 0 && mount < d) || d === 0) d = mount;
  return formatNs(createdNs + BigInt(d) * 1_000_000_000n);
}

/**
 * Appends a version to the metadata and slides the max_versions window (the larger of the key's and the
 * mount's setting, 10 when both are 0 — OpenBao's rule). Returns the version numbers whose data must be
 * deleted from storage.
 */
export function addVersion(meta: KeyMetadata, createdTime: string, deletionTime: string, configMaxVersions: number): number[] {
  meta.currentVersion += 1;
  meta.versions[String(meta.currentVersion)] = { createdTime, deletionTime, destroyed: false };
  meta.updatedTime = createdTime;
  if (meta.createdTime === "") meta.createdTime = createdTime;

  const max = Math.max(meta.maxVersions, configMaxVersions) || DEFAULT_MAX_VERSIONS;
  const removed: number[] = [];
  if (meta.currentVersion - meta.oldestVersion >= max) {
    const lastToDelete = meta.currentVersion - max;
    for (let i = meta.oldestVersion; i <= lastToDelete; i++) {
      const v = meta.versions[String(i)];
      if (v === undefined) continue;
      // Destroyed versions have no data left to delete.
      if (!v.destroyed) removed.push(i);
      delete meta.versions[String(i)];
    }
    meta.oldestVersion = lastToDelete + 1;
  }
  return removed;
}

/** Version metadata as returned by data read/write/patch and subkeys. */
export function versionView(meta: KeyMetadata, version: number, v: VersionRecord): Record<string, unknown> {
  return {
    created_time: v.createdTime,
    custom_metadata: meta.customMetadata,
    deletion_time: v.deletionTime,
    destroyed: v.destroyed,
    version,
  };
}

/** Full key metadata as returned by `metadata/<path>` reads and `detailed-metadata` key_info. */
export function metadataView(meta: KeyMetadata): Record<string, unknown> {
  const versions: Record<string, unknown> = {};
  for (const [n, v] of Object.entries(meta.versions)) {
    versions[n] = { created_time: v.createdTime, deletion_time: v.deletionTime, destroyed: v.destroyed };
  }
  return {
    cas_required: meta.casRequired,
    created_time: meta.createdTime,
    current_version: meta.currentVersion,
    custom_metadata: meta.customMetadata,
    delete_version_after: formatDuration(meta.deleteVersionAfter),
    max_versions: meta.maxVersions,
    oldest_version: meta.oldestVersion,
    updated_time: meta.updatedTime,
    versions,
  };
}

export type VersionLookup =
  | { kind: "absent" }
  | { kind: "torn" }
  | { kind: "gone"; meta: KeyMetadata; version: number; record: VersionRecord }
  | { kind: "live"; meta: KeyMetadata; version: number; record: VersionRecord; data: Buffer };

/**
 * Finds one version of a key with at most two storage reads (metadata, then data). `requested` <= 0 means
 * the current version, as in OpenBao. "gone" = soft-deleted (or past its deletion time) or destroyed.
 */
export async function lookupVersion(r: KeyValueReader, path: string, requested: number): Promise<VersionLookup> {
  const meta = await loadMetadata(r, path);
  if (!meta) return { kind: "absent" };
  const version = requested > 0 ? requested : meta.currentVersion;
  const record = meta.versions[String(version)];
  if (!record) return { kind: "absent" };
  if (record.destroyed || isDeleted(record)) return { kind: "gone", meta, version, record };
  const data = await r.get(versionKey(path, version));
  // Only possible when a concurrent destroy/prune committed between our two reads; the caller retries
  // inside a transaction, which sees a consistent snapshot.
  if (data === undefined) return { kind: "torn" };
  return { kind: "live", meta, version, record, data };
}
