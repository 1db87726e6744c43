/**
 * One key version as transit uses it: a handle with the operations of the version's material, whether that
 * material is in the policy record (software-version-key.ts) or in a key store behind the KeyManager seam
 * (keystore-version-key.ts). transit-crypto.ts checks the request against the policy (capabilities,
 * versions, envelopes, digest lengths) and then asks the handle; it never asks where the key lives. Handles
 * are made once per version of a parsed policy (open-version-key.ts, cached by key-store.ts).
 */
import type { KeyObject } from "node:crypto";
import type { DsaEncoding } from "./digest-sign.js";

export interface CipherParams {
  context?: Buffer;
  aad?: Buffer;
  /** Caller-supplied nonce (only accepted for nothing we store: OpenBao limits it to legacy convergent keys). */
  nonce?: Buffer;
}

/** A signing or verification request after transit's policy checks. */
export interface SignRequest {
  /** node:crypto digest name; undefined for hash_algorithm=none (prehashed PKCS#1 v1.5 only). */
  hash: string | undefined;
  /** `input` is a digest of the hash's length (never for Ed25519, which signs the message itself). */
  prehashed: boolean;
  signatureAlgorithm: "pss" | "pkcs1v15";
  /** "auto" | "hash" | a decimal integer. */
  saltLength: string;
  dsaEncoding: DsaEncoding;
  /** Derivation context (derived Ed25519 keys). */
  context?: Buffer;
}

export interface Signature {
  signature: Buffer;
  /** Raw public key of a derived Ed25519 key (the one the context selected), as OpenBao returns it. */
  publicKey?: Buffer;
}

export interface VersionKey {
  /** The envelope body (after `vault:vN:`) of `plaintext`: nonce ‖ ciphertext ‖ tag for AEAD, or RSA-OAEP. */
  encrypt(plaintext: Buffer, params: CipherParams): Promise<Buffer>;
  /** The plaintext of an envelope body; a body that does not authenticate is a 400. */
  decrypt(body: Buffer, params: CipherParams): Promise<Buffer>;
  sign(input: Buffer, req: SignRequest): Promise<Signature>;
  verify(input: Buffer, signature: Buffer, req: SignRequest): Promise<boolean>;
  /** HMAC of `input` with the version's HMAC key and node digest `hash`. */
  hmac(hash: string, input: Buffer): Buffer;
  /** The public key of an asymmetric version (the context-free one for derived keys). */
  publicKey(): Promise<KeyObject>;
}
