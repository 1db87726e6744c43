// EME-OAEP decoding (RFC 8017 §7.1.2) of a raw RSA result, for tokens that can do raw RSA (CKM_RSA_X_509)
// but not OAEP with the hash a caller needs: SoftHSM 2.6.1 does OAEP with SHA-1 only (CKR_ARGUMENTS_BAD
// otherwise), while BYOK import material is OAEP-SHA256. Used only by the BYOK import path, which keeps the
// decoded (ephemeral) key in memory for the one C_CreateObject that follows and then zeroes it.
//
// Every check runs whatever an earlier one found, and every failure is the same error: a decoder that says
// *which* check failed (or fails faster for one of them) is Manger's padding oracle.
import { createHash } from "node:crypto";

export type OaepDecodeHash = "sha1" | "sha256" | "sha384" | "sha512";

const H_LEN: Record<OaepDecodeHash, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/** The one error every malformed encoding gives. */
export class OaepDecodeError extends Error {
  constructor() {
    super("RSA-OAEP decoding failed");
    this.name = "OaepDecodeError";
  }
}

function mgf1(hash: OaepDecodeHash, seed: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  const counter = Buffer.alloc(4);
  for (let off = 0, i = 0; off < length; i++) {
    counter.writeUInt32BE(i);
    const block = createHash(hash).update(seed).update(counter).digest();
    off += block.copy(out, off);
  }
  return out;
}

/**
 * Decodes `em` (the k-byte raw RSA result, k = modulus bytes) and returns M. The label is empty unless given.
 * The caller owns `em` and should zero it; intermediate buffers holding the message are zeroed here.
 */
export function oaepDecode(em: Buffer, hash: OaepDecodeHash, label: Buffer = Buffer.alloc(0)): Buffer {
  const hLen = H_LEN[hash];
  const k = em.length;
  if (k < 2 * hLen + 2) throw new OaepDecodeError();
  const lHash = createHash(hash).update(label).digest();
  const maskedSeed = em.subarray(1, 1 + hLen);
  const maskedDb = em.subarray(1 + hLen);
  const seed = mgf1(hash, maskedDb, hLen);
  for (let i = 0; i < hLen; i++) seed[i] ^= maskedSeed[i];
  const db = mgf1(hash, seed, k - hLen - 1);
  for (let i = 0; i < db.length; i++) db[i] ^= maskedDb[i];

  // bad != 0 marks a failure; each step ORs into it without branching on secret data.
  let bad = em[0];
  for (let i = 0; i < hLen; i++) bad |= db[i] ^ lHash[i];
  // PS is zeros up to the first 0x01; `looking` is 1 until it is found. Any other byte before it is bad.
  let looking = 1;
  let index = 0;
  for (let i = hLen; i < db.length; i++) {
    const isOne = ((db[i] ^ 1) - 1) >>> 31; // 1 when db[i] === 1
    const isZero = (db[i] - 1) >>> 31; // 1 when db[i] === 0
    index |= -(looking & isOne) & i;
    bad |= looking & (isZero ^ 1) & (isOne ^ 1);
    looking &= isOne ^ 1;
  }
  bad |= looking;
  const message = bad === 0 ? Buffer.from(db.subarray(index + 1)) : undefined;
  db.fill(0);
  seed.fill(0);
  if (!message) throw new OaepDecodeError();
  return message;
}
