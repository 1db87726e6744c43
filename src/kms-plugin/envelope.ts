// The ciphertext `arca kms-plugin` hands the Kubernetes API server: the payload sealed with AES-256-GCM under
// an L4 data key, carrying that data key wrapped by the keychain (Arca's ciphertext), so Decrypt needs
// nothing but this blob and Arca. Layout (all lengths big-endian):
//
//   "AKV2" | 0x01 (format) | u16 wrapped length | wrapped data key (Arca's ciphertext, UTF-8) | 12-byte IV |
//   GCM ciphertext | 16-byte tag
//
// Everything before the IV is the GCM associated data, so the wrapped key cannot be swapped for another
// without the tag failing. The format byte leaves room for another layout later.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const MAGIC = Buffer.from("AKV2", "latin1");
const FORMAT = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Arca's ciphertexts are short strings; anything longer is not one. */
export const MAX_WRAPPED_BYTES = 4096;

/** The blob is not one of ours, or it was altered. */
export class EnvelopeError extends Error {}

export interface OpenedEnvelope {
  wrapped: string;
  decrypt(key: Buffer): Buffer;
}

export function sealEnvelope(key: Buffer, wrapped: string, plaintext: Buffer): Buffer {
  const header = headerOf(wrapped);
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(header);
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([header, iv, body, c.getAuthTag()]);
}

/** Reads the header; the payload is decrypted only once the caller has the data key. */
export function openEnvelope(blob: Buffer): OpenedEnvelope {
  if (blob.length < MAGIC.length + 3 || !blob.subarray(0, MAGIC.length).equals(MAGIC)) throw new EnvelopeError("not an Arca KMS ciphertext");
  if (blob[MAGIC.length] !== FORMAT) throw new EnvelopeError("unknown Arca KMS ciphertext format");
  const wrappedLength = blob.readUInt16BE(MAGIC.length + 1);
  const headerEnd = MAGIC.length + 3 + wrappedLength;
  if (wrappedLength === 0 || wrappedLength > MAX_WRAPPED_BYTES || blob.length < headerEnd + IV_BYTES + TAG_BYTES) throw new EnvelopeError("truncated Arca KMS ciphertext");
  const header = blob.subarray(0, headerEnd);
  const wrapped = blob.subarray(MAGIC.length + 3, headerEnd).toString("utf8");
  const iv = blob.subarray(headerEnd, headerEnd + IV_BYTES);
  const body = blob.subarray(headerEnd + IV_BYTES, blob.length - TAG_BYTES);
  const tag = blob.subarray(blob.length - TAG_BYTES);
  return {
    wrapped,
    decrypt(key: Buffer): Buffer {
      try {
        const d = createDecipheriv("aes-256-gcm", key, iv);
        d.setAAD(header);
        d.setAuthTag(tag);
        return Buffer.concat([d.update(body), d.final()]);
      } catch {
        throw new EnvelopeError("Arca KMS ciphertext does not authenticate");
      }
    },
  };
}

function headerOf(wrapped: string): Buffer {
  const w = Buffer.from(wrapped, "utf8");
  if (w.length === 0 || w.length > MAX_WRAPPED_BYTES) throw new EnvelopeError("wrapped data key has an impossible length");
  const len = Buffer.alloc(3);
  len[0] = FORMAT;
  len.writeUInt16BE(w.length, 1);
  return Buffer.concat([MAGIC, len, w]);
}
