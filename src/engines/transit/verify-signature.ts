/**
 * Verifying a transit signature needs only the public key, so software and key-store versions share this:
 * ECDSA (over a message or a digest), RSA PKCS#1 v1.5 (with or without DigestInfo) and RSA-PSS.
 */
import { constants, publicDecrypt, timingSafeEqual, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { invalidRequest } from "../../common/errors.js";
import { ecdsaVerifyDigest, maxPssSalt, modulusBits, parsePssSalt, rsaPssVerifyDigest } from "./digest-sign.js";
import { DIGEST_BYTES, DIGEST_INFO, requireHash } from "./transit-hash.js";
import { isEcdsa, type KeyType } from "./transit-key.js";
import type { SignRequest } from "./version-key.js";

/** `ecPoint` gives the key's EC point (memoised by the caller) for digest verification. */
export function verifyWithPublicKey(type: KeyType, key: KeyObject, ecPoint: () => Uint8Array, input: Buffer, sig: Buffer, req: SignRequest): boolean {
  const { hash, prehashed } = req;
  if (isEcdsa(type)) {
    if (prehashed) return ecdsaVerifyDigest(type, ecPoint(), input, sig, req.dsaEncoding);
    return cryptoVerify(hash, input, { key, dsaEncoding: req.dsaEncoding }, sig);
  }
  if (req.signatureAlgorithm === "pkcs1v15") {
    if (prehashed) {
      const expected = hash ? Buffer.concat([Buffer.from(DIGEST_INFO[hash], "hex"), input]) : input;
      let recovered: Buffer;
      try {
        recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, sig);
      } catch {
        return false;
      }
      return recovered.length === expected.length && timingSafeEqual(recovered, expected);
    }
    return cryptoVerify(hash, input, { key, padding: constants.RSA_PKCS1_PADDING }, sig);
  }
  const h = requireHash(hash);
  const salt = parsePssSalt(req.saltLength, DIGEST_BYTES[h]);
  if (salt !== "auto" && salt > maxPssSalt(modulusBits(key), DIGEST_BYTES[h])) throw invalidRequest(`requested salt length ${salt} is invalid`);
  if (prehashed) return rsaPssVerifyDigest(key, h, input, sig, salt);
  return cryptoVerify(h, input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: salt === "auto" ? constants.RSA_PSS_SALTLEN_AUTO : salt }, sig);
}
