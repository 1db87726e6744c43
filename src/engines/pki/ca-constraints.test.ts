// root/sign-intermediate keeps the signing CA's limits: the child's path length comes from the parent's
// and its permitted DNS domains stay inside the parent's; the chains are checked with openssl.
import { describe, expect, it } from "vitest";
import { pkiSuite, type PkiHarness } from "./pki-harness.test-util.js";
import { PATH_LEN_ZERO } from "./ca-constraints.js";

const { pki, tmp, uniq } = pkiSuite();

async function root(h: PkiHarness, body: Record<string, unknown>): Promise<string> {
  const d = await h.data("write", "root/generate/internal", { common_name: "Constrained Root", ttl: "87600h", key_type: "ec", key_bits: 256, ...body });
  return d.certificate as string;
}

async function csrFrom(h: PkiHarness, cn: string): Promise<string> {
  return (await h.data("write", "intermediate/generate/internal", { common_name: cn, key_type: "ec", key_bits: 256 })).csr as string;
}

function text(cert: string): string {
  return tmp.openssl(["x509", "-noout", "-text", "-in", tmp.file(`${uniq("c")}.pem`, cert)]).out;
}

function verify(ca: string, leaf: string, untrusted?: string): string {
  const args = ["verify", "-CAfile", tmp.file(`${uniq("ca")}.pem`, ca)];
  if (untrusted) args.push("-untrusted", tmp.file(`${uniq("int")}.pem`, untrusted));
  return tmp.openssl([...args, tmp.file(`${uniq("leaf")}.pem`, leaf)]).out;
}

describe("pki: sign-intermediate under the signing CA's constraints", () => {
  it("a pathlen:0 root signs no sub-CA (OpenBao's message)", async () => {
    const h = pki();
    await root(h, { max_path_length: 0 });
    const csr = await csrFrom(pki(), "Sub");
    const err = await h.fails("write", "root/sign-intermediate", { csr, common_name: "Sub", ttl: "100h" });
    expect(err.status).toBe(400);
    expect(err.message).toBe(PATH_LEN_ZERO);
  });

  it("the child's path length is the parent's minus one, and no more can be asked", async () => {
    const rootMount = pki();
    const intMount = pki();
    const rootCert = await root(rootMount, { max_path_length: 1 });
    const csr = await csrFrom(intMount, "Sub");
    for (const asked of [1, 5]) {
      const err = await rootMount.fails("write", "root/sign-intermediate", { csr, common_name: "Sub", ttl: "100h", max_path_length: asked });
      expect(err.status).toBe(400);
      expect(err.message).toMatch(/max_path_length \d is not smaller than the signing certificate's max path length of 1/);
    }
    // Unlimited (-1) under a limited parent means "as much as the parent allows".
    const signed = await rootMount.data("write", "root/sign-intermediate", { csr, common_name: "Sub", ttl: "100h", max_path_length: -1 });
    const sub = signed.certificate as string;
    expect(text(sub)).toMatch(/CA:TRUE, pathlen:0/);
    expect(verify(rootCert, sub)).toMatch(/OK/);
    // The sub-CA, now pathlen:0, may not sign another CA itself.
    await intMount.call("write", "intermediate/set-signed", { certificate: `${sub}\n${rootCert}` });
    const err = await intMount.fails("write", "root/sign-intermediate", { csr: await csrFrom(pki(), "Sub-sub"), common_name: "Sub-sub", ttl: "10h" });
    expect(err.message).toBe(PATH_LEN_ZERO);
  });

  it("an unlimited parent signs the path length asked for, or none", async () => {
    const h = pki();
    await root(h, {});
    const csr = await csrFrom(pki(), "Sub");
    expect(text((await h.data("write", "root/sign-intermediate", { csr, common_name: "Sub", ttl: "10h", max_path_length: 3 })).certificate as string)).toMatch(/CA:TRUE, pathlen:3/);
    expect(text((await h.data("write", "root/sign-intermediate", { csr, common_name: "Sub", ttl: "10h" })).certificate as string)).toMatch(/CA:TRUE\s*$/m);
  });

  it("the child's permitted DNS domains are intersected with the parent's", async () => {
    const rootMount = pki();
    const intMount = pki();
    const rootCert = await root(rootMount, { permitted_dns_domains: ["example.com", "example.net"] });
    const csr = await csrFrom(intMount, "Sub");
    // Nothing asked: the parent's own.
    const inherited = (await rootMount.data("write", "root/sign-intermediate", { csr, common_name: "Sub", ttl: "100h" })).certificate as string;
    expect(text(inherited)).toMatch(/Permitted:\s*DNS:example\.com\s*DNS:example\.net/);
    // A subtree inside the parent's stays; one outside is dropped; a wider one narrows to the parent's.
    // (The CN becomes a DNS SAN of the sub-CA, so for openssl it must itself lie inside the root's domains.)
    const narrowed = (await rootMount.data("write", "root/sign-intermediate", { csr, common_name: "ca.a.example.com", ttl: "100h", permitted_dns_domains: ["a.example.com", "other.org", "net"] })).certificate as string;
    const t = text(narrowed);
    expect(t).toMatch(/Permitted:\s*DNS:a\.example\.com\s*DNS:example\.net\s*\n\s*(?!DNS)/);
    expect(t).not.toMatch(/other\.org/);
    // Entirely outside: refused (an empty list would mean no constraint at all).
    const err = await rootMount.fails("write", "root/sign-intermediate", { csr, common_name: "Sub", ttl: "100h", permitted_dns_domains: ["other.org"] });
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/outside the signing certificate's permitted DNS domains/);
    // The narrowed sub-CA issues inside its subtree, and openssl accepts the chain.
    await intMount.call("write", "intermediate/set-signed", { certificate: `${narrowed}\n${rootCert}` });
    await intMount.call("write", "roles/web", { allowed_domains: "a.example.com", allow_subdomains: true, max_ttl: "1h", key_type: "ec" });
    const leaf = (await intMount.data("write", "issue/web", { common_name: "x.a.example.com", ttl: "1h" })).certificate as string;
    expect(verify(rootCert, leaf, narrowed)).toMatch(/OK/);
  });
});
