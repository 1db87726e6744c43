/**
 * AES-256-GCM as the keychain stores it: nonce (12) ‖ ciphertext ‖ tag (16), with associated data that
 * binds a blob to where it belongs (key identity and version, never names). Used for L3 under L2, L4 under
 * L3, and by the software keystore; HSM keystores do the same inside the HSM.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { invalidRequest } from "../../common/errors.js";
import { DECRYPT_FAILED } from "../../core/key-api-errors.js";

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export function sealAead(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(NONCE_BYTES);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(aad);
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([iv, body, c.getAuthTag()]);
}

/** Throws the API's one decryption failure (400) on a short, tampered or misbound blob. */
export function openAead(key: Buffer, blob: Buffer, aad: Buffer): Buffer {
  if (blob.length < NONCE_BYTES + TAG_BYTES) throw invalidRequest(DECRYPT_FAILED);
  try {
    const d = createDecipheriv("aes-256-gcm", key, blob.subarray(0, NONCE_BYTES));
    d.setAAD(aad);
    d.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
    return Buffer.concat([d.update(blob.subarray(NONCE_BYTES, blob.length - TAG_BYTES)), d.final()]);
  } catch {
    throw invalidRequest(DECRYPT_FAILED);
  }
}

/** Splits a stored blob into the seam's AEAD parts (the same layout). */
export function splitAead(blob: Buffer): { iv: Buffer; ciphertext: Buffer; tag: Buffer } {
  if (blob.length < NONCE_BYTES + TAG_BYTES) throw invalidRequest(DECRYPT_FAILED);
  return { iv: blob.subarray(0, NONCE_BYTES), ciphertext: blob.subarray(NONCE_BYTES, blob.length - TAG_BYTES), tag: blob.subarray(blob.length - TAG_BYTES) };
}
