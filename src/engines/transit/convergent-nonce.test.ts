import { createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import type { Response } from "../../core/framework/request.js";
import { backendHarness } from "../../../test/backend-harness.js";
import { createTransitBackendWith } from "./backend.js";
import { convergentNonce, type ConvergentInputs } from "./convergent-nonce.js";
import type { KeyPolicy } from "./transit-key.js";

const b64 = (s: string | Buffer): string => Buffer.from(s).toString("base64");
const hmacKey = randomBytes(32).toString("base64");
const current = { hmacKey, convergentNonce: 2 as const };
/** A version stored before scheme 2 existed (no marker). */
const legacy = { hmacKey };

/** The documented formulas (backend.ts, docs/storage-layout.md), written out independently of the module. */
function schemeOne(key: string, ctx: Buffer, pt: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(ctx.length);
  return createHmac("sha256", Buffer.from(key, "base64")).update(Buffer.concat([len, ctx, pt])).digest().subarray(0, 12);
}
function schemeTwo(key: string, ctx: Buffer, aad: Buffer, pt: Buffer): Buffer {
  const k = Buffer.from(hkdfSync("sha256", Buffer.from(key, "base64"), Buffer.alloc(0), Buffer.from("arca transit convergent nonce v2"), 32));
  const lp = (b: Buffer) => {
    const l = Buffer.alloc(8);
    l.writeBigUInt64BE(BigInt(b.length));
    return Buffer.concat([l, b]);
  };
  return createHmac("sha256", k).update(Buffer.concat([lp(ctx), lp(aad), lp(pt)])).digest().subarray(0, 12);
}

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const inputs: fc.Arbitrary<ConvergentInputs> = fc.record({ context: bytes(32), aad: bytes(32), plaintext: bytes(64) });
const version = fc.constantFrom(current, legacy);

describe("convergent nonces", () => {
  it("follow the documented formulas (scheme 2; scheme 1 only for pre-existing versions and an empty AAD)", () => {
    const ctx = Buffer.from("ctx");
    const pt = Buffer.from("plaintext");
    const aad = Buffer.from("aad");
    expect(convergentNonce(current, { context: ctx, plaintext: pt })).toEqual(schemeTwo(hmacKey, ctx, Buffer.alloc(0), pt));
    expect(convergentNonce(current, { context: ctx, aad, plaintext: pt })).toEqual(schemeTwo(hmacKey, ctx, aad, pt));
    expect(convergentNonce(legacy, { context: ctx, plaintext: pt })).toEqual(schemeOne(hmacKey, ctx, pt));
    expect(convergentNonce(legacy, { context: ctx, aad: Buffer.alloc(0), plaintext: pt })).toEqual(schemeOne(hmacKey, ctx, pt));
    expect(convergentNonce(legacy, { context: ctx, aad, plaintext: pt })).toEqual(schemeTwo(hmacKey, ctx, aad, pt));
  });

  it("property: differing AADs give differing nonces (and equal inputs equal nonces)", () => {
    fc.assert(
      fc.property(version, inputs, bytes(32), (v, a, otherAad) => {
        fc.pre(!a.aad!.equals(otherAad));
        expect(convergentNonce(v, a)).toEqual(convergentNonce(v, { ...a }));
        expect(convergentNonce(v, a)).not.toEqual(convergentNonce(v, { ...a, aad: otherAad }));
      }),
      { numRuns: 500 },
    );
  });

  it("property: distinct (context, aad, plaintext) give distinct nonces, however the bytes are split", () => {
    // The same concatenated bytes cut differently between the three inputs must not collide: without length
    // prefixes (ctx, aad=A, pt=P) and (ctx, aad="", pt=A‖P) would feed the MAC the same bytes.
    fc.assert(
      fc.property(version, bytes(96), fc.nat(96), fc.nat(96), fc.nat(96), fc.nat(96), (v, all, i, j, k, l) => {
        const cut = (x: number, y: number): ConvergentInputs => {
          const [a, b] = [Math.min(x, y, all.length), Math.min(Math.max(x, y), all.length)];
          return { context: all.subarray(0, a), aad: all.subarray(a, b), plaintext: all.subarray(b) };
        };
        const one = cut(i, j);
        const two = cut(k, l);
        const same = one.context.equals(two.context) && one.aad!.equals(two.aad!) && one.plaintext.equals(two.plaintext);
        expect(convergentNonce(v, one).equals(convergentNonce(v, two))).toBe(same);
      }),
      { numRuns: 500 },
    );
  });

  it("refuses a scheme it does not know instead of guessing", () => {
    expect(() => convergentNonce({ hmacKey, convergentNonce: 3 as unknown as 2 }, { context: Buffer.from("c"), plaintext: Buffer.alloc(0) })).toThrow(/scheme 3/);
  });
});

const open: Array<ReturnType<typeof backendHarness>> = [];
function transit() {
  const h = backendHarness(createTransitBackendWith({}), { point: "transit/", type: "transit" });
  open.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

function str(r: Response | undefined, field: string): string {
  const v = r?.data?.[field];
  if (typeof v !== "string") throw new Error(`no ${field} in response`);
  return v;
}
const body = (ct: string): Buffer => Buffer.from(ct.split(":")[2], "base64");
const nonceOf = (ct: string): Buffer => body(ct).subarray(0, 12);

describe("transit: convergent encryption with associated data", () => {
  const ctx = b64("tenant-1");

  it("gives differing nonces for differing AADs, the same ciphertext for the same (context, aad, plaintext)", async () => {
    const { call, fails } = transit();
    for (const type of ["aes256-gcm96", "aes128-gcm96", "chacha20-poly1305"]) {
      await call("write", `keys/c-${type}`, { type, derived: true, convergent_encryption: true });
      const enc = async (aad?: string) => str(await call("write", `encrypt/c-${type}`, { plaintext: b64("same"), context: ctx, associated_data: aad && b64(aad) }), "ciphertext");
      const a1 = await enc("row-1");
      const a2 = await enc("row-2");
      const none = await enc(undefined);
      expect(nonceOf(a1)).not.toEqual(nonceOf(a2));
      expect(nonceOf(a1)).not.toEqual(nonceOf(none));
      expect(await enc("row-1")).toBe(a1);
      expect(await enc(undefined)).toBe(none);
      expect(await enc("")).toBe(none); // an empty AAD is no AAD to the AEAD, so the same ciphertext
      expect(str(await call("write", `decrypt/c-${type}`, { ciphertext: a1, context: ctx, associated_data: b64("row-1") }), "plaintext")).toBe(b64("same"));
      expect((await fails("write", `decrypt/c-${type}`, { ciphertext: a1, context: ctx, associated_data: b64("row-2") })).message).toMatch(/authentication failed/);
    }
  });

  it("keeps the ciphertexts of a version made before scheme 2 for an empty AAD, and fixes them for a non-empty one", async () => {
    const { call } = transit();
    await call("write", "keys/c", { derived: true, convergent_encryption: true, exportable: true, allow_plaintext_backup: true });
    // A backup taken before scheme 2 has no marker on its versions: restore one to get such a version.
    const blob = JSON.parse(Buffer.from(str(await call("read", "backup/c"), "backup"), "base64").toString("utf8")) as { policy: KeyPolicy };
    for (const v of Object.values(blob.policy.keys)) delete v.convergentNonce;
    await call("write", "restore/old", { backup: b64(JSON.stringify(blob)) });
    const v1 = blob.policy.keys["1"];

    const before = str(await call("write", "encrypt/old", { plaintext: b64("same"), context: ctx }), "ciphertext");
    expect(nonceOf(before)).toEqual(schemeOne(v1.hmacKey!, Buffer.from("tenant-1"), Buffer.from("same")));
    // …and it is a ciphertext the pre-change code would have made: decrypt it by hand under that nonce.
    const key = Buffer.from(hkdfSync("sha256", Buffer.from(v1.key!, "base64"), Buffer.alloc(0), Buffer.from("tenant-1"), 32));
    const raw = body(before);
    const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(raw.length - 16));
    expect(Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString()).toBe("same");

    const withAad = str(await call("write", "encrypt/old", { plaintext: b64("same"), context: ctx, associated_data: b64("row-1") }), "ciphertext");
    expect(nonceOf(withAad)).not.toEqual(nonceOf(before));
    expect(nonceOf(withAad)).toEqual(schemeTwo(v1.hmacKey!, Buffer.from("tenant-1"), Buffer.from("row-1"), Buffer.from("same")));

    // Rotation makes a scheme-2 version.
    await call("write", "keys/old/rotate");
    const rotated = str(await call("write", "encrypt/old", { plaintext: b64("same"), context: ctx }), "ciphertext");
    const blob2 = JSON.parse(Buffer.from(str(await call("read", "backup/old"), "backup"), "base64").toString("utf8")) as { policy: KeyPolicy };
    expect(blob2.policy.keys["2"].convergentNonce).toBe(2);
    expect(nonceOf(rotated)).toEqual(schemeTwo(blob2.policy.keys["2"].hmacKey!, Buffer.from("tenant-1"), Buffer.alloc(0), Buffer.from("same")));
  });

  it("refuses a backup naming an unknown nonce scheme (400, nothing restored)", async () => {
    const { call, fails } = transit();
    await call("write", "keys/c", { derived: true, convergent_encryption: true, exportable: true, allow_plaintext_backup: true });
    const blob = JSON.parse(Buffer.from(str(await call("read", "backup/c"), "backup"), "base64").toString("utf8")) as { policy: { keys: Record<string, { convergentNonce?: number }> } };
    blob.policy.keys["1"].convergentNonce = 9;
    const err = await fails("write", "restore/future", { backup: b64(JSON.stringify(blob)) });
    expect(err.status).toBe(400);
    expect((await fails("read", "keys/future")).status).toBe(404);
  });
});
