// BYOK import on SoftHSM with material made by the openssl commands a customer runs (docs/keychain-byok.md):
// SoftHSM 2.6.1 has no CKM_RSA_AES_KEY_WRAP and no OAEP-SHA256, so this covers the two-step unwrap and the
// raw-RSA fallback. What pkcs11-tool (another process) sees of the result is the custody proof.
import { createCipheriv } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { customerWrap, opensslAvailable } from "../../test/byok.js";
import { cleanupSoftHsm, createSoftHsmToken, pkcs11Tool, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../test/softhsm.js";
import { KeyDecryptError, KeyUsageError } from "./key-errors.js";
import { HsmRegistry } from "./hsm-registry.js";
import { pk } from "./module.js";
import { Pkcs11KeyManager } from "./pkcs11-key-manager.js";

const available = softHsmAvailable() && opensslAvailable();

describe.skipIf(!available)(available ? "BYOK import on SoftHSM" : SOFTHSM_SKIP_REASON, () => {
  let t: SoftHsmToken;
  let registry: HsmRegistry;
  let km: Pkcs11KeyManager;
  let wrapping: { uri: string; pem: string };

  beforeAll(async () => {
    t = createSoftHsmToken({ label: "byok" });
    registry = new HsmRegistry([{ name: "soft", lib: t.libPath, tokenLabel: t.label, pin: t.pin }]);
    km = new Pkcs11KeyManager({ tokens: registry });
    const pair = await km.createImportWrappingKey({ algorithm: "rsa-4096", label: "byok-import" });
    wrapping = { uri: pair.uri, pem: pair.publicKey!.export({ type: "spki", format: "pem" }).toString() };
  });
  afterAll(async () => {
    await km?.close();
    registry?.close();
    cleanupSoftHsm();
  });

  /** Secret-key objects this process sees on the token: token objects and our own session objects. */
  async function secretKeyCount(): Promise<number> {
    const token = registry.tokenForCreate();
    return token.run(async (ctx) => token.findAll(ctx, { cls: pk.CKO_SECRET_KEY }).length);
  }

  it("imports what openssl wrapped; the key encrypts like the customer's copy and is sensitive, never extractable", async () => {
    const { key, material } = customerWrap(wrapping.pem);
    const before = await secretKeyCount();
    const imp = await km.importWrappedKey({ wrappingUri: wrapping.uri, material: Buffer.from(material, "base64"), algorithm: "aes-256", label: "byok-key" });
    // Exactly one new secret key: the ephemeral session key is gone.
    expect(await secretKeyCount()).toBe(before + 1);
    const ct = await km.encrypt(imp.uri, Buffer.from("customer data"), Buffer.from("aad"));
    const c = createCipheriv("aes-256-gcm", key, ct.iv).setAAD(Buffer.from("aad"));
    expect(Buffer.concat([c.update("customer data"), c.final()])).toEqual(ct.ciphertext);
    const listing = pkcs11Tool(t, ["--list-objects", "--type", "secrkey", "--label", "byok-key"]);
    // pkcs11-tool prints "extractable" when CKA_EXTRACTABLE is set. CKA_NEVER_EXTRACTABLE stays false, as PKCS#11
    // requires for material that came from outside; from now on the HSM will not let it out.
    expect(listing).toMatch(/Secret Key Object; AES[\s\S]*Access:\s+sensitive\n/);
  });

  it("bad material leaves no object behind (neither the target nor the ephemeral key)", async () => {
    const before = await secretKeyCount();
    const { material } = customerWrap(wrapping.pem);
    const bytes = Buffer.from(material, "base64");
    bytes[bytes.length - 1] ^= 1;
    await expect(km.importWrappedKey({ wrappingUri: wrapping.uri, material: bytes, algorithm: "aes-256", label: "byok-bad" })).rejects.toBeInstanceOf(KeyDecryptError);
    expect(await secretKeyCount()).toBe(before);
  });

  it("the import key pair unwraps only: it does not sign, and its private half is never extractable", async () => {
    const signer = await km.createSigner(wrapping.uri);
    await expect(signer.sign(Buffer.from("x"))).rejects.toBeInstanceOf(KeyUsageError);
    const listing = pkcs11Tool(t, ["--list-objects", "--type", "privkey", "--label", "byok-import"]);
    expect(listing).toMatch(/Access:\s+sensitive, always sensitive, never extractable/);
    expect(listing).toMatch(/Usage:\s+decrypt, unwrap/);
  });
});
