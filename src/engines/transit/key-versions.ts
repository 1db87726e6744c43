/**
 * Making new key versions (create, rotate, the auto-rotation job), in software or in the HSM through the
 * KeyManager seam, and deleting HSM objects transit owns.
 */
import { randomBytes } from "node:crypto";
import { invalidRequest } from "../../common/errors.js";
import { keyErrorToArca } from "../../core/key-api-errors.js";
import { isKeyDeleter, isKeyEncrypter, isManagedKeyResolver, type KeyAlgorithm, type KeyManager } from "../../hsm/key-manager.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { listPolicies, loadPolicy, savePolicy } from "./key-store.js";
import { LIMIT_SETTING } from "../../core/limits.js";
import type { TransitDeps } from "./transit-crypto.js";
import { appendVersion, generateVersion, HSM_KEY_TYPES, nowTimestamp, type KeyPolicy, type KeyType, type KeyVersion } from "./transit-key.js";
import { parseNs } from "../kv/kv-time.js";

const HSM_ALGORITHM: Partial<Record<KeyType, KeyAlgorithm>> = { "aes256-gcm96": "aes-256", "ecdsa-p256": "ec-p256", "rsa-2048": "rsa-2048" };

function requireKeyManager(deps: TransitDeps): KeyManager {
  if (!deps.keyManager) throw invalidRequest("HSM-backed keys need an HSM: none is configured on this server");
  return deps.keyManager;
}

export function checkHsmType(type: KeyType): KeyAlgorithm {
  const alg = HSM_ALGORITHM[type];
  if (!alg || !HSM_KEY_TYPES.includes(type)) throw invalidRequest(`key type ${type} cannot be HSM-backed (supported: ${HSM_KEY_TYPES.join(", ")})`);
  return alg;
}

function hsmFailure(what: string, err: unknown): never {
  throw keyErrorToArca(err, what);
}

/** Creates the key inside the HSM (sensitive, not extractable). */
async function createHsmVersion(p: KeyPolicy, deps: TransitDeps): Promise<KeyVersion> {
  const km = requireKeyManager(deps);
  const algorithm = checkHsmType(p.type);
  try {
    const created = await km.createKey({ algorithm, label: `transit-${p.name}-v${p.latestVersion + 1}`.slice(0, 64) });
    return { creationTime: nowTimestamp(), hsm: { uri: created.uri, owned: true } };
  } catch (err) {
    hsmFailure("creating the key in the HSM failed", err);
  }
}

/** Checks that `uri` names a usable HSM key of the policy's type, and records it (transit does not own it). */
export async function referHsmVersion(p: KeyPolicy, uri: string, deps: TransitDeps): Promise<KeyVersion> {
  const km = requireKeyManager(deps);
  const algorithm = checkHsmType(p.type);
  if (!uri.startsWith("pkcs11:")) throw invalidRequest('key_ref must be a PKCS#11 URI ("pkcs11:…")');
  try {
    if (algorithm === "aes-256") {
      // A secret key has no public half to inspect: a round trip proves it exists and allows AES-GCM.
      if (!isKeyEncrypter(km)) throw invalidRequest("the configured key manager cannot encrypt");
      const probe = randomBytes(16);
      const ct = await km.encrypt(uri, probe);
      if (!(await km.decrypt(uri, ct)).equals(probe)) throw invalidRequest("key_ref failed an AES-GCM round trip");
    } else {
      const signer = await km.createSigner(uri);
      if (signer.algorithm !== algorithm) throw invalidRequest(`key_ref names a ${signer.algorithm} key, not ${p.type}`);
    }
  } catch (err) {
    throw keyErrorToArca(err, "key_ref is not usable");
  }
  return { creationTime: nowTimestamp(), hsm: { uri, owned: false } };
}

/**
 * The HSM key a create or rotate binds: `key_ref` (a URI) or `managed_key_name` (an operator's grant), at most
 * one. Either way the mount's key manager decides whether this mount may use it.
 */
export async function boundKeyRef(deps: TransitDeps, f: { key_ref?: string; managed_key_name?: string }): Promise<string | undefined> {
  const ref = f.key_ref || undefined;
  const managed = f.managed_key_name || undefined;
  if (ref && managed) throw invalidRequest("give key_ref or managed_key_name, not both");
  if (!managed) return ref;
  const km = requireKeyManager(deps);
  if (!isManagedKeyResolver(km)) throw invalidRequest("managed keys are not available to this mount");
  return km.managedKeyUri(managed);
}

export interface NewVersionOptions {
  hmacKeySize?: number;
  /** An existing HSM key to use for this version instead of creating one. */
  keyRef?: string;
}

/**
 * Makes the material of a new version (software or HSM) for `p`, without touching storage. Callers make it
 * before opening a transaction, because storage runs one write batch at a time and RSA generation or an HSM
 * round trip inside it would stall every other writer.
 */
export async function makeVersion(p: KeyPolicy, deps: TransitDeps, opts: NewVersionOptions = {}): Promise<KeyVersion> {
  if (opts.keyRef) return referHsmVersion(p, opts.keyRef, deps);
  if (p.hsm) return createHsmVersion(p, deps);
  return generateVersion(p.type, { hmacKeySize: opts.hmacKeySize ?? hmacKeySizeOf(p) });
}

/** The HMAC key size of an hmac-type key (its first available version), for rotation. */
function hmacKeySizeOf(p: KeyPolicy): number | undefined {
  if (p.type !== "hmac") return undefined;
  const v = Object.values(p.keys)[0];
  return v?.key ? Buffer.from(v.key, "base64").length : undefined;
}

/**
 * Rotates `name`: makes the version outside the transaction, appends it inside (re-reading the policy so a
 * concurrent rotation is not lost). `check` runs on the fresh policy before anything is written.
 */
export async function rotatePolicy(
  storage: KeyValueStore,
  name: string,
  deps: TransitDeps,
  opts: NewVersionOptions & { check?: (p: KeyPolicy) => boolean } = {},
): Promise<KeyPolicy | undefined> {
  const before = await loadPolicy(storage, name);
  if (!before) return undefined;
  if (opts.check && !opts.check(before)) return undefined;
  const v = await makeVersion(before, deps, opts);
  try {
    return await storage.transaction(async (txn) => {
      const p = await loadPolicy(txn, name);
      if (!p || p.type !== before.type || p.hsm !== before.hsm) throw invalidRequest("key changed during rotation; retry");
      if (opts.check && !opts.check(p)) return undefined;
      appendVersion(p, v);
      await savePolicy(txn, p);
      return p;
    });
  } catch (err) {
    await deleteOwnedHsmObjects([v], deps);
    throw err;
  }
}

/**
 * Refuses a new version when the key already holds `max` live ones. Every rotation rewrites the whole
 * key entry, so its cost grows with the versions kept; OpenBao has no bound, but offers trimming
 * (keys/:name/trim with min_available_version), which is what makes room again.
 */
export function checkRoomForVersion(p: KeyPolicy, max: number): void {
  const live = Object.keys(p.keys).length;
  if (live >= max) {
    throw invalidRequest(
      `key has ${live} live versions, the limit (server config limits.${LIMIT_SETTING.maxTransitKeyVersions}); trim old versions with keys/${p.name}/trim (min_available_version) first`,
    );
  }
}

/** Deletes HSM objects transit created for `versions` (referenced keys are left alone). Best effort. */
export async function deleteOwnedHsmObjects(versions: KeyVersion[], deps: TransitDeps): Promise<string[]> {
  const warnings: string[] = [];
  const owned = versions.filter((v) => v.hsm?.owned);
  if (owned.length === 0) return warnings;
  const km = deps.keyManager;
  if (!km || !isKeyDeleter(km)) return ["HSM key objects were not deleted: the key manager cannot delete keys"];
  for (const v of owned) {
    try {
      await km.deleteKey(v.hsm!.uri);
    } catch (err) {
      warnings.push(`HSM key object was not deleted: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return warnings;
}

/** Seconds since the epoch of a stored creation time. */
export function creationSeconds(v: KeyVersion): number {
  const ns = parseNs(v.creationTime);
  return ns === undefined ? 0 : Number(ns / 1_000_000_000n);
}

/**
 * The auto-rotation job: rotates every key whose auto_rotate_period has elapsed since its latest version was
 * created. The caller schedules it (e.g. once a minute per transit mount). Returns the names rotated; a key
 * that fails to rotate (HSM down) is skipped and retried on the next run.
 */
export async function rotateDueKeys(
  storage: KeyValueStore,
  now: Date,
  deps: TransitDeps = {},
  /** Told about each key that failed to rotate, so the caller can log it (the key name, never material). */
  onError?: (name: string, err: unknown) => void,
): Promise<string[]> {
  const rotated: string[] = [];
  const nowS = Math.floor(now.getTime() / 1000);
  for (const name of await listPolicies(storage)) {
    const due = (p: KeyPolicy): boolean => {
      if (p.autoRotatePeriod <= 0) return false;
      if (p.importedKey && !p.allowImportedKeyRotation) return false;
      const latest = p.keys[String(p.latestVersion)];
      if (!latest || creationSeconds(latest) + p.autoRotatePeriod > nowS) return false;
      return !(latest.hsm && !latest.hsm.owned); // a referenced HSM key is rotated by whoever owns it
    };
    try {
      if (await rotatePolicy(storage, name, deps, { check: due })) rotated.push(name);
    } catch (err) {
      // Skipped: retried on the next run. One bad key must not stop the others from rotating.
      onError?.(name, err);
    }
  }
  return rotated;
}
