// The key-manager seam engines use (after smallstep's kms.KeyManager): a small required core
// (create, public key, signer, close) and optional powers checked at run time with type guards
// (encrypt/decrypt, wrap/unwrap, delete, import, BYOK import of wrapped material). Keys are named by URI: `pkcs11:token=…;object=…;id=…;type=…`
// for HSM keys, `software:…` for the in-memory development implementation. Engines depend on this file and
// on key-errors.ts (the errors every implementation throws) only.
import type { KeyObject } from "node:crypto";

export type KeyAlgorithm = "aes-256" | "rsa-2048" | "rsa-3072" | "rsa-4096" | "ec-p256" | "ec-p384" | "ed25519";

export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ["aes-256", "rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519"];

export type HashAlgorithm = "sha256" | "sha384" | "sha512";

/** OAEP also allows SHA-1: it is not broken there, and SoftHSM 2.6.1 implements nothing else. */
export type OaepHash = HashAlgorithm | "sha1";

export interface CreateKeyRequest {
  algorithm: KeyAlgorithm;
  /** CKA_LABEL (not unique on a token: the returned URI names the key by CKA_ID too). */
  label: string;
  /**
   * The key must leave the HSM wrapped (CKA_EXTRACTABLE=true, still sensitive). Off by default: HSM keys are
   * created sensitive and never extractable.
   */
  extractable?: boolean;
  /** Which declared HSM / token to create the key on: a declaration name or a token URI (`pkcs11:token=…`); default: the only one. */
  hsm?: string;
  /** For AES keys that wrap other keys: allow wrap/unwrap usage (default true for aes-256). */
  wrapping?: boolean;
}

export interface CreateKeyResponse {
  /** URI of the key (the private key for pairs). */
  uri: string;
  /** URI of the public half (pairs only). */
  publicUri?: string;
  algorithm: KeyAlgorithm;
  /** Stable reference (CKA_ID): SHA-1(SPKI)[0:16] for pairs, random 16 bytes for secret keys. */
  id: Buffer;
  /** Public key (pairs only). */
  publicKey?: KeyObject;
}

export interface SignOptions {
  /** Digest algorithm (default: sha256, sha384 for P-384). Ignored for Ed25519. */
  hash?: HashAlgorithm;
  /** `data` is already the digest (not allowed for Ed25519). */
  prehashed?: boolean;
  /** RSA padding (default pkcs1). */
  padding?: "pkcs1" | "pss";
  /** PSS salt length in bytes (default: digest length). */
  saltLength?: number;
  /** ECDSA output: DER (default, what X.509 and node:crypto expect) or raw r||s (JWS). */
  dsaEncoding?: "der" | "ieee-p1363";
}

export interface Signer {
  /** Key algorithm of the signing key. */
  readonly algorithm: KeyAlgorithm;
  readonly publicKey: KeyObject;
  /** Signs `data` (or a digest with `prehashed`). Never blocks the event loop on an HSM. */
  sign(data: Buffer, opts?: SignOptions): Promise<Buffer>;
}

export interface AeadCiphertext {
  iv: Buffer;
  ciphertext: Buffer;
  /** 16-byte GCM tag. */
  tag: Buffer;
}

export interface KeyManager {
  /** True only for hardware-backed implementations; the software one says false and is named so. */
  readonly isHardware: boolean;
  createKey(req: CreateKeyRequest): Promise<CreateKeyResponse>;
  getPublicKey(uri: string): Promise<KeyObject>;
  createSigner(uri: string): Promise<Signer>;
  /** The identity of the key `uri` resolves to. Missing → KeyNotFoundError; no CKA_ID → KeyUsageError. */
  identify(uri: string): Promise<KeyIdentity>;
  close(): Promise<void>;
}

/** AES-256-GCM with associated data, and RSA-OAEP decryption (the BYOK import path). */
export interface KeyEncrypter {
  encrypt(uri: string, plaintext: Buffer, aad?: Buffer): Promise<AeadCiphertext>;
  /** Throws KeyDecryptError when the tag does not verify (tampering, wrong AAD, wrong key). */
  decrypt(uri: string, ct: AeadCiphertext, aad?: Buffer): Promise<Buffer>;
  /** RSA-OAEP (MGF1 with the same hash, default sha256) with the private key at `uri`. */
  decryptOaep(uri: string, ciphertext: Buffer, opts?: { hash?: OaepHash; label?: Buffer }): Promise<Buffer>;
}

/** AES key wrap (RFC 3394) / with padding (RFC 5649; SoftHSM's variant differs for odd lengths, G4). */
export type WrapMechanism = "aes-kw" | "aes-kwp";

export interface UnwrapKeyRequest {
  wrapped: Buffer;
  /** Algorithm of the key inside (only secret keys are portable across HSMs, G4). */
  algorithm: "aes-256";
  label: string;
  extractable?: boolean;
  mechanism?: WrapMechanism;
}

export interface KeyWrapper {
  /** Wraps the key at `targetUri` (which must be extractable) under the AES key at `wrappingUri`. */
  wrapKey(wrappingUri: string, targetUri: string, mechanism?: WrapMechanism): Promise<Buffer>;
  /** Unwraps into a new key held by the manager. */
  unwrapKey(wrappingUri: string, req: UnwrapKeyRequest): Promise<CreateKeyResponse>;
}

export interface KeyDeleter {
  /** Deletes the key (both halves of a pair). Missing → KeyNotFoundError. */
  deleteKey(uri: string): Promise<void>;
}

export interface ImportKeyRequest {
  algorithm: "aes-256";
  /** Raw key bytes (32 for AES-256). The caller should wipe its copy afterwards. */
  material: Buffer;
  label: string;
  extractable?: boolean;
}

export interface KeyImporter {
  importKey(req: ImportKeyRequest): Promise<CreateKeyResponse>;
}

/** RSA key pairs a BYOK customer wraps key material for. */
export type ImportWrappingAlgorithm = "rsa-3072" | "rsa-4096";

export interface CreateImportWrappingKeyRequest {
  algorithm: ImportWrappingAlgorithm;
  label: string;
  /** Which declared HSM / token (implementation-specific; default: the only one). */
  hsm?: string;
}

export interface WrappedImportRequest {
  /** The private half of a pair made by createImportWrappingKey. */
  wrappingUri: string;
  /**
   * CKM_RSA_AES_KEY_WRAP material: RSA-OAEP(ephemeral AES-256 key) ‖ AES-KWP (RFC 5649)(key), the first part as
   * long as the wrapping key's modulus. What `openssl pkeyutl` + `openssl enc -id-aes256-wrap-pad` produce.
   */
  material: Buffer;
  /** OAEP digest (MGF1 uses the same); default sha256. */
  hash?: "sha1" | "sha256";
  /** The key inside (only AES-256 is portable across HSMs, G4). */
  algorithm: "aes-256";
  label: string;
  /** The imported key may wrap/unwrap other keys (default true, like createKey); it always encrypts/decrypts. */
  wrapping?: boolean;
}

/**
 * BYOK: key material arrives wrapped for a key pair made in the store, and the key it carries exists in
 * plaintext only inside the store: the result is sensitive and never extractable. Any malformed, tampered or
 * wrongly wrapped material gives one KeyDecryptError (which part failed is not said: that is a padding oracle).
 */
export interface WrappedKeyImporter {
  /** An RSA pair that may only decrypt/unwrap (no signing), for import material. */
  createImportWrappingKey(req: CreateImportWrappingKeyRequest): Promise<CreateKeyResponse>;
  importWrappedKey(req: WrappedImportRequest): Promise<CreateKeyResponse>;
}

/**
 * What an object *is*, as opposed to what a URI calls it: the token it lives on (by serial, which the device
 * reports) and its CKA_ID with its class. Labels are not unique and a caller chooses them, so custody (who may
 * use a key) is decided on this, never on URI text.
 */
export interface KeyIdentity {
  /** The token (PKCS#11: "pkcs11:<serial>") or key store ("software") that holds the object. */
  store: string;
  /** Secret (AES) keys and private keys may share a CKA_ID: the class is part of the identity. */
  kind: "secret" | "private";
  /** CKA_ID, lower-case hex (never empty: objects without a CKA_ID cannot be identified, so not bound). */
  id: string;
}

/** One string per identity, for maps and storage keys. */
export function identityKey(i: KeyIdentity): string {
  return `${i.store}/${i.kind}/${i.id}`;
}

/** Names an operator's grant (a managed key) instead of a URI: what mount-scoped key managers add. */
export interface ManagedKeyResolver {
  /** The URI of the managed key `name`, if the asking mount may use it; a 400 otherwise. */
  managedKeyUri(name: string): Promise<string>;
}

export function isManagedKeyResolver(km: KeyManager): km is KeyManager & ManagedKeyResolver {
  return typeof (km as Partial<ManagedKeyResolver>).managedKeyUri === "function";
}

/**
 * Proves the configured credentials still log in to the store holding `uri` (a PKCS#11 token keeps an
 * application logged in after its PIN was changed, until the next login): for customer-held keys, whose
 * owner withdraws access by changing the PIN. Throws a KeyError when the login is refused.
 */
export interface LoginVerifier {
  verifyLogin(uri: string): Promise<void>;
}

export function isLoginVerifier(km: KeyManager): km is KeyManager & LoginVerifier {
  return typeof (km as Partial<LoginVerifier>).verifyLogin === "function";
}

export function isKeyEncrypter(km: KeyManager): km is KeyManager & KeyEncrypter {
  const k = km as Partial<KeyEncrypter>;
  return typeof k.encrypt === "function" && typeof k.decrypt === "function" && typeof k.decryptOaep === "function";
}

export function isKeyWrapper(km: KeyManager): km is KeyManager & KeyWrapper {
  const k = km as Partial<KeyWrapper>;
  return typeof k.wrapKey === "function" && typeof k.unwrapKey === "function";
}

export function isKeyDeleter(km: KeyManager): km is KeyManager & KeyDeleter {
  return typeof (km as Partial<KeyDeleter>).deleteKey === "function";
}

export function isKeyImporter(km: KeyManager): km is KeyManager & KeyImporter {
  return typeof (km as Partial<KeyImporter>).importKey === "function";
}

export function isWrappedKeyImporter(km: KeyManager): km is KeyManager & WrappedKeyImporter {
  const k = km as Partial<WrappedKeyImporter>;
  return typeof k.createImportWrappingKey === "function" && typeof k.importWrappedKey === "function";
}

/** Default digest per key algorithm (P-384 pairs with SHA-384, everything else SHA-256). */
export function defaultHash(alg: KeyAlgorithm): HashAlgorithm {
  return alg === "ec-p384" ? "sha384" : "sha256";
}

export function isAsymmetric(alg: KeyAlgorithm): boolean {
  return alg !== "aes-256";
}
