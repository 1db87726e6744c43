// Conformance suite every KeyManager must pass (run by pkcs11-key-manager.test.ts against SoftHSM and by
// software-key-manager.test.ts against node:crypto). Signatures are checked with node:crypto, never with the
// implementation under test.
import { constants, createCipheriv, createDecipheriv, createHash, publicEncrypt, randomBytes, verify, type KeyObject } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyDecryptError, KeyNotFoundError, KeyUnsupportedError, KeyUsageError } from "./key-errors.js";
import { spkiDer } from "./key-encoding.js";
import {
  defaultHash,
  isKeyDeleter,
  isKeyEncrypter,
  identityKey,
  isKeyImporter,
  isKeyWrapper,
  isWrappedKeyImporter,
  type KeyAlgorithm,
  type KeyManager,
} from "./key-manager.js";

export interface KeyManagerFixture {
  km: KeyManager;
  cleanup?: () => Promise<void> | void;
}

export interface KeyManagerCaseOptions {
  /** Algorithms the implementation must support (Ed25519 only where the token has CKM_EDDSA). */
  algorithms: KeyAlgorithm[];
  /** Expected value of `isHardware`. */
  hardware: boolean;
  /** RSA-OAEP with SHA-256 works (SoftHSM 2.6.1 has OAEP with SHA-1 only). */
  oaepSha256: boolean;
}

/** A URI of the same shape as `uri` but naming a key that does not exist (fresh random CKA_ID). */
export function missingUri(uri: string): string {
  const fresh = [...randomBytes(16)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join("");
  return uri.replace(/id=(%[0-9A-Fa-f]{2})+/, `id=${fresh}`);
}

function verifies(alg: KeyAlgorithm, pub: KeyObject, data: Buffer, sig: Buffer, opts: { pss?: boolean; p1363?: boolean } = {}): boolean {
  if (alg === "ed25519") return verify(null, data, pub, sig);
  const hash = defaultHash(alg);
  if (alg.startsWith("rsa-")) {
    return verify(hash, data, { key: pub, padding: opts.pss ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING, saltLength: 32 }, sig);
  }
  return verify(hash, data, { key: pub, dsaEncoding: opts.p1363 ? "ieee-p1363" : "der" }, sig);
}

/** CKM_RSA_AES_KEY_WRAP material as a BYOK customer makes it (node:crypto standing in for openssl). */
export function rsaAesKeyWrapMaterial(pub: KeyObject, target: Buffer, opts: { hash?: "sha1" | "sha256"; ephemeral?: Buffer } = {}): Buffer {
  const ephemeral = opts.ephemeral ?? randomBytes(32);
  const encryptedKey = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: opts.hash ?? "sha256" }, ephemeral);
  const c = createCipheriv(`id-aes${ephemeral.length * 8}-wrap-pad`, ephemeral, Buffer.from("A65959A6", "hex"));
  return Buffer.concat([encryptedKey, c.update(target), c.final()]);
}

export function keyManagerCase(name: string, setup: () => Promise<KeyManagerFixture>, opts: KeyManagerCaseOptions): void {
  describe(`KeyManager conformance: ${name}`, () => {
    let fx: KeyManagerFixture;
    let km: KeyManager;
    const data = Buffer.from("the quick brown fox jumps over the lazy dog");

    beforeAll(async () => {
      fx = await setup();
      km = fx.km;
    });
    afterAll(async () => {
      await km?.close();
      await fx?.cleanup?.();
    });

    it("reports whether it is hardware", () => {
      expect(km.isHardware).toBe(opts.hardware);
    });

    describe.each(opts.algorithms.filter((a) => a !== "aes-256"))("%s", (alg) => {
      let uri: string;
      let pub: KeyObject;
      beforeAll(async () => {
        const res = await km.createKey({ algorithm: alg, label: `case-${alg}` });
        uri = res.uri;
        expect(res.algorithm).toBe(alg);
        expect(res.id.length).toBe(16);
        expect(res.publicKey).toBeDefined();
        pub = res.publicKey!;
      });

      it("getPublicKey returns the created public key; id is SHA-1(SPKI)[0:16]", async () => {
        const again = await km.getPublicKey(uri);
        expect(spkiDer(again)).toEqual(spkiDer(pub));
        const id = createHash("sha1").update(spkiDer(pub)).digest().subarray(0, 16);
        expect(uri).toContain(`id=${[...id].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join("")}`);
      });

      it("signs; node:crypto verifies", async () => {
        const signer = await km.createSigner(uri);
        expect(signer.algorithm).toBe(alg);
        expect(spkiDer(signer.publicKey)).toEqual(spkiDer(pub));
        const sig = await signer.sign(data);
        expect(verifies(alg, pub, data, sig)).toBe(true);
        expect(verifies(alg, pub, Buffer.from("other"), sig)).toBe(false);
      });

      if (alg.startsWith("rsa-")) {
        it("RSA-PSS and PKCS#1 v1.5 over a prehashed digest", async () => {
          const signer = await km.createSigner(uri);
          const pss = await signer.sign(data, { padding: "pss" });
          expect(verifies(alg, pub, data, pss, { pss: true })).toBe(true);
          const digest = createHash("sha256").update(data).digest();
          const pre = await signer.sign(digest, { prehashed: true });
          expect(verifies(alg, pub, data, pre)).toBe(true);
        });

        it("RSA-OAEP decrypt (SHA-1 everywhere; SHA-256 or a typed KeyUnsupportedError)", async () => {
          if (!isKeyEncrypter(km)) return;
          const secret = randomBytes(32);
          const ct1 = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, secret);
          expect(await km.decryptOaep(uri, ct1, { hash: "sha1" })).toEqual(secret);
          const bad = Buffer.from(ct1);
          bad[10] ^= 1;
          await expect(km.decryptOaep(uri, bad, { hash: "sha1" })).rejects.toBeInstanceOf(KeyDecryptError);
          const ct256 = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, secret);
          if (opts.oaepSha256) expect(await km.decryptOaep(uri, ct256)).toEqual(secret);
          else await expect(km.decryptOaep(uri, ct256)).rejects.toBeInstanceOf(KeyUnsupportedError);
        });
      }

      if (alg === "ec-p256" || alg === "ec-p384") {
        it("ECDSA as raw r||s (JWS) on request", async () => {
          const signer = await km.createSigner(uri);
          const sig = await signer.sign(data, { dsaEncoding: "ieee-p1363" });
          expect(sig.length).toBe(alg === "ec-p256" ? 64 : 96);
          expect(verifies(alg, pub, data, sig, { p1363: true })).toBe(true);
        });
      }
    });

    it("64 concurrent signs all verify", async () => {
      const res = await km.createKey({ algorithm: "ec-p256", label: "case-concurrent" });
      const signer = await km.createSigner(res.uri);
      const msgs = Array.from({ length: 64 }, (_, i) => Buffer.from(`message ${i}`));
      const sigs = await Promise.all(msgs.map((m) => signer.sign(m)));
      sigs.forEach((s, i) => expect(verifies("ec-p256", res.publicKey!, msgs[i], s)).toBe(true));
    });

    it("identity follows the object, not the URI's wording: same key by label or by id, labels shared by two keys stay apart", async () => {
      const a = await km.createKey({ algorithm: "aes-256", label: "case-identity" });
      const b = await km.createKey({ algorithm: "aes-256", label: "case-identity-b" });
      const pair = await km.createKey({ algorithm: "ec-p256", label: "case-identity-pair" });
      const ia = await km.identify(a.uri);
      expect(ia).toEqual({ store: ia.store, kind: "secret", id: a.id.toString("hex") });
      expect(await km.identify(a.uri.replace(/;id=[^;?]*/, ""))).toEqual(ia);
      expect(identityKey(await km.identify(b.uri))).not.toBe(identityKey(ia));
      const ip = await km.identify(pair.uri);
      expect(ip.kind).toBe("private");
      expect(ip.id).toBe(pair.id.toString("hex"));
      if (pair.publicUri) expect(await km.identify(pair.publicUri)).toEqual(ip);
      await expect(km.identify(missingUri(a.uri))).rejects.toBeInstanceOf(KeyNotFoundError);
    });

    it("missing keys are KeyNotFoundError", async () => {
      const res = await km.createKey({ algorithm: "ec-p256", label: "case-missing" });
      const gone = missingUri(res.uri);
      expect(gone).not.toBe(res.uri);
      await expect(km.getPublicKey(gone)).rejects.toBeInstanceOf(KeyNotFoundError);
      await expect(km.createSigner(gone)).rejects.toBeInstanceOf(KeyNotFoundError);
    });

    describe("AES-256-GCM", () => {
      let uri: string;
      beforeAll(async () => {
        if (!isKeyEncrypter(km)) return;
        uri = (await km.createKey({ algorithm: "aes-256", label: "case-aes" })).uri;
      });

      it("round trip with AAD; tampering is KeyDecryptError", async () => {
        if (!isKeyEncrypter(km)) return;
        const pt = randomBytes(1024);
        const aad = Buffer.from("storage/path/of/entry");
        const ct = await km.encrypt(uri, pt, aad);
        expect(ct.iv.length).toBe(12);
        expect(ct.tag.length).toBe(16);
        expect(ct.ciphertext.length).toBe(pt.length);
        expect(await km.decrypt(uri, ct, aad)).toEqual(pt);
        const flipped = Buffer.from(ct.ciphertext);
        flipped[0] ^= 0x80;
        await expect(km.decrypt(uri, { ...ct, ciphertext: flipped }, aad)).rejects.toBeInstanceOf(KeyDecryptError);
        const badTag = Buffer.from(ct.tag);
        badTag[15] ^= 1;
        await expect(km.decrypt(uri, { ...ct, tag: badTag }, aad)).rejects.toBeInstanceOf(KeyDecryptError);
        await expect(km.decrypt(uri, ct, Buffer.from("other/path"))).rejects.toBeInstanceOf(KeyDecryptError);
        await expect(km.decrypt(uri, ct)).rejects.toBeInstanceOf(KeyDecryptError);
      });

      it("a secret key has no public key and cannot sign", async () => {
        if (!isKeyEncrypter(km)) return;
        await expect(km.getPublicKey(uri)).rejects.toBeInstanceOf(KeyUsageError);
        await expect(km.createSigner(uri)).rejects.toBeInstanceOf(KeyUsageError);
      });

      it("imported key material encrypts like node:crypto", async () => {
        if (!isKeyImporter(km) || !isKeyEncrypter(km)) return;
        const material = randomBytes(32);
        const imp = await km.importKey({ algorithm: "aes-256", material, label: "case-import" });
        const ct = await km.encrypt(imp.uri, Buffer.from("imported"));
        const c = createCipheriv("aes-256-gcm", material, ct.iv);
        expect(Buffer.concat([c.update("imported"), c.final()])).toEqual(ct.ciphertext);
        expect(c.getAuthTag()).toEqual(ct.tag);
      });
    });

    describe("wrap / unwrap", () => {
      it("wraps an extractable AES key and unwraps it into an equivalent key", async () => {
        if (!isKeyWrapper(km) || !isKeyEncrypter(km)) return;
        const kek = await km.createKey({ algorithm: "aes-256", label: "case-kek" });
        const dek = await km.createKey({ algorithm: "aes-256", label: "case-dek", extractable: true });
        for (const mechanism of ["aes-kw", "aes-kwp"] as const) {
          const wrapped = await km.wrapKey(kek.uri, dek.uri, mechanism);
          expect(wrapped.length).toBe(40);
          const back = await km.unwrapKey(kek.uri, { wrapped, algorithm: "aes-256", label: "case-unwrapped", mechanism });
          const ct = await km.encrypt(dek.uri, Buffer.from("payload"), Buffer.from("aad"));
          expect((await km.decrypt(back.uri, ct, Buffer.from("aad"))).toString()).toBe("payload");
        }
      });

      it("refuses to wrap a non-extractable key", async () => {
        if (!isKeyWrapper(km)) return;
        const kek = await km.createKey({ algorithm: "aes-256", label: "case-kek2" });
        const fixed = await km.createKey({ algorithm: "aes-256", label: "case-fixed" });
        await expect(km.wrapKey(kek.uri, fixed.uri)).rejects.toBeInstanceOf(KeyUsageError);
      });

      it("a corrupted wrapped key does not unwrap", async () => {
        if (!isKeyWrapper(km)) return;
        const kek = await km.createKey({ algorithm: "aes-256", label: "case-kek3" });
        const dek = await km.createKey({ algorithm: "aes-256", label: "case-dek3", extractable: true });
        const wrapped = await km.wrapKey(kek.uri, dek.uri, "aes-kw");
        wrapped[3] ^= 1;
        await expect(km.unwrapKey(kek.uri, { wrapped, algorithm: "aes-256", label: "x", mechanism: "aes-kw" })).rejects.toThrow();
      });
    });

    describe("BYOK import (RSA-AES key wrap)", () => {
      let wrapping: { uri: string; publicKey: KeyObject };
      beforeAll(async () => {
        if (!isWrappedKeyImporter(km)) return;
        const res = await km.createImportWrappingKey({ algorithm: "rsa-3072", label: "case-import-rsa" });
        expect(res.algorithm).toBe("rsa-3072");
        wrapping = { uri: res.uri, publicKey: res.publicKey! };
      });

      it.each(["sha256", "sha1"] as const)("imports OAEP-%s material into a non-extractable key that encrypts like the original", async (hash) => {
        if (!isWrappedKeyImporter(km) || !isKeyEncrypter(km)) return;
        const target = randomBytes(32);
        const imp = await km.importWrappedKey({
          wrappingUri: wrapping.uri,
          material: rsaAesKeyWrapMaterial(wrapping.publicKey, target, { hash }),
          hash,
          algorithm: "aes-256",
          label: "case-byok",
        });
        const ct = await km.encrypt(imp.uri, Buffer.from("byok"));
        const d = createDecipheriv("aes-256-gcm", target, ct.iv).setAuthTag(ct.tag);
        expect(Buffer.concat([d.update(ct.ciphertext), d.final()]).toString()).toBe("byok");
        if (isKeyWrapper(km)) {
          const kek = await km.createKey({ algorithm: "aes-256", label: "case-byok-kek" });
          await expect(km.wrapKey(kek.uri, imp.uri)).rejects.toBeInstanceOf(KeyUsageError);
        }
      });

      it("tampered, truncated, wrongly hashed or wrongly sized material is one KeyDecryptError", async () => {
        if (!isWrappedKeyImporter(km)) return;
        const target = randomBytes(32);
        const good = rsaAesKeyWrapMaterial(wrapping.publicKey, target);
        const req = { wrappingUri: wrapping.uri, algorithm: "aes-256" as const, label: "case-byok-bad" };
        const rsaFlip = Buffer.from(good);
        rsaFlip[5] ^= 1;
        const kwpFlip = Buffer.from(good);
        kwpFlip[good.length - 3] ^= 1;
        const bad = [
          rsaFlip,
          kwpFlip,
          good.subarray(0, 384),
          good.subarray(0, good.length - 8),
          Buffer.concat([good, Buffer.alloc(8)]),
          rsaAesKeyWrapMaterial(wrapping.publicKey, target, { hash: "sha1" }),
          rsaAesKeyWrapMaterial(wrapping.publicKey, randomBytes(16)),
          rsaAesKeyWrapMaterial(wrapping.publicKey, target, { ephemeral: randomBytes(16) }),
        ];
        for (const material of bad) {
          const err = await km.importWrappedKey({ ...req, material }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(KeyDecryptError);
          expect((err as Error).message).toBe("the wrapped key material does not unwrap under this import key");
        }
      });
    });

    it("deleteKey removes both halves; later use is KeyNotFoundError", async () => {
      if (!isKeyDeleter(km)) return;
      const res = await km.createKey({ algorithm: "ec-p256", label: "case-delete" });
      const signer = await km.createSigner(res.uri);
      await signer.sign(data);
      await km.deleteKey(res.uri);
      await expect(signer.sign(data)).rejects.toBeInstanceOf(KeyNotFoundError);
      await expect(km.deleteKey(res.uri)).rejects.toBeInstanceOf(KeyNotFoundError);
      await expect(km.getPublicKey(missingUri(res.uri))).rejects.toBeInstanceOf(KeyNotFoundError);
    });
  });
}
