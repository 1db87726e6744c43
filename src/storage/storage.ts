/**
 * The storage seam: a flat, ordered key space of opaque byte values. Keys are `/`-separated paths.
 * Implementations: sqlite.ts (embedded default), postgres.ts. Every implementation must pass
 * storage.case.ts.
 *
 * Values reaching storage are already encrypted by the barrier, except the few seal entries that must
 * be readable while sealed (and those hold only ciphertext of the root key).
 */
import { ArcaError } from "../common/errors.js";

export interface ListOptions {
  /** Exclusive cursor: only keys sorting after this one (relative to the prefix) are returned. */
  after?: string;
  /** Maximum number of keys; 0 or undefined = all. */
  limit?: number;
}

/** Read and write operations, the common surface of storage, transactions, barrier and views. */
export interface KeyValueReader {
  get(key: string): Promise<Buffer | undefined>;
  /**
   * One level of the hierarchy below `prefix` (which is "" or ends in "/"): direct children's names,
   * with sub-folders once each, ending in "/". Sorted by byte order.
   */
  list(prefix: string, opts?: ListOptions): Promise<string[]>;
}

export interface KeyValueWriter {
  put(key: string, value: Buffer): Promise<void>;
  delete(key: string): Promise<void>;
}

export type KeyValueTxn = KeyValueReader & KeyValueWriter;

export interface KeyValueStore extends KeyValueReader, KeyValueWriter {
  /**
   * Runs `fn` atomically: its reads see its own writes, nobody else sees them until it returns, and
   * either all of its writes become durable or none (when `fn` throws, the error is re-thrown).
   * Resolves only once the commit is durable.
   */
  transaction<T>(fn: (txn: KeyValueTxn) => Promise<T>): Promise<T>;
}

export interface StorageEntry {
  key: string;
  value: Buffer;
}

/** Keys another server committed ("all": unknown, after a long disconnection), for cache invalidation. */
export type RemoteChangeListener = (keys: readonly string[] | "all") => void;

export interface Storage extends KeyValueStore {
  readonly type: string;
  /**
   * Every entry, in key (byte) order, read in one read transaction: writes that commit while the
   * iteration runs are not seen, so the result is one consistent state (storage snapshots). Breaking out
   * of the loop ends the transaction.
   */
  entries(): AsyncIterable<StorageEntry>;
  /**
   * Shared storage only (HA): calls `listener` with the keys other servers commit, soon after each commit.
   * Returns the unsubscribe function. Absent on storage only one server uses.
   */
  watchRemoteChanges?(listener: RemoteChangeListener): () => void;
  close(): Promise<void>;
}

/**
 * Storage keys are validated once, here, so every backend agrees on what a key is. Keys are built from
 * request paths and names, so an unacceptable key is the caller's error (400), never a crash.
 */
export function assertValidKey(key: string): void {
  if (key.length === 0 || key.length > 4096 || key.startsWith("/") || key.includes("\0")) {
    throw new ArcaError("invalid_request", "invalid path or name: empty, too long (over 4 KiB) or malformed");
  }
}

/** Turns the full keys below `prefix` into one level of list output (shared by all backends). */
export function collapseToLevel(prefix: string, fullKeys: Iterable<string>, opts: ListOptions = {}): string[] {
  const out: string[] = [];
  let last = "";
  const limit = opts.limit && opts.limit > 0 ? opts.limit : Infinity;
  for (const full of fullKeys) {
    const rest = full.slice(prefix.length);
    const slash = rest.indexOf("/");
    const name = slash === -1 ? rest : rest.slice(0, slash + 1);
    if (name === last) continue;
    if (opts.after !== undefined && name <= opts.after) continue;
    out.push(name);
    last = name;
    if (out.length >= limit) break;
  }
  return out;
}
