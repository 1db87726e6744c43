import { constants, createHash, generateKeyPairSync, randomBytes, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ArcaError } from "../../common/errors.js";
import {
  ecdsaSignDigest,
  ecdsaVerifyDigest,
  ecPrivateScalar,
  ecPublicPoint,
  emsaPssEncode,
  emsaPssVerify,
  maxPssSalt,
  parsePssSalt,
  rsaPssSignDigest,
  rsaPssVerifyDigest,
  type EcdsaType,
} from "./digest-sign.js";
import { pkeyutlVerify } from "./openssl.test-util.js";
const pem = (key: KeyObject): string => key.export({ type: "spki", format: "pem" }) as string;


const HASHES = ["sha1", "sha256", "sha384", "sha512"] as const;
const CURVES: Array<[EcdsaType, string]> = [
  ["ecdsa-p256", "P-256"],
  ["ecdsa-p384", "P-384"],
  ["ecdsa-p521", "P-521"],
];


describe("ECDSA over a digest", () => {
  const keys = CURVES.map(([type, namedCurve]) => ({ type, ...generateKeyPairSync("ec", { namedCurve }) }));

  it("signs digests that openssl pkeyutl and node:crypto (over the message) verify", () => {
    for (const { type, privateKey, publicKey } of keys) {
      const d = ecPrivateScalar(privateKey);
      const q = ecPublicPoint(publicKey);
      for (const hash of HASHES) {
        const msg = randomBytes(100);
        const digest = createHash(hash).update(msg).digest();
        const der = ecdsaSignDigest(type, d, digest, "der");
        expect(pkeyutlVerify(pem(publicKey), der, digest, []), `${type} ${hash}`).toBe(true);
        expect(cryptoVerify(hash, msg, publicKey, der)).toBe(true);
        const raw = ecdsaSignDigest(type, d, digest, "ieee-p1363");
        expect(raw.length).toBe(type === "ecdsa-p256" ? 64 : type === "ecdsa-p384" ? 96 : 132);
        expect(cryptoVerify(hash, msg, { key: publicKey, dsaEncoding: "ieee-p1363" }, raw)).toBe(true);
        expect(ecdsaVerifyDigest(type, q, digest, der, "der")).toBe(true);
        expect(ecdsaVerifyDigest(type, q, digest, raw, "ieee-p1363")).toBe(true);
        const tampered = Buffer.from(digest);
        tampered[0] ^= 1;
        expect(ecdsaVerifyDigest(type, q, tampered, der, "der")).toBe(false);
        expect(ecdsaVerifyDigest(type, q, digest, raw, "der")).toBe(false); // wrong encoding: no throw, just invalid
      }
    }
  });

  it("verifies node:crypto's message signatures (high-S included) over the digest", () => {
    for (const { type, privateKey, publicKey } of keys) {
      const q = ecPublicPoint(publicKey);
      for (let i = 0; i < 8; i++) {
        const msg = randomBytes(32);
        const sig = cryptoSign("sha384", msg, privateKey);
        expect(ecdsaVerifyDigest(type, q, createHash("sha384").update(msg).digest(), sig, "der")).toBe(true);
      }
    }
  });

  it("property: sign(prehash(m)) verifies via node:crypto over m", () => {
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.constantFrom(...HASHES), fc.uint8Array({ maxLength: 256 }), fc.boolean(), (k, hash, m, jws) => {
        const msg = Buffer.from(m);
        const sig = ecdsaSignDigest(k.type, ecPrivateScalar(k.privateKey), createHash(hash).update(msg).digest(), jws ? "ieee-p1363" : "der");
        expect(cryptoVerify(hash, msg, { key: k.publicKey, dsaEncoding: jws ? "ieee-p1363" : "der" }, sig)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});

describe("RSA-PSS over a digest", () => {
  const rsa2048 = generateKeyPairSync("rsa", { modulusLength: 2048 });
  // 1025 bits: the encoded message is one byte shorter than the modulus (emLen = k - 1).
  const rsa1025 = generateKeyPairSync("rsa", { modulusLength: 1025 });

  it("parses salt_length as OpenBao (Go's crypto/rsa) does", () => {
    expect(parsePssSalt("auto", 32)).toBe("auto");
    expect(parsePssSalt("AUTO", 32)).toBe("auto");
    expect(parsePssSalt("hash", 48)).toBe(48);
    expect(parsePssSalt("0", 32)).toBe("auto");
    expect(parsePssSalt("-1", 32)).toBe(32);
    expect(parsePssSalt("20", 32)).toBe(20);
    for (const bad of ["-2", "abc", "1.5", "", "12345678901"]) {
      expect(() => parsePssSalt(bad, 32), bad).toThrow(ArcaError);
    }
    expect(maxPssSalt(2048, 32)).toBe(222);
    expect(maxPssSalt(1025, 64)).toBe(62);
  });

  it("signs digests that openssl pkeyutl and node:crypto (over the message) verify, for every salt length kind", () => {
    for (const [bits, { privateKey, publicKey }] of [
      [2048, rsa2048],
      [1025, rsa1025],
    ] as const) {
      for (const hash of ["sha256", "sha384", "sha512"] as const) {
        const hLen = createHash(hash).digest().length;
        const max = maxPssSalt(bits, hLen);
        for (const salt of [0, 20, hLen, max, "auto"] as const) {
          if (salt !== "auto" && salt > max) {
            expect(() => rsaPssSignDigest(privateKey, hash, createHash(hash).digest(), salt)).toThrow(/salt length/);
            continue;
          }
          const msg = randomBytes(64);
          const digest = createHash(hash).update(msg).digest();
          const sig = rsaPssSignDigest(privateKey, hash, digest, salt);
          const saltLen = salt === "auto" ? max : salt;
          const what = `${bits} ${hash} salt ${salt}`;
          expect(sig.length, what).toBe(Math.ceil(bits / 8));
          expect(pkeyutlVerify(pem(publicKey), sig, digest, ["rsa_padding_mode:pss", `rsa_pss_saltlen:${saltLen}`, `digest:${hash}`]), what).toBe(true);
          expect(cryptoVerify(hash, msg, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: saltLen }, sig), what).toBe(true);
          expect(rsaPssVerifyDigest(publicKey, hash, digest, sig, saltLen), what).toBe(true);
          expect(rsaPssVerifyDigest(publicKey, hash, digest, sig, "auto"), what).toBe(true);
          if (saltLen !== 20) expect(rsaPssVerifyDigest(publicKey, hash, digest, sig, 20), what).toBe(false);
          const tampered = Buffer.from(digest);
          tampered[hLen - 1] ^= 0x80;
          expect(rsaPssVerifyDigest(publicKey, hash, tampered, sig, "auto"), what).toBe(false);
        }
      }
    }
  });

  it("verifies node:crypto's PSS signatures over the digest, and rejects malformed ones", () => {
    const { privateKey, publicKey } = rsa2048;
    const msg = Buffer.from("message");
    const digest = createHash("sha256").update(msg).digest();
    for (const saltLength of [0, 32, 222]) {
      const sig = cryptoSign("sha256", msg, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
      expect(rsaPssVerifyDigest(publicKey, "sha256", digest, sig, saltLength === 0 ? 0 : "auto")).toBe(true);
      expect(rsaPssVerifyDigest(publicKey, "sha256", digest, sig, saltLength)).toBe(true);
    }
    const sig = rsaPssSignDigest(privateKey, "sha256", digest, 32);
    expect(rsaPssVerifyDigest(publicKey, "sha256", digest, sig.subarray(1), 32)).toBe(false); // short
    expect(rsaPssVerifyDigest(publicKey, "sha256", digest, Buffer.alloc(256, 0xff), 32)).toBe(false); // ≥ n
    expect(rsaPssVerifyDigest(publicKey, "sha256", digest, Buffer.alloc(256), "auto")).toBe(false);
    // A PKCS#1 v1.5 signature is not a PSS one.
    expect(rsaPssVerifyDigest(publicKey, "sha256", digest, cryptoSign("sha256", msg, privateKey), "auto")).toBe(false);
  });

  it("EMSA-PSS round trips and rejects every single-bit flip of the encoding", () => {
    const mHash = createHash("sha256").update("x").digest();
    const em = emsaPssEncode("sha256", mHash, 2047, 32);
    expect(em.length).toBe(256);
    expect(em[0] & 0x80).toBe(0);
    expect(emsaPssVerify("sha256", mHash, em, 2047, 32)).toBe(true);
    for (let bit = 1; bit < em.length * 8; bit += 97) {
      const bad = Buffer.from(em);
      bad[bit >> 3] ^= 0x80 >> (bit & 7);
      expect(emsaPssVerify("sha256", mHash, bad, 2047, "auto"), `bit ${bit}`).toBe(false);
    }
    expect(() => emsaPssEncode("sha512", createHash("sha512").digest(), 1023, 63)).toThrow(ArcaError);
  });

  it("property: sign(prehash(m)) verifies via node:crypto over m", () => {
    fc.assert(
      fc.property(fc.constantFrom("sha256", "sha384", "sha512"), fc.uint8Array({ maxLength: 256 }), fc.integer({ min: 0, max: 190 }), (hash, m, salt) => {
        const msg = Buffer.from(m);
        const sig = rsaPssSignDigest(rsa2048.privateKey, hash, createHash(hash).update(msg).digest(), salt === 0 ? "auto" : salt);
        const saltLength = salt === 0 ? constants.RSA_PSS_SALTLEN_AUTO : salt;
        expect(cryptoVerify(hash, msg, { key: rsa2048.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, sig)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});
