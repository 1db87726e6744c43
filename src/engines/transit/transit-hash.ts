/** Transit's hash names (OpenBao's wire names) and the digest facts signing needs. */
import { invalidRequest } from "../../common/errors.js";

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

/** Digest length in bytes per node:crypto digest name. */
export const DIGEST_BYTES: Record<string, number> = {
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
export const DIGEST_INFO: Record<string, string> = {
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

/** The hash a signature scheme needs; "none" only goes with prehashed PKCS#1 v1.5 (checked before). */
export function requireHash(hash: string | undefined): string {
  if (!hash) throw invalidRequest("hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15");
  return hash;
}
