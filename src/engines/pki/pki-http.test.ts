/**
 * PKI over real HTTP: unauthenticated CA/CRL fetches, cert-manager's sign request, and OCSP by POST
 * with a binary body as `openssl ocsp -url` sends it.
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";

const dir = mkdtempSync(join(tmpdir(), "arca-pki-http-"));
let s: RunningServer;
let root: string;

beforeAll(async () => {
  s = await devServer();
  root = s.rootToken!;
  expect((await api(s.url, "POST", "sys/mounts/pki", { token: root, body: { type: "pki" } })).status).toBe(204);
  const gen = await api(s.url, "POST", "pki/root/generate/internal", { token: root, body: { common_name: "Arca Test Root", key_type: "ec", key_bits: 256, ttl: "8760h" } });
  expect(gen.status).toBe(200);
  await api(s.url, "POST", "pki/roles/web", { token: root, body: { allowed_domains: "example.test", allow_subdomains: "true", max_ttl: "2160h", key_type: "ec" } });
});
afterAll(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("PKI over HTTP", () => {
  it("serves the CA and CRL without a token, in PEM and DER", async () => {
    const pem = await fetch(`${s.url}/v1/pki/ca/pem`);
    expect(pem.status).toBe(200);
    expect(await pem.text()).toContain("-----BEGIN CERTIFICATE-----");
    const der = await fetch(`${s.url}/v1/pki/ca`);
    expect(der.headers.get("content-type")).toBe("application/pkix-cert");
    const crl = await fetch(`${s.url}/v1/pki/crl/pem`);
    expect(await crl.text()).toContain("-----BEGIN X509 CRL-----");
  });

  it("signs cert-manager's request (every value a string) and answers OCSP POSTs from openssl", async () => {
    execFileSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "leaf.key"), "-out", join(dir, "leaf.csr"), "-subj", "/CN=app.example.test"], { stdio: "ignore" });
    const csr = execFileSync("cat", [join(dir, "leaf.csr")]).toString();
    const signed = await api(s.url, "POST", "pki/sign/web", {
      token: root,
      body: { common_name: "app.example.test", alt_names: "app.example.test,www.example.test", ip_sans: "", uri_sans: "", ttl: "2160h0m0s", csr, exclude_cn_from_sans: "true" },
    });
    expect(signed.status).toBe(200);
    const data = signed.body?.data as { certificate: string; issuing_ca: string; ca_chain: string[]; serial_number: string };
    writeFileSync(join(dir, "leaf.pem"), data.certificate);
    writeFileSync(join(dir, "ca.pem"), data.issuing_ca);
    expect(execFileSync("openssl", ["verify", "-CAfile", join(dir, "ca.pem"), join(dir, "leaf.pem")]).toString()).toContain("OK");

    // openssl talks to the server in this process: run it asynchronously so the server can answer.
    const ocsp = async (): Promise<string> => {
      const { stdout, stderr } = await promisify(execFile)("openssl", ["ocsp", "-issuer", join(dir, "ca.pem"), "-cert", join(dir, "leaf.pem"), "-url", `${s.url}/v1/pki/ocsp`, "-CAfile", join(dir, "ca.pem")]);
      return stdout + stderr;
    };
    const good = await ocsp();
    expect(good).toMatch(/Response verify OK/);
    expect(good).toMatch(/leaf\.pem: good/);
    await api(s.url, "POST", "pki/revoke", { token: root, body: { serial_number: data.serial_number } });
    expect(await ocsp()).toMatch(/leaf\.pem: revoked/);
  });
});

describe("cert-manager's default ttl=2160h0m0s against a shorter role max_ttl", () => {
  it("is capped with a warning in the envelope, not refused", async () => {
    await api(s.url, "POST", "pki/roles/short", { token: root, body: { allowed_domains: "example.test", allow_subdomains: "true", max_ttl: "720h", key_type: "ec" } });
    execFileSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "short.key"), "-out", join(dir, "short.csr"), "-subj", "/CN=short.example.test"], { stdio: "ignore" });
    const csr = execFileSync("cat", [join(dir, "short.csr")]).toString();
    const signed = await api(s.url, "POST", "pki/sign/short", { token: root, body: { common_name: "short.example.test", ttl: "2160h0m0s", csr } });
    expect(signed.status).toBe(200);
    expect(signed.body?.warnings).toEqual(['TTL "2160h0m0s" is longer than permitted maxTTL "720h0m0s", so maxTTL is being used']);
    const expiration = (signed.body?.data as { expiration: number }).expiration;
    expect(Math.abs(expiration - Math.floor(Date.now() / 1000) - 720 * 3600)).toBeLessThan(10);
  });
});

describe("a role without ttl / max_ttl takes the mount's tuned lease TTLs (OpenBao's order)", () => {
  it("defaults to the mount's default_lease_ttl and caps at its max_lease_ttl with the warning", async () => {
    expect((await api(s.url, "POST", "sys/mounts/pki-tuned", { token: root, body: { type: "pki", config: { default_lease_ttl: "2h", max_lease_ttl: "100h" } } })).status).toBe(204);
    await api(s.url, "POST", "pki-tuned/root/generate/internal", { token: root, body: { common_name: "Tuned Root", key_type: "ec", ttl: "1000h" } });
    await api(s.url, "POST", "pki-tuned/roles/open", { token: root, body: { allowed_domains: "example.test", allow_subdomains: "true", key_type: "ec" } });
    const now = Math.floor(Date.now() / 1000);
    const plain = await api(s.url, "POST", "pki-tuned/issue/open", { token: root, body: { common_name: "a.example.test" } });
    expect(Math.abs((plain.body?.data as { expiration: number }).expiration - now - 2 * 3600)).toBeLessThan(10);
    expect(plain.body?.warnings).toBeNull();
    const long = await api(s.url, "POST", "pki-tuned/issue/open", { token: root, body: { common_name: "a.example.test", ttl: "2160h0m0s" } });
    expect(long.body?.warnings).toEqual(['TTL "2160h0m0s" is longer than permitted maxTTL "100h0m0s", so maxTTL is being used']);
    expect(Math.abs((long.body?.data as { expiration: number }).expiration - now - 100 * 3600)).toBeLessThan(10);
  });
});

describe("OCSP GET with slashes in the base64 request", () => {
  it("routes a request whose base64 contains '//' to the OCSP handler", async () => {
    // Not a valid OCSP request: what matters is that it reaches the OCSP handler (an OCSP error answer),
    // not "unsupported path".
    const res = await fetch(`${s.url}/v1/pki/ocsp/MEow//SDBGMEQw`);
    expect(res.headers.get("content-type")).toBe("application/ocsp-response");
  });
});

describe("PKI HTTP caching: Last-Modified and If-Modified-Since → 304", () => {
  it("answers conditional GETs of the CA and CRLs, and serves in full once they change", async () => {
    const mount = "pki-cache";
    expect((await api(s.url, "POST", `sys/mounts/${mount}`, { token: root, body: { type: "pki" } })).status).toBe(204);
    const first = await api(s.url, "POST", `${mount}/root/generate/internal`, { token: root, body: { common_name: "Cache Root", key_type: "ec", ttl: "100h", issuer_name: "one" } });
    const issuerId = (first.body?.data as { issuer_id: string }).issuer_id;
    await api(s.url, "POST", `${mount}/roles/web`, { token: root, body: { allowed_domains: "example.test", allow_subdomains: true, key_type: "ec" } });
    const leaf = await api(s.url, "POST", `${mount}/issue/web`, { token: root, body: { common_name: "c.example.test", ttl: "1h" } });
    const serial = (leaf.body?.data as { serial_number: string }).serial_number;

    const caPaths = ["ca", "ca/pem", "cert/ca_chain"];
    const crlPaths = ["crl", "crl/pem", `issuer/${issuerId}/crl`, `issuer/${issuerId}/crl/der`, `issuer/${issuerId}/crl/pem`];
    const get = (path: string, since?: string) => fetch(`${s.url}/v1/${mount}/${path}`, { headers: since ? { "If-Modified-Since": since } : {} });
    const stamps = new Map<string, string>();
    for (const p of [...caPaths, ...crlPaths]) {
      const full = await get(p);
      expect(full.status, p).toBe(200);
      const lm = full.headers.get("last-modified");
      expect(lm, p).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
      stamps.set(p, lm!);
      const again = await get(p, lm!);
      expect(again.status, p).toBe(304);
      expect(await again.text(), p).toBe("");
      // A copy older than the resource gets it in full.
      const older = new Date(Date.parse(lm!) - 3600_000).toUTCString();
      expect((await get(p, older)).status, p).toBe(200);
      // A date that does not parse is ignored.
      expect((await get(p, "yesterday-ish")).status, p).toBe(200);
    }

    // HTTP dates have whole seconds: change things in a later second than the stamps.
    await new Promise((r) => setTimeout(r, 1100));
    await api(s.url, "POST", `${mount}/root/rotate/internal`, { token: root, body: { common_name: "Cache Root 2", key_type: "ec", ttl: "100h" } });
    // A root beside the default changes nothing that ca serves.
    expect((await get("ca/pem", stamps.get("ca/pem"))).status).toBe(304);
    expect((await api(s.url, "POST", `${mount}/root/replace`, { token: root, body: {} })).status).toBe(200);
    await api(s.url, "POST", `${mount}/revoke`, { token: root, body: { serial_number: serial } });
    for (const p of caPaths) {
      const r = await get(p, stamps.get(p));
      expect(r.status, p).toBe(200);
      expect(Date.parse(r.headers.get("last-modified")!), p).toBeGreaterThan(Date.parse(stamps.get(p)!));
    }
    expect(await (await get("ca/pem", stamps.get("ca/pem"))).text()).toContain("-----BEGIN CERTIFICATE-----");
    // The issuer-scoped CRL of the first root was rebuilt by the revocation.
    for (const p of crlPaths.filter((x) => x.startsWith("issuer/"))) {
      const r = await get(p, stamps.get(p));
      expect(r.status, p).toBe(200);
    }
  });
});

describe("PKI generate_lease over HTTP", () => {
  it("puts the certificate's lease in the response envelope", async () => {
    await api(s.url, "POST", "pki/roles/leased", { token: root, body: { allowed_domains: "example.test", allow_subdomains: "true", key_type: "ec", generate_lease: "true" } });
    const r = await api(s.url, "POST", "pki/issue/leased", { token: root, body: { common_name: "l.example.test", ttl: "1h" } });
    expect(r.status).toBe(200);
    expect(r.body?.lease_id).toMatch(/^pki\/issue\/leased\/[0-9a-f-]{36}$/);
    expect(r.body?.lease_duration).toBeGreaterThan(3590);
    expect(r.body?.renewable).toBe(false);
  });
});
