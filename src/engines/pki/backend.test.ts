// PKI engine with CA keys in software: lifecycle, issuance per key type, role rules, CRL and OCSP, each
// certificate and answer checked by openssl.
import { describe, expect, it } from "vitest";
import { pkiSuite, type PkiHarness } from "./pki-harness.test-util.js";

const { pki, tmp, uniq } = pkiSuite();

/** openssl-made CSR (key type per `keyArgs`), PEM. */
function opensslCsr(cn: string, sans: string[], keyArgs: string[] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]): string {
  const name = uniq("csr");
  const r = tmp.openssl([
    "req", "-new", ...keyArgs, "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`,
    ...(sans.length ? ["-addext", `subjectAltName=${sans.join(",")}`] : []),
  ]);
  expect(r.status, r.out).toBe(0);
  return tmp.openssl(["req", "-in", `${name}.csr`]).out.match(/-----BEGIN CERTIFICATE REQUEST-----[\s\S]+?-----END CERTIFICATE REQUEST-----/)![0];
}

function verify(ca: string, leaf: string, untrusted?: string, crl?: string): { out: string; status: number } {
  const caF = tmp.file(`${uniq("ca")}.pem`, ca);
  const leafF = tmp.file(`${uniq("leaf")}.pem`, leaf);
  const args = ["verify", "-CAfile", caF];
  if (untrusted) args.push("-untrusted", tmp.file(`${uniq("int")}.pem`, untrusted));
  if (crl) args.push("-crl_check", "-CRLfile", tmp.file(`${uniq("crl")}.pem`, crl));
  return tmp.openssl([...args, leafF]);
}

async function root(h: PkiHarness, body: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return h.data("write", "root/generate/internal", { common_name: "Arca Test Root", ttl: "87600h", key_type: "ec", key_bits: 256, ...body });
}

const role = { allowed_domains: "example.com", allow_subdomains: "true", max_ttl: "720h", key_type: "any" };

describe("pki: CA lifecycle and issuance (software keys)", () => {
  const keyTypes: Array<{ name: string; body: Record<string, unknown>; sig: RegExp }> = [
    { name: "EC P-256", body: { key_type: "ec", key_bits: 256 }, sig: /ecdsa-with-SHA256/ },
    { name: "EC P-384", body: { key_type: "ec", key_bits: 384 }, sig: /ecdsa-with-SHA384/ },
    { name: "RSA-2048 PKCS#1 v1.5", body: { key_type: "rsa", key_bits: 2048 }, sig: /sha256WithRSAEncryption/ },
    { name: "RSA-3072 PSS", body: { key_type: "rsa", key_bits: 3072, use_pss: true }, sig: /rsassaPss/ },
    { name: "Ed25519", body: { key_type: "ed25519" }, sig: /ED25519/ },
  ];
  for (const kt of keyTypes) {
    it(`root ${kt.name}: issues a leaf that openssl verifies`, async () => {
      const h = pki();
      const r = await root(h, kt.body);
      expect(r.issuer_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.serial_number).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2})+$/);
      const text = tmp.openssl(["x509", "-noout", "-text", "-in", tmp.file(`${uniq("root")}.pem`, r.certificate as string)]).out;
      expect(text).toMatch(kt.sig);
      expect(text).toMatch(/CA:TRUE/);
      await h.call("write", "roles/web", { ...role, use_pss: kt.body.use_pss ?? false });
      const leaf = await h.data("write", "issue/web", { common_name: "svc.example.com", alt_names: "a.example.com", ip_sans: "127.0.0.1", ttl: "24h", key_type: "ec" });
      expect(verify(r.certificate as string, leaf.certificate as string).out).toMatch(/OK/);
      const lt = tmp.openssl(["x509", "-noout", "-text", "-in", tmp.file(`${uniq("l")}.pem`, leaf.certificate as string)]).out;
      expect(lt).toMatch(/DNS:svc\.example\.com, DNS:a\.example\.com, IP Address:127\.0\.0\.1/);
      expect(lt).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
      expect(leaf.private_key_type).toBe("ec");
      expect(leaf.ca_chain).toEqual([r.certificate]);
    });
  }

  it("RSA-4096 root (one case: slow keygen)", async () => {
    const h = pki();
    const r = await root(h, { key_type: "rsa", key_bits: 4096 });
    await h.call("write", "roles/web", role);
    const leaf = await h.data("write", "issue/web", { common_name: "svc.example.com", key_type: "rsa", key_bits: 2048 });
    expect(verify(r.certificate as string, leaf.certificate as string).out).toMatch(/OK/);
  });

  it("sign/:role takes cert-manager's exact request (every value a string)", async () => {
    const h = pki();
    const r = await root(h);
    await h.call("write", "roles/cm", { allowed_domains: "example.com", allow_subdomains: "true", max_ttl: "2400h", key_type: "ec", key_bits: "256" });
    const csr = opensslCsr("app.example.com", ["DNS:app.example.com", "DNS:www.example.com"]);
    const resp = await h.call("write", "sign/cm", {
      common_name: "app.example.com",
      alt_names: "app.example.com,www.example.com",
      ip_sans: "",
      uri_sans: "",
      ttl: "2160h0m0s",
      csr,
      exclude_cn_from_sans: "true",
    });
    const d = resp!.data!;
    expect(Object.keys(d).sort()).toEqual(["ca_chain", "certificate", "expiration", "issuing_ca", "serial_number"]);
    expect(verify(r.certificate as string, d.certificate as string).out).toMatch(/OK/);
    expect(d.issuing_ca).toBe(r.certificate);
    const listed = await h.data("list", "certs/");
    expect(listed.keys).toContain(d.serial_number);
    const got = await h.data("read", `cert/${d.serial_number as string}`);
    expect(got.certificate).toBe(d.certificate);
  });

  it("intermediate: generate, sign with the root, set-signed, then issue a chain openssl accepts", async () => {
    const rootMount = pki();
    const intMount = pki();
    const r = await root(rootMount);
    const gen = await intMount.data("write", "intermediate/generate/internal", { common_name: "Arca Int", key_type: "ec", key_bits: 384 });
    expect(gen.csr).toMatch(/BEGIN CERTIFICATE REQUEST/);
    const signed = await rootMount.data("write", "root/sign-intermediate", { csr: gen.csr, common_name: "Arca Int", ttl: "43800h", max_path_length: 0 });
    expect(verify(r.certificate as string, signed.certificate as string).out).toMatch(/OK/);
    const set = await intMount.data("write", "intermediate/set-signed", { certificate: `${signed.certificate as string}\n${r.certificate as string}` });
    expect((set.imported_issuers as string[]).length).toBe(2);
    await intMount.call("write", "roles/web", role);
    const leaf = await intMount.data("write", "issue/web", { common_name: "x.example.com", ttl: "1h" });
    expect(leaf.ca_chain).toEqual([signed.certificate, r.certificate]);
    expect(verify(r.certificate as string, leaf.certificate as string, signed.certificate as string).out).toMatch(/OK/);
    // A certificate for a key this mount does not hold is refused.
    const other = await rootMount.data("write", "root/sign-intermediate", { csr: opensslCsr("stranger", []), common_name: "Stranger" });
    expect((await intMount.fails("write", "intermediate/set-signed", { certificate: other.certificate })).message).toMatch(/matches no key/);
  });

  it("config/ca imports a software CA bundle and issues from it", async () => {
    const h = pki();
    const key = tmp.file(`${uniq("k")}.key`, "");
    expect(tmp.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", `${key}.crt`, "-subj", "/CN=Imported", "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]).status).toBe(0);
    const bundle = tmp.openssl(["x509", "-in", `${key}.crt`]).out + tmp.openssl(["pkey", "-in", key]).out;
    const d = await h.data("write", "config/ca", { pem_bundle: bundle });
    expect((d.imported_issuers as string[]).length).toBe(1);
    expect((d.imported_keys as string[]).length).toBe(1);
    await h.call("write", "roles/web", { ...role, max_ttl: "24h" });
    const leaf = await h.data("write", "issue/web", { common_name: "i.example.com", ttl: "1h" });
    expect(verify(tmp.openssl(["x509", "-in", `${key}.crt`]).out, leaf.certificate as string).out).toMatch(/OK/);
    const issuers = await h.data("list", "issuers/");
    expect(issuers.keys).toHaveLength(1);
    const keys = await h.data("list", "keys/");
    expect(keys.keys).toHaveLength(1);
  });
});

describe("pki: revocation, CRL and OCSP", () => {
  it("revoke → CRL (with CRL Number, X509 CRL label) and OCSP answers checked by openssl", async () => {
    const h = pki();
    const r = await root(h);
    const ca = r.certificate as string;
    await h.call("write", "roles/web", role);
    const good = await h.data("write", "issue/web", { common_name: "good.example.com", ttl: "1h" });
    const bad = await h.data("write", "issue/web", { common_name: "bad.example.com", ttl: "1h" });

    const crl0 = (await h.call("read", "crl/pem"))!.raw!.body as string;
    expect(crl0).toMatch(/^-----BEGIN X509 CRL-----/);
    expect(verify(ca, bad.certificate as string, undefined, crl0).out).toMatch(/OK/);

    const rev = await h.data("write", "revoke", { serial_number: bad.serial_number });
    expect(rev.state).toBe("revoked");
    const crl1 = (await h.call("read", "crl/pem"))!.raw!.body as string;
    const v = verify(ca, bad.certificate as string, undefined, crl1);
    expect(v.status).not.toBe(0);
    expect(v.out).toMatch(/certificate revoked/);
    expect(verify(ca, good.certificate as string, undefined, crl1).out).toMatch(/OK/);
    const crlText = tmp.openssl(["crl", "-noout", "-text", "-in", tmp.file(`${uniq("crl")}.pem`, crl1)]).out;
    expect(crlText).toMatch(/X509v3 CRL Number:\s*\n\s*2/);
    await h.call("read", "crl/rotate");
    const crl2 = tmp.openssl(["crl", "-noout", "-text", "-inform", "DER", "-in", tmp.file(`${uniq("crl")}.der`, (await h.call("read", "crl"))!.raw!.body)]).out;
    expect(crl2).toMatch(/X509v3 CRL Number:\s*\n\s*3/);
    expect(crl2).toMatch(new RegExp((bad.serial_number as string).replace(/:/g, "").toUpperCase()));

    // OCSP: POST body and GET path forms, both verified by openssl against the issuer.
    const caF = tmp.file(`${uniq("ca")}.pem`, ca);
    for (const [name, cert, want] of [["good", good, "good"], ["bad", bad, "revoked"]] as const) {
      const leafF = tmp.file(`${uniq(name)}.pem`, cert.certificate as string);
      const reqF = tmp.path(`${uniq("req")}.der`);
      // -no_nonce: openssl would otherwise mint a fresh nonce when checking -respin; the echo is tested below.
      expect(tmp.openssl(["ocsp", "-issuer", caF, "-cert", leafF, "-no_nonce", "-reqout", reqF]).status).toBe(0);
      const { readFileSync } = await import("node:fs");
      const reqDer = readFileSync(reqF);
      const post = (await h.call("write", "ocsp", {}, { mediaType: "application/ocsp-request", bytes: reqDer }))!.raw!;
      expect(post.contentType).toBe("application/ocsp-response");
      const respF = tmp.file(`${uniq("resp")}.der`, post.body);
      const out = tmp.openssl(["ocsp", "-respin", respF, "-no_nonce", "-issuer", caF, "-CAfile", caF, "-cert", leafF]);
      expect(out.out).toMatch(/Response verify OK/);
      expect(out.out).toMatch(new RegExp(`: ${want}`));
      const get = (await h.call("read", `ocsp/${reqDer.toString("base64")}`))!.raw!;
      const out2 = tmp.openssl(["ocsp", "-respin", tmp.file(`${uniq("resp")}.der`, get.body), "-no_nonce", "-issuer", caF, "-CAfile", caF, "-cert", leafF]);
      expect(out2.out).toMatch(/Response verify OK/);
      expect(out2.out).toMatch(new RegExp(`: ${want}`));
    }
    // The request's nonce comes back in the response.
    const leafF = tmp.file(`${uniq("n")}.pem`, good.certificate as string);
    const nreq = tmp.path(`${uniq("nreq")}.der`);
    const reqText = tmp.openssl(["ocsp", "-issuer", caF, "-cert", leafF, "-reqout", nreq, "-req_text"]).out;
    const nonce = /OCSP Nonce:\s*\n\s*([0-9A-F]+)/.exec(reqText)![1];
    const { readFileSync } = await import("node:fs");
    const nresp = (await h.call("write", "ocsp", {}, { mediaType: "application/ocsp-request", bytes: readFileSync(nreq) }))!.raw!;
    const respText = tmp.openssl(["ocsp", "-respin", tmp.file(`${uniq("nresp")}.der`, nresp.body), "-resp_text", "-noverify"]).out;
    expect(respText).toContain(nonce);
    // Malformed OCSP requests get an OCSP error, not JSON.
    const m = (await h.call("write", "ocsp", {}, { mediaType: "application/ocsp-request", bytes: Buffer.from("nonsense") }))!.raw!;
    expect(Buffer.from(m.body as Buffer).toString("hex")).toBe("30030a0101");
  });

  it("revoke-with-key needs the certificate's own private key", async () => {
    const h = pki();
    await root(h);
    await h.call("write", "roles/web", role);
    const a = await h.data("write", "issue/web", { common_name: "a.example.com", ttl: "1h" });
    const b = await h.data("write", "issue/web", { common_name: "b.example.com", ttl: "1h" });
    expect((await h.fails("write", "revoke-with-key", { serial_number: a.serial_number, private_key: b.private_key })).message).toMatch(/does not belong/);
    expect((await h.data("write", "revoke-with-key", { serial_number: a.serial_number, private_key: a.private_key })).state).toBe("revoked");
    expect((await h.data("read", `cert/${(a.serial_number as string).replace(/:/g, "-")}`)).revocation_time).toBeGreaterThan(0);
  });

  it("tidy removes expired entries and answers 202", async () => {
    const h = pki();
    await root(h);
    await h.call("write", "roles/web", role);
    await h.data("write", "issue/web", { common_name: "a.example.com", ttl: "1h" });
    const t = await h.call("write", "tidy", { tidy_cert_store: true, safety_buffer: "1h" });
    expect(t!.status).toBe(202);
    expect((await h.data("read", "tidy-status")).cert_store_deleted_count).toBe(0);
  });
});

describe("pki: bad input is a 4xx and nothing is issued or stored", () => {
  async function setup() {
    const h = pki();
    const r = await root(h, { ttl: "1000h" });
    await h.call("write", "roles/web", { allowed_domains: "example.com", allow_subdomains: true, max_ttl: "100h", key_type: "ec" });
    const before = [...(await h.dump("certs/")).keys()];
    return { h, r, before };
  }
  async function nothingStored(h: PkiHarness, before: string[]) {
    expect([...(await h.dump("certs/")).keys()]).toEqual(before);
  }

  it("malformed CSR", async () => {
    const { h, before } = await setup();
    const e = await h.fails("write", "sign/web", { csr: "-----BEGIN CERTIFICATE REQUEST-----\nMIIBAAAA\n-----END CERTIFICATE REQUEST-----", common_name: "a.example.com" });
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/malformed csr/);
    expect((await h.fails("write", "sign/web", { csr: "not a csr" })).status).toBe(400);
    await nothingStored(h, before);
  });

  it("CSR whose signature does not verify", async () => {
    const { h, before } = await setup();
    const csr = opensslCsr("a.example.com", []);
    const der = Buffer.from(csr.replace(/-----[^-]+-----|\s/g, ""), "base64");
    der[der.length - 5] ^= 0x01;
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----`;
    const e = await h.fails("write", "sign/web", { csr: tampered });
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/csr signature is invalid/);
    await nothingStored(h, before);
  });

  it("names outside the role, each refusal naming its rule", async () => {
    const { h, before } = await setup();
    expect((await h.fails("write", "issue/web", { common_name: "evil.org" })).message).toMatch(/common name evil\.org not allowed by this role: .*allowed_domains=\[example\.com\]/);
    expect((await h.fails("write", "issue/web", { common_name: "example.com" })).message).toMatch(/allow_bare_domains=false/);
    expect((await h.fails("write", "issue/web", { common_name: "a.example.com", alt_names: "b.evil.org" })).message).toMatch(/subject alternative name b\.evil\.org/);
    expect((await h.fails("write", "issue/web", { common_name: "a.example.com", uri_sans: "spiffe://x/y" })).message).toMatch(/allowed_uri_sans/);
    expect((await h.fails("write", "issue/web", { common_name: "bad_host!.example.com" })).message).toMatch(/enforce_hostnames/);
    expect((await h.fails("write", "issue/web", {})).message).toMatch(/require_cn/);
    await h.call("write", "roles/noip", { allowed_domains: "example.com", allow_subdomains: true, allow_ip_sans: false, key_type: "ec" });
    expect((await h.fails("write", "issue/noip", { common_name: "a.example.com", ip_sans: "10.0.0.1" })).message).toMatch(/allow_ip_sans=false/);
    const csr = opensslCsr("a.example.com", ["DNS:a.example.com"], ["-newkey", "rsa:2048"]);
    expect((await h.fails("write", "sign/web", { csr })).message).toMatch(/key_type/);
    expect((await h.fails("write", "sign/web", { csr: opensslCsr("x.evil.org", ["DNS:x.evil.org"]) })).message).toMatch(/not allowed by this role/);
    expect((await h.fails("write", "issue/nosuch", { common_name: "a.example.com" })).message).toMatch(/unknown role: nosuch/);
    await nothingStored(h, before);
  });

  it("TTL beyond max_ttl is capped with OpenBao's warning; not_after beyond it is refused", async () => {
    const { h } = await setup();
    const start = Math.floor(Date.now() / 1000);
    const r = await h.call("write", "issue/web", { common_name: "a.example.com", ttl: "2160h0m0s" });
    expect(r?.warnings).toEqual(['TTL "2160h0m0s" is longer than permitted maxTTL "100h0m0s", so maxTTL is being used']);
    const expiration = r?.data?.expiration as number;
    expect(expiration - start).toBeGreaterThanOrEqual(100 * 3600 - 2);
    expect(expiration - start).toBeLessThanOrEqual(100 * 3600 + 2);
    const csr = opensslCsr("s.example.com", ["DNS:s.example.com"]);
    expect((await h.call("write", "sign/web", { csr, common_name: "s.example.com", ttl: "101h" }))?.warnings?.[0]).toMatch(/^TTL "101h0m0s" is longer than permitted maxTTL "100h0m0s"/);
    const within = await h.call("write", "issue/web", { common_name: "a.example.com", ttl: "1h" });
    expect(within?.warnings).toBeUndefined();
    const late = new Date(Date.now() + 200 * 3600_000).toISOString().replace(/\.\d+Z$/, "Z");
    expect((await h.fails("write", "issue/web", { common_name: "a.example.com", not_after: late })).message).toMatch(/max_ttl/);
  });

  it("TTL beyond the CA's own expiry", async () => {
    const { h, before } = await setup();
    await h.call("write", "roles/long", { allowed_domains: "example.com", allow_subdomains: true, max_ttl: "5000h", key_type: "ec" });
    const e = await h.fails("write", "issue/long", { common_name: "a.example.com", ttl: "2000h" });
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/beyond the expiration of the CA certificate/);
    await nothingStored(h, before);
  });

  it("roles refuse impossible key settings when written", async () => {
    const h = pki();
    expect((await h.fails("write", "roles/x", { key_type: "ec", key_bits: 521 })).message).toMatch(/key_bits/);
    expect((await h.fails("write", "roles/x", { ttl: "10h", max_ttl: "1h" })).message).toMatch(/max_ttl/);
  });
});
