// BYOK on SoftHSM through the keychain engine's paths, with material made by the exact openssl commands of
// docs/keychain-byok.md: the imported L1 is the customer's key (their copy opens what it wrapped), and import
// tokens are single use, bound to one key and expiring, with exactly one winner when two imports race.
import { createDecipheriv } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendHarness } from "../../../test/backend-harness.js";
import { customerWrap, opensslAvailable } from "../../../test/byok.js";
import { cleanupSoftHsm, createSoftHsmToken, pkcs11Tool, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../../test/softhsm.js";
import { HsmRegistry } from "../../hsm/hsm-registry.js";
import { Pkcs11KeyManager } from "../../hsm/pkcs11-key-manager.js";
import { createKeychainBackendWith } from "./backend.js";
import { l2Aad } from "./chain.js";

const available = softHsmAvailable() && opensslAvailable();

describe.skipIf(!available)(available ? "keychain BYOK (SoftHSM, openssl)" : SOFTHSM_SKIP_REASON, () => {
  let t: SoftHsmToken;
  let registry: HsmRegistry;
  let km: Pkcs11KeyManager;
  let h: ReturnType<typeof backendHarness>;

  beforeAll(async () => {
    t = createSoftHsmToken({ label: "kc-byok" });
    registry = new HsmRegistry([{ name: "soft", lib: t.libPath, tokenLabel: t.label, pin: t.pin }]);
    km = new Pkcs11KeyManager({ tokens: registry });
    h = backendHarness(createKeychainBackendWith({ keyManager: km, options: () => ({}) }), { point: "kc/", type: "keychain" });
    await h.call("write", "keystores/hsm", { type: "pkcs11", uri: `pkcs11:token=${t.label}` });
  });
  afterAll(async () => {
    await h?.close();
    await km?.close();
    registry?.close();
    cleanupSoftHsm();
  });

  const data = (r: Awaited<ReturnType<typeof h.call>>): Record<string, unknown> => (r?.data ?? {});
  const state = async (name: string): Promise<string> => data(await h.call("read", `keys/${name}`)).state as string;

  async function pending(name: string): Promise<void> {
    await h.call("write", `keys/${name}`, { keystore: "hsm", origin: "byok" });
    expect(await state(name)).toBe("PENDING_IMPORT");
  }

  async function params(name: string, spec?: string): Promise<{ public_key: string; import_token: string; expires_at: string } & Record<string, unknown>> {
    return data(await h.call("read", `keys/${name}/import-params`, spec ? { wrapping_key_spec: spec } : {})) as never;
  }

  /** Secret keys on the token (pkcs11-tool: another process, token objects only). */
  function tokenSecretKeys(): number {
    return (pkcs11Tool(t, ["--list-objects", "--type", "secrkey"]).match(/Secret Key Object/g) ?? []).length;
  }

  it("imports what the customer's openssl commands wrapped; their copy of the key opens what the L1 wrapped", async () => {
    await pending("byok1");
    const p = await params("byok1");
    expect(p).toMatchObject({ wrapping_algorithm: "CKM_RSA_AES_KEY_WRAP", hash_function: "SHA256", wrapping_key_spec: "RSA3072" });
    expect(p.public_key).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(Date.parse(p.expires_at) - Date.now()).toBeGreaterThan(23 * 3600 * 1000);
    const { key, material } = customerWrap(p.public_key);
    const r = data(await h.call("write", "keys/byok1/import", { import_token: p.import_token, wrapped_key_material: material }));
    expect(r.state).toBe("ENABLED");

    // The chain runs on it, and the L2 it wrapped opens with the customer's own copy of the key.
    await h.call("write", "key-configurations/c1", { primary_key: "byok1" });
    await h.call("write", "systems/s1", { key_configuration: "c1" });
    const dk = data(await h.call("update", "systems/s1/datakey", { bits: 256 }));
    expect(data(await h.call("update", "systems/s1/decrypt", { ciphertext: dk.ciphertext })).plaintext).toBe(dk.plaintext);
    const l1 = JSON.parse((await h.view.get("keys/byok1"))!.toString()) as { id: string };
    const cfg = JSON.parse((await h.view.get("key-configurations/c1"))!.toString()) as { id: string; wrapped: string };
    const blob = Buffer.from(cfg.wrapped, "base64");
    const d = createDecipheriv("aes-256-gcm", key, blob.subarray(0, 12)).setAAD(l2Aad(l1.id, 1, cfg.id)).setAuthTag(blob.subarray(blob.length - 16));
    expect(Buffer.concat([d.update(blob.subarray(12, blob.length - 16)), d.final()])).toHaveLength(32);

    // The one-time wrapping pair is gone; the imported key is sensitive and not extractable.
    expect(pkcs11Tool(t, ["--list-objects", "--type", "privkey"])).not.toContain("arca-keychain-byok1-import");
    expect(pkcs11Tool(t, ["--list-objects", "--type", "secrkey", "--label", "arca-keychain-byok1-v1"])).toMatch(/Access:\s+sensitive\n/);
  });

  it("a reused, forged, foreign or expired token is a 400 and creates nothing", async () => {
    await pending("byok2");
    await pending("byok3");
    const p2 = await params("byok2");
    const p3 = await params("byok3");
    const before = tokenSecretKeys();
    const wrapped2 = customerWrap(p2.public_key).material;
    // Forged, and another key's token.
    expect((await h.fails("write", "keys/byok2/import", { import_token: "A".repeat(43), wrapped_key_material: wrapped2 })).status).toBe(400);
    expect((await h.fails("write", "keys/byok2/import", { import_token: p3.import_token, wrapped_key_material: wrapped2 })).message).toMatch(/not valid for this key/);
    // Expired: the token's expiry, as stored, moved into the past.
    const id = (JSON.parse((await h.view.get("keys/byok2"))!.toString()) as { id: string }).id;
    const rec = JSON.parse((await h.view.get(`byok/${id}`))!.toString()) as { tokens: Array<{ expires_at: string }> };
    for (const tok of rec.tokens) tok.expires_at = new Date(Date.now() - 1000).toISOString();
    await h.view.put(`byok/${id}`, Buffer.from(JSON.stringify(rec)));
    expect((await h.fails("write", "keys/byok2/import", { import_token: p2.import_token, wrapped_key_material: wrapped2 })).message).toMatch(/expired/);
    expect(await state("byok2")).toBe("PENDING_IMPORT");
    expect(tokenSecretKeys()).toBe(before);

    // A fresh token works once; reusing it is refused.
    const fresh = await params("byok2");
    expect(fresh.public_key).toBe(p2.public_key);
    const good = customerWrap(fresh.public_key).material;
    await h.call("write", "keys/byok2/import", { import_token: fresh.import_token, wrapped_key_material: good });
    expect(await state("byok2")).toBe("ENABLED");
    expect((await h.fails("write", "keys/byok2/import", { import_token: fresh.import_token, wrapped_key_material: good })).status).toBe(400);
    expect(tokenSecretKeys()).toBe(before + 1);
  });

  it("bad material burns its token (one unwrap attempt per token) and leaves nothing behind", async () => {
    await pending("byok4");
    const p = await params("byok4");
    const bytes = Buffer.from(customerWrap(p.public_key).material, "base64");
    bytes[bytes.length - 2] ^= 1;
    const before = tokenSecretKeys();
    const err = await h.fails("write", "keys/byok4/import", { import_token: p.import_token, wrapped_key_material: bytes.toString("base64") });
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/does not unwrap/);
    expect((await h.fails("write", "keys/byok4/import", { import_token: p.import_token, wrapped_key_material: customerWrap(p.public_key).material })).message).toMatch(/not valid/);
    expect(tokenSecretKeys()).toBe(before);
    expect(await state("byok4")).toBe("PENDING_IMPORT");
  });

  it("two imports racing with one token: exactly one wins, one key is made", async () => {
    await pending("byok5");
    const p = await params("byok5");
    const before = tokenSecretKeys();
    const a = customerWrap(p.public_key).material;
    const b = customerWrap(p.public_key).material;
    const results = await Promise.allSettled([
      h.call("write", "keys/byok5/import", { import_token: p.import_token, wrapped_key_material: a }),
      h.call("write", "keys/byok5/import", { import_token: p.import_token, wrapped_key_material: b }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const lost = results.find((r) => r.status === "rejected");
    expect((lost as PromiseRejectedResult).reason).toMatchObject({ status: 400 });
    // Stopped by the token (or by the key being ENABLED already), never by reaching the HSM with the same token.
    expect(((lost as PromiseRejectedResult).reason as Error).message).toMatch(/not valid for this key|takes no import/);
    expect(await state("byok5")).toBe("ENABLED");
    expect(tokenSecretKeys()).toBe(before + 1);
  });

  // Tests run shuffled (vitest.config.ts): each makes its own keys.
  it("refuses bad input with 400s: not byok, not pending, bad base64, missing token, bad wrapping size", async () => {
    await h.call("write", "keys/gen1", { keystore: "hsm" });
    expect((await h.fails("read", "keys/gen1/import-params")).message).toMatch(/only byok keys/);
    await pending("byok6");
    expect((await h.fails("read", "keys/byok6/import-params", { wrapping_key_spec: "RSA2048" })).status).toBe(400);
    const p = await params("byok6");
    expect((await h.fails("write", "keys/byok6/import", { import_token: p.import_token, wrapped_key_material: "not base64!" })).status).toBe(400);
    expect((await h.fails("write", "keys/byok6/import", { wrapped_key_material: "AAAA" })).message).toMatch(/import_token is required/);
    expect((await h.fails("read", "keys/nope/import-params")).status).toBe(404);
    await h.call("write", "keys/byok6/import", { import_token: (await params("byok6")).import_token, wrapped_key_material: customerWrap(p.public_key).material });
    expect((await h.fails("read", "keys/byok6/import-params")).message).toMatch(/ENABLED: it takes no import/);
  });

  it("RSA4096 wrapping keys on request", async () => {
    await pending("byok7");
    const p = await params("byok7", "RSA4096");
    expect(p.wrapping_key_spec).toBe("RSA4096");
    const { material } = customerWrap(p.public_key);
    expect(Buffer.from(material, "base64")).toHaveLength(512 + 40);
    await h.call("write", "keys/byok7/import", { import_token: p.import_token, wrapped_key_material: material });
    expect(await state("byok7")).toBe("ENABLED");
  });

  it("a byok key deleted while PENDING_IMPORT leaves no import key pair on the token", async () => {
    const privateKeys = (): number => (pkcs11Tool(t, ["--list-objects", "--type", "privkey"]).match(/Private Key Object/g) ?? []).length;
    const importRecords = async (): Promise<number> => (await h.dump("byok/")).size;
    const before = privateKeys();
    await pending("byok8");
    await params("byok8");
    expect(privateKeys()).toBe(before + 1);
    const records = await importRecords();
    await h.call("write", "keys/byok8/schedule-deletion", { pending_window: 7 * 24 * 3600 });
    await h.backend.periodic({ storage: h.view, now: new Date(Date.now() + 8 * 24 * 3600_000) });
    expect(await state("byok8")).toBe("DELETED");
    expect(privateKeys()).toBe(before);
    expect(await importRecords()).toBe(records - 1);
  });
});
