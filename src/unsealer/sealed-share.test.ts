// The sealed share format and its AAD binding, with node:crypto stand-ins for the HSM's AES-GCM and RSA
// keys (the real token paths run in unsealer-servers.test.ts for SoftHSM and unsealer-tpm.test.ts for a TPM).
import { constants, createCipheriv, createDecipheriv, generateKeyPairSync, privateDecrypt, randomBytes, sign, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { AeadCiphertext, OaepHash, SignOptions } from "../hsm/key-manager.js";
import type { ShareKeyRef, ShareKeys } from "./sealed-share.js";
import {
  canonicalKeyUri,
  decodeSealedShare,
  encodeSealedShare,
  openSealedShare,
  parseShareInput,
  readSealedShareFile,
  sealShare,
  SealedShareError,
  writeSealedShareFile,
} from "./sealed-share.js";

// One RSA key pair for the whole file (generation is slow); tests that need another use `otherRsa`.
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const otherRsa = generateKeyPairSync("rsa", { modulusLength: 2048 });

/** AES-256-GCM and RSA in node:crypto behind the token seam; one key of each kind for every URI. */
function fakeEncrypter(pair: { publicKey: KeyObject; privateKey: KeyObject } = rsa): ShareKeys {
  const key = randomBytes(32);
  return {
    async encrypt(_uri: string, plaintext: Buffer, aad?: Buffer): Promise<AeadCiphertext> {
      const iv = randomBytes(12);
      const c = createCipheriv("aes-256-gcm", key, iv);
      if (aad) c.setAAD(aad);
      const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
      return { iv, ciphertext, tag: c.getAuthTag() };
    },
    async decrypt(_uri: string, ct: AeadCiphertext, aad?: Buffer): Promise<Buffer> {
      const d = createDecipheriv("aes-256-gcm", key, ct.iv);
      if (aad) d.setAAD(aad);
      d.setAuthTag(ct.tag);
      return Buffer.concat([d.update(ct.ciphertext), d.final()]);
    },
    async decryptOaep(_uri: string, ciphertext: Buffer, opts?: { hash?: OaepHash; label?: Buffer }): Promise<Buffer> {
      return privateDecrypt({ key: pair.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: opts?.hash, oaepLabel: opts?.label }, ciphertext);
    },
    async getPublicKey(): Promise<KeyObject> {
      return pair.publicKey;
    },
    async createSigner() {
      return {
        algorithm: "rsa-2048" as const,
        publicKey: pair.publicKey,
        sign: async (data: Buffer, opts?: SignOptions) =>
          sign(opts?.hash ?? "sha256", data, { key: pair.privateKey, padding: opts?.padding === "pss" ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING }),
      };
    },
  };
}

const KEY = "pkcs11:object=unsealer-share;token=unsealer";
const GCM: ShareKeyRef = { key: KEY, algorithm: "aes-256-gcm" };
const OAEP: ShareKeyRef = { key: KEY, algorithm: "rsa-oaep-sha256" };
const work = mkdtempSync(join(tmpdir(), "arca-sealed-share-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("sealed share", () => {
  it("reads a share as hex or base64 and refuses anything else", () => {
    const share = randomBytes(33);
    expect(parseShareInput(`${share.toString("hex")}\n`).equals(share)).toBe(true);
    expect(parseShareInput(share.toString("hex").toUpperCase()).equals(share)).toBe(true);
    expect(parseShareInput(` ${share.toString("base64")} `).equals(share)).toBe(true);
    expect(() => parseShareInput("not a share!")).toThrow(SealedShareError);
    expect(() => parseShareInput("abcd")).toThrow(/implausible length/);
    expect(() => parseShareInput("")).toThrow(SealedShareError);
  });

  it("records the key URI canonically, without PIN or module", () => {
    expect(canonicalKeyUri(KEY)).toBe("pkcs11:token=unsealer;object=unsealer-share");
    expect(canonicalKeyUri("pkcs11:token=t;object=o?pin-value=1234&module-path=/x.so")).toBe("pkcs11:token=t;object=o");
  });

  it("round-trips through the file, mode 0600, and never overwrites by accident", async () => {
    const km = fakeEncrypter();
    const share = randomBytes(33);
    const sealed = await sealShare(km, GCM, share, new Date("2026-01-02T03:04:05Z"));
    const file = join(work, "roundtrip.sealed");
    await writeSealedShareFile(file, sealed);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const back = await readSealedShareFile(file);
    expect(back).toEqual(sealed);
    expect(back.created).toBe("2026-01-02T03:04:05.000Z");
    expect((await openSealedShare(km, back, GCM)).equals(share)).toBe(true);
    const raw = readFileSync(file);
    expect(raw.includes(share)).toBe(false);
    expect(raw.includes(Buffer.from(share.toString("hex")))).toBe(false);
    expect(raw.includes(Buffer.from(share.toString("base64")))).toBe(false);
    await expect(writeSealedShareFile(file, sealed)).rejects.toThrow(/exists already/);
    await writeSealedShareFile(file, sealed, { force: true });
  });

  it("binds the ciphertext to its purpose and key URI (AAD)", async () => {
    const km = fakeEncrypter();
    const sealed = await sealShare(km, GCM, randomBytes(33));
    // A file claiming another key is refused before the HSM is asked.
    await expect(openSealedShare(km, sealed, { ...GCM, key: "pkcs11:token=unsealer;object=other" })).rejects.toThrow(/sealed under/);
    // The same key used for something else (no AAD / other AAD) does not produce a valid sealed share.
    const foreign = await km.encrypt(KEY, randomBytes(33));
    await expect(openSealedShare(km, { ...sealed, ...foreign }, GCM)).rejects.toThrow();
    // Tampering is detected.
    const flipped = Buffer.from(sealed.ciphertext);
    flipped[0] ^= 1;
    await expect(openSealedShare(km, { ...sealed, ciphertext: flipped }, GCM)).rejects.toThrow();
  });

  it("validates the file strictly", async () => {
    const sealed = await sealShare(fakeEncrypter(), GCM, randomBytes(33));
    const good = JSON.parse(encodeSealedShare(sealed)) as Record<string, unknown>;
    const bad = (patch: Record<string, unknown>) => () => decodeSealedShare(JSON.stringify({ ...good, ...patch }));
    expect(bad({})).not.toThrow();
    expect(() => decodeSealedShare("{")).toThrow(/invalid JSON/);
    expect(bad({ format: "other" })).toThrow(/format/);
    expect(bad({ version: 2 })).toThrow(/version 2/);
    expect(bad({ algorithm: "aes-128-gcm" })).toThrow(/algorithm/);
    expect(bad({ iv: "AAAA" })).toThrow(/"iv"/);
    expect(bad({ tag: "not base64!" })).toThrow(/"tag"/);
    expect(bad({ key_uri: "pkcs11:object=unsealer-share;token=unsealer" })).toThrow(/canonical/);
    expect(bad({ ciphertext: undefined })).toThrow(/"ciphertext"/);
    await expect(readSealedShareFile(join(work, "missing"))).rejects.toThrow(/ENOENT/);
  });

  it("seals with RSA-OAEP + a PSS signature (version 2) and reads it back", async () => {
    const km = fakeEncrypter();
    const share = randomBytes(33);
    const sealed = await sealShare(km, OAEP, share, new Date("2026-01-02T03:04:05Z"));
    const file = join(work, "oaep.sealed");
    await writeSealedShareFile(file, sealed);
    const doc = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    expect(doc).toMatchObject({ format: "arca-unsealer-share", version: 2, algorithm: "rsa-oaep-sha256", key_uri: "pkcs11:token=unsealer;object=unsealer-share" });
    expect(Object.keys(doc).sort()).toEqual(["algorithm", "ciphertext", "created", "format", "key_uri", "signature", "version"]);
    const back = await readSealedShareFile(file);
    expect(back).toEqual(sealed);
    expect((await openSealedShare(km, back, OAEP)).equals(share)).toBe(true);
    expect(readFileSync(file).includes(share)).toBe(false);
  });

  it("refuses a tampered or forged RSA-sealed share before the token decrypts it", async () => {
    const km = fakeEncrypter();
    const sealed = await sealShare(km, OAEP, randomBytes(33));
    if (sealed.algorithm !== "rsa-oaep-sha256") throw new Error("expected an RSA-sealed share");
    const flip = (b: Buffer) => {
      const c = Buffer.from(b);
      c[c.length - 1] ^= 1;
      return c;
    };
    await expect(openSealedShare(km, { ...sealed, ciphertext: flip(sealed.ciphertext) }, OAEP)).rejects.toThrow(/signature does not verify/);
    await expect(openSealedShare(km, { ...sealed, signature: flip(sealed.signature) }, OAEP)).rejects.toThrow(/signature does not verify/);
    // Someone with only the public key can encrypt a share of their choosing, but cannot sign it: a share
    // sealed with another key's signature is refused.
    const forger = fakeEncrypter(otherRsa);
    const forgedSig = (await sealShare(forger, OAEP, randomBytes(33))) as typeof sealed;
    await expect(openSealedShare(km, { ...sealed, signature: forgedSig.signature }, OAEP)).rejects.toThrow(/signature does not verify/);
    // The signature binds the key URI: the same bytes under another share block's key are refused.
    await expect(openSealedShare(km, { ...sealed, keyUri: "pkcs11:token=unsealer;object=other" }, { ...OAEP, key: "pkcs11:token=unsealer;object=other" })).rejects.toThrow(/signature does not verify/);
  });

  it("never opens a file in the other scheme than the share block names (no silent downgrade)", async () => {
    const km = fakeEncrypter();
    const gcm = await sealShare(km, GCM, randomBytes(33));
    const oaep = await sealShare(km, OAEP, randomBytes(33));
    await expect(openSealedShare(km, gcm, OAEP)).rejects.toThrow(/is aes-256-gcm but the share block says rsa-oaep-sha256/);
    await expect(openSealedShare(km, oaep, GCM)).rejects.toThrow(/is rsa-oaep-sha256 but the share block says aes-256-gcm/);
    // Each version carries exactly its scheme.
    const v2 = JSON.parse(encodeSealedShare(oaep)) as Record<string, unknown>;
    const v1 = JSON.parse(encodeSealedShare(gcm)) as Record<string, unknown>;
    expect(() => decodeSealedShare(JSON.stringify({ ...v2, version: 1 }))).toThrow(/unsupported algorithm for version 1/);
    expect(() => decodeSealedShare(JSON.stringify({ ...v1, version: 2 }))).toThrow(/unsupported algorithm for version 2/);
    expect(() => decodeSealedShare(JSON.stringify({ ...v2, signature: undefined }))).toThrow(/"signature"/);
  });

  it("refuses an RSA share key shorter than 2048 bits", async () => {
    const weak = generateKeyPairSync("rsa", { modulusLength: 1024 });
    await expect(sealShare(fakeEncrypter(weak), OAEP, randomBytes(33))).rejects.toThrow(/at least 2048 bits/);
  });
});
