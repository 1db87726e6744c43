/**
 * Storage of transit key policies (layout in backend.ts) with a parse cache. Every operation reads the
 * policy record from the mount's view; the cache only saves re-parsing JSON and re-opening version keys,
 * and is keyed by the stored bytes, so a write from anywhere (another request, the rotation job, restore)
 * is seen at once without invalidation.
 */
import { invalidRequest } from "../../common/errors.js";
import { getJson, putJson } from "../../core/view.js";
import type { KeyManager } from "../../hsm/key-manager.js";
import { openVersionKey } from "./open-version-key.js";
import type { VersionKey } from "./version-key.js";
import type { KeyValueReader, KeyValueStore, KeyValueWriter } from "../../storage/storage.js";
import type { KeyPolicy, KeyVersion } from "./transit-key.js";

export const POLICY_PREFIX = "policy/";
export const WRAPPING_KEY_PATH = "config/wrapping-key";
export const KEYS_CONFIG_PATH = "config/keys";

const NAME = /^[A-Za-z0-9_.@-]{1,256}$/;

/** Key names are one path segment; keep them to a conservative alphabet so storage keys stay simple. */
export function checkKeyName(name: string): string {
  if (!NAME.test(name) || name === "." || name === "..") throw invalidRequest(`invalid key name "${name.slice(0, 64)}"`);
  return name;
}

export function policyKey(name: string): string {
  return POLICY_PREFIX + name;
}

/**
 * A parsed policy plus a VersionKey per version, made on first use and kept as long as the stored bytes do
 * not change (so decoded software keys and fetched HSM public keys are reused across requests).
 */
export class CachedPolicy {
  private readonly keys = new Map<number, { keyManager: KeyManager | undefined; key: VersionKey }>();

  constructor(
    readonly raw: Buffer,
    readonly policy: KeyPolicy,
  ) {}

  /** The handle of version `ver` (whose record is `v`), over `keyManager` when its material is in a key store. */
  versionKey(ver: number, v: KeyVersion, keyManager: KeyManager | undefined): VersionKey {
    const hit = this.keys.get(ver);
    if (hit && hit.keyManager === keyManager) return hit.key;
    const key = openVersionKey(this.policy, v, keyManager);
    this.keys.set(ver, { keyManager, key });
    return key;
  }
}

export class PolicyCache {
  private readonly entries = new Map<string, CachedPolicy>();
  private static readonly MAX = 10_000;

  /** The current policy (read-only: never mutate it), or undefined when the key does not exist. */
  async load(store: KeyValueReader, name: string): Promise<CachedPolicy | undefined> {
    const raw = await store.get(policyKey(name));
    if (raw === undefined) {
      this.entries.delete(name);
      return undefined;
    }
    const hit = this.entries.get(name);
    if (hit && hit.raw.equals(raw)) return hit;
    const entry = new CachedPolicy(raw, JSON.parse(raw.toString("utf8")) as KeyPolicy);
    if (this.entries.size >= PolicyCache.MAX) this.entries.clear();
    this.entries.set(name, entry);
    return entry;
  }

  /** Parsed keys held now. */
  get size(): number {
    return this.entries.size;
  }

  /** Forgets one parsed key: its record changed or went away on another node. */
  drop(name: string): void {
    this.entries.delete(name);
  }

  /** Forgets every parsed key (unmount, seal). */
  clear(): void {
    this.entries.clear();
  }
}

/** A private copy of the stored policy for read-modify-write inside a transaction. */
export function loadPolicy(store: KeyValueReader, name: string): Promise<KeyPolicy | undefined> {
  return getJson<KeyPolicy>(store, policyKey(name));
}

export function savePolicy(store: KeyValueWriter, p: KeyPolicy): Promise<void> {
  return putJson(store, policyKey(p.name), p);
}

export async function listPolicies(store: KeyValueStore): Promise<string[]> {
  return (await store.list(POLICY_PREFIX)).filter((n) => !n.endsWith("/"));
}

export interface KeysConfig {
  disableUpsert: boolean;
}

export async function loadKeysConfig(store: KeyValueReader): Promise<KeysConfig> {
  return (await getJson<KeysConfig>(store, KEYS_CONFIG_PATH)) ?? { disableUpsert: false };
}
