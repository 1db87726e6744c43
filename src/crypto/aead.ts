/**
 * AES-256-GCM as used everywhere inside Arca: blob = nonce(12) ‖ ciphertext ‖ tag(16).
 * Nonces are random; keys are rotated (keyring terms) long before 2^32 encryptions per key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

export const GCM_NONCE_BYTES = 12;
export const GCM_TAG_BYTES = 16;
export const AES256_KEY_BYTES = 32;

export class AuthenticationError extends Error {
  constructor() {
    super("message authentication failed");
    this.name = "AuthenticationError";
  }
}

export function gcmSeal(key: Buffer, plaintext: Buffer, aad?: Buffer): Buffer {
  const nonce = randomBytes(GCM_NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  if (aad) cipher.setAAD(aad);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  return Buffer.concat([nonce, head, tail, cipher.getAuthTag()]);
}

export function gcmOpen(key: Buffer, blob: Buffer, aad?: Buffer): Buffer {
  if (blob.length < GCM_NONCE_BYTES + GCM_TAG_BYTES) throw new AuthenticationError();
  const nonce = blob.subarray(0, GCM_NONCE_BYTES);
  const tag = blob.subarray(blob.length - GCM_TAG_BYTES);
  const body = blob.subarray(GCM_NONCE_BYTES, blob.length - GCM_TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key, nonce);
  decipher.setAuthTag(tag);
  if (aad) decipher.setAAD(aad);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new AuthenticationError();
  }
}

/** Overwrites key material we no longer need; best effort (JS may hold copies we cannot reach). */
export function zero(...buffers: Array<Buffer | undefined>): void {
  for (const b of buffers) b?.fill(0);
}
