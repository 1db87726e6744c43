/**
 * BYOK as OpenBao/Vault do it: `wrapping_key` hands out an RSA-4096 public key; `keys/:name/import` and
 * `keys/:name/import_version` accept `ciphertext` = RSA-OAEP(wrapping key, hash_function)(ephemeral AES-256
 * key) ‖ AES-KWP(ephemeral key)(target key), RFC 5649. The target is the raw key for symmetric types and
 * PKCS#8 DER for asymmetric ones.
 */
import { constants, createDecipheriv, createPrivateKey, createPublicKey, generateKeyPair, privateDecrypt, randomBytes, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { ArcaError, invalidRequest } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import { getJson, putJson } from "../../core/view.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { checkKeyName, loadPolicy, savePolicy, WRAPPING_KEY_PATH } from "./key-store.js";
import { checkRoomForVersion } from "./key-versions.js";
import { formatKey, planPolicy } from "./path-keys.js";
import type { TransitEnv } from "./transit-env.js";
import { decodeBase64 } from "./transit-input.js";
import {
  appendVersion,
  EC_CURVE,
  isEcdsa,
  isRsa,
  isSymmetricCipher,
  nowTimestamp,
  RSA_BITS,
  symmetricKeyBytes,
  type KeyPolicy,
  type KeyType,
  type KeyVersion,
} from "./transit-key.js";

const generateKeyPairAsync = promisify(generateKeyPair);

const WRAPPING_KEY_BITS = 4096;
const OAEP_BYTES = WRAPPING_KEY_BITS / 8;
/** RFC 5649 alternative initial value (node's id-aes256-wrap-pad takes it as the IV). */
const KWP_IV = Buffer.from("A65959A6", "hex");

const OAEP_HASHES: Record<string, string> = { SHA1: "sha1", SHA224: "sha224", SHA256: "sha256", SHA384: "sha384", SHA512: "sha512" };

interface StoredWrappingKey {
  /** PKCS#8 DER, base64. */
  privateKey: string;
}

/** The mount's wrapping key, generated on first use (outside the write transaction: RSA-4096 takes seconds). */
export async function wrappingKey(storage: KeyValueStore): Promise<KeyObject> {
  let stored = await getJson<StoredWrappingKey>(storage, WRAPPING_KEY_PATH);
  if (!stored) {
    const pair = await generateKeyPairAsync("rsa", { modulusLength: WRAPPING_KEY_BITS });
    const fresh: StoredWrappingKey = { privateKey: pair.privateKey.export({ type: "pkcs8", format: "der" }).toString("base64") };
    stored = await storage.transaction(async (txn) => {
      const raced = await getJson<StoredWrappingKey>(txn, WRAPPING_KEY_PATH);
      if (raced) return raced;
      await putJson(txn, WRAPPING_KEY_PATH, fresh);
      return fresh;
    });
  }
  return createPrivateKey({ key: Buffer.from(stored.privateKey, "base64"), format: "der", type: "pkcs8" });
}

/** Unwraps the import ciphertext to the target key material. */
export function unwrapImport(wrapping: KeyObject, ciphertext: Buffer, hashFunction: string): Buffer {
  const oaepHash = OAEP_HASHES[hashFunction.toUpperCase()];
  if (!oaepHash) throw invalidRequest(`invalid hash function ${hashFunction.slice(0, 16)}; supported: ${Object.keys(OAEP_HASHES).join(", ")}`);
  if (ciphertext.length <= OAEP_BYTES) throw invalidRequest("invalid ciphertext: too short to hold a wrapped ephemeral key and a wrapped target key");
  let ephemeral: Buffer;
  try {
    // OAEP with MGF1 over the same hash and an empty label, as Vault's rsa.DecryptOAEP.
    ephemeral = privateDecrypt({ key: wrapping, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, ciphertext.subarray(0, OAEP_BYTES));
  } catch {
    throw invalidRequest("failed to decrypt the ephemeral AES key: wrong wrapping key or hash_function");
  }
  try {
    if (ephemeral.length !== 32) throw invalidRequest("the ephemeral key must be an AES-256 key");
    const d = createDecipheriv("id-aes256-wrap-pad", ephemeral, KWP_IV);
    return Buffer.concat([d.update(ciphertext.subarray(OAEP_BYTES)), d.final()]);
  } catch (err) {
    if (err instanceof ArcaError) throw err;
    throw invalidRequest("failed to unwrap the target key: integrity check failed");
  } finally {
    ephemeral.fill(0);
  }
}

/** Turns unwrapped material into a version of a `p.type` key, checking it really is one. */
export function importedVersion(p: KeyPolicy, material: Buffer): KeyVersion {
  const v: KeyVersion = { creationTime: nowTimestamp(), ...checkedMaterial(p.type, material) };
  if (p.type !== "hmac") v.hmacKey = randomBytes(32).toString("base64");
  if (isSymmetricCipher(p.type)) v.convergentNonce = 2;
  return v;
}

/**
 * Key material of a `type` key as a version stores it, after checking it really is one (length, or a PKCS#8
 * private key of the right algorithm and size); the public half is derived, never taken on trust. Import
 * and restore both go through here, so a key that is stored is a key that works.
 */
export function checkedMaterial(type: KeyType, material: Buffer): Pick<KeyVersion, "key" | "privateKey" | "publicKey"> {
  if (isSymmetricCipher(type)) {
    if (material.length !== symmetricKeyBytes(type)) throw invalidRequest(`imported key must be ${symmetricKeyBytes(type)} bytes for ${type}`);
    return { key: material.toString("base64") };
  }
  if (type === "hmac") {
    if (material.length < 32 || material.length > 512) throw invalidRequest("imported hmac keys must be 32 to 512 bytes");
    return { key: material.toString("base64") };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: material, format: "der", type: "pkcs8" });
  } catch {
    throw invalidRequest("imported asymmetric keys must be PKCS#8 DER private keys");
  }
  const d = key.asymmetricKeyDetails ?? {};
  const ok =
    type === "ed25519"
      ? key.asymmetricKeyType === "ed25519"
      : isEcdsa(type)
        ? key.asymmetricKeyType === "ec" && d.namedCurve === { "P-256": "prime256v1", "P-384": "secp384r1", "P-521": "secp521r1" }[EC_CURVE[type]]
        : isRsa(type) && key.asymmetricKeyType === "rsa" && d.modulusLength === RSA_BITS[type];
  if (!ok) throw invalidRequest(`imported key is not a ${type} key`);
  return {
    privateKey: key.export({ type: "pkcs8", format: "der" }).toString("base64"),
    publicKey: createPublicKey(key).export({ type: "spki", format: "der" }).toString("base64"),
  };
}

export function wrappingKeyPath(_env: TransitEnv) {
  return definePath({
    pattern: "wrapping_key",
    operations: {
      read: {
        summary: "Return the public key to wrap keys for import with.",
        handler: async ({ storage }) => {
          const key = await wrappingKey(storage);
          return { data: { public_key: createPublicKey(key).export({ type: "spki", format: "pem" }).toString() } };
        },
      },
    },
    synopsis: "Returns the public key to use for wrapping imported keys",
  });
}

const IMPORT_FIELDS = {
  name: { type: "string", required: true },
  ciphertext: { type: "string", required: true, description: "Base64 of RSA-OAEP(ephemeral AES-256 key) ‖ AES-KWP(target key)." },
  hash_function: { type: "string", default: "SHA256", description: "OAEP hash: SHA1, SHA224, SHA256, SHA384, SHA512." },
} as const;

export function importPath(env: TransitEnv) {
  return definePath({
    pattern: "keys/:name/import",
    fields: {
      ...IMPORT_FIELDS,
      type: { type: "string", default: "aes256-gcm96", description: "The type of the imported key." },
      allow_rotation: { type: "bool", default: false, description: "Allow rotation (new versions generated here)." },
      derived: { type: "bool", default: false },
      convergent_encryption: { type: "bool", default: false },
      exportable: { type: "bool", default: false },
      allow_plaintext_backup: { type: "bool", default: false },
      auto_rotate_period: { type: "duration", default: 0 },
      context: { type: "string" },
    },
    operations: {
      update: {
        summary: "Import a wrapped key as a new named key.",
        handler: async ({ fields, storage }) => {
          const name = checkKeyName(fields.name);
          const planned = planPolicy(name, {
            type: fields.type,
            derived: fields.derived,
            convergent: fields.convergent_encryption,
            exportable: fields.exportable,
            allowPlaintextBackup: fields.allow_plaintext_backup,
            autoRotatePeriod: fields.auto_rotate_period,
            hsm: false,
          });
          if (fields.auto_rotate_period > 0 && !fields.allow_rotation) throw invalidRequest("allow_rotation must be set to use auto_rotate_period with an imported key");
          planned.importedKey = true;
          planned.allowImportedKeyRotation = fields.allow_rotation;
          if (await loadPolicy(storage, name)) throw invalidRequest("the import path cannot be used with an existing key; use import_version to add a version");
          const material = unwrapImport(await wrappingKey(storage), decodeBase64("ciphertext", fields.ciphertext), fields.hash_function);
          try {
            appendVersion(planned, importedVersion(planned, material));
          } finally {
            material.fill(0);
          }
          await storage.transaction(async (txn) => {
            if (await loadPolicy(txn, name)) throw invalidRequest("the import path cannot be used with an existing key; use import_version to add a version");
            await savePolicy(txn, planned);
          });
          return { data: await formatKey(planned, env.deps) };
        },
      },
    },
    synopsis: "Imports an externally-generated key into a new transit key",
  });
}

export function importVersionPath(env: TransitEnv) {
  return definePath({
    pattern: "keys/:name/import_version",
    fields: IMPORT_FIELDS,
    operations: {
      update: {
        summary: "Import a wrapped key as a new version of an imported key.",
        handler: async ({ fields, storage }) => {
          const name = checkKeyName(fields.name);
          const current = await loadPolicy(storage, name);
          if (!current) throw invalidRequest("no key exists with the given name; use keys/:name/import to import it");
          if (!current.importedKey) throw invalidRequest("the import_version endpoint can only be used with an imported key");
          checkRoomForVersion(current, env.maxKeyVersions);
          const material = unwrapImport(await wrappingKey(storage), decodeBase64("ciphertext", fields.ciphertext), fields.hash_function);
          let v: KeyVersion;
          try {
            v = importedVersion(current, material);
          } finally {
            material.fill(0);
          }
          const p = await storage.transaction(async (txn) => {
            const p = await loadPolicy(txn, name);
            if (!p || p.type !== current.type) throw invalidRequest("key changed during import; retry");
            checkRoomForVersion(p, env.maxKeyVersions);
            appendVersion(p, v);
            await savePolicy(txn, p);
            return p;
          });
          return { data: await formatKey(p, env.deps) };
        },
      },
    },
    synopsis: "Imports an externally-generated key into an existing imported key",
  });
}
