/**
 * The cryptographic operations of transit on one key version: AEAD encrypt/decrypt (AES-GCM, ChaCha20-
 * Poly1305, RSA-OAEP), sign/verify and HMAC. This file checks each request against the policy (capabilities,
 * versions, envelopes, hashes, digest lengths); the version's VersionKey (version-key.ts) does the
 * cryptography, in software or in a key store, and this file never asks which.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { invalidRequest } from "../../common/errors.js";
import type { KeyManager } from "../../hsm/key-manager.js";
import type { DsaEncoding } from "./digest-sign.js";
import type { CachedPolicy } from "./key-store.js";
import { DIGEST_BYTES, hashName } from "./transit-hash.js";
import { decodeBase64, decodeBase64Url, formatEnvelope, parseEnvelope } from "./transit-input.js";
import { capabilities, decryptionVersion, isEcdsa, type KeyPolicy } from "./transit-key.js";
import type { CipherParams, SignRequest } from "./version-key.js";

export interface TransitDeps {
  keyManager?: KeyManager;
}

export function requireCapability(p: KeyPolicy, cap: keyof ReturnType<typeof capabilities>, what: string): void {
  if (!capabilities(p.type, p.hsm)[cap]) throw invalidRequest(`${what} not supported for key type ${p.type}${p.hsm ? " (HSM-backed)" : ""}`);
}

// ---------------------------------------------------------------------------------------------------------
// Encryption

/** Encrypts with version `ver`; returns the `vault:vN:` string. */
export async function encryptVersion(cp: CachedPolicy, ver: number, plaintext: Buffer, params: CipherParams, deps: TransitDeps): Promise<string> {
  const p = cp.policy;
  requireCapability(p, "encryption", "encryption");
  const v = p.keys[String(ver)];
  if (!v) throw invalidRequest("invalid key version");
  if (params.nonce && params.nonce.length > 0) throw invalidRequest("provided nonce not allowed for this key");
  const body = await cp.versionKey(ver, v, deps.keyManager).encrypt(plaintext, params);
  return formatEnvelope(ver, body.toString("base64"));
}

/** Decrypts a `vault:vN:` string; returns the plaintext and the version it named. */
export async function decryptCiphertext(cp: CachedPolicy, ciphertext: unknown, params: CipherParams, deps: TransitDeps): Promise<{ plaintext: Buffer; version: number }> {
  const p = cp.policy;
  requireCapability(p, "decryption", "decryption");
  const env = parseEnvelope("ciphertext", ciphertext);
  const v = decryptionVersion(p, env.version);
  const blob = decodeBase64("ciphertext", env.body);
  const plaintext = await cp.versionKey(env.version, v, deps.keyManager).decrypt(blob, params);
  return { plaintext, version: env.version };
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

function encodeSignature(ver: number, sig: Buffer, marshaling: "asn1" | "jws"): string {
  return formatEnvelope(ver, marshaling === "jws" ? sig.toString("base64url") : sig.toString("base64"));
}

function dsaEncodingOf(sp: SignParams): DsaEncoding {
  return sp.marshaling === "jws" ? "ieee-p1363" : "der";
}

/**
 * The request a VersionKey signs or verifies. Ed25519 signs the input itself whatever prehashed says, as
 * OpenBao does (pure Ed25519; no Ed25519ph); prehashed input is checked to be a digest.
 */
function signRequest(p: KeyPolicy, input: Buffer, sp: SignParams, hash: string | undefined): SignRequest {
  const prehashed = sp.prehashed && p.type !== "ed25519";
  if (prehashed) checkDigest(p, input, hash);
  return { hash, prehashed, signatureAlgorithm: sp.signatureAlgorithm, saltLength: sp.saltLength, dsaEncoding: dsaEncodingOf(sp), context: sp.context };
}

/** Signs `input` (a message, or with prehashed a digest) with version `ver`. */
export async function signVersion(cp: CachedPolicy, ver: number, input: Buffer, sp: SignParams, deps: TransitDeps): Promise<SignResult> {
  const p = cp.policy;
  requireCapability(p, "signing", "signing");
  const v = p.keys[String(ver)];
  if (!v) throw invalidRequest("invalid key version");
  const req = signRequest(p, input, sp, signatureHash(sp));
  const out = await cp.versionKey(ver, v, deps.keyManager).sign(input, req);
  const signature = encodeSignature(ver, out.signature, sp.marshaling);
  return out.publicKey ? { signature, publicKey: out.publicKey } : { signature };
}

export async function verifySignature(cp: CachedPolicy, signature: unknown, input: Buffer, sp: SignParams, deps: TransitDeps): Promise<boolean> {
  const p = cp.policy;
  requireCapability(p, "signing", "signature verification");
  const hash = signatureHash(sp);
  const env = parseEnvelope("signature", signature);
  const v = decryptionVersion(p, env.version);
  const sig = sp.marshaling === "jws" ? decodeBase64Url("signature", env.body) : decodeBase64("signature", env.body);
  return cp.versionKey(env.version, v, deps.keyManager).verify(input, sig, signRequest(p, input, sp, hash));
}

// ---------------------------------------------------------------------------------------------------------
// HMAC

function hmacHash(algorithm: string): string {
  const hash = hashName(algorithm);
  if (!hash) throw invalidRequest("unsupported algorithm none");
  return hash;
}

export function hmacVersion(cp: CachedPolicy, ver: number, input: Buffer, algorithm: string, deps: TransitDeps): string {
  const p = cp.policy;
  const v = p.keys[String(ver)];
  if (!v) throw invalidRequest("invalid key version");
  const hash = hmacHash(algorithm);
  return formatEnvelope(ver, cp.versionKey(ver, v, deps.keyManager).hmac(hash, input).toString("base64"));
}

export function verifyHmac(cp: CachedPolicy, value: unknown, input: Buffer, algorithm: string, deps: TransitDeps): boolean {
  const env = parseEnvelope("hmac", value);
  const v = decryptionVersion(cp.policy, env.version);
  const hash = hmacHash(algorithm);
  const given = decodeBase64("hmac", env.body);
  const expected = cp.versionKey(env.version, v, deps.keyManager).hmac(hash, input);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function digest(algorithm: string, input: Buffer): Buffer {
  const hash = hashName(algorithm);
  if (!hash) throw invalidRequest("unsupported hash algorithm none");
  return createHash(hash).update(input).digest();
}
