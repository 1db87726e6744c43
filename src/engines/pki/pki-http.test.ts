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

describe("OCSP GET with slashes in the base64 request", () => {
  it("routes a request whose base64 contains '//' to the OCSP handler", async () => {
    // Not a valid OCSP request: what matters is that it reaches the OCSP handler (an OCSP error answer),
    // not "unsupported path".
    const res = await fetch(`${s.url}/v1/pki/ocsp/MEow//SDBGMEQw`);
    expect(res.headers.get("content-type")).toBe("application/ocsp-response");
  });
});
