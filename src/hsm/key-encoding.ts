// Encodings shared by the key managers: DigestInfo for RSA PKCS#1 v1.5 over a digest, ECDSA r||s ⇄ DER,
// public keys from PKCS#11 attributes, and the CKA_ID convention.
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import type { HashAlgorithm, KeyAlgorithm } from "./key-manager.js";

/** DER prefix of DigestInfo { AlgorithmIdentifier, OCTET STRING digest } (RFC 8017 §9.2 note 1). */
const DIGEST_INFO_PREFIX: Record<HashAlgorithm, Buffer> = {
  sha256: Buffer.from("3031300d060960864801650304020105000420", "hex"),
  sha384: Buffer.from("3041300d060960864801650304020205000430", "hex"),
  sha512: Buffer.from("3051300d060960864801650304020305000440", "hex"),
};

export const DIGEST_LENGTH: Record<HashAlgorithm, number> = { sha256: 32, sha384: 48, sha512: 64 };

export function digestInfo(hash: HashAlgorithm, digest: Buffer): Buffer {
  return Buffer.concat([DIGEST_INFO_PREFIX[hash], digest]);
}

/** DER-encoded OIDs used as CKA_EC_PARAMS. */
export const EC_PARAMS: Record<"ec-p256" | "ec-p384" | "ed25519", Buffer> = {
  "ec-p256": Buffer.from("06082a8648ce3d030107", "hex"),
  "ec-p384": Buffer.from("06052b81040022", "hex"),
  ed25519: Buffer.from("06032b6570", "hex"),
};

export function algorithmFromEcParams(params: Buffer): KeyAlgorithm | undefined {
  for (const [alg, der] of Object.entries(EC_PARAMS)) if (der.equals(params)) return alg as KeyAlgorithm;
  // Some tokens store Ed25519 params as the PrintableString "edwards25519".
  if (params.subarray(2).toString("latin1") === "edwards25519") return "ed25519";
  return undefined;
}

/** Field size in bytes (r and s each), for r||s signatures. */
export function ecFieldBytes(alg: KeyAlgorithm): number {
  return alg === "ec-p384" ? 48 : 32;
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}

function derInteger(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  let v = unsigned.subarray(i);
  if (v[0] & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return Buffer.concat([Buffer.from([0x02]), derLength(v.length), v]);
}

/** ECDSA raw r||s (what CKM_ECDSA returns, G1) → DER SEQUENCE { r INTEGER, s INTEGER }. */
export function ecdsaRawToDer(raw: Buffer): Buffer {
  if (raw.length % 2 !== 0 || raw.length === 0) throw new RangeError("ECDSA r||s must have even, non-zero length");
  const half = raw.length / 2;
  const body = Buffer.concat([derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

/** Unwraps a DER OCTET STRING (CKA_EC_POINT is one per PKCS#11 v2.40; a few tokens return the bare point). */
export function unwrapOctetString(v: Buffer, expected: number): Buffer {
  if (v.length === expected) return v;
  if (v[0] !== 0x04) throw new RangeError("CKA_EC_POINT is not an OCTET STRING");
  let len = v[1];
  let off = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | v[2 + i];
    off = 2 + n;
  }
  const inner = v.subarray(off, off + len);
  if (inner.length !== expected) throw new RangeError(`EC point has ${inner.length} bytes, expected ${expected}`);
  return inner;
}

const b64u = (b: Buffer): string => b.toString("base64url");

export function rsaPublicKey(modulus: Buffer, exponent: Buffer): KeyObject {
  return createPublicKey({ key: { kty: "RSA", n: b64u(stripZeros(modulus)), e: b64u(stripZeros(exponent)) }, format: "jwk" });
}

export function ecPublicKey(alg: "ec-p256" | "ec-p384", ecPoint: Buffer): KeyObject {
  const size = ecFieldBytes(alg);
  const point = unwrapOctetString(ecPoint, 1 + 2 * size);
  if (point[0] !== 0x04) throw new RangeError("only uncompressed EC points are supported");
  return createPublicKey({
    key: { kty: "EC", crv: alg === "ec-p256" ? "P-256" : "P-384", x: b64u(point.subarray(1, 1 + size)), y: b64u(point.subarray(1 + size)) },
    format: "jwk",
  });
}

export function ed25519PublicKey(ecPoint: Buffer): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: b64u(unwrapOctetString(ecPoint, 32)) }, format: "jwk" });
}

function stripZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

export function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: "spki", format: "der" });
}

/** CKA_ID for key pairs: the first 16 bytes of SHA-1 over the SPKI (node-webcrypto-p11's convention). */
export function keyIdFromPublicKey(key: KeyObject): Buffer {
  return createHash("sha1").update(spkiDer(key)).digest().subarray(0, 16);
}

/** The algorithm of a node public or private key, or undefined if not one we manage. */
export function algorithmOfKeyObject(key: KeyObject): KeyAlgorithm | undefined {
  const d = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case "rsa":
      return ({ 2048: "rsa-2048", 3072: "rsa-3072", 4096: "rsa-4096" } as Record<number, KeyAlgorithm>)[d?.modulusLength ?? 0];
    case "ec":
      return d?.namedCurve === "prime256v1" ? "ec-p256" : d?.namedCurve === "secp384r1" ? "ec-p384" : undefined;
    case "ed25519":
      return "ed25519";
    default:
      return undefined;
  }
}
