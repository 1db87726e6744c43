/**
 * Signatures over a caller-supplied digest (`prehashed=true`) for software keys, where node:crypto only signs
 * whole messages:
 *  - ECDSA: @noble/curves signs the digest with the key's private scalar (RFC 6979 nonces, low-S), DER or
 *    IEEE P1363 (r‖s) as asked. Verification accepts high-S too, as OpenBao's Go verifier does.
 *  - RSA-PSS: EMSA-PSS-ENCODE / -VERIFY (RFC 8017 §9.1, MGF1 with the signature's hash) around the raw RSA
 *    operation (node:crypto with RSA_NO_PADDING).
 * Salt lengths follow OpenBao, i.e. Go's crypto/rsa: "auto" = as long as possible when signing and detected
 * when verifying, "hash" = the digest length, an integer = that many bytes, where 0 means auto and -1 hash.
 */
import { constants, createHash, privateDecrypt, publicEncrypt, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { invalidRequest } from "../../common/errors.js";

export type EcdsaType = "ecdsa-p256" | "ecdsa-p384" | "ecdsa-p521";
export type DsaEncoding = "der" | "ieee-p1363";

const CURVES = { "ecdsa-p256": p256, "ecdsa-p384": p384, "ecdsa-p521": p521 } as const;

/** The private scalar of an EC private key, big-endian, as long as the curve order (JWK `d`). */
export function ecPrivateScalar(key: KeyObject): Uint8Array {
  const d = key.export({ format: "jwk" }).d;
  if (!d) throw new Error("not an EC private key");
  return Buffer.from(d, "base64url");
}

/** The uncompressed SEC1 point (0x04 ‖ x ‖ y) of an EC public (or private) key. */
export function ecPublicPoint(key: KeyObject): Uint8Array {
  const { x, y } = key.export({ format: "jwk" });
  if (!x || !y) throw new Error("not an EC key");
  return Buffer.concat([Buffer.from([4]), Buffer.from(x, "base64url"), Buffer.from(y, "base64url")]);
}

export function ecdsaSignDigest(type: EcdsaType, scalar: Uint8Array, digest: Buffer, encoding: DsaEncoding): Buffer {
  const sig = CURVES[type].sign(digest, scalar, { prehash: false, lowS: true, format: encoding === "der" ? "der" : "compact" });
  return Buffer.from(sig);
}

export function ecdsaVerifyDigest(type: EcdsaType, point: Uint8Array, digest: Buffer, signature: Buffer, encoding: DsaEncoding): boolean {
  try {
    return CURVES[type].verify(signature, digest, point, { prehash: false, lowS: false, format: encoding === "der" ? "der" : "compact" });
  } catch {
    return false; // malformed signature encoding
  }
}

// ---------------------------------------------------------------------------------------------------------
// RSA-PSS

/** A resolved PSS salt length: bytes, or "auto" (maximum when signing, detected when verifying). */
export type PssSalt = number | "auto";

/** salt_length as OpenBao parses it (before the key is known): "auto", "hash" or an integer ≥ -1. */
export function parsePssSalt(raw: string, digestBytes: number): PssSalt {
  const s = raw.toLowerCase();
  if (s === "auto") return "auto";
  if (s === "hash") return digestBytes;
  if (!/^[+-]?\d{1,9}$/.test(s)) throw invalidRequest(`salt length neither 'auto', 'hash', nor an int: ${raw.slice(0, 32)}`);
  const n = Number(s);
  if (n < -1) throw invalidRequest(`salt length is invalid: ${n}`);
  if (n === 0) return "auto"; // Go's rsa.PSSSaltLengthAuto
  if (n === -1) return digestBytes; // Go's rsa.PSSSaltLengthEqualsHash
  return n;
}

/** The longest salt a key of `modulusBits` allows with a `digestBytes` hash (Go's and OpenBao's maximum). */
export function maxPssSalt(modulusBits: number, digestBytes: number): number {
  return Math.ceil((modulusBits - 1) / 8) - 2 - digestBytes;
}

/** Checks an explicit salt length against the key; returns the bytes to sign with. */
export function pssSignSalt(salt: PssSalt, modulusBits: number, digestBytes: number): number {
  const max = maxPssSalt(modulusBits, digestBytes);
  if (max < 0) throw invalidRequest("the key is too small for RSA-PSS with this hash");
  if (salt === "auto") return max;
  if (salt > max) throw invalidRequest(`requested salt length ${salt} is invalid`);
  return salt;
}

export function modulusBits(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (!bits) throw new Error("not an RSA key");
  return bits;
}

function mgf1(hash: string, seed: Buffer, length: number): Buffer {
  const hLen = createHash(hash).digest().length;
  const out = Buffer.alloc(Math.ceil(length / hLen) * hLen);
  const counter = Buffer.alloc(4);
  for (let i = 0, off = 0; off < length; i++, off += hLen) {
    counter.writeUInt32BE(i);
    createHash(hash).update(seed).update(counter).digest().copy(out, off);
  }
  return out.subarray(0, length);
}

/** H = Hash(0x00 × 8 ‖ mHash ‖ salt), the value EMSA-PSS binds. */
function pssHash(hash: string, mHash: Buffer, salt: Buffer): Buffer {
  return createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) of a digest: emLen = ⌈emBits/8⌉ bytes. */
export function emsaPssEncode(hash: string, mHash: Buffer, emBits: number, saltBytes: number): Buffer {
  const hLen = mHash.length;
  const emLen = Math.ceil(emBits / 8);
  if (emLen < hLen + saltBytes + 2) throw invalidRequest("the key is too small for RSA-PSS with this hash and salt length");
  const salt = randomBytes(saltBytes);
  const h = pssHash(hash, mHash, salt);
  const db = Buffer.alloc(emLen - hLen - 1); // PS (zeros) ‖ 0x01 ‖ salt
  db[emLen - saltBytes - hLen - 2] = 0x01;
  salt.copy(db, db.length - saltBytes);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i] ^= mask[i];
  db[0] &= 0xff >> (8 * emLen - emBits);
  return Buffer.concat([db, h, Buffer.from([0xbc])]);
}

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2); `salt` "auto" recovers the salt length from the encoding. */
export function emsaPssVerify(hash: string, mHash: Buffer, em: Buffer, emBits: number, salt: PssSalt): boolean {
  const hLen = mHash.length;
  const emLen = Math.ceil(emBits / 8);
  if (em.length !== emLen || emLen < hLen + 2) return false;
  if (salt !== "auto" && emLen < hLen + salt + 2) return false;
  if (em[emLen - 1] !== 0xbc) return false;
  const topMask = 0xff >> (8 * emLen - emBits);
  if ((em[0] & ~topMask) !== 0) return false;
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const db = Buffer.from(em.subarray(0, emLen - hLen - 1));
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i] ^= mask[i];
  db[0] &= topMask;
  let one = 0; // index of the 0x01 separating PS from the salt
  while (one < db.length && db[one] === 0) one++;
  if (one === db.length || db[one] !== 0x01) return false;
  if (salt !== "auto" && one !== db.length - salt - 1) return false;
  const expected = pssHash(hash, mHash, db.subarray(one + 1));
  return timingSafeEqual(expected, h);
}

/** RSA-PSS signature of a digest (hash = node digest name, MGF1 with the same hash). */
export function rsaPssSignDigest(key: KeyObject, hash: string, digest: Buffer, salt: PssSalt): Buffer {
  const bits = modulusBits(key);
  const em = emsaPssEncode(hash, digest, bits - 1, pssSignSalt(salt, bits, digest.length));
  const k = Math.ceil(bits / 8);
  // The raw RSA private operation (m^d mod n) on EM, left-padded to the modulus length.
  return privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, em.length < k ? Buffer.concat([Buffer.alloc(k - em.length), em]) : em);
}

export function rsaPssVerifyDigest(key: KeyObject, hash: string, digest: Buffer, signature: Buffer, salt: PssSalt): boolean {
  const bits = modulusBits(key);
  const k = Math.ceil(bits / 8);
  if (signature.length !== k) return false;
  if (salt !== "auto" && salt > maxPssSalt(bits, digest.length)) throw invalidRequest(`requested salt length ${salt} is invalid`);
  let m: Buffer;
  try {
    m = publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, signature); // s^e mod n; throws when s ≥ n
  } catch {
    return false;
  }
  const emLen = Math.ceil((bits - 1) / 8);
  if (emLen < k && m[0] !== 0) return false;
  return emsaPssVerify(hash, digest, m.subarray(k - emLen), bits - 1, salt);
}
