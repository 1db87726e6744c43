/**
 * Storage of transit key policies (layout in backend.ts) with a parse cache. Every operation reads the
 * policy record from the mount's view; the cache only saves re-parsing JSON and re-importing key objects,
 * and is keyed by the stored bytes, so a write from anywhere (another request, the rotation job, restore)
 * is seen at once without invalidation.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { ArcaError, invalidRequest } from "../../core/errors.js";
import { getJson, putJson } from "../../core/view.js";
import { ecPrivateScalar, ecPublicPoint } from "./digest-sign.js";
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

/** A parsed policy plus lazily imported key objects for its versions. */
export class CachedPolicy {
  private readonly secretKeys = new Map<number, Buffer>();
  private readonly privateKeys = new Map<number, KeyObject>();
  private readonly publicKeys = new Map<number, KeyObject>();
  /** Raw EC private scalars and public points for signing and verifying digests (digest-sign.ts). */
  private readonly ecScalars = new Map<number, Uint8Array>();
  private readonly ecPoints = new Map<number, Uint8Array>();

  constructor(
    readonly raw: Buffer,
    readonly policy: KeyPolicy,
  ) {}

  /** The decoded symmetric key of version `ver` (AES, ChaCha20, HMAC key type). Never modify it. */
  secretKey(ver: number, v: KeyVersion): Buffer {
    let k = this.secretKeys.get(ver);
    if (!k) {
      if (!v.key) throw new ArcaError("internal", "key version has no symmetric material");
      k = Buffer.from(v.key, "base64");
      this.secretKeys.set(ver, k);
    }
    return k;
  }

  privateKey(ver: number, v: KeyVersion): KeyObject {
    let k = this.privateKeys.get(ver);
    if (!k) {
      if (!v.privateKey) throw invalidRequest("no private key for this key version");
      k = createPrivateKey({ key: Buffer.from(v.privateKey, "base64"), format: "der", type: "pkcs8" });
      this.privateKeys.set(ver, k);
    }
    return k;
  }

  publicKey(ver: number, v: KeyVersion): KeyObject {
    let k = this.publicKeys.get(ver);
    if (!k) {
      if (!v.publicKey) throw invalidRequest("no public key for this key version");
      k = createPublicKey({ key: Buffer.from(v.publicKey, "base64"), format: "der", type: "spki" });
      this.publicKeys.set(ver, k);
    }
    return k;
  }

  ecScalar(ver: number, v: KeyVersion): Uint8Array {
    let d = this.ecScalars.get(ver);
    if (!d) {
      d = ecPrivateScalar(this.privateKey(ver, v));
      this.ecScalars.set(ver, d);
    }
    return d;
  }

  /** The EC point of version `ver`, from `key` (its public key, software or HSM) the first time. */
  ecPoint(ver: number, key: KeyObject): Uint8Array {
    let q = this.ecPoints.get(ver);
    if (!q) {
      q = ecPublicPoint(key);
      this.ecPoints.set(ver, q);
    }
    return q;
  }

  /** HSM public keys are fetched through the KeyManager once and kept here. */
  rememberPublicKey(ver: number, k: KeyObject): void {
    this.publicKeys.set(ver, k);
  }

  cachedPublicKey(ver: number): KeyObject | undefined {
    return this.publicKeys.get(ver);
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
