// The decoder against node:crypto's OAEP encoder: raw RSA (no padding) gives the encoded block a token's
// CKM_RSA_X_509 returns.
import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { oaepDecode, OaepDecodeError, type OaepDecodeHash } from "./rsa-oaep.js";

const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const raw = (ct: Buffer): Buffer => privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ct);

describe("oaepDecode", () => {
  it.each<OaepDecodeHash>(["sha1", "sha256", "sha384", "sha512"])("decodes what node:crypto encodes with %s", (hash) => {
    for (const len of [0, 1, 32, 100]) {
      const msg = randomBytes(len);
      const ct = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, msg);
      expect(oaepDecode(raw(ct), hash)).toEqual(msg);
    }
  });

  it("checks the label", () => {
    const label = Buffer.from("import");
    const ct = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256", oaepLabel: label }, Buffer.from("k"));
    expect(oaepDecode(raw(ct), "sha256", label).toString()).toBe("k");
    expect(() => oaepDecode(raw(ct), "sha256")).toThrow(OaepDecodeError);
  });

  it("refuses the wrong hash, a tampered block, PKCS#1 v1.5 padding and short input with one error", () => {
    const msg = randomBytes(32);
    const ct = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, msg);
    expect(() => oaepDecode(raw(ct), "sha1")).toThrow(OaepDecodeError);
    const tampered = raw(ct);
    tampered[tampered.length - 1] ^= 1;
    expect(() => oaepDecode(tampered, "sha256")).toThrow(OaepDecodeError);
    const v15 = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, msg);
    expect(() => oaepDecode(raw(v15), "sha256")).toThrow(OaepDecodeError);
    expect(() => oaepDecode(Buffer.alloc(40), "sha256")).toThrow(OaepDecodeError);
    expect(() => oaepDecode(Buffer.alloc(256), "sha256")).toThrow("RSA-OAEP decoding failed");
  });
});
