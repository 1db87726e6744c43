/**
 * The cryptographic operations of transit on one key version: AEAD encrypt/decrypt (AES-GCM, ChaCha20-
 * Poly1305, RSA-OAEP), HKDF key derivation, convergent nonces, sign/verify and HMAC. Software keys use
 * node:crypto; HSM keys go through the KeyManager seam so the material never leaves the token.
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  privateDecrypt,
  privateEncrypt,
  publicDecrypt,
  publicEncrypt,
  randomBytes,
  sign as cryptoSign,
  timingSafeEqual,
  verify as cryptoVerify,
  type CipherChaCha20Poly1305,
  type CipherGCM,
  type DecipherChaCha20Poly1305,
  type DecipherGCM,
  type KeyObject,
} from "node:crypto";
import { ArcaError, invalidRequest } from "../../core/errors.js";
import { HsmDecryptError, HsmError, HsmKeyNotFoundError } from "../../hsm/errors.js";
import { isKeyEncrypter, type HashAlgorithm, type KeyManager, type SignOptions } from "../../hsm/key-manager.js";
import type { CachedPolicy } from "./key-store.js";
import { decodeBase64, decodeBase64Url, formatEnvelope, parseEnvelope } from "./transit-input.js";
import { capabilities, decryptionVersion, isEcdsa, isRsa, isSymmetricCipher, type KeyPolicy, type KeyVersion } from "./transit-key.js";

export interface TransitDeps {
  keyManager?: KeyManager;
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Wire hash names (OpenBao's) → node:crypto digest names. Aliases without "2-" are accepted as well. */
const HASHES: Record<string, string> = {
  sha1: "sha1",
  "sha2-224": "sha224",
  "sha2-256": "sha256",
  "sha2-384": "sha384",
  "sha2-512": "sha512",
  "sha3-224": "sha3-224",
  "sha3-256": "sha3-256",
  "sha3-384": "sha3-384",
  "sha3-512": "sha3-512",
  sha224: "sha224",
  sha256: "sha256",
  sha384: "sha384",
  sha512: "sha512",
};

const DIGEST_BYTES: Record<string, number> = {
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
  "sha3-224": 28,
  "sha3-256": 32,
  "sha3-384": 48,
  "sha3-512": 64,
};

/** DigestInfo DER prefixes (RFC 8017 §9.2 note 1, plus the SHA-3 OIDs) for PKCS#1 v1.5 over a digest. */
const DIGEST_INFO: Record<string, string> = {
  sha1: "3021300906052b0e03021a05000414",
  sha224: "302d300d06096086480165030402040500041c",
  sha256: "3031300d060960864801650304020105000420",
  sha384: "3041300d060960864801650304020205000430",
  sha512: "3051300d060960864801650304020305000440",
  "sha3-224": "302d300d06096086480165030402070500041c",
  "sha3-256": "3031300d060960864801650304020805000420",
  "sha3-384": "3041300d060960864801650304020905000430",
  "sha3-512": "3051300d060960864801650304020a05000440",
};

/** Maps a wire hash name to node's, or throws 400. "none" maps to undefined. */
export function hashName(wire: string): string | undefined {
  if (wire === "none") return undefined;
  const h = HASHES[wire];
  if (!h) throw invalidRequest(`unsupported hash algorithm ${wire}`);
  return h;
}

// ---------------------------------------------------------------------------------------------------------
// Encryption

export interface CipherParams {
  context?: Buffer;
  aad?: Buffer;
  /** Caller-supplied nonce (only accepted for nothing we store: OpenBao limits it to legacy convergent keys). */
  nonce?: Buffer;
}

function requireContext(p: KeyPolicy, context: Buffer | undefined): Buffer {
  if (!context || context.length === 0) {
    throw invalidRequest(
      "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key",
    );
  }
  return context;
}

/** HKDF-SHA256(ikm = version key, salt = none, info = context), as OpenBao's derived keys. */
export function deriveKey(key: Buffer, context: Buffer, bytes: number): Buffer {
  return Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), context, bytes));
}

function symmetricKey(p: KeyPolicy, v: KeyVersion, context: Buffer | undefined): Buffer {
  if (!v.key) throw new ArcaError("internal", "key version has no symmetric material");
  const key = Buffer.from(v.key, "base64");
  return p.derived ? deriveKey(key, requireContext(p, context), key.length) : key;
}

/** AEAD cipher/decipher objects (the branches only exist so the types pick the AEAD overloads). */
function aeadCipher(p: KeyPolicy, key: Buffer, nonce: Buffer): CipherGCM | CipherChaCha20Poly1305 {
  if (p.type === "chacha20-poly1305") return createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_BYTES });
  return createCipheriv(p.type === "aes128-gcm96" ? "aes-128-gcm" : "aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
}

function aeadDecipher(p: KeyPolicy, key: Buffer, nonce: Buffer): DecipherGCM | DecipherChaCha20Poly1305 {
  if (p.type === "chacha20-poly1305") return createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_BYTES });
  return createDecipheriv(p.type === "aes128-gcm96" ? "aes-128-gcm" : "aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
}

/**
 * Convergent nonce: HMAC-SHA256 keyed by the version's HMAC key over a length-prefixed context and the
 * plaintext, so equal (context, plaintext) pairs give equal ciphertexts and nothing else collides.
 */
function convergentNonce(v: KeyVersion, context: Buffer, plaintext: Buffer): Buffer {
  if (!v.hmacKey) throw new ArcaError("internal", "key version has no HMAC key");
  const len = Buffer.alloc(4);
  len.writeUInt32BE(context.length);
  return createHmac("sha256", Buffer.from(v.hmacKey, "base64")).update(len).update(context).update(plaintext).digest().subarray(0, NONCE_BYTES);
}

export function requireCapability(p: KeyPolicy, cap: keyof ReturnType<typeof capabilities>, what: string): void {
  if (!capabilities(p.type, p.hsm)[cap]) throw invalidRequest(`${what} not supported for key type ${p.type}${p.hsm ? " (HSM-backed)" : ""}`);
}

function keyManagerFor(deps: TransitDeps): KeyManager {
  if (!deps.keyManager) throw new ArcaError("unavailable", "this key lives in an HSM, but no HSM is configured on this server");
  return deps.keyManager;
}

/** Maps HSM failures to client errors where the client caused them. */
function hsmError(err: unknown): never {
  if (err instanceof HsmDecryptError) throw invalidRequest("cipher: message authentication failed");
  if (err instanceof HsmKeyNotFoundError) throw invalidRequest("the HSM key of this key version was not found");
  if (err instanceof HsmError) throw new ArcaError("upstream", `HSM operation failed: ${err.message}`, { cause: err });
  throw err;
}

/** Encrypts with version `ver`; returns the `vault:vN:` string. */
export async function encryptVersion(cp: CachedPolicy, ver: number, plaintext: Buffer, params: CipherParams, deps: TransitDeps): Promise<string> {
  const p = cp.policy;
  requireCapability(p, "encryption", "encryption");
  const v = p.keys[String(ver)];
  if (!v) throw invalidRequest("invalid key version");
  if (params.nonce && params.nonce.length > 0) throw invalidRequest("provided nonce not allowed for this key");
  if (v.hsm) {
    const km = keyManagerFor(deps);
    if (!isKeyEncrypter(km)) throw new ArcaError("unavailable", "the configured key manager cannot encrypt");
    try {
      const ct = await km.encrypt(v.hsm.uri, plaintext, params.aad);
      return formatEnvelope(ver, Buffer.concat([ct.iv, ct.ciphertext, ct.tag]).toString("base64"));
    } catch (err) {
      hsmError(err);
    }
  }
  if (isRsa(p.type)) {
    if (params.aad && params.aad.length > 0) throw invalidRequest("associated_data is not supported for RSA keys");
    try {
      const ct = publicEncrypt({ key: cp.publicKey(ver, v), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, plaintext);
      return formatEnvelope(ver, ct.toString("base64"));
    } catch {
      throw invalidRequest("plaintext too long for RSA-OAEP with this key");
    }
  }
  if (!isSymmetricCipher(p.type)) throw invalidRequest(`encryption not supported for key type ${p.type}`);
  const key = symmetricKey(p, v, params.context);
  const nonce = p.convergentEncryption ? convergentNonce(v, requireContext(p, params.context), plaintext) : randomBytes(NONCE_BYTES);
  const c = aeadCipher(p, key, nonce);
  if (params.aad && params.aad.length > 0) c.setAAD(params.aad, { plaintextLength: plaintext.length });
  const body = Buffer.concat([nonce, c.update(plaintext), c.final(), c.getAuthTag()]);
  return formatEnvelope(ver, body.toString("base64"));
}

/** Decrypts a `vault:vN:` string; returns the plaintext and the version it named. */
export async function decryptCiphertext(cp: CachedPolicy, ciphertext: unknown, params: CipherParams, deps: TransitDeps): Promise<{ plaintext: Buffer; version: number }> {
  const p = cp.policy;
  requireCapability(p, "decryption", "decryption");
  const env = parseEnvelope("ciphertext", ciphertext);
  const v = decryptionVersion(p, env.version);
  const blob = decodeBase64("ciphertext", env.body);
  if (v.hsm) {
    const km = keyManagerFor(deps);
    if (!isKeyEncrypter(km)) throw new ArcaError("unavailable", "the configured key manager cannot decrypt");
    if (blob.length < NONCE_BYTES + TAG_BYTES) throw invalidRequest("invalid ciphertext length");
    try {
      const pt = await km.decrypt(
        v.hsm.uri,
        { iv: blob.subarray(0, NONCE_BYTES), ciphertext: blob.subarray(NONCE_BYTES, blob.length - TAG_BYTES), tag: blob.subarray(blob.length - TAG_BYTES) },
        params.aad,
      );
      return { plaintext: pt, version: env.version };
    } catch (err) {
      hsmError(err);
    }
  }
  if (isRsa(p.type)) {
    try {
      const pt = privateDecrypt({ key: cp.privateKey(env.version, v), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, blob);
      return { plaintext: pt, version: env.version };
    } catch {
      throw invalidRequest("invalid ciphertext: RSA-OAEP decryption failed");
    }
  }
  if (!isSymmetricCipher(p.type)) throw invalidRequest(`decryption not supported for key type ${p.type}`);
  if (blob.length < NONCE_BYTES + TAG_BYTES) throw invalidRequest("invalid ciphertext length");
  const key = symmetricKey(p, v, params.context);
  const d = aeadDecipher(p, key, blob.subarray(0, NONCE_BYTES));
  const body = blob.subarray(NONCE_BYTES, blob.length - TAG_BYTES);
  d.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
  if (params.aad && params.aad.length > 0) d.setAAD(params.aad, { plaintextLength: body.length });
  try {
    return { plaintext: Buffer.concat([d.update(body), d.final()]), version: env.version };
  } catch {
    throw invalidRequest("cipher: message authentication failed");
  }
}

// ---------------------------------------------------------------------------------------------------------
// Signing

export interface SignParams {
  /** Wire name ("sha2-256", …, "none"). */
  hashAlgorithm: string;
  prehashed: boolean;
  signatureAlgorithm: "pss" | "pkcs1v15";
  /** "auto" | "hash" | a decimal integer. */
  saltLength: string;
  marshaling: "asn1" | "jws";
  context?: Buffer;
}

function pssSalt(saltLength: string, hash: string | undefined, signing: boolean): number {
  if (saltLength === "auto") return signing ? constants.RSA_PSS_SALTLEN_MAX_SIGN : constants.RSA_PSS_SALTLEN_AUTO;
  if (saltLength === "hash") return hash ? DIGEST_BYTES[hash] : constants.RSA_PSS_SALTLEN_DIGEST;
  if (!/^\d{1,5}$/.test(saltLength)) throw invalidRequest(`invalid salt_length "${saltLength.slice(0, 32)}"`);
  return Number(saltLength);
}

/** Ed25519 seed of a stored PKCS#8 key: the OCTET STRING after the fixed 16-byte prefix (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

function derivedEd25519(cp: CachedPolicy, ver: number, v: KeyVersion, context: Buffer | undefined): { priv: KeyObject; pub: KeyObject } {
  const seed = cp.privateKey(ver, v).export({ type: "pkcs8", format: "der" }).subarray(ED25519_PKCS8_PREFIX.length);
  const derived = deriveKey(seed, requireContext(cp.policy, context), 32);
  const priv = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, derived]), format: "der", type: "pkcs8" });
  return { priv, pub: createPublicKey(priv) };
}

function hsmHash(hash: string | undefined): HashAlgorithm {
  if (hash === "sha256" || hash === "sha384" || hash === "sha512") return hash;
  throw invalidRequest(`hash algorithm ${hash ?? "none"} is not supported for HSM-backed keys (use sha2-256, sha2-384 or sha2-512)`);
}

/** The input to sign for (prehashed ⇒ must be a digest of the named hash). */
function checkPrehashed(input: Buffer, hash: string | undefined): void {
  if (hash && input.length !== DIGEST_BYTES[hash]) throw invalidRequest(`prehashed input must be a ${hash} digest (${DIGEST_BYTES[hash]} bytes)`);
}

function encodeSignature(ver: number, sig: Buffer, marshaling: "asn1" | "jws"): string {
  return formatEnvelope(ver, marshaling === "jws" ? sig.toString("base64url") : sig.toString("base64"));
}

export async function signVersion(cp: CachedPolicy, ver: number, input: Buffer, sp: SignParams, deps: TransitDeps): Promise<string> {
  const p = cp.policy;
  requireCapability(p, "signing", "signing");
  const v = p.keys[String(ver)];
  if (!v) throw invalidRequest("invalid key version");
  const hash = p.type === "ed25519" ? undefined : hashName(sp.hashAlgorithm);
  if (sp.prehashed) checkPrehashed(input, hash);
  if (hash === undefined && p.type !== "ed25519" && !(isRsa(p.type) && sp.prehashed && sp.signatureAlgorithm === "pkcs1v15")) {
    throw invalidRequest('hash_algorithm "none" is only allowed for prehashed RSA PKCS#1 v1.5 signatures');
  }
  if (v.hsm) {
    const km = keyManagerFor(deps);
    const opts: SignOptions = {
      hash: hsmHash(hash),
      prehashed: sp.prehashed,
      padding: sp.signatureAlgorithm === "pss" ? "pss" : "pkcs1",
      dsaEncoding: sp.marshaling === "jws" ? "ieee-p1363" : "der",
    };
    // The seam signs PSS with salt = digest length; refuse other requests rather than silently change them.
    if (isRsa(p.type) && sp.signatureAlgorithm === "pss" && sp.saltLength !== "auto" && sp.saltLength !== "hash" && Number(sp.saltLength) !== DIGEST_BYTES[opts.hash!]) {
      throw invalidRequest("HSM-backed RSA-PSS keys sign with a salt as long as the digest");
    }
    try {
      const signer = await km.createSigner(v.hsm.uri);
      return encodeSignature(ver, await signer.sign(input, opts), sp.marshaling);
    } catch (err) {
      hsmError(err);
    }
  }
  if (p.type === "ed25519") {
    if (sp.prehashed) throw invalidRequest("prehashed input is not supported for ed25519 keys");
    const key = p.derived ? derivedEd25519(cp, ver, v, sp.context).priv : cp.privateKey(ver, v);
    return encodeSignature(ver, cryptoSign(null, input, key), sp.marshaling);
  }
  const key = cp.privateKey(ver, v);
  if (isEcdsa(p.type)) {
    // node:crypto has no "sign this digest" for ECDSA; only the HSM path signs prehashed ECDSA input.
    if (sp.prehashed) throw invalidRequest("prehashed input is not supported for software ECDSA keys");
    return encodeSignature(ver, cryptoSign(hash, input, { key, dsaEncoding: sp.marshaling === "jws" ? "ieee-p1363" : "der" }), sp.marshaling);
  }
  if (sp.signatureAlgorithm === "pkcs1v15") {
    if (sp.prehashed) {
      const encoded = hash ? Buffer.concat([Buffer.from(DIGEST_INFO[hash], "hex"), input]) : input;
      return encodeSignature(ver, privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, encoded), sp.marshaling);
    }
    return encodeSignature(ver, cryptoSign(hash, input, { key, padding: constants.RSA_PKCS1_PADDING }), sp.marshaling);
  }
  if (sp.prehashed) throw invalidRequest("prehashed input is not supported for software RSA-PSS signatures");
  return encodeSignature(ver, cryptoSign(hash, input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pssSalt(sp.saltLength, hash, true) }), sp.marshaling);
}

async function publicKeyOf(cp: CachedPolicy, ver: number, v: KeyVersion, deps: TransitDeps): Promise<KeyObject> {
  if (!v.hsm) return cp.publicKey(ver, v);
  const hit = cp.cachedPublicKey(ver);
  if (hit) return hit;
  try {
    const k = await keyManagerFor(deps).getPublicKey(v.hsm.uri);
    cp.rememberPublicKey(ver, k);
    return k;
  } catch (err) {
    hsmError(err);
  }
}

export async function verifySignature(cp: CachedPolicy, signature: unknown, input: Buffer, sp: SignParams, deps: TransitDeps): Promise<boolean> {
  const p = cp.policy;
  requireCapability(p, "signing", "signature verification");
  const env = parseEnvelope("signature", signature);
  const v = decryptionVersion(p, env.version);
  const sig = sp.marshaling === "jws" ? decodeBase64Url("signature", env.body) : decodeBase64("signature", env.body);
  const hash = p.type === "ed25519" ? undefined : hashName(sp.hashAlgorithm);
  if (sp.prehashed) checkPrehashed(input, hash);
  if (p.type === "ed25519") {
    if (sp.prehashed) throw invalidRequest("prehashed input is not supported for ed25519 keys");
    const key = p.derived ? derivedEd25519(cp, env.version, v, sp.context).pub : cp.publicKey(env.version, v);
    return cryptoVerify(null, input, key, sig);
  }
  const key = await publicKeyOf(cp, env.version, v, deps);
  if (hash === undefined && !(isRsa(p.type) && sp.prehashed && sp.signatureAlgorithm === "pkcs1v15")) {
    throw invalidRequest('hash_algorithm "none" is only allowed for prehashed RSA PKCS#1 v1.5 signatures');
  }
  if (isEcdsa(p.type)) {
    if (sp.prehashed) throw invalidRequest("prehashed input is not supported for verifying ECDSA signatures");
    return cryptoVerify(hash, input, { key, dsaEncoding: sp.marshaling === "jws" ? "ieee-p1363" : "der" }, sig);
  }
  if (sp.signatureAlgorithm === "pkcs1v15") {
    if (sp.prehashed) {
      const expected = hash ? Buffer.concat([Buffer.from(DIGEST_INFO[hash], "hex"), input]) : input;
      let recovered: Buffer;
      try {
        recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, sig);
      } catch {
        return false;
      }
      return recovered.length === expected.length && timingSafeEqual(recovered, expected);
    }
    return cryptoVerify(hash, input, { key, padding: constants.RSA_PKCS1_PADDING }, sig);
  }
  if (sp.prehashed) throw invalidRequest("prehashed input is not supported for verifying RSA-PSS signatures");
  return cryptoVerify(hash, input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pssSalt(sp.saltLength, hash, false) }, sig);
}

// ---------------------------------------------------------------------------------------------------------
// HMAC

function hmacKeyOf(p: KeyPolicy, v: KeyVersion): Buffer {
  const b64 = p.type === "hmac" ? v.key : v.hmacKey;
  if (!b64) throw invalidRequest(p.hsm ? "HMAC is not supported for HSM-backed keys" : "no HMAC key for this key version");
  return Buffer.from(b64, "base64");
}

export function hmacVersion(p: KeyPolicy, ver: number, input: Buffer, algorithm: string): string {
  const v = p.keys[String(ver)];
  if (!v) throw invalidRequest("invalid key version");
  const hash = hashName(algorithm);
  if (!hash) throw invalidRequest("unsupported algorithm none");
  return formatEnvelope(ver, createHmac(hash, hmacKeyOf(p, v)).update(input).digest("base64"));
}

export function verifyHmac(p: KeyPolicy, value: unknown, input: Buffer, algorithm: string): boolean {
  const env = parseEnvelope("hmac", value);
  const v = decryptionVersion(p, env.version);
  const hash = hashName(algorithm);
  if (!hash) throw invalidRequest("unsupported algorithm none");
  const given = decodeBase64("hmac", env.body);
  const expected = createHmac(hash, hmacKeyOf(p, v)).update(input).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function digest(algorithm: string, input: Buffer): Buffer {
  const hash = hashName(algorithm);
  if (!hash) throw invalidRequest("unsupported hash algorithm none");
  return createHash(hash).update(input).digest();
}
