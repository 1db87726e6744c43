// The sealed share format and its AAD binding, with an AES-GCM stand-in for the HSM (the real token path
// runs in unsealer-servers.test.ts).
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { AeadCiphertext, KeyEncrypter } from "../hsm/key-manager.js";
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

/** AES-256-GCM in node:crypto behind the KeyEncrypter seam; one key for every URI. */
function fakeEncrypter(): KeyEncrypter {
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
    async decryptOaep(): Promise<Buffer> {
      throw new Error("not used");
    },
  };
}

const KEY = "pkcs11:object=unsealer-share;token=unsealer";
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
    const sealed = await sealShare(km, KEY, share, new Date("2026-01-02T03:04:05Z"));
    const file = join(work, "roundtrip.sealed");
    await writeSealedShareFile(file, sealed);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const back = await readSealedShareFile(file);
    expect(back).toEqual(sealed);
    expect(back.created).toBe("2026-01-02T03:04:05.000Z");
    expect((await openSealedShare(km, back, KEY)).equals(share)).toBe(true);
    const raw = readFileSync(file);
    expect(raw.includes(share)).toBe(false);
    expect(raw.includes(Buffer.from(share.toString("hex")))).toBe(false);
    expect(raw.includes(Buffer.from(share.toString("base64")))).toBe(false);
    await expect(writeSealedShareFile(file, sealed)).rejects.toThrow(/exists already/);
    await writeSealedShareFile(file, sealed, { force: true });
  });

  it("binds the ciphertext to its purpose and key URI (AAD)", async () => {
    const km = fakeEncrypter();
    const sealed = await sealShare(km, KEY, randomBytes(33));
    // A file claiming another key is refused before the HSM is asked.
    await expect(openSealedShare(km, sealed, "pkcs11:token=unsealer;object=other")).rejects.toThrow(/sealed under/);
    // The same key used for something else (no AAD / other AAD) does not produce a valid sealed share.
    const foreign = await km.encrypt(KEY, randomBytes(33));
    await expect(openSealedShare(km, { ...sealed, ...foreign }, KEY)).rejects.toThrow();
    // Tampering is detected.
    const flipped = Buffer.from(sealed.ciphertext);
    flipped[0] ^= 1;
    await expect(openSealedShare(km, { ...sealed, ciphertext: flipped }, KEY)).rejects.toThrow();
  });

  it("validates the file strictly", async () => {
    const sealed = await sealShare(fakeEncrypter(), KEY, randomBytes(33));
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
});
