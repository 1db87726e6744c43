/**
 * `keys`, `keys/:name`, `keys/:name/config`, `keys/:name/rotate`, `keys/:name/trim`: the key lifecycle.
 */
import { invalidRequest, notFound } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import type { Response } from "../../core/framework/request.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { checkKeyName, listPolicies, loadPolicy, policyKey, savePolicy } from "./key-store.js";
import { boundKeyRef, checkHsmType, checkRoomForVersion, creationSeconds, deleteOwnedHsmObjects, makeVersion, rotatePolicy } from "./key-versions.js";
import type { TransitDeps } from "./transit-crypto.js";
import type { TransitEnv } from "./transit-env.js";
import {
  appendVersion,
  capabilities,
  checkAutoRotatePeriod,
  EC_CURVE,
  isEcdsa,
  isKeyType,
  isSymmetricCipher,
  KEY_TYPES,
  newPolicy,
  type KeyPolicy,
  type KeyType,
  type KeyVersion,
} from "./transit-key.js";
import type { KeyObject } from "node:crypto";
import { openVersionKey } from "./open-version-key.js";

/** Public key as OpenBao renders it: PEM SPKI, except Ed25519 which is the raw 32 bytes in base64. */
export function renderPublicKey(type: KeyType, key: KeyObject): string {
  if (type === "ed25519") return key.export({ format: "der", type: "spki" }).subarray(-32).toString("base64");
  return key.export({ format: "pem", type: "spki" }).toString();
}

async function versionPublicKey(p: KeyPolicy, v: KeyVersion, deps: TransitDeps): Promise<KeyObject | undefined> {
  try {
    return await openVersionKey(p, v, deps.keyManager).publicKey();
  } catch {
    return undefined; // a read must not fail because the HSM is away; the key simply shows no public key
  }
}

function keyDisplayName(type: KeyType): string {
  return isEcdsa(type) ? EC_CURVE[type] : type;
}

/** The `data` of GET keys/:name (also returned by create, config, rotate and trim). */
export async function formatKey(p: KeyPolicy, deps: TransitDeps): Promise<Record<string, unknown>> {
  const caps = capabilities(p.type, p.hsm);
  const keys: Record<string, unknown> = {};
  const asymmetric = caps.signing;
  for (const [ver, v] of Object.entries(p.keys)) {
    if (!asymmetric) {
      keys[ver] = creationSeconds(v);
      continue;
    }
    const pub = p.derived ? undefined : await versionPublicKey(p, v, deps);
    keys[ver] = { name: keyDisplayName(p.type), public_key: pub ? renderPublicKey(p.type, pub) : "", creation_time: v.creationTime };
  }
  const data: Record<string, unknown> = {
    name: p.name,
    type: p.type,
    keys,
    latest_version: p.latestVersion,
    min_available_version: p.minAvailableVersion,
    min_decryption_version: p.minDecryptionVersion,
    min_encryption_version: p.minEncryptionVersion,
    deletion_allowed: p.deletionAllowed,
    derived: p.derived,
    exportable: p.exportable,
    allow_plaintext_backup: p.allowPlaintextBackup,
    supports_encryption: caps.encryption,
    supports_decryption: caps.decryption,
    supports_derivation: caps.derivation,
    supports_signing: caps.signing,
    imported_key: p.importedKey,
    auto_rotate_period: p.autoRotatePeriod,
    hsm: p.hsm,
  };
  if (p.importedKey) data.imported_key_allow_rotation = p.allowImportedKeyRotation;
  if (p.derived) {
    data.kdf = p.kdf;
    data.convergent_encryption = p.convergentEncryption;
    if (p.convergentEncryption) data.convergent_encryption_version = 3;
  }
  return data;
}

export interface NewKeyRequest {
  type: string;
  derived: boolean;
  convergent: boolean;
  exportable: boolean;
  allowPlaintextBackup: boolean;
  autoRotatePeriod: number;
  hsm: boolean;
  keyRef?: string;
  keySize?: number;
}

/** Validates a create request and returns the policy to build (without versions). */
export function planPolicy(name: string, r: NewKeyRequest): KeyPolicy {
  if (!isKeyType(r.type)) throw invalidRequest(`unknown key type ${r.type.slice(0, 64)}; supported: ${KEY_TYPES.join(", ")}`);
  const type = r.type;
  const hsm = r.hsm || r.keyRef !== undefined;
  if (hsm) {
    checkHsmType(type);
    if (r.exportable || r.allowPlaintextBackup) throw invalidRequest("HSM-backed keys are never exportable and cannot be backed up in plaintext");
    if (r.derived) throw invalidRequest("HSM-backed keys do not support key derivation");
  }
  if (r.derived && !capabilities(type).derivation) throw invalidRequest(`key derivation is not supported for key type ${type}`);
  if (r.convergent) {
    if (!r.derived) throw invalidRequest("convergent encryption requires derivation to be enabled, so context is required");
    if (!isSymmetricCipher(type)) throw invalidRequest(`convergent encryption is not supported for key type ${type}`);
  }
  if (r.keySize !== undefined && r.keySize !== 0) {
    if (type !== "hmac") throw invalidRequest("key_size is only supported for hmac keys");
    if (r.keySize < 32 || r.keySize > 512) throw invalidRequest("key_size must be between 32 and 512 bytes");
  }
  return newPolicy(name, type, {
    derived: r.derived,
    convergentEncryption: r.convergent,
    exportable: r.exportable,
    allowPlaintextBackup: r.allowPlaintextBackup,
    autoRotatePeriod: checkAutoRotatePeriod(r.autoRotatePeriod),
    hsm,
  });
}

/**
 * Creates key `name` unless it exists. The first version is made outside the transaction (see makeVersion);
 * losing a creation race discards it. Returns the stored policy and whether this call created it.
 */
export async function createKey(store: KeyValueStore, planned: KeyPolicy, deps: TransitDeps, opts: { keyRef?: string; keySize?: number } = {}): Promise<{ policy: KeyPolicy; created: boolean }> {
  const existing = await loadPolicy(store, planned.name);
  if (existing) return { policy: existing, created: false };
  const v = await makeVersion(planned, deps, { keyRef: opts.keyRef, hmacKeySize: opts.keySize || undefined });
  const result = await store.transaction(async (txn) => {
    const now = await loadPolicy(txn, planned.name);
    if (now) return { policy: now, created: false };
    appendVersion(planned, v);
    await savePolicy(txn, planned);
    return { policy: planned, created: true };
  });
  if (!result.created) await deleteOwnedHsmObjects([v], deps);
  return result;
}

export function keysListPath(_env: TransitEnv) {
  return definePath({
    pattern: "keys",
    operations: {
      list: {
        summary: "List the named keys.",
        handler: async ({ storage }) => {
          const keys = await listPolicies(storage);
          if (keys.length === 0) throw notFound();
          return { data: { keys } };
        },
      },
    },
    synopsis: "Managed named encryption keys",
    description: "This path is used to list the named keys that are available.",
  });
}

export function keysPath(env: TransitEnv) {
  return definePath({
    pattern: "keys/:name",
    fields: {
      name: { type: "string", required: true, description: "Name of the key" },
      type: { type: "string", default: "aes256-gcm96", description: `The type of key to create: ${KEY_TYPES.join(", ")}` },
      derived: { type: "bool", default: false, description: "Enables key derivation (HKDF-SHA256 with the per-request context)." },
      convergent_encryption: { type: "bool", default: false, description: "Deterministic encryption for equal (context, plaintext); requires derived." },
      exportable: { type: "bool", default: false, description: "Enables keys to be exportable. Cannot be disabled later." },
      allow_plaintext_backup: { type: "bool", default: false, description: "Enables plaintext backups. Cannot be disabled later." },
      key_size: { type: "int", default: 0, description: "The key size in bytes for hmac keys (32–512)." },
      auto_rotate_period: { type: "duration", default: 0, description: "Rotation period (0 disables; at least 1h)." },
      context: { type: "string", description: "Base64 context for key derivation (accepted and ignored, as OpenBao)." },
      hsm: { type: "bool", default: false, description: "Create the key inside the HSM (aes256-gcm96, ecdsa-p256, rsa-2048)." },
      managed_key: { type: "bool", default: false, description: "Alias of hsm." },
      key_ref: { type: "string", description: "PKCS#11 URI of an HSM key this mount created, or of a managed key it may use, as version 1." },
      managed_key_name: { type: "string", description: "A managed key (sys/managed-keys) allowed on this mount, as version 1." },
    },
    existenceCheck: async ({ storage, params }) => (await storage.get(policyKey(checkKeyName(params.name)))) !== undefined,
    operations: {
      update: {
        summary: "Create a key (no change if it exists).",
        handler: async ({ fields, storage }) => {
          const name = checkKeyName(fields.name);
          const keyRef = await boundKeyRef(env.deps, fields);
          const planned = planPolicy(name, {
            type: fields.type,
            derived: fields.derived,
            convergent: fields.convergent_encryption,
            exportable: fields.exportable,
            allowPlaintextBackup: fields.allow_plaintext_backup,
            autoRotatePeriod: fields.auto_rotate_period,
            hsm: fields.hsm || fields.managed_key,
            keyRef,
            keySize: fields.key_size,
          });
          const { policy, created } = await createKey(storage, planned, env.deps, { keyRef, keySize: fields.key_size });
          const resp: Response = { data: await formatKey(policy, env.deps) };
          if (!created) resp.warnings = [`key ${name} already existed`];
          return resp;
        },
      },
      read: {
        summary: "Return information about a named key.",
        handler: async ({ storage, params }) => {
          const p = await loadPolicy(storage, checkKeyName(params.name));
          // 404 {"errors":[]} as OpenBao answers a read with no response (hvac: InvalidPath), not a 204.
          if (!p) throw notFound();
          return { data: await formatKey(p, env.deps) };
        },
      },
      delete: {
        summary: "Delete a named key (needs deletion_allowed).",
        handler: async ({ storage, params }) => {
          const name = checkKeyName(params.name);
          const removed = await storage.transaction(async (txn) => {
            const p = await loadPolicy(txn, name);
            if (!p) return undefined;
            if (!p.deletionAllowed) throw invalidRequest("deletion is not allowed for this key");
            await txn.delete(policyKey(name));
            return p;
          });
          if (!removed) return undefined;
          const warnings = await deleteOwnedHsmObjects(Object.values(removed.keys), env.deps);
          return warnings.length > 0 ? { warnings } : undefined;
        },
      },
    },
    synopsis: "Managed named encryption keys",
    description: "This path is used to manage the named keys that are available. Doing a write with no value against an existing key does nothing.",
  });
}

export function keyConfigPath(env: TransitEnv) {
  return definePath({
    pattern: "keys/:name/config",
    fields: {
      name: { type: "string", required: true },
      min_decryption_version: { type: "int", description: "The minimum version of ciphertext allowed to be decrypted." },
      min_encryption_version: { type: "int", description: "The minimum version of the key allowed to encrypt (0 = latest)." },
      deletion_allowed: { type: "bool", description: "Whether to allow deletion of the key." },
      exportable: { type: "bool", description: "Enables export. Once set, this cannot be disabled." },
      allow_plaintext_backup: { type: "bool", description: "Enables plaintext backup. Once set, this cannot be disabled." },
      auto_rotate_period: { type: "duration", description: "Rotation period (0 disables; at least 1h)." },
    },
    operations: {
      update: {
        summary: "Configure a named key.",
        handler: async ({ fields, storage, params }) => {
          const name = checkKeyName(params.name);
          const warnings: string[] = [];
          const p = await storage.transaction(async (txn) => {
            const p = await loadPolicy(txn, name);
            if (!p) throw invalidRequest("no existing key named " + name + " could be found");
            let minDec = p.minDecryptionVersion;
            let minEnc = p.minEncryptionVersion;
            if (fields.min_decryption_version !== undefined) {
              minDec = fields.min_decryption_version;
              if (minDec < 0) throw invalidRequest("min decryption version cannot be negative");
              if (minDec === 0) {
                minDec = 1;
                warnings.push("since transit key numbering starts at 1, forcing minimum to 1");
              }
              if (minDec > p.latestVersion) throw invalidRequest("cannot set min decryption version to a value greater than the latest version");
              if (minDec < p.minAvailableVersion) throw invalidRequest("cannot set min decryption version below min available version");
            }
            if (fields.min_encryption_version !== undefined) {
              minEnc = fields.min_encryption_version;
              if (minEnc < 0) throw invalidRequest("min encryption version cannot be negative");
              if (minEnc > p.latestVersion) throw invalidRequest("cannot set min encryption version to a value greater than the latest version");
            }
            if (minEnc > 0 && minEnc < minDec) {
              throw invalidRequest("cannot set min encryption/decryption values; min encryption version must be 0 or greater than or equal to min decryption version");
            }
            p.minDecryptionVersion = minDec;
            p.minEncryptionVersion = minEnc;
            if (fields.deletion_allowed !== undefined) p.deletionAllowed = fields.deletion_allowed;
            if (fields.exportable !== undefined) {
              if (p.exportable && !fields.exportable) throw invalidRequest("exportable key setting cannot be disabled once enabled");
              if (fields.exportable && p.hsm) throw invalidRequest("HSM-backed keys are never exportable");
              p.exportable = fields.exportable;
            }
            if (fields.allow_plaintext_backup !== undefined) {
              if (p.allowPlaintextBackup && !fields.allow_plaintext_backup) throw invalidRequest("allow_plaintext_backup cannot be disabled once enabled");
              if (fields.allow_plaintext_backup && p.hsm) throw invalidRequest("HSM-backed keys cannot be backed up in plaintext");
              p.allowPlaintextBackup = fields.allow_plaintext_backup;
            }
            if (fields.auto_rotate_period !== undefined) p.autoRotatePeriod = checkAutoRotatePeriod(fields.auto_rotate_period);
            await savePolicy(txn, p);
            return p;
          });
          const resp: Response = { data: await formatKey(p, env.deps) };
          if (warnings.length > 0) resp.warnings = warnings;
          return resp;
        },
      },
    },
    synopsis: "Configure a named encryption key",
  });
}

export function keyRotatePath(env: TransitEnv) {
  return definePath({
    pattern: "keys/:name/rotate",
    fields: {
      name: { type: "string", required: true },
      key_ref: { type: "string", description: "PKCS#11 URI of an HSM key this mount created, or of a managed key it may use, as the new version (HSM-backed keys)." },
      managed_key_name: { type: "string", description: "A managed key (sys/managed-keys) allowed on this mount, as the new version." },
    },
    operations: {
      update: {
        summary: "Rotate the named key.",
        handler: async ({ fields, storage, params }) => {
          const name = checkKeyName(params.name);
          const keyRef = await boundKeyRef(env.deps, fields);
          const current = await loadPolicy(storage, name);
          if (!current) throw invalidRequest("key not found");
          if (current.importedKey && !current.allowImportedKeyRotation) throw invalidRequest("imported keys do not allow rotation");
          if (keyRef && !current.hsm) throw invalidRequest("key_ref is only valid for HSM-backed keys");
          checkRoomForVersion(current, env.maxKeyVersions);
          const p = await rotatePolicy(storage, name, env.deps, {
            keyRef,
            check: (latest) => (checkRoomForVersion(latest, env.maxKeyVersions), true),
          });
          if (!p) throw invalidRequest("key not found");
          return { data: await formatKey(p, env.deps) };
        },
      },
    },
    synopsis: "Rotate named encryption key",
    description: "This path is used to rotate the named key. After rotation, new encryption requests use the new version; decryption of older versions still works unless min_decryption_version forbids it.",
  });
}

export function keyTrimPath(env: TransitEnv) {
  return definePath({
    pattern: "keys/:name/trim",
    fields: {
      name: { type: "string", required: true },
      min_available_version: { type: "int", required: true, description: "The minimum version of the key to keep; older versions are deleted." },
    },
    operations: {
      update: {
        summary: "Trim key versions of a named key.",
        handler: async ({ fields, storage, params }) => {
          const name = checkKeyName(params.name);
          const min = fields.min_available_version;
          const { policy, removed } = await storage.transaction(async (txn) => {
            const p = await loadPolicy(txn, name);
            if (!p) throw invalidRequest("invalid key name");
            if (min <= 0) throw invalidRequest("minimum available version should be positive");
            if (min < p.minAvailableVersion) throw invalidRequest("minimum available version cannot be decremented");
            if (min > p.minDecryptionVersion) throw invalidRequest("minimum available version should not be greater than minimum decryption version");
            if (p.minEncryptionVersion > 0 && min > p.minEncryptionVersion) {
              throw invalidRequest("minimum available version should not be greater than minimum encryption version");
            }
            const removed: KeyVersion[] = [];
            for (const ver of Object.keys(p.keys)) {
              if (Number(ver) < min) {
                removed.push(p.keys[ver]);
                delete p.keys[ver];
              }
            }
            p.minAvailableVersion = min;
            await savePolicy(txn, p);
            return { policy: p, removed };
          });
          const warnings = await deleteOwnedHsmObjects(removed, env.deps);
          const resp: Response = { data: await formatKey(policy, env.deps) };
          if (warnings.length > 0) resp.warnings = warnings;
          return resp;
        },
      },
    },
    synopsis: "Trim key versions of a named key",
  });
}
