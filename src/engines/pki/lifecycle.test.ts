// Multi-issuer lifecycle: keys/generate and keys/import, root/rotate beside the current root,
// root/replace, and cross-signing the OpenBao way (intermediate/generate/existing with key_ref, then
// issuer/:ref/sign-intermediate with use_csr_values=true) checked with openssl against both roots.
import { describe, expect, it } from "vitest";
import { pkiSuite } from "./pki-harness.test-util.js";

const { pki, tmp, uniq } = pkiSuite();
const f = (name: string, content: string): string => tmp.file(`${uniq(name)}.pem`, content);

const role = { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec", max_ttl: "720h" };

describe("pki keys API", () => {
  it("keys/generate/internal and exported make keys a root can then use with type existing", async () => {
    const h = pki();
    const k = await h.data("write", "keys/generate/internal", { key_name: "first", key_type: "ec", key_bits: 384 });
    expect(k.key_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(k).toMatchObject({ key_name: "first", key_type: "ec" });
    expect(k.private_key).toBeUndefined();
    const read = await h.data("read", "key/first");
    expect(read).toMatchObject({ key_id: k.key_id, key_type: "ec", key_bits: 384 });
    // The first key becomes the mount's default key.
    expect((await h.data("read", "config/keys")).default).toBe(k.key_id);

    const e = await h.data("write", "keys/generate/exported", { key_name: "second", key_type: "rsa", key_bits: 2048 });
    expect(e.private_key).toMatch(/-----BEGIN PRIVATE KEY-----/);
    expect(e.key_type).toBe("rsa");
    // The exported PEM is the stored key: openssl derives the same public key as the root made with it.
    const root = await h.data("write", "root/generate/existing", { key_ref: "second", common_name: "From Existing", ttl: "24h" });
    expect(root.key_id).toBe(e.key_id);
    const certPub = tmp.openssl(["x509", "-noout", "-pubkey", "-in", f("root", root.certificate as string)]).out;
    const keyPub = tmp.openssl(["pkey", "-pubout", "-in", f("key", e.private_key as string)]).out;
    expect(certPub.trim()).toBe(keyPub.trim());

    expect((await h.fails("write", "keys/generate/internal", { key_name: "first" })).message).toMatch(/already in use/);
    expect((await h.fails("write", "keys/generate/bogus", {})).status).toBe(400);
    expect((await h.fails("write", "keys/generate/internal", { key_type: "ec", key_bits: 521 })).message).toMatch(/key_bits/);
    expect((await h.data("list", "keys/")).keys).toHaveLength(2);
  });

  it("keys/import takes a PEM private key once, and refuses garbage", async () => {
    const h = pki();
    const keyFile = tmp.path(`${uniq("imp")}.key`);
    expect(tmp.openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyFile]).status).toBe(0);
    const pemKey = tmp.openssl(["pkey", "-in", keyFile]).out;
    const r = await h.call("write", "keys/import", { pem_bundle: pemKey, key_name: "imported" });
    expect(r!.data).toMatchObject({ key_name: "imported", key_type: "ec" });
    expect(r!.warnings).toBeUndefined();
    const again = await h.call("write", "keys/import", { pem_bundle: pemKey, key_name: "other" });
    expect(again!.data!.key_id).toBe(r!.data!.key_id);
    expect(again!.warnings![0]).toMatch(/already imported/);
    // The imported key signs a root whose public key is the file's.
    const root = await h.data("write", "root/generate/existing", { key_ref: "imported", common_name: "Imported Key Root", ttl: "24h" });
    const certPub = tmp.openssl(["x509", "-noout", "-pubkey", "-in", f("root", root.certificate as string)]).out;
    expect(certPub.trim()).toBe(tmp.openssl(["pkey", "-pubout", "-in", keyFile]).out.trim());

    expect((await h.fails("write", "keys/import", { pem_bundle: "nothing here" })).message).toMatch(/exactly one PEM private key/);
    expect((await h.fails("write", "keys/import", { pem_bundle: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" })).message).toMatch(/malformed PRIVATE KEY/);
    expect((await h.fails("write", "keys/import", {})).status).toBe(400);
    expect((await h.data("list", "keys/")).keys).toHaveLength(1);
  });
});

describe("pki root rotation", () => {
  it("root/rotate adds a root named next without changing the default; root/replace switches", async () => {
    const h = pki();
    const old = await h.data("write", "root/generate/internal", { common_name: "Old Root", key_type: "ec", ttl: "8760h", issuer_name: "current" });
    await h.call("write", "roles/web", role);
    const next = await h.data("write", "root/rotate/internal", { common_name: "New Root", key_type: "ec", ttl: "8760h" });
    expect(next.issuer_name).toBe("next");
    expect(next.issuer_id).not.toBe(old.issuer_id);
    expect(next.key_id).not.toBe(old.key_id);
    expect((await h.data("read", "config/issuers")).default).toBe(old.issuer_id);
    const before = await h.data("write", "issue/web", { common_name: "a.example.com", ttl: "1h" });
    expect(before.issuing_ca).toBe(old.certificate);
    expect((await h.data("list", "issuers/")).keys).toHaveLength(2);

    const rep = await h.data("write", "root/replace", {});
    expect(rep.default).toBe(next.issuer_id);
    expect((await h.data("read", "config/issuers")).default).toBe(next.issuer_id);
    const after = await h.data("write", "issue/web", { common_name: "a.example.com", ttl: "1h" });
    expect(after.issuing_ca).toBe(next.certificate);
    expect(tmp.openssl(["verify", "-CAfile", f("new", next.certificate as string), f("leaf", after.certificate as string)]).out).toMatch(/: OK/);
    // Back by name; an unknown reference is refused.
    expect((await h.data("write", "root/replace", { default: "current" })).default).toBe(old.issuer_id);
    expect((await h.fails("write", "root/replace", { default: "nosuch" })).status).toBe(404);
    // The name "next" is taken now: a second rotation must name its issuer.
    expect((await h.fails("write", "root/rotate/internal", { common_name: "Third", key_type: "ec" })).message).toMatch(/already in use/);
  });
});

describe("pki cross-signing", () => {
  it("gives an existing root key a second certificate signed by another root; openssl verifies via both", async () => {
    const a = pki();
    const b = pki();
    const rootA = await a.data("write", "root/generate/internal", { common_name: "Root A", organization: "Arca", key_type: "ec", ttl: "8760h" });
    const rootB = await b.data("write", "root/generate/internal", { common_name: "Root B", key_type: "ec", key_bits: 384, ttl: "8760h" });
    await a.call("write", "roles/web", role);
    const leaf = await a.data("write", "issue/web", { common_name: "svc.example.com", ttl: "1h" });

    // 1. A CSR for Root A's existing key, same subject.
    const csr = await a.data("write", "intermediate/generate/existing", { key_ref: rootA.key_id, common_name: "Root A", organization: "Arca" });
    expect(csr.key_id).toBe(rootA.key_id);
    // 2. Root B signs it, keeping the CSR's subject.
    const cross = await b.data("write", `issuer/${rootB.issuer_id as string}/sign-intermediate`, { csr: csr.csr, use_csr_values: true, ttl: "4000h" });
    const crossText = tmp.openssl(["x509", "-noout", "-subject", "-issuer", "-in", f("cross", cross.certificate as string)]).out;
    expect(crossText).toMatch(/subject=O\s*=\s*Arca, CN\s*=\s*Root A/);
    expect(crossText).toMatch(/issuer=CN\s*=\s*Root B/);
    const pubOf = (pemText: string): string => tmp.openssl(["x509", "-noout", "-pubkey", "-in", f("p", pemText)]).out;
    expect(pubOf(cross.certificate as string)).toBe(pubOf(rootA.certificate as string));
    // 3. Back into A: the cross-signed certificate becomes a second issuer on the same key.
    const set = await a.data("write", "intermediate/set-signed", { certificate: `${cross.certificate as string}\n${rootB.certificate as string}` });
    const crossId = (set.imported_issuers as string[])[0];
    expect(set.mapping).toMatchObject({ [crossId]: rootA.key_id });
    expect((await a.data("read", "config/issuers")).default).toBe(rootA.issuer_id);

    // The existing leaf verifies under Root A directly, and under Root B through the cross certificate.
    const leafF = f("leaf", leaf.certificate as string);
    expect(tmp.openssl(["verify", "-CAfile", f("a", rootA.certificate as string), leafF]).out).toMatch(/: OK/);
    const viaB = tmp.openssl(["verify", "-CAfile", f("b", rootB.certificate as string), "-untrusted", f("x", cross.certificate as string), leafF]);
    expect(viaB.out).toMatch(/: OK/);
    // Without the cross certificate Root B alone does not vouch for the leaf (the check can fail).
    expect(tmp.openssl(["verify", "-CAfile", f("b", rootB.certificate as string), leafF]).status).not.toBe(0);

    // Issuing from the cross-signed issuer hands out the chain up to Root B.
    const viaCross = await a.data("write", `issuer/${crossId}/issue/web`, { common_name: "x.example.com", ttl: "1h" });
    expect(viaCross.ca_chain).toEqual([cross.certificate, rootB.certificate]);
    expect(tmp.openssl(["verify", "-CAfile", f("b", rootB.certificate as string), "-untrusted", f("x", cross.certificate as string), f("l", viaCross.certificate as string)]).out).toMatch(/: OK/);
  });

  it("use_csr_values copies the CSR's alternative names; existing with an unknown key_ref is refused", async () => {
    const a = pki();
    const b = pki();
    const rootB = await b.data("write", "root/generate/internal", { common_name: "Root B2", key_type: "ec", ttl: "8760h" });
    const gen = await a.data("write", "intermediate/generate/internal", { common_name: "Int X", alt_names: "int.example.com", key_type: "ec" });
    const signed = await b.data("write", "root/sign-intermediate", { csr: gen.csr, use_csr_values: true, ttl: "100h", common_name: "ignored" });
    const t = tmp.openssl(["x509", "-noout", "-text", "-in", f("s", signed.certificate as string)]).out;
    expect(t).toMatch(/Subject: CN\s*=\s*Int X/);
    expect(t).toMatch(/DNS:int\.example\.com/);
    expect(tmp.openssl(["verify", "-CAfile", f("b", rootB.certificate as string), f("s", signed.certificate as string)]).out).toMatch(/: OK/);
    expect((await a.fails("write", "intermediate/generate/existing", { key_ref: "nosuch", common_name: "x" })).status).toBe(404);
  });
});
