import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DataKeyRefusedError, DataKeyUnavailableError } from "./data-key-source.js";
import { EnvelopeError, openEnvelope } from "./envelope.js";
import { FakeDataKeys } from "./fake-data-keys.test-util.js";
import { keyIdOf, KmsService } from "./kms-service.js";

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe("KmsService", () => {
  it("encrypts locally under one data key and decrypts; the ciphertext carries the wrapped key and not the plaintext", async () => {
    const src = new FakeDataKeys();
    const kms = new KmsService(src);
    const pt = Buffer.from("a Kubernetes secret's DEK seed");
    const a = await kms.encrypt(pt);
    const b = await kms.encrypt(pt);
    expect(src.generated).toBe(1);
    expect(a.keyId).toBe(b.keyId);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.ciphertext.includes(pt)).toBe(false);
    const wrapped = openEnvelope(a.ciphertext).wrapped;
    expect(a.keyId).toBe(keyIdOf(wrapped));
    expect(a.keyId).not.toContain(wrapped);
    expect(await kms.decrypt(a.ciphertext)).toEqual(pt);
  });

  it("another instance (empty cache) decrypts through the source, once per data key", async () => {
    const src = new FakeDataKeys();
    const ct = (await new KmsService(src).encrypt(Buffer.from("x"))).ciphertext;
    const fresh = new KmsService(src);
    await Promise.all(Array.from({ length: 20 }, () => fresh.decrypt(ct)));
    expect((await fresh.decrypt(ct)).toString()).toBe("x");
    expect(src.unwrapped).toBe(1);
  });

  it("refreshes the data key after refreshMs; old ciphertexts still decrypt", async () => {
    const src = new FakeDataKeys();
    const c = clock();
    const kms = new KmsService(src, { refreshMs: 1000, now: c.now });
    const first = await kms.encrypt(Buffer.from("old"));
    c.advance(1001);
    const second = await kms.encrypt(Buffer.from("new"));
    expect(src.generated).toBe(2);
    expect(second.keyId).not.toBe(first.keyId);
    expect((await kms.decrypt(first.ciphertext)).toString()).toBe("old");
    expect(src.unwrapped).toBe(0);
  });

  it("the cache is bounded and entries expire", async () => {
    const src = new FakeDataKeys();
    const c = clock();
    const writer = new KmsService(src, { refreshMs: 0, now: c.now });
    const cts = [];
    for (let i = 0; i < 5; i++) {
      cts.push((await writer.encrypt(Buffer.from(`v${i}`))).ciphertext);
      c.advance(1);
    }
    const reader = new KmsService(src, { cacheSize: 2, cacheTtlMs: 1000, now: c.now });
    for (const ct of cts) await reader.decrypt(ct);
    expect(src.unwrapped).toBe(5);
    await reader.decrypt(cts[4]);
    expect(src.unwrapped).toBe(5);
    await reader.decrypt(cts[0]);
    expect(src.unwrapped).toBe(6);
    c.advance(1001);
    await reader.decrypt(cts[0]);
    expect(src.unwrapped).toBe(7);
  });

  it("tampering, a swapped wrapped key and foreign blobs are EnvelopeError", async () => {
    const src = new FakeDataKeys();
    const kms = new KmsService(src);
    const ct = (await kms.encrypt(Buffer.from("payload"))).ciphertext;
    const flipped = Buffer.from(ct);
    flipped[flipped.length - 20] ^= 1;
    await expect(kms.decrypt(flipped)).rejects.toBeInstanceOf(EnvelopeError);
    await expect(kms.decrypt(Buffer.from("k8s:enc:aescbc:v1:key1:garbage"))).rejects.toBeInstanceOf(EnvelopeError);
    await expect(kms.decrypt(Buffer.alloc(0))).rejects.toBeInstanceOf(EnvelopeError);
    await expect(kms.decrypt(ct.subarray(0, ct.length - 17))).rejects.toBeInstanceOf(EnvelopeError);
    // Another data key's header on this body: the AAD no longer matches.
    const other = (await new KmsService(src, { refreshMs: 0 }).encrypt(Buffer.from("payload"))).ciphertext;
    const w1 = openEnvelope(ct).wrapped;
    const w2 = openEnvelope(other).wrapped;
    expect(w1.length).toBe(w2.length);
    const swapped = Buffer.from(ct.toString("latin1").replace(w1, w2), "latin1");
    await expect(kms.decrypt(swapped)).rejects.toBeInstanceOf(EnvelopeError);
  });

  it("Status is ok only while the source answers; a refusal drops every held key", async () => {
    const src = new FakeDataKeys();
    const kms = new KmsService(src);
    const s = await kms.status();
    expect(s).toEqual({ version: "v2", healthz: "ok", keyId: expect.stringMatching(/^arca-[0-9a-f]{32}$/) as unknown });
    const ct = (await kms.encrypt(Buffer.from("secret"))).ciphertext;
    expect((await kms.encrypt(Buffer.from("y"))).keyId).toBe(s.keyId);
    src.mode = "down";
    const down = await kms.status();
    expect(down.healthz).not.toBe("ok");
    expect(down.healthz).toMatch(/unreachable/);
    // Unavailable is not refusal: what is held keeps working.
    expect((await kms.decrypt(ct)).toString()).toBe("secret");
    src.mode = "refuse";
    expect((await kms.status()).healthz).toMatch(/refused/);
    await expect(kms.decrypt(ct)).rejects.toBeInstanceOf(DataKeyRefusedError);
    await expect(kms.encrypt(Buffer.from("z"))).rejects.toBeInstanceOf(DataKeyRefusedError);
    src.mode = "ok";
    expect((await kms.decrypt(ct)).toString()).toBe("secret");
  });

  it("an unreachable source fails Encrypt with DataKeyUnavailableError and recovers", async () => {
    const src = new FakeDataKeys();
    src.mode = "down";
    const kms = new KmsService(src);
    await expect(kms.encrypt(randomBytes(32))).rejects.toBeInstanceOf(DataKeyUnavailableError);
    src.mode = "ok";
    await expect(kms.encrypt(randomBytes(32))).resolves.toBeDefined();
  });
});
