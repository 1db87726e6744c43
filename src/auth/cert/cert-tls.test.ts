/**
 * cert login end to end: a real server on a TLS listener that asks for (but does not require) a client
 * certificate, clients presenting theirs in the handshake, and hvac (Debian's python3-hvac) doing the
 * same (skipped with a warning when hvac is not importable; fails under CI).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";
import { TestPki, type TestCert } from "./test-pki.test-util.js";
import { startTlsServer, tlsApi, type TlsServer } from "./tls-server.test-util.js";

const pki = new TestPki();
let ca: TestCert;
let client: TestCert;
let stranger: TestCert;
let s: TlsServer;

beforeAll(async () => {
  ca = pki.make("ca", { subject: "/CN=cert-tls CA", ca: true });
  client = pki.make("client", { subject: "/CN=svc-client", issuer: ca });
  const strangerCa = pki.make("stranger-ca", { subject: "/CN=cert-tls CA", ca: true });
  stranger = pki.make("stranger", { subject: "/CN=svc-client", issuer: strangerCa });
  s = await startTlsServer(pki, ca);
  const ok = async (method: string, path: string, body: unknown) => expect((await tlsApi(s, method, path, { token: s.root, body })).status).toBeLessThan(300);
  await ok("POST", "sys/auth/cert", { type: "cert" });
  await ok("POST", "sys/policies/acl/svc", { policy: 'path "secret/*" { capabilities = ["read"] }' });
  await ok("POST", "auth/cert/certs/web", { certificate: ca.pem, allowed_common_names: "svc-*", token_policies: "svc", token_ttl: "1h" });
});
afterAll(async () => {
  await s.stop();
  pki.remove();
});

describe("cert login over a real TLS listener", () => {
  it("the client certificate of the handshake logs in; the token works", async () => {
    const r = await tlsApi(s, "POST", "auth/cert/login", { client });
    expect(r.status).toBe(200);
    const auth = r.body.auth as { client_token: string; policies: string[]; metadata: Record<string, string> };
    expect(auth.policies).toEqual(["default", "svc"]);
    expect(auth.metadata).toMatchObject({ cert_name: "web", common_name: "svc-client" });
    expect((await tlsApi(s, "GET", "auth/token/lookup-self", { token: auth.client_token })).status).toBe(200);
  });

  it("no certificate, or one from another CA, is a clear 400 and the server keeps answering", async () => {
    expect(await tlsApi(s, "POST", "auth/cert/login")).toEqual({ status: 400, body: { errors: ["client certificate must be supplied"] } });
    expect(await tlsApi(s, "POST", "auth/cert/login", { client: stranger })).toEqual({ status: 400, body: { errors: ["invalid certificate or no client certificate supplied"] } });
    expect((await tlsApi(s, "GET", "sys/health")).status).toBe(200);
  });
});

describe("renewing a cert login token (OpenBao's pathLoginRenew)", () => {
  it("renews over a connection with the login's certificate, and refuses one without it", async () => {
    const login = await tlsApi(s, "POST", "auth/cert/login", { client });
    const token = (login.body.auth as { client_token: string }).client_token;
    const renewed = await tlsApi(s, "POST", "auth/token/renew-self", { token, client });
    expect(renewed.status, JSON.stringify(renewed.body)).toBe(200);
    expect((renewed.body.auth as { client_token: string }).client_token).toBe(token);
    expect(await tlsApi(s, "POST", "auth/token/renew-self", { token })).toEqual({ status: 400, body: { errors: ["client certificate must be supplied"] } });
    expect(await tlsApi(s, "POST", "auth/token/renew-self", { token, client: stranger })).toEqual({ status: 400, body: { errors: ["invalid certificate or no client certificate supplied"] } });
    // Once its certificate entry is gone, nothing renews the token.
    expect((await tlsApi(s, "POST", "auth/cert/certs/gone", { token: s.root, body: { certificate: ca.pem, allowed_common_names: "svc-*" } })).status).toBe(204);
    const gone = await tlsApi(s, "POST", "auth/cert/login", { client, body: { name: "gone" } });
    const goneToken = (gone.body.auth as { client_token: string }).client_token;
    expect((await tlsApi(s, "DELETE", "auth/cert/certs/gone", { token: s.root })).status).toBe(204);
    expect((await tlsApi(s, "POST", "auth/token/renew-self", { token: goneToken, client })).status).toBe(400);
    // Tokens from elsewhere renew as before.
    const plain = await tlsApi(s, "POST", "auth/token/create", { token: s.root, body: { ttl: "1h" } });
    expect((await tlsApi(s, "POST", "auth/token/renew-self", { token: (plain.body.auth as { client_token: string }).client_token })).status).toBe(200);
  });
});

describe("cert login over plain HTTP", () => {
  let plain: RunningServer;
  beforeAll(async () => {
    plain = await devServer();
    await api(plain.url, "POST", "sys/auth/cert", { token: plain.rootToken, body: { type: "cert" } });
    await api(plain.url, "POST", "auth/cert/certs/web", { token: plain.rootToken, body: { certificate: ca.pem } });
  });
  afterAll(async () => plain.stop());

  it("is refused with a 400 that says why", async () => {
    const r = await api(plain.url, "POST", "auth/cert/login", { body: {} });
    expect(r.status).toBe(400);
    expect(r.body?.errors).toEqual(["cert login needs a client certificate, which is only sent over TLS: this request came over plain HTTP"]);
  });
});

// Debian's interpreter on purpose: the python3 first on PATH may be another installation without hvac.
const PYTHON = "/usr/bin/python3";
const COMPAT = join(dirname(fileURLToPath(import.meta.url)), "../../../test/compat");

function runScript(script: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      PYTHON,
      [join(COMPAT, script)],
      { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PYTHONDONTWRITEBYTECODE: "1", NO_PROXY: "*", ...env }, timeout: 50_000, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

const probe = existsSync(PYTHON) ? await runScript("hvac_probe.py", {}) : { code: 127, stdout: "", stderr: `${PYTHON} does not exist` };
if (probe.code !== 0) {
  const why = `hvac is not importable with ${PYTHON}: ${probe.stderr.trim() || `exit ${probe.code}`}`;
  if (process.env.CI === "true") throw new Error(`${why} (CI=true: the compatibility suite must run)`);
  console.warn(`skipping the hvac cert login: ${why}`);
}

describe.skipIf(probe.code !== 0)("hvac: cert auth", () => {
  it("an admin creates a CA role with hvac; a client logs in with its certificate and key files", async () => {
    const r = await runScript("hvac_cert.py", {
      ARCA_URL: s.url,
      ARCA_TOKEN: s.root,
      ARCA_CA: ca.pemPath,
      CLIENT_CERT: client.pemPath,
      CLIENT_KEY: client.keyPath,
      STRANGER_CERT: stranger.pemPath,
      STRANGER_KEY: stranger.keyPath,
    });
    if (r.code !== 0) throw new Error(`hvac_cert.py exited ${r.code}:\n${r.stderr.trim()}\nstdout: ${r.stdout.trim()}`);
    expect(JSON.parse(r.stdout)).toEqual({
      role: { allowed_common_names: ["svc-client"], token_policies: ["svc"], token_ttl: 1200, display_name: "hvac-role" },
      roles_include_hvac: true,
      login: { policies: ["default", "svc"], metadata: { cert_name: "hvac", common_name: "svc-client" }, lease_duration: 1200, renewable: true },
      is_authenticated: true,
      stranger: { exception: "InvalidRequest", errors: ["invalid certificate or no client certificate supplied"] },
      after_delete: { exception: "InvalidRequest", errors: ["invalid certificate or no client certificate supplied"] },
    });
  });
});
