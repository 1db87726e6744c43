/**
 * The transit key policy: what is stored per named key (the on-disk shape is documented in backend.ts),
 * the key types and what each supports, and generation of new key versions.
 */
import { generateKeyPair, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { invalidRequest } from "../../common/errors.js";
import { formatNs, nowNs } from "../kv/kv-time.js";

const generateKeyPairAsync = promisify(generateKeyPair);

export const KEY_TYPES = [
  "aes128-gcm96",
  "aes256-gcm96",
  "chacha20-poly1305",
  "ed25519",
  "ecdsa-p256",
  "ecdsa-p384",
  "ecdsa-p521",
  "rsa-2048",
  "rsa-3072",
  "rsa-4096",
  "hmac",
] as const;

export type KeyType = (typeof KEY_TYPES)[number];

export function isKeyType(s: string): s is KeyType {
  return (KEY_TYPES as readonly string[]).includes(s);
}

/** Key types that may live in the HSM (what the KeyManager seam can create and use for these operations). */
export const HSM_KEY_TYPES: readonly KeyType[] = ["aes256-gcm96", "ecdsa-p256", "rsa-2048"];

/** Where a version's key material lives when it is in the HSM. */
export interface HsmKeyRef {
  /** KeyManager URI of the secret key or private key. */
  uri: string;
  /** True when transit created the object (and so may delete it); false for a referenced `key_ref`. */
  owned: boolean;
}

/** One version of a key. Exactly one of key / privateKey / publicKey-only / hsm carries the material. */
export interface KeyVersion {
  /** Go RFC 3339 nanosecond timestamp. */
  creationTime: string;
  /** Symmetric key (AES, ChaCha20, HMAC), base64. */
  key?: string;
  /** Asymmetric private key, PKCS#8 DER, base64. */
  privateKey?: string;
  /** Asymmetric public key, SPKI DER, base64 (kept beside the private key so reads need no derivation). */
  publicKey?: string;
  /** Per-version HMAC key (hmac endpoint for non-hmac key types, convergent nonces), base64. */
  hmacKey?: string;
  /**
   * Convergent nonce scheme of this version (convergent-nonce.ts): 2 for versions of AEAD keys made since it
   * exists; absent for versions made before (scheme 1, kept for an empty AAD so stored ciphertexts still
   * compare equal).
   */
  convergentNonce?: 2;
  hsm?: HsmKeyRef;
}

export interface KeyPolicy {
  /** Format version of this record (1). */
  formatVersion: 1;
  name: string;
  type: KeyType;
  derived: boolean;
  /** "hkdf_sha256" when derived. */
  kdf: "hkdf_sha256";
  convergentEncryption: boolean;
  exportable: boolean;
  allowPlaintextBackup: boolean;
  deletionAllowed: boolean;
  minDecryptionVersion: number;
  /** 0 = always the latest. */
  minEncryptionVersion: number;
  /** Versions below this one were trimmed away. */
  minAvailableVersion: number;
  latestVersion: number;
  /** Seconds; 0 = never. */
  autoRotatePeriod: number;
  importedKey: boolean;
  allowImportedKeyRotation: boolean;
  /** Key material lives in the HSM (every version). */
  hsm: boolean;
  keys: Record<string, KeyVersion>;
}

export interface KeyCapabilities {
  encryption: boolean;
  decryption: boolean;
  derivation: boolean;
  signing: boolean;
}

export function capabilities(type: KeyType, hsm = false): KeyCapabilities {
  switch (type) {
    case "aes128-gcm96":
    case "aes256-gcm96":
    case "chacha20-poly1305":
      return { encryption: true, decryption: true, derivation: !hsm, signing: false };
    case "ed25519":
      return { encryption: false, decryption: false, derivation: true, signing: true };
    case "ecdsa-p256":
    case "ecdsa-p384":
    case "ecdsa-p521":
      return { encryption: false, decryption: false, derivation: false, signing: true };
    case "rsa-2048":
    case "rsa-3072":
    case "rsa-4096":
      // RSA-OAEP encryption in software only: the seam offers HSM RSA decryption with SHA-1 OAEP at best.
      return { encryption: !hsm, decryption: !hsm, derivation: false, signing: true };
    case "hmac":
      return { encryption: false, decryption: false, derivation: false, signing: false };
  }
}

export function isSymmetricCipher(type: KeyType): type is "aes128-gcm96" | "aes256-gcm96" | "chacha20-poly1305" {
  return type === "aes128-gcm96" || type === "aes256-gcm96" || type === "chacha20-poly1305";
}

export function isRsa(type: KeyType): type is "rsa-2048" | "rsa-3072" | "rsa-4096" {
  return type === "rsa-2048" || type === "rsa-3072" || type === "rsa-4096";
}

export function isEcdsa(type: KeyType): type is "ecdsa-p256" | "ecdsa-p384" | "ecdsa-p521" {
  return type === "ecdsa-p256" || type === "ecdsa-p384" || type === "ecdsa-p521";
}

export function isAsymmetricType(type: KeyType): boolean {
  return type === "ed25519" || isEcdsa(type) || isRsa(type);
}

/** Bytes of symmetric key material per type. */
export function symmetricKeyBytes(type: KeyType): number {
  return type === "aes128-gcm96" ? 16 : 32;
}

export const EC_CURVE: Record<"ecdsa-p256" | "ecdsa-p384" | "ecdsa-p521", string> = {
  "ecdsa-p256": "P-256",
  "ecdsa-p384": "P-384",
  "ecdsa-p521": "P-521",
};

export const RSA_BITS: Record<"rsa-2048" | "rsa-3072" | "rsa-4096", number> = { "rsa-2048": 2048, "rsa-3072": 3072, "rsa-4096": 4096 };

export function nowTimestamp(): string {
  return formatNs(nowNs());
}

/** A fresh software version of a key of `type` (RSA generation runs off the event loop). */
export async function generateVersion(type: KeyType, opts: { hmacKeySize?: number } = {}): Promise<KeyVersion> {
  const v: KeyVersion = { creationTime: nowTimestamp(), hmacKey: randomBytes(32).toString("base64") };
  if (isSymmetricCipher(type)) {
    v.key = randomBytes(symmetricKeyBytes(type)).toString("base64");
    v.convergentNonce = 2;
  } else if (type === "hmac") {
    v.key = randomBytes(opts.hmacKeySize ?? 32).toString("base64");
    delete v.hmacKey; // the key itself is the HMAC key
  } else {
    const pair =
      type === "ed25519"
        ? await generateKeyPairAsync("ed25519")
        : isEcdsa(type)
          ? await generateKeyPairAsync("ec", { namedCurve: EC_CURVE[type] })
          : await generateKeyPairAsync("rsa", { modulusLength: RSA_BITS[type] });
    v.privateKey = pair.privateKey.export({ type: "pkcs8", format: "der" }).toString("base64");
    v.publicKey = pair.publicKey.export({ type: "spki", format: "der" }).toString("base64");
  }
  return v;
}

export function newPolicy(name: string, type: KeyType, init: Partial<KeyPolicy> = {}): KeyPolicy {
  return {
    formatVersion: 1,
    name,
    type,
    derived: false,
    kdf: "hkdf_sha256",
    convergentEncryption: false,
    exportable: false,
    allowPlaintextBackup: false,
    deletionAllowed: false,
    minDecryptionVersion: 1,
    minEncryptionVersion: 0,
    minAvailableVersion: 0,
    latestVersion: 0,
    autoRotatePeriod: 0,
    importedKey: false,
    allowImportedKeyRotation: false,
    hsm: false,
    keys: {},
    ...init,
  };
}

/** Adds `v` as the next version. */
export function appendVersion(p: KeyPolicy, v: KeyVersion): number {
  p.latestVersion += 1;
  p.keys[String(p.latestVersion)] = v;
  return p.latestVersion;
}

/** The version to encrypt/sign with: `requested` (0/undefined = latest), checked against the policy. */
export function encryptionVersion(p: KeyPolicy, requested: number | undefined): number {
  const ver = requested === undefined || requested === 0 ? p.latestVersion : requested;
  if (ver < 0 || ver > p.latestVersion) throw invalidRequest("invalid key version");
  if (p.minEncryptionVersion > 0 && ver < p.minEncryptionVersion) {
    throw invalidRequest("requested version for encryption is less than the minimum encryption key version");
  }
  return ver;
}

/** The version a ciphertext/signature names, checked against min_decryption_version and trimming. */
export function decryptionVersion(p: KeyPolicy, ver: number): KeyVersion {
  if (ver < p.minDecryptionVersion) throw invalidRequest("ciphertext or signature version is disallowed by policy (too old)");
  if (ver > p.latestVersion) throw invalidRequest("invalid ciphertext: key version is newer than the latest version of the key");
  const kv = p.keys[String(ver)];
  if (!kv) throw invalidRequest("invalid key version");
  return kv;
}

export function versionOf(p: KeyPolicy, ver: number): KeyVersion {
  const kv = p.keys[String(ver)];
  if (!kv) throw invalidRequest("invalid key version");
  return kv;
}

const AUTO_ROTATE_MIN = 3600;

export function checkAutoRotatePeriod(seconds: number): number {
  if (seconds !== 0 && seconds < AUTO_ROTATE_MIN) throw invalidRequest("auto rotate period must be 0 to disable or at least an hour");
  return seconds;
}
