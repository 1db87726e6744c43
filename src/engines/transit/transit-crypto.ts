/**
 * The cryptographic operations of transit on one key version: AEAD encrypt/decrypt (AES-GCM, ChaCha20-
 * Poly1305, RSA-OAEP), HKDF key derivation, sign/verify and HMAC. Software keys use
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
  randomFillSync,
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
import { ecdsaSignDigest, ecdsaVerifyDigest, maxPssSalt, modulusBits, parsePssSalt, pssSignSalt, rsaPssSignDigest, rsaPssVerifyDigest, type DsaEncoding } from "./digest-sign.js";
import { convergentNonce } from "./convergent-nonce.js";
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

function symmetricKey(cp: CachedPolicy, ver: number, v: KeyVersion, context: Buffer | undefined): Buffer {
  const key = cp.secretKey(ver, v);
  return cp.policy.derived ? deriveKey(key, requireContext(cp.policy, context), key.length) : key;
}

/**
 * Random nonces, cut from a pooled CSPRNG buffer: one randomFillSync per 512 nonces instead of one per
 * encryption (a call into OpenSSL costs more than the AES-GCM of a small plaintext). Every byte is handed out
 * once, and each nonce is a copy, so a refill never changes a nonce already given out.
 */
const NONCE_POOL = Buffer.alloc(NONCE_BYTES * 512);
let noncePos = NONCE_POOL.length;

function randomNonce(): Buffer {
  if (noncePos === NONCE_POOL.length) {
    randomFillSync(NONCE_POOL);
    noncePos = 0;
  }
  const nonce = Buffer.from(NONCE_POOL.subarray(noncePos, noncePos + NONCE_BYTES));
  noncePos += NONCE_BYTES;
  return nonce;
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
  const key = symmetricKey(cp, ver, v, params.context);
  const nonce = p.convergentEncryption ? convergentNonce(v, { context: requireContext(p, params.context), aad: params.aad, plaintext }) : randomNonce();
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
  const key = symmetricKey(cp, env.version, v, params.context);
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

export interface SignResult {
  signature: string;
  /** Raw public key of a derived Ed25519 key (the one the context selected), as OpenBao returns it. */
  publicKey?: Buffer;
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

/** The hash, with OpenBao's rule for "none" (PKCS#1 v1.5 without DigestInfo over a caller's digest only). */
function signatureHash(sp: SignParams): string | undefined {
  const hash = hashName(sp.hashAlgorithm);
  if (hash === undefined && !(sp.prehashed && sp.signatureAlgorithm === "pkcs1v15")) {
    throw invalidRequest("hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15");
  }
  return hash;
}

/** Digest sizes of the supported hashes: what prehashed ECDSA input may be. */
const DIGEST_SIZES = new Set(Object.values(DIGEST_BYTES));

/**
 * Prehashed input must be a digest. RSA signatures name their hash (DigestInfo, PSS), so the length must be
 * the named hash's. An ECDSA signature does not depend on which hash made the digest, so, as OpenBao, any
 * digest is signed whatever hash_algorithm says.
 */
function checkDigest(p: KeyPolicy, input: Buffer, hash: string | undefined): void {
  if (isEcdsa(p.type)) {
    if (!DIGEST_SIZES.has(input.length)) throw invalidRequest(`prehashed input must be a digest (${[...DIGEST_SIZES].sort((a, b) => a - b).join(", ")} bytes), not ${input.length} bytes`);
  } else if (hash && input.length !== DIGEST_BYTES[hash]) {
    throw invalidRequest(`prehashed input must be a ${hash} digest (${DIGEST_BYTES[hash]} bytes)`);
  }
}

/** The seam's hash for an ECDSA digest: any of its hashes of that length (the choice does not change the signature). */
function hsmDigestHash(digest: Buffer): HashAlgorithm {
  const h = ({ 32: "sha256", 48: "sha384", 64: "sha512" } as const)[digest.length as 32 | 48 | 64] as HashAlgorithm | undefined;
  if (!h) throw invalidRequest("prehashed input for HSM-backed ECDSA keys must be a 32, 48 or 64-byte digest");
  return h;
}

function requireHash(hash: string | undefined): string {
  if (!hash) throw invalidRequest("hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15");
  return hash;
}

function encodeSignature(ver: number, sig: Buffer, marshaling: "asn1" | "jws"): string {
  return formatEnvelope(ver, marshaling === "jws" ? sig.toString("base64url") : sig.toString("base64"));
}

function dsaEncodingOf(sp: SignParams): DsaEncoding {
  return sp.marshaling === "jws" ? "ieee-p1363" : "der";
}

/** Raw 32-byte Ed25519 public key. */
function rawEd25519(pub: KeyObject): Buffer {
  return Buffer.from(pub.export({ format: "jwk" }).x ?? "", "base64url");
}

/**
 * Signs `input` (a message, or with prehashed a digest) with version `ver`. Ed25519 signs the input itself
 * whatever prehashed says, as OpenBao does (pure Ed25519; no Ed25519ph).
 */
export async function signVersion(cp: CachedPolicy, ver: number, input: Buffer, sp: SignParams, deps: TransitDeps): Promise<SignResult> {
  const p = cp.policy;
  requireCapability(p, "signing", "signing");
  const v = p.keys[String(ver)];
  if (!v) throw invalidRequest("invalid key version");
  const hash = signatureHash(sp);
  const prehashed = sp.prehashed && p.type !== "ed25519";
  if (prehashed) checkDigest(p, input, hash);
  if (v.hsm) {
    const km = keyManagerFor(deps);
    const opts: SignOptions = {
      hash: isEcdsa(p.type) && prehashed ? hsmDigestHash(input) : hsmHash(hash),
      prehashed,
      padding: sp.signatureAlgorithm === "pss" ? "pss" : "pkcs1",
      dsaEncoding: dsaEncodingOf(sp),
    };
    // The seam signs PSS with salt = digest length; refuse other requests rather than silently change them.
    if (isRsa(p.type) && sp.signatureAlgorithm === "pss") {
      const salt = parsePssSalt(sp.saltLength, DIGEST_BYTES[opts.hash!]);
      if (salt !== "auto" && salt !== DIGEST_BYTES[opts.hash!]) throw invalidRequest("HSM-backed RSA-PSS keys sign with a salt as long as the digest");
    }
    try {
      const signer = await km.createSigner(v.hsm.uri);
      return { signature: encodeSignature(ver, await signer.sign(input, opts), sp.marshaling) };
    } catch (err) {
      hsmError(err);
    }
  }
  if (p.type === "ed25519") {
    if (!p.derived) return { signature: encodeSignature(ver, cryptoSign(null, input, cp.privateKey(ver, v)), sp.marshaling) };
    const { priv, pub } = derivedEd25519(cp, ver, v, sp.context);
    return { signature: encodeSignature(ver, cryptoSign(null, input, priv), sp.marshaling), publicKey: rawEd25519(pub) };
  }
  const key = cp.privateKey(ver, v);
  if (isEcdsa(p.type)) {
    const sig = prehashed ? ecdsaSignDigest(p.type, cp.ecScalar(ver, v), input, dsaEncodingOf(sp)) : cryptoSign(hash, input, { key, dsaEncoding: dsaEncodingOf(sp) });
    return { signature: encodeSignature(ver, sig, sp.marshaling) };
  }
  if (sp.signatureAlgorithm === "pkcs1v15") {
    if (prehashed) {
      const encoded = hash ? Buffer.concat([Buffer.from(DIGEST_INFO[hash], "hex"), input]) : input;
      return { signature: encodeSignature(ver, privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, encoded), sp.marshaling) };
    }
    return { signature: encodeSignature(ver, cryptoSign(hash, input, { key, padding: constants.RSA_PKCS1_PADDING }), sp.marshaling) };
  }
  const h = requireHash(hash);
  const salt = parsePssSalt(sp.saltLength, DIGEST_BYTES[h]);
  const sig = prehashed
    ? rsaPssSignDigest(key, h, input, salt)
    : cryptoSign(h, input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pssSignSalt(salt, modulusBits(key), DIGEST_BYTES[h]) });
  return { signature: encodeSignature(ver, sig, sp.marshaling) };
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
  const hash = signatureHash(sp);
  const env = parseEnvelope("signature", signature);
  const v = decryptionVersion(p, env.version);
  const sig = sp.marshaling === "jws" ? decodeBase64Url("signature", env.body) : decodeBase64("signature", env.body);
  const prehashed = sp.prehashed && p.type !== "ed25519";
  if (prehashed) checkDigest(p, input, hash);
  if (p.type === "ed25519") {
    const key = p.derived ? derivedEd25519(cp, env.version, v, sp.context).pub : cp.publicKey(env.version, v);
    return cryptoVerify(null, input, key, sig);
  }
  const key = await publicKeyOf(cp, env.version, v, deps);
  if (isEcdsa(p.type)) {
    if (prehashed) return ecdsaVerifyDigest(p.type, cp.ecPoint(env.version, key), input, sig, dsaEncodingOf(sp));
    return cryptoVerify(hash, input, { key, dsaEncoding: dsaEncodingOf(sp) }, sig);
  }
  if (sp.signatureAlgorithm === "pkcs1v15") {
    if (prehashed) {
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
  const h = requireHash(hash);
  const salt = parsePssSalt(sp.saltLength, DIGEST_BYTES[h]);
  if (salt !== "auto" && salt > maxPssSalt(modulusBits(key), DIGEST_BYTES[h])) throw invalidRequest(`requested salt length ${salt} is invalid`);
  if (prehashed) return rsaPssVerifyDigest(key, h, input, sig, salt);
  return cryptoVerify(h, input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: salt === "auto" ? constants.RSA_PSS_SALTLEN_AUTO : salt }, sig);
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
