/**
 * A view locks its user to one prefix of a store, "like a chroot into the barrier": engines get a view
 * of their mount's prefix and cannot name a key outside it.
 */
import type { KeyValueStore, KeyValueTxn, ListOptions } from "../storage/storage.js";

export class StorageView implements KeyValueStore {
  constructor(
    private readonly inner: KeyValueStore,
    readonly prefix: string,
  ) {
    if (prefix !== "" && !prefix.endsWith("/")) throw new Error("view prefix must end in /");
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.inner.get(this.prefix + key);
  }
  list(prefix: string, opts?: ListOptions): Promise<string[]> {
    return this.inner.list(this.prefix + prefix, opts);
  }
  put(key: string, value: Buffer): Promise<void> {
    return this.inner.put(this.prefix + key, value);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(this.prefix + key);
  }
  transaction<T>(fn: (txn: KeyValueTxn) => Promise<T>): Promise<T> {
    return this.inner.transaction((txn) => fn(viewOfTxn(txn, this.prefix)));
  }
  sub(prefix: string): StorageView {
    return new StorageView(this.inner, this.prefix + prefix);
  }

  /** Deletes every key below this view (used when a mount is disabled). */
  async clear(): Promise<void> {
    const walk = async (txn: KeyValueTxn, p: string): Promise<void> => {
      for (const name of await txn.list(this.prefix + p)) {
        if (name.endsWith("/")) await walk(txn, p + name);
        else await txn.delete(this.prefix + p + name);
      }
    };
    await this.inner.transaction((txn) => walk(txn, ""));
  }
}

function viewOfTxn(txn: KeyValueTxn, prefix: string): KeyValueTxn {
  return {
    get: (k) => txn.get(prefix + k),
    list: (p, o) => txn.list(prefix + p, o),
    put: (k, v) => txn.put(prefix + k, v),
    delete: (k) => txn.delete(prefix + k),
  };
}

/** JSON helpers used by every stateful module (one way to store an object). */
export async function getJson<T>(store: { get(k: string): Promise<Buffer | undefined> }, key: string): Promise<T | undefined> {
  const raw = await store.get(key);
  return raw === undefined ? undefined : (JSON.parse(raw.toString("utf8")) as T);
}

export function putJson(store: { put(k: string, v: Buffer): Promise<void> }, key: string, value: unknown): Promise<void> {
  return store.put(key, Buffer.from(JSON.stringify(value), "utf8"));
}
