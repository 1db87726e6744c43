// Role rules beyond names and TTLs: allowed_ip_sans_cidr, allowed_serial_numbers, policy_identifiers,
// cn_validations, allowed_domains_template and generate_lease. Each refusal names its rule; each issued
// certificate is read back with openssl.
import { describe, expect, it } from "vitest";
import { ROOT_NAMESPACE, type Request } from "../../core/framework/request.js";
import { pkiSuite, type PkiHarness } from "./pki-harness.test-util.js";

const { pki, tmp, uniq } = pkiSuite();

async function withRoot(h: PkiHarness): Promise<string> {
  const r = await h.data("write", "root/generate/internal", { common_name: "Rules Root", ttl: "8760h", key_type: "ec", key_bits: 256 });
  return r.certificate as string;
}

function text(certPem: string): string {
  const r = tmp.openssl(["x509", "-noout", "-text", "-nameopt", "RFC2253", "-in", tmp.file(`${uniq("c")}.pem`, certPem)]);
  expect(r.status, r.out).toBe(0);
  return r.out;
}

function verifies(ca: string, leaf: string): void {
  const r = tmp.openssl(["verify", "-CAfile", tmp.file(`${uniq("ca")}.pem`, ca), tmp.file(`${uniq("leaf")}.pem`, leaf)]);
  expect(r.out).toMatch(/: OK/);
}

function csrWithSubject(subj: string): string {
  const name = uniq("csr");
  const r = tmp.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subj]);
  expect(r.status, r.out).toBe(0);
  return tmp.openssl(["req", "-in", `${name}.csr`]).out.match(/-----BEGIN CERTIFICATE REQUEST-----[\s\S]+?-----END CERTIFICATE REQUEST-----/)![0];
}

async function certCount(h: PkiHarness): Promise<number> {
  return (await h.dump("certs/")).size;
}

describe("pki roles: allowed_ip_sans_cidr", () => {
  it("issues IP SANs inside the blocks and refuses others, naming the rule", async () => {
    const h = pki();
    const ca = await withRoot(h);
    await h.call("write", "roles/net", { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec", allowed_ip_sans_cidr: "10.0.0.0/8,2001:db8::/32" });
    expect((await h.data("read", "roles/net")).allowed_ip_sans_cidr).toEqual(["10.0.0.0/8", "2001:db8::/32"]);
    const ok = await h.data("write", "issue/net", { common_name: "a.example.com", ip_sans: "10.1.2.3,2001:db8::7", ttl: "1h" });
    expect(text(ok.certificate as string)).toMatch(/IP Address:10\.1\.2\.3, IP Address:2001:DB8:0:0:0:0:0:7/);
    verifies(ca, ok.certificate as string);
    const before = await certCount(h);
    const e = await h.fails("write", "issue/net", { common_name: "a.example.com", ip_sans: "10.1.2.3,192.168.1.1", ttl: "1h" });
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/192\.168\.1\.1 not allowed by this role \(allowed_ip_sans_cidr=\[10\.0\.0\.0\/8,2001:db8::\/32\]\)/);
    expect(await certCount(h)).toBe(before);
    expect((await h.fails("write", "roles/bad", { allowed_ip_sans_cidr: "10.0.0.1/33" })).message).toMatch(/allowed_ip_sans_cidr/);
    expect((await h.fails("write", "roles/bad", { allowed_ip_sans_cidr: "not-a-cidr" })).status).toBe(400);
  });
});

describe("pki roles: allowed_serial_numbers", () => {
  it("puts an allowed subject serialNumber in the certificate and refuses others", async () => {
    const h = pki();
    const ca = await withRoot(h);
    await h.call("write", "roles/sn", { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec", allowed_serial_numbers: "SN-*,EXACT1" });
    const ok = await h.data("write", "issue/sn", { common_name: "a.example.com", serial_number: "SN-42", ttl: "1h" });
    expect(text(ok.certificate as string)).toMatch(/Subject: serialNumber=SN-42,CN=a\.example\.com/);
    verifies(ca, ok.certificate as string);
    expect((await h.data("write", "issue/sn", { common_name: "a.example.com", serial_number: "EXACT1", ttl: "1h" })).certificate).toBeTruthy();
    const before = await certCount(h);
    const e = await h.fails("write", "issue/sn", { common_name: "a.example.com", serial_number: "XX-1", ttl: "1h" });
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/serial_number XX-1 not allowed by this role \(allowed_serial_numbers=\[SN-\*,EXACT1\]\)/);
    // "EXACT1" has no glob: "EXACT12" does not match.
    expect((await h.fails("write", "issue/sn", { common_name: "a.example.com", serial_number: "EXACT12" })).message).toMatch(/allowed_serial_numbers/);
    // From the CSR's subject (use_csr_common_name defaults to true).
    const csr = csrWithSubject("/CN=b.example.com/serialNumber=ZZ-9");
    expect((await h.fails("write", "sign/sn", { csr })).message).toMatch(/serial_number ZZ-9 not allowed/);
    const signed = await h.data("write", "sign/sn", { csr: csrWithSubject("/CN=b.example.com/serialNumber=SN-7") });
    expect(text(signed.certificate as string)).toMatch(/serialNumber=SN-7/);
    // A role without the list allows no subject serial number at all.
    await h.call("write", "roles/nosn", { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec" });
    expect((await h.fails("write", "issue/nosn", { common_name: "a.example.com", serial_number: "SN-1" })).message).toMatch(/allowed_serial_numbers is empty/);
    expect(await certCount(h)).toBe(before + 1);
  });
});

describe("pki roles: policy_identifiers", () => {
  it("writes the certificate policies extension from OIDs and from OpenBao's JSON form", async () => {
    const h = pki();
    const ca = await withRoot(h);
    await h.call("write", "roles/pol", { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec", policy_identifiers: "1.3.6.1.4.1.7.8,1.3.6.1.4.1.44947.1.2.4" });
    expect((await h.data("read", "roles/pol")).policy_identifiers).toEqual(["1.3.6.1.4.1.7.8", "1.3.6.1.4.1.44947.1.2.4"]);
    const a = await h.data("write", "issue/pol", { common_name: "a.example.com", ttl: "1h" });
    const ta = text(a.certificate as string);
    expect(ta).toMatch(/X509v3 Certificate Policies:\s*\n\s*Policy: 1\.3\.6\.1\.4\.1\.7\.8\s*\n\s*Policy: 1\.3\.6\.1\.4\.1\.44947\.1\.2\.4/);
    verifies(ca, a.certificate as string);

    const json = JSON.stringify([{ oid: "1.3.6.1.4.1.44947.1.2.4", cps: "https://example.com/cps", notice: "I am a user notice" }, { oid: "1.2.3.4" }]);
    await h.call("write", "roles/polj", { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec", policy_identifiers: json });
    const stored = (await h.data("read", "roles/polj")).policy_identifiers as string[];
    expect(stored).toHaveLength(2);
    expect(JSON.parse(stored[0])).toEqual({ oid: "1.3.6.1.4.1.44947.1.2.4", cps: "https://example.com/cps", notice: "I am a user notice" });
    expect(stored[1]).toBe("1.2.3.4");
    const b = await h.data("write", "issue/polj", { common_name: "b.example.com", ttl: "1h" });
    const tb = text(b.certificate as string);
    expect(tb).toMatch(/Policy: 1\.3\.6\.1\.4\.1\.44947\.1\.2\.4\s*\n\s*CPS: https:\/\/example\.com\/cps\s*\n\s*User Notice:\s*\n\s*Explicit Text: I am a user notice/);
    expect(tb).toMatch(/Policy: 1\.2\.3\.4/);
    verifies(ca, b.certificate as string);
    // The JSON array itself (not a string) is accepted too.
    await h.call("write", "roles/polk", { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec", policy_identifiers: [{ oid: "2.5.29.32.0" }] });
    expect(text((await h.data("write", "issue/polk", { common_name: "c.example.com", ttl: "1h" })).certificate as string)).toMatch(/Policy: X509v3 Any Policy/);

    expect((await h.fails("write", "roles/x", { policy_identifiers: "1.3.6.x" })).message).toMatch(/policy_identifiers/);
    expect((await h.fails("write", "roles/x", { policy_identifiers: '[{"oid":"1.2.3","bogus":1}]' })).message).toMatch(/unknown key "bogus"/);
    expect((await h.fails("write", "roles/x", { policy_identifiers: "[{not json" })).status).toBe(400);
  });
});

describe("pki roles: cn_validations", () => {
  it("hostname-only, email-only and disabled", async () => {
    const h = pki();
    await withRoot(h);
    const base = { allowed_domains: "example.com", allow_subdomains: true, allow_bare_domains: true, key_type: "ec" };
    await h.call("write", "roles/host", { ...base, cn_validations: "hostname" });
    await h.call("write", "roles/mail", { ...base, cn_validations: "email" });
    await h.call("write", "roles/any", { ...base });
    expect((await h.data("read", "roles/any")).cn_validations).toEqual(["email", "hostname"]);
    const before = await certCount(h);
    expect((await h.fails("write", "issue/host", { common_name: "me@example.com" })).message).toMatch(/common name me@example\.com not allowed by this role: cn_validations=\[hostname\] does not permit email addresses/);
    expect((await h.fails("write", "issue/mail", { common_name: "a.example.com" })).message).toMatch(/cn_validations=\[email\] does not permit hostnames/);
    expect(await certCount(h)).toBe(before);
    const mail = await h.data("write", "issue/mail", { common_name: "me@example.com", ttl: "1h" });
    expect(text(mail.certificate as string)).toMatch(/email:me@example\.com/);
    expect((await h.data("write", "issue/any", { common_name: "me@example.com", ttl: "1h" })).certificate).toBeTruthy();

    // disabled: the CN may be any text; it is kept out of the SANs when it is no hostname.
    await h.call("write", "roles/free", { ...base, cn_validations: "disabled" });
    const free = await h.data("write", "issue/free", { common_name: "My Service #1", alt_names: "svc.example.com", ttl: "1h" });
    const t = text(free.certificate as string);
    expect(t).toMatch(/Subject: CN=My Service #1/);
    expect(t).toMatch(/DNS:svc\.example\.com/);
    expect(t).not.toMatch(/DNS:My Service/);
    // …but a hostname CN still lands in the SANs, where the domain rules apply.
    expect((await h.fails("write", "issue/free", { common_name: "x.evil.org" })).message).toMatch(/subject alternative name x\.evil\.org not allowed by this role/);
    expect((await h.fails("write", "issue/any", { common_name: "My Service #1" })).message).toMatch(/common name My Service #1 not allowed/);

    expect((await h.fails("write", "roles/x", { cn_validations: "hostname,bogus" })).message).toMatch(/cn_validations: unknown value "bogus"/);
    expect((await h.fails("write", "roles/x", { cn_validations: "disabled,email" })).message).toMatch(/cannot be combined/);
  });
});

describe("pki roles: allowed_domains_template", () => {
  /** Calls the backend as a caller with an identity entity (the harness calls without a caller). */
  async function issueAs(h: PkiHarness, entityId: string, path: string, data: Record<string, unknown>) {
    const m = h.backend.resolve(path, "update");
    const req: Request = {
      id: "req-t",
      operation: "update",
      path: `pki/${path}`,
      namespace: ROOT_NAMESPACE,
      data,
      clientToken: undefined,
      caller: {
        namespace: ROOT_NAMESPACE,
        accessor: "a",
        tokenEntryId: "t",
        policies: ["default"],
        displayName: "token",
        entityId,
        metadata: {},
        tokenType: "service",
        expireTime: undefined,
      },
      remoteAddress: "127.0.0.1",
      wrapTtl: undefined,
      mountPoint: "pki/",
      mountPath: path,
      mountAccessor: "pki_1",
      mountType: "pki",
    };
    return h.backend.handle(req, m, h.view);
  }

  it("literal entries stay literal; {{identity.entity.id}} is resolved only when templating is on", async () => {
    const h = pki();
    await withRoot(h);
    const body = { allowed_domains: "{{identity.entity.id}}.example.com,static.test", allow_bare_domains: true, allow_subdomains: true, key_type: "ec" };
    await h.call("write", "roles/lit", body);
    await h.call("write", "roles/tpl", { ...body, allowed_domains_template: true });
    expect((await h.data("read", "roles/tpl")).allowed_domains_template).toBe(true);
    // Literal entries work either way.
    expect((await issueAs(h, "ent1", "issue/tpl", { common_name: "static.test", ttl: "1h" }))!.data!.certificate).toBeTruthy();
    // Templating on: the caller's entity id fills the template.
    const got = await issueAs(h, "ent1", "issue/tpl", { common_name: "ent1.example.com", ttl: "1h" });
    expect(text(got!.data!.certificate as string)).toMatch(/DNS:ent1\.example\.com/);
    await expect(issueAs(h, "ent2", "issue/tpl", { common_name: "ent1.example.com" })).rejects.toThrow(/allowed_domains_template=true/);
    // No entity: the templated entry is dropped, nothing matches it.
    expect((await h.fails("write", "issue/tpl", { common_name: "ent1.example.com" })).message).toMatch(/not allowed by this role/);
    // Templating off: the template is just text, and no hostname equals it.
    await expect(issueAs(h, "ent1", "issue/lit", { common_name: "ent1.example.com" })).rejects.toThrow(/not allowed by this role/);
  });
});

describe("pki roles: generate_lease", () => {
  it("returns a lease for the certificate when the role asks for one", async () => {
    const h = pki();
    await withRoot(h);
    await h.call("write", "roles/leased", { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec", generate_lease: true });
    expect((await h.data("read", "roles/leased")).generate_lease).toBe(true);
    const r = await h.call("write", "issue/leased", { common_name: "a.example.com", ttl: "1h" });
    expect(r!.leaseId).toMatch(/^pki\/issue\/leased\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(r!.leaseDuration).toBeGreaterThan(3590);
    expect(r!.leaseDuration).toBeLessThanOrEqual(3600);
    expect(r!.renewable).toBe(false);
    const s = await h.call("write", "sign/leased", { csr: csrWithSubject("/CN=b.example.com"), ttl: "2h" });
    expect(s!.leaseId).toMatch(/^pki\/sign\/leased\//);
    expect(s!.leaseDuration).toBeGreaterThan(7190);
    await h.call("write", "roles/plain", { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec" });
    const p = await h.call("write", "issue/plain", { common_name: "a.example.com", ttl: "1h" });
    expect(p!.leaseId).toBeUndefined();
  });
});
