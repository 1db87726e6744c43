// PKI engine with CA keys in SoftHSM: kms roots per key type, leaves/CRL/OCSP checked by openssl, custody
// (the key is sensitive and never extractable; storage holds no private key), and import of an existing CA
// whose key already sits in the HSM (matching key accepted, any other refused).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupSoftHsm, createSoftHsmToken, pkcs11Tool, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../../test/softhsm.js";
import { HsmRegistry } from "../../hsm/hsm-registry.js";
import { Pkcs11KeyManager } from "../../hsm/pkcs11-key-manager.js";
import { pkiHarness, scratch, type PkiHarness } from "./pki-harness.test-util.js";

const available = softHsmAvailable();

describe.skipIf(!available)(available ? "pki with CA keys in SoftHSM" : SOFTHSM_SKIP_REASON, () => {
  let token: SoftHsmToken;
  let registry: HsmRegistry;
  let km: Pkcs11KeyManager;
  const tmp = scratch();
  const open: PkiHarness[] = [];
  let n = 0;
  const f = (name: string, content: string | Buffer): string => tmp.file(`${name}-${++n}`, content);

  beforeAll(() => {
    token = createSoftHsmToken({ label: "pki" });
    registry = new HsmRegistry([{ name: "soft", lib: token.libPath, tokenLabel: token.label, pin: token.pin }]);
    km = new Pkcs11KeyManager({ tokens: registry });
  });
  afterAll(async () => {
    await Promise.all(open.map((h) => h.close()));
    registry.close();
    cleanupSoftHsm();
    tmp.cleanup();
  });
  const pki = (): PkiHarness => {
    const h = pkiHarness(km);
    open.push(h);
    return h;
  };

  const types: Array<{ name: string; body: Record<string, unknown> }> = [
    { name: "EC P-256", body: { key_type: "ec", key_bits: 256 } },
    { name: "EC P-384", body: { key_type: "ec", key_bits: 384 } },
    { name: "RSA-2048 PKCS#1 v1.5", body: { key_type: "rsa", key_bits: 2048 } },
    { name: "RSA-2048 PSS", body: { key_type: "rsa", key_bits: 2048, use_pss: true } },
    { name: "Ed25519", body: { key_type: "ed25519" } },
  ];
  for (const t of types) {
    it(`kms root ${t.name}: leaf, CRL and OCSP verified by openssl`, async () => {
      const h = pki();
      const r = await h.data("write", "root/generate/kms", { common_name: `HSM Root ${t.name}`, ttl: "8760h", key_name: `k${n}`, ...t.body });
      const key = await h.data("read", `key/${r.key_id as string}`);
      expect(key.managed_key_id).toMatch(/^pkcs11:/);
      await h.call("write", "roles/web", { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec", use_pss: t.body.use_pss ?? false });
      const leaf = await h.data("write", "issue/web", { common_name: "svc.example.com", ttl: "1h" });
      const caF = f("ca.pem", r.certificate as string);
      const leafF = f("leaf.pem", leaf.certificate as string);
      expect(tmp.openssl(["verify", "-CAfile", caF, leafF]).out).toMatch(/OK/);
      await h.data("write", "revoke", { serial_number: leaf.serial_number });
      const crl = (await h.call("read", "crl/pem"))!.raw!.body as string;
      const v = tmp.openssl(["verify", "-crl_check", "-CAfile", caF, "-CRLfile", f("crl.pem", crl), leafF]);
      expect(v.out).toMatch(/certificate revoked/);
      const reqF = tmp.path(`req-${++n}.der`);
      expect(tmp.openssl(["ocsp", "-issuer", caF, "-cert", leafF, "-no_nonce", "-reqout", reqF]).status).toBe(0);
      const resp = (await h.call("write", "ocsp", {}, { mediaType: "application/ocsp-request", bytes: readFileSync(reqF) }))!.raw!;
      const o = tmp.openssl(["ocsp", "-respin", f("resp.der", resp.body), "-no_nonce", "-issuer", caF, "-CAfile", caF, "-cert", leafF]);
      expect(o.out).toMatch(/Response verify OK/);
      expect(o.out).toMatch(/: revoked/);
    });
  }

  it("custody: the CA key is sensitive and never extractable, and storage holds no private key", async () => {
    const h = pki();
    const r = await h.data("write", "root/generate/kms", { common_name: "Custody Root", key_type: "ec", key_name: "custody-key" });
    const key = await h.data("read", `key/${r.key_id as string}`);
    const uri = key.managed_key_id as string;
    const label = decodeURIComponent(/object=([^;?]+)/.exec(uri)![1]);
    const objects = pkcs11Tool(token, ["--list-objects", "--type", "privkey"]);
    const block = objects.split(/\n(?=Private Key Object)/).find((b) => b.includes(`label:      ${label}`));
    expect(block, objects).toBeDefined();
    expect(block).toMatch(/Access:\s+.*sensitive/);
    expect(block).toMatch(/never extractable/);
    // Byte scan: no PEM or PKCS#8/SEC1 private key anywhere in the mount's storage.
    for (const [k, v] of await h.dump()) {
      expect(v.includes(Buffer.from("PRIVATE KEY")), k).toBe(false);
      expect(v.includes(Buffer.from("privateKeyPem")), k).toBe(false);
    }
  });

  it("imports an existing CA whose key is in the HSM; a non-matching key is refused", async () => {
    const origin = pki();
    const r = await origin.data("write", "root/generate/kms", { common_name: "Legacy Root", key_type: "ec", key_name: "legacy" });
    const uri = (await origin.data("read", `key/${r.key_id as string}`)).managed_key_id as string;
    const other = await km.createKey({ algorithm: "ec-p256", label: "not-the-ca" });

    const h = pki();
    const refused = await h.fails("write", "config/ca", { pem_bundle: r.certificate, key_ref: other.uri });
    expect(refused.status).toBe(400);
    expect(refused.message).toMatch(/does not match the certificate/);
    expect([...(await h.dump()).keys()]).toEqual([]);

    const ok = await h.data("write", "issuers/import/bundle", { pem_bundle: r.certificate, key_ref: uri });
    expect((ok.imported_issuers as string[]).length).toBe(1);
    await h.call("write", "roles/web", { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec" });
    const leaf = await h.data("write", "issue/web", { common_name: "x.example.com", ttl: "1h" });
    expect(tmp.openssl(["verify", "-CAfile", f("ca.pem", r.certificate as string), f("l.pem", leaf.certificate as string)]).out).toMatch(/OK/);
  });

  it("keys/generate/kms and keys/import by key_ref: HSM keys a root then uses with type existing", async () => {
    const h = pki();
    const k = await h.data("write", "keys/generate/kms", { key_name: `gen-${++n}`, key_type: "ec", key_bits: 384 });
    expect(k.private_key).toBeUndefined();
    const uri = (await h.data("read", `key/${k.key_id as string}`)).managed_key_id as string;
    expect(uri).toMatch(/^pkcs11:/);
    const root = await h.data("write", "root/generate/existing", { key_ref: k.key_id, common_name: "HSM Key Root", ttl: "24h" });
    expect(root.key_id).toBe(k.key_id);
    await h.call("write", "roles/web", { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec" });
    const leaf = await h.data("write", "issue/web", { common_name: "k.example.com", ttl: "1h" });
    expect(tmp.openssl(["verify", "-CAfile", f("ca.pem", root.certificate as string), f("l.pem", leaf.certificate as string)]).out).toMatch(/: OK/);
    for (const [key, v] of await h.dump()) expect(v.includes(Buffer.from("PRIVATE KEY")), key).toBe(false);

    // The same HSM key imported into another mount by URI; importing it twice answers with the first.
    const other = pki();
    const imp = await other.call("write", "keys/import", { key_ref: uri, key_name: "bound" });
    expect(imp!.data).toMatchObject({ key_name: "bound", key_type: "ec" });
    expect((await other.call("write", "keys/import", { key_ref: uri }))!.warnings![0]).toMatch(/already imported/);
    expect((await other.fails("write", "keys/import", { key_ref: "not-a-uri" })).message).toMatch(/not a PKCS#11 URI/);
  });
});
