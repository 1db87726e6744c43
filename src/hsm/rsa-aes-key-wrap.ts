// CKM_RSA_AES_KEY_WRAP material (PKCS#11 v2.40 §2.1.21; AWS/GCP/Azure BYOK, Vault Transit import):
// RSA-OAEP(ephemeral AES key) ‖ AES-KWP (RFC 5649)(target key). Both key managers split it the same way.
import { KeyDecryptError } from "./key-errors.js";

/** Ephemeral key length: the mechanism's AES-256 (what every cloud KMS asks its customers for). */
export const EPHEMERAL_KEY_BYTES = 32;

/** The one error for material that does not import (which part failed is not said, see rsa-oaep.ts). */
export function importFailed(cause?: unknown): KeyDecryptError {
  return new KeyDecryptError("the wrapped key material does not unwrap under this import key", cause === undefined ? {} : { cause });
}

/**
 * Splits material for a wrapping key with `modulusBytes`; only the lengths are checked here. RFC 5649 pads the
 * key to whole 64-bit blocks and adds one: a `keyBytes` key wraps to exactly ceil(keyBytes / 8) * 8 + 8 bytes.
 */
export function splitRsaAesMaterial(material: Buffer, modulusBytes: number, keyBytes: number): { encryptedKey: Buffer; wrappedKey: Buffer } {
  const wrappedKey = material.subarray(modulusBytes);
  if (wrappedKey.length !== Math.ceil(keyBytes / 8) * 8 + 8) throw importFailed();
  return { encryptedKey: material.subarray(0, modulusBytes), wrappedKey };
}
