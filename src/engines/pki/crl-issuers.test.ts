// Revocation follows the CRL issuer (certificate subject + key), not the issuer record: a root reissued on
// its own key (root/rotate/existing + root/replace), or the same CA imported again after its issuer was
// deleted, keeps every revocation on its CRL and in OCSP, and CRL numbers only ever rise (RFC 5280 §5.2.3),
// base and delta alike.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { pkiSuite, type PkiHarness } from "./pki-harness.test-util.js";

const { pki, tmp, uniq } = pkiSuite();
const f = (name: string, content: string | Buffer): string => tmp.file(uniq(name), content);
const role = { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec", max_ttl: "720h" };
const hexSerial = (s: unknown): string => (s as string).replace(/:/g, "").toUpperCase();

interface Crl {
  text: string;
  number: number;
  pem: string;
}

function parseCrl(body: string | Buffer): Crl {
  const der = Buffer.isBuffer(body);
  const file = f(der ? "crl.der" : "crl.pem", body);
  const r = tmp.openssl(["crl", "-text", ...(der ? ["-inform", "DER"] : []), "-in", file]);
  expect(r.status, r.out).toBe(0);
  const number = Number(/X509v3 CRL Number:\s*\n\s*(\d+)/.exec(r.out)![1]);
  const pem = /-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/.exec(r.out)![0];
  return { text: r.out, number, pem };
}

async function crlAt(h: PkiHarness, path: string): Promise<Crl> {
  return parseCrl((await h.call("read", path))!.raw!.body);
}

/** `openssl crl -verify` against `caPem`: the CRL is signed by that CA's key and names it. */
function verifiesWith(crl: Crl, caPem: string): boolean {
  const r = tmp.openssl(["crl", "-noout", "-verify", "-CAfile", f("ca.pem", caPem), "-in", f("v.pem", crl.pem)]);
  return r.status === 0 && /verify OK/.test(r.out);
}

/** The OCSP status openssl reads from our responder for `leafPem`, asking about issuer `caPem`. */
async function ocspStatus(h: PkiHarness, caPem: string, leafPem: string): Promise<string> {
  const caF = f("ca.pem", caPem);
  const leafF = f("leaf.pem", leafPem);
  const reqF = tmp.path(uniq("req.der"));
  expect(tmp.openssl(["ocsp", "-issuer", caF, "-cert", leafF, "-no_nonce", "-reqout", reqF]).status).toBe(0);
  const resp = (await h.call("write", "ocsp", {}, { mediaType: "application/ocsp-request", bytes: readFileSync(reqF) }))!.raw!;
  const out = tmp.openssl(["ocsp", "-respin", f("resp.der", resp.body), "-no_nonce", "-issuer", caF, "-CAfile", caF, "-cert", leafF]).out;
  expect(out).toMatch(/Response verify OK/);
  return /: (good|revoked|unknown)/.exec(out)![1];
}

describe("pki: a root reissued on its key (root/rotate/existing + root/replace)", () => {
  it("keeps earlier revocations on the new default issuer's CRL, with a higher CRL number, and in OCSP", async () => {
    const h = pki();
    const old = await h.data("write", "root/generate/internal", { common_name: "Reissued Root", key_type: "ec", ttl: "8760h", issuer_name: "current" });
    await h.call("write", "roles/web", role);
    const early = await h.data("write", "issue/web", { common_name: "early.example.com", ttl: "1h" });
    const kept = await h.data("write", "issue/web", { common_name: "kept.example.com", ttl: "1h" });
    await h.call("write", "revoke", { serial_number: early.serial_number });
    const before = await crlAt(h, "crl");
    expect(before.text).toContain(hexSerial(early.serial_number));

    const next = await h.data("write", "root/rotate/existing", { key_ref: old.key_id, common_name: "Reissued Root", ttl: "8760h" });
    expect(next.key_id).toBe(old.key_id);
    expect(next.issuer_id).not.toBe(old.issuer_id);
    expect((await h.data("write", "root/replace", {})).default).toBe(next.issuer_id);

    // Nothing was revoked since: the new default issuer serves the very CRL of its CRL issuer (not a new CRL
    // numbered 1 again), and the next rebuild numbers above it.
    expect((await crlAt(h, "crl")).pem).toBe(before.pem);
    await h.call("read", "crl/rotate");
    const after = await crlAt(h, "crl");
    expect(after.text).toContain(hexSerial(early.serial_number));
    expect(after.number).toBeGreaterThan(before.number);
    expect(verifiesWith(after, old.certificate as string)).toBe(true);
    expect(verifiesWith(after, next.certificate as string)).toBe(true);
    // Both issuer records serve the one CRL of their CRL issuer.
    expect((await crlAt(h, `issuer/${old.issuer_id as string}/crl/der`)).pem).toBe(after.pem);
    expect((await crlAt(h, `issuer/${next.issuer_id as string}/crl/der`)).pem).toBe(after.pem);

    expect(await ocspStatus(h, next.certificate as string, early.certificate as string)).toBe("revoked");
    expect(await ocspStatus(h, old.certificate as string, early.certificate as string)).toBe("revoked");
    expect(await ocspStatus(h, next.certificate as string, kept.certificate as string)).toBe("good");
  });

  it("lists a leaf of the old issuer record revoked after the reissue, on a CRL numbered higher again", async () => {
    const h = pki();
    const old = await h.data("write", "root/generate/internal", { common_name: "Reissued Root", key_type: "ec", ttl: "8760h", issuer_name: "current" });
    await h.call("write", "roles/web", role);
    const late = await h.data("write", "issue/web", { common_name: "late.example.com", ttl: "1h" });
    const first = await crlAt(h, "crl");
    const next = await h.data("write", "root/rotate/existing", { key_ref: old.key_id, common_name: "Reissued Root", ttl: "8760h" });
    await h.call("write", "root/replace", {});
    const reissued = await crlAt(h, "crl");
    expect(reissued.number).toBeGreaterThanOrEqual(first.number);

    await h.call("write", "revoke", { serial_number: late.serial_number });
    const crl = await crlAt(h, "crl");
    expect(crl.text).toContain(hexSerial(late.serial_number));
    expect(crl.number).toBeGreaterThan(reissued.number);
    expect(verifiesWith(crl, next.certificate as string)).toBe(true);
    expect(await ocspStatus(h, next.certificate as string, late.certificate as string)).toBe("revoked");
    // openssl, trusting the new certificate, refuses the leaf with the new default CRL.
    const v = tmp.openssl(["verify", "-crl_check", "-CAfile", f("n.pem", next.certificate as string), "-CRLfile", f("c.pem", crl.pem), f("l.pem", late.certificate as string)]);
    expect(v.out).toMatch(/certificate revoked/);
  });

  it("with delta CRLs: base and delta numbers rise across the reissue, and the delta lists the new revocation", async () => {
    const h = pki();
    const old = await h.data("write", "root/generate/internal", { common_name: "Delta Reissued", key_type: "ec", ttl: "8760h", issuer_name: "current" });
    await h.call("write", "roles/web", role);
    const a = await h.data("write", "issue/web", { common_name: "a.example.com", ttl: "1h" });
    const b = await h.data("write", "issue/web", { common_name: "b.example.com", ttl: "1h" });
    await h.call("write", "config/crl", { enable_delta: true, auto_rebuild: true });
    await h.call("write", "revoke", { serial_number: a.serial_number });
    await h.call("read", "crl/rotate");
    const seen = [(await crlAt(h, "crl")).number, (await crlAt(h, "crl/delta")).number];

    await h.data("write", "root/rotate/existing", { key_ref: old.key_id, common_name: "Delta Reissued", ttl: "8760h" });
    await h.call("write", "root/replace", {});
    await h.call("write", "revoke", { serial_number: b.serial_number });
    const base = await crlAt(h, "crl");
    const delta = await crlAt(h, "crl/delta");
    expect(base.text).toContain(hexSerial(a.serial_number));
    expect(delta.text).toContain(hexSerial(b.serial_number));
    expect(delta.text).toMatch(new RegExp(`Delta CRL Indicator: critical\\s*\\n\\s*${base.number}\\b`));
    expect(delta.number).toBeGreaterThan(Math.max(...seen));
    await h.call("read", "crl/rotate");
    const base2 = await crlAt(h, "crl");
    expect(base2.number).toBeGreaterThan(delta.number);
    expect(base2.text).toContain(hexSerial(b.serial_number));
  });
});

describe("pki: the same CA imported again after its issuer was deleted", () => {
  it.each([["issuer/:ref", "DELETE issuer/:ref"], ["root", "DELETE root"]])("re-associates earlier revocations (by signature) and continues the CRL numbers (%s deleted)", async (what) => {
    const h = pki();
    const keyFile = tmp.path(uniq("ca.key"));
    expect(tmp.openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyFile]).status).toBe(0);
    const caFile = tmp.path(uniq("ca.pem"));
    expect(tmp.openssl(["req", "-x509", "-new", "-key", keyFile, "-subj", "/CN=Imported CA", "-days", "30", "-out", caFile, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]).status).toBe(0);
    const caPem = readFileSync(caFile, "utf8");
    const bundle = `${caPem}\n${readFileSync(keyFile, "utf8")}`;
    const first = await h.data("write", "issuers/import/bundle", { pem_bundle: bundle });
    const firstId = (first.imported_issuers as string[])[0];
    await h.call("write", "roles/web", role);
    const leaf = await h.data("write", "issue/web", { common_name: "x.example.com", ttl: "1h" });
    const later = await h.data("write", "issue/web", { common_name: "y.example.com", ttl: "1h" });
    await h.call("write", "revoke", { serial_number: leaf.serial_number });
    const before = await crlAt(h, "crl");
    expect(before.text).toContain(hexSerial(leaf.serial_number));

    await h.call("delete", what === "root" ? "root" : `issuer/${firstId}`);
    // Revoked while no issuer stood for it: on the CRL all the same once the CA is back.
    await h.call("write", "revoke", { serial_number: later.serial_number });
    const again = await h.data("write", "issuers/import/bundle", { pem_bundle: bundle });
    const againId = (again.imported_issuers as string[])[0];
    expect(againId).not.toBe(firstId);
    await h.call("write", "config/issuers", { default: againId });

    const after = await crlAt(h, "crl");
    expect(after.text).toContain(hexSerial(leaf.serial_number));
    expect(after.text).toContain(hexSerial(later.serial_number));
    expect(after.number).toBeGreaterThan(before.number);
    expect(verifiesWith(after, caPem)).toBe(true);
    expect(await ocspStatus(h, caPem, leaf.certificate as string)).toBe("revoked");
    expect(await ocspStatus(h, caPem, later.certificate as string)).toBe("revoked");
  });
});

describe("pki: CRL records from before CRL issuers", () => {
  it("are migrated at the first rebuild: their numbers are honoured, then they go", async () => {
    const h = pki();
    const root = await h.data("write", "root/generate/internal", { common_name: "Legacy Root", key_type: "ec", ttl: "100h" });
    const id = root.issuer_id as string;
    // The layout as it was: records by issuer id, numbers 41 (base) and 42 (delta), no counter.
    const der = ((await h.call("read", "crl"))!.raw!.body as Buffer).toString("base64");
    for (const k of (await h.dump()).keys()) if (/^(crls|delta-crls|crl-numbers)\//.test(k)) await h.view.delete(k);
    await h.view.put(`crls/${id}`, Buffer.from(JSON.stringify({ number: 41, der, thisUpdate: 0, included: [] })));
    await h.view.put(`delta-crls/${id}`, Buffer.from(JSON.stringify({ number: 42, der, thisUpdate: 0, baseNumber: 41 })));

    expect((await crlAt(h, "crl")).number).toBe(43);
    const keys = [...(await h.dump()).keys()].filter((k) => /^(crls|delta-crls|crl-numbers)\//.test(k)).sort();
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^crl-numbers\/[0-9a-f]{64}$/);
    expect(keys[1]).toMatch(/^crls\/[0-9a-f]{64}$/);
  });

  it("deleting one record of a CRL issuer keeps its CRL for the others", async () => {
    const h = pki();
    const old = await h.data("write", "root/generate/internal", { common_name: "Shared", key_type: "ec", ttl: "100h", issuer_name: "current" });
    await h.call("write", "roles/web", role);
    const leaf = await h.data("write", "issue/web", { common_name: "z.example.com", ttl: "1h" });
    await h.call("write", "revoke", { serial_number: leaf.serial_number });
    const next = await h.data("write", "root/rotate/existing", { key_ref: old.key_id, common_name: "Shared", ttl: "100h" });
    await h.call("write", "root/replace", {});
    const before = await crlAt(h, "crl");
    await h.call("delete", `issuer/${old.issuer_id as string}`);
    expect((await crlAt(h, `issuer/${next.issuer_id as string}/crl/der`)).pem).toBe(before.pem);
    expect(await ocspStatus(h, next.certificate as string, leaf.certificate as string)).toBe("revoked");
  });
});
