// HSM-backed transit keys against real SoftHSM, through the KeyManager seam (Pkcs11KeyManager).
import { execFileSync } from "node:child_process";
import { constants, createHash, verify as cryptoVerify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupSoftHsm, createSoftHsmToken, softHsmAvailable, SOFTHSM_SKIP_REASON } from "../../../test/softhsm.js";
import type { Response } from "../../core/framework/request.js";
import { HsmRegistry } from "../../hsm/hsm-registry.js";
import { Pkcs11KeyManager } from "../../hsm/pkcs11-key-manager.js";
import { SqliteStorage } from "../../storage/sqlite.js";
import { createTransitBackendWith } from "./backend.js";
import { backendHarness } from "../../../test/backend-harness.js";
import { pkeyutlVerify } from "./openssl.test-util.js";

const available = softHsmAvailable();
const b64 = (s: string | Buffer): string => Buffer.from(s).toString("base64");

function data(r: Response | undefined): Record<string, unknown> {
  if (!r?.data) throw new Error("no data in response");
  return r.data;
}

describe.skipIf(!available)(available ? "transit with SoftHSM" : SOFTHSM_SKIP_REASON, () => {
  let registry: HsmRegistry;
  let km: Pkcs11KeyManager;
  let storage: SqliteStorage;

  beforeAll(() => {
    const t = createSoftHsmToken({ label: "transit" });
    registry = new HsmRegistry([{ name: "soft", lib: t.libPath, tokenLabel: t.label, pin: t.pin }]);
    km = new Pkcs11KeyManager({ tokens: registry });
    storage = new SqliteStorage({ path: ":memory:" });
  });
  afterAll(async () => {
    await storage.close();
    await km.close();
    registry.close();
    cleanupSoftHsm();
  });

  function harness(withKm = true) {
    return backendHarness(createTransitBackendWith({ keyManager: withKm ? km : undefined }), { point: "transit/", type: "transit" }, storage);
  }

  it("encrypts and decrypts inside the HSM with AES-256-GCM, same wire format", async () => {
    const { call, fails, view } = harness();
    const k = data(await call("write", "keys/h", { type: "aes256-gcm96", hsm: true }));
    expect(k).toMatchObject({ hsm: true, exportable: false, supports_derivation: false });
    const stored = JSON.parse((await view.get("policy/h"))!.toString()) as { keys: Record<string, { key?: string; hsm?: { uri: string } }> };
    expect(stored.keys["1"].key).toBeUndefined();
    expect(stored.keys["1"].hsm?.uri).toMatch(/^pkcs11:/);

    const ct = data(await call("write", "encrypt/h", { plaintext: b64("in the hsm"), associated_data: b64("aad") })).ciphertext as string;
    expect(ct).toMatch(/^vault:v1:/);
    expect(Buffer.from(ct.split(":")[2], "base64")).toHaveLength(12 + 10 + 16);
    expect(data(await call("write", "decrypt/h", { ciphertext: ct, associated_data: b64("aad") })).plaintext).toBe(b64("in the hsm"));
    const body = Buffer.from(ct.split(":")[2], "base64");
    body[14] ^= 1;
    expect((await fails("write", "decrypt/h", { ciphertext: `vault:v1:${body.toString("base64")}`, associated_data: b64("aad") })).message).toBe("cipher: message authentication failed");

    // batch, rotation (a second HSM key), rewrap
    const batch = data(await call("write", "encrypt/h", { batch_input: [{ plaintext: b64("a") }, { plaintext: b64("b") }] })).batch_results as Array<{ ciphertext: string }>;
    await call("write", "keys/h/rotate");
    const re = data(await call("write", "rewrap/h", { ciphertext: batch[0].ciphertext })).ciphertext as string;
    expect(re).toMatch(/^vault:v2:/);
    expect(data(await call("write", "decrypt/h", { ciphertext: re })).plaintext).toBe(b64("a"));
    expect(data(await call("write", "decrypt/h", { ciphertext: batch[1].ciphertext })).plaintext).toBe(b64("b"));

    // never exportable, never backed up, no derivation
    expect((await fails("read", "export/encryption-key/h")).message).toMatch(/never exportable/);
    expect((await fails("write", "keys/h/config", { exportable: true })).status).toBe(400);
    expect((await fails("read", "backup/h")).status).toBe(400);
    expect((await fails("write", "keys/x", { type: "aes256-gcm96", hsm: true, derived: true })).status).toBe(400);
    expect((await fails("write", "keys/x", { type: "chacha20-poly1305", hsm: true })).status).toBe(400);
  });

  it("signs inside the HSM with ECDSA P-256 and RSA-2048; openssl verifies", async () => {
    const { call } = harness();
    const msg = Buffer.from("signed by the hsm");
    await call("write", "keys/ec", { type: "ecdsa-p256", managed_key: true });
    await call("write", "keys/rsa", { type: "rsa-2048", hsm: true });
    for (const [name, extra] of [
      ["ec", {}],
      ["rsa", { signature_algorithm: "pkcs1v15" }],
      ["rsa", { signature_algorithm: "pss", salt_length: "hash" }],
    ] as const) {
      const pem = (data(await call("read", `keys/${name}`)).keys as Record<string, { public_key: string }>)["1"].public_key;
      expect(pem).toMatch(/BEGIN PUBLIC KEY/);
      const sig = data(await call("write", `sign/${name}`, { input: b64(msg), ...extra })).signature as string;
      const dir = mkdtempSync(join(tmpdir(), "arca-transit-hsm-"));
      try {
        writeFileSync(join(dir, "pub.pem"), pem);
        writeFileSync(join(dir, "sig"), Buffer.from(sig.split(":")[2], "base64"));
        writeFileSync(join(dir, "msg"), msg);
        const pss = "signature_algorithm" in extra && extra.signature_algorithm === "pss" ? ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"] : [];
        const out = execFileSync("openssl", ["dgst", "-sha256", ...pss, "-verify", join(dir, "pub.pem"), "-signature", join(dir, "sig"), join(dir, "msg")], { encoding: "utf8" });
        expect(out).toContain("Verified OK");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      expect(data(await call("write", `verify/${name}`, { input: b64(msg), signature: sig, ...extra })).valid).toBe(true);
    }
    // prehashed ECDSA and JWS marshaling go through the HSM too
    const digest = createHash("sha256").update(msg).digest();
    const jws = data(await call("write", "sign/ec", { input: b64(digest), prehashed: true, marshaling_algorithm: "jws" })).signature as string;
    const pem = (data(await call("read", "export/public-key/ec")).keys as Record<string, string>)["1"];
    expect(cryptoVerify("sha256", msg, { key: pem, dsaEncoding: "ieee-p1363" }, Buffer.from(jws.split(":")[2], "base64url"))).toBe(true);
  });

  it("signs and verifies prehashed digests with HSM keys (ECDSA any digest, RSA-PSS); openssl pkeyutl verifies", async () => {
    const { call, fails } = harness();
    await call("write", "keys/pec", { type: "ecdsa-p256", hsm: true });
    await call("write", "keys/prsa", { type: "rsa-2048", hsm: true });
    const msg = Buffer.from("prehashed in the hsm");
    for (const [name, hash, extra, pkeyopts] of [
      ["pec", "sha384", {}, []],
      ["pec", "sha512", { marshaling_algorithm: "jws" }, []],
      ["prsa", "sha256", { salt_length: "hash" }, ["rsa_padding_mode:pss", "rsa_pss_saltlen:32", "digest:sha256"]],
      ["prsa", "sha512", { hash_algorithm: "sha2-512" }, ["rsa_padding_mode:pss", "rsa_pss_saltlen:64", "digest:sha512"]],
    ] as const) {
      const digest = createHash(hash).update(msg).digest();
      const body = { prehashed: true, ...extra };
      const s = data(await call("write", `sign/${name}`, { input: b64(digest), ...body })).signature as string;
      const jws = "marshaling_algorithm" in extra;
      const sig = Buffer.from(s.split(":")[2], jws ? "base64url" : "base64");
      const pem = (data(await call("read", `keys/${name}`)).keys as Record<string, { public_key: string }>)["1"].public_key;
      if (!jws) {
        expect(pkeyutlVerify(pem, sig, digest, pkeyopts), `pkeyutl ${name} ${hash}`).toBe(true);
      }
      const v = name === "prsa" ? { key: pem, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: digest.length } : { key: pem, dsaEncoding: jws ? ("ieee-p1363" as const) : ("der" as const) };
      expect(cryptoVerify(hash, msg, v, sig), `${name} ${hash}`).toBe(true);
      expect(data(await call("write", `verify/${name}`, { input: b64(digest), signature: s, ...body })).valid).toBe(true);
      const tampered = Buffer.from(digest);
      tampered[0] ^= 1;
      expect(data(await call("write", `verify/${name}`, { input: b64(tampered), signature: s, ...body })).valid).toBe(false);
    }
    expect((await fails("write", "sign/pec", { input: b64(createHash("sha1").update(msg).digest()), prehashed: true })).status).toBe(400);
    expect((await fails("write", "sign/prsa", { input: b64(createHash("sha256").update(msg).digest()), prehashed: true, salt_length: "20" })).status).toBe(400);
  });

  it("refers to an existing HSM key by PKCS#11 URI (key_ref)", async () => {
    const { call, fails } = harness();
    const created = await km.createKey({ algorithm: "ec-p256", label: "preexisting" });
    await call("write", "keys/ref", { type: "ecdsa-p256", key_ref: created.uri });
    const pem = (data(await call("read", "keys/ref")).keys as Record<string, { public_key: string }>)["1"].public_key;
    expect(pem).toBe(created.publicKey!.export({ type: "spki", format: "pem" }).toString());
    const sig = data(await call("write", "sign/ref", { input: b64("m") })).signature as string;
    expect(cryptoVerify("sha256", Buffer.from("m"), created.publicKey!, Buffer.from(sig.split(":")[2], "base64"))).toBe(true);
    expect((await fails("write", "keys/wrong", { type: "rsa-2048", key_ref: created.uri })).status).toBe(400);
    expect((await fails("write", "keys/bad", { type: "ecdsa-p256", key_ref: "pkcs11:object=nope;id=%01" })).status).toBe(400);
    const aes = await km.createKey({ algorithm: "aes-256", label: "pre-aes" });
    await call("write", "keys/refaes", { type: "aes256-gcm96", key_ref: aes.uri });
    const ct = data(await call("write", "encrypt/refaes", { plaintext: b64("x") })).ciphertext;
    expect(data(await call("write", "decrypt/refaes", { ciphertext: ct })).plaintext).toBe(b64("x"));
    // deleting a key that only refers to an HSM object leaves the object alone
    await call("write", "keys/ref/config", { deletion_allowed: true });
    await call("delete", "keys/ref");
    await expect(km.getPublicKey(created.uri)).resolves.toBeDefined();
  });

  it("answers 400 for HSM keys on a server without an HSM", async () => {
    const { fails } = harness(false);
    expect((await fails("write", "keys/h", { type: "aes256-gcm96", hsm: true })).message).toMatch(/need an HSM/);
  });
});
