// auto_auth against a real dev server (AppRole, userpass) and a real server on a TLS listener (cert).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../test/servers.js";
import type { RunningServer } from "../server/server.js";
import { TestPki, type TestCert } from "../auth/cert/test-pki.test-util.js";
import { startTlsServer, tlsApi, type TlsServer } from "../auth/cert/tls-server.test-util.js";
import { AgentAuthError, AutoAuth } from "./auto-auth.js";
import type { AutoAuthConfig, VaultConfig } from "./config.js";

let s: RunningServer;
let root: string;
let work: string;
let vault: VaultConfig;
const f = (name: string) => join(work, name);

async function ok(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const r = await api(s.url, method, path, { token: root, body });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return (r.body?.data as Record<string, unknown> | undefined) ?? {};
}

async function lookup(token: string): Promise<number> {
  return (await api(s.url, "GET", "auth/token/lookup-self", { token })).status;
}

beforeAll(async () => {
  s = await devServer();
  root = s.rootToken ?? "";
  work = mkdtempSync(join(tmpdir(), "arca-agent-auth-"));
  vault = { address: s.url, tlsSkipVerify: false };
  await ok("POST", "sys/auth/approle", { type: "approle" });
  await ok("POST", "auth/approle/role/agent", { token_ttl: "1h" });
  writeFileSync(f("role-id"), String((await ok("GET", "auth/approle/role/agent/role-id")).role_id));
  await ok("POST", "sys/auth/userpass", { type: "userpass" });
  await ok("POST", "auth/userpass/users/svc", { password: "correct horse", token_ttl: "1h" });
});

afterAll(async () => {
  await s.stop();
  rmSync(work, { recursive: true, force: true });
});

function approle(sink: string, remove = true): AutoAuthConfig {
  return {
    method: { type: "approle", mountPath: "auth/approle", roleIdFile: f("role-id"), secretIdFile: f("secret-id"), removeSecretIdFile: remove },
    sinks: [{ path: sink, mode: 0o640 }],
  };
}

describe("auto_auth", () => {
  it("approle: logs in, writes the sink (0640), consumes the secret ID file and logs in again near expiry with the ID it kept", async () => {
    writeFileSync(f("secret-id"), `${String((await ok("POST", "auth/approle/role/agent/secret-id")).secret_id)}\n`);
    let now = Date.now();
    const auth = new AutoAuth(vault, approle(f("sink-a")), () => now);
    const first = await auth.token();
    expect(await lookup(first)).toBe(200);
    expect(existsSync(f("secret-id"))).toBe(false);
    expect(readFileSync(f("sink-a"), "utf8")).toBe(first);
    expect(statSync(f("sink-a")).mode & 0o777).toBe(0o640);
    expect(await auth.token()).toBe(first);
    // 1h token: within its last 30 s the agent logs in again rather than use it.
    now += 3600_000 - 10_000;
    const second = await auth.token();
    expect(second).not.toBe(first);
    expect(readFileSync(f("sink-a"), "utf8")).toBe(second);
  });

  it("approle: keeps the secret ID file when told to, and invalidate() forces a new login", async () => {
    writeFileSync(f("secret-id"), String((await ok("POST", "auth/approle/role/agent/secret-id")).secret_id));
    const auth = new AutoAuth(vault, approle(f("sink-b"), false));
    const first = await auth.token();
    expect(existsSync(f("secret-id"))).toBe(true);
    auth.invalidate();
    expect(await auth.token()).not.toBe(first);
  });

  it("approle: a refused secret ID is one clear error that does not quote it", async () => {
    writeFileSync(f("secret-id"), "not-a-secret-id-0123456789");
    const err = await new AutoAuth(vault, approle(f("sink-c"))).token().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentAuthError);
    expect((err as Error).message).toMatch(/^auto_auth: approle login at auth\/approle\/login failed \(HTTP 400/);
    expect((err as Error).message).not.toContain("not-a-secret-id");
    expect(existsSync(f("sink-c"))).toBe(false);
  });

  it("userpass: logs in with the password from its file", async () => {
    writeFileSync(f("password"), "correct horse\n");
    const auth = new AutoAuth(vault, { method: { type: "userpass", mountPath: "auth/userpass", username: "svc", passwordFile: f("password") }, sinks: [] });
    expect(await lookup(await auth.token())).toBe(200);
  });

  describe("cert", () => {
    // A real server on a TLS listener: the agent's client certificate is judged by the cert auth method.
    const pki = new TestPki();
    let tls: TlsServer;
    let ca: TestCert;
    let client: TestCert;
    let stranger: TestCert;
    beforeAll(async () => {
      ca = pki.make("ca", { subject: "/CN=agent test CA", ca: true });
      client = pki.make("client", { subject: "/CN=svc-client", issuer: ca });
      stranger = pki.make("stranger", { subject: "/CN=svc-client", issuer: pki.make("stranger-ca", { subject: "/CN=agent test CA", ca: true }) });
      tls = await startTlsServer(pki, ca);
      for (const [path, body] of [
        ["sys/auth/cert", { type: "cert" }],
        ["auth/cert/certs/agent", { certificate: ca.pem, allowed_common_names: "svc-client", token_ttl: "1h" }],
      ] as const) expect((await tlsApi(tls, "POST", path, { token: tls.root, body })).status).toBe(204);
    });
    afterAll(async () => {
      await tls.stop();
      pki.remove();
    });

    const certAuth = (m: { clientCert?: string; clientKey?: string; name?: string }) =>
      new AutoAuth({ address: tls.url, caCert: ca.pemPath, tlsSkipVerify: false }, { method: { type: "cert", mountPath: "auth/cert", ...m }, sinks: [] });

    it("logs in with the configured client certificate; the token works", async () => {
      const token = await certAuth({ clientCert: client.pemPath, clientKey: client.keyPath, name: "agent" }).token();
      const self = await tlsApi(tls, "GET", "auth/token/lookup-self", { token });
      expect(self.status).toBe(200);
      expect((self.body.data as { meta: Record<string, string> }).meta).toMatchObject({ cert_name: "agent", common_name: "svc-client" });
    });

    it("without a certificate, or with one the server does not trust, is one clear error", async () => {
      await expect(certAuth({}).token()).rejects.toThrow(/^auto_auth: cert login at auth\/cert\/login failed \(HTTP 400: client certificate must be supplied\)/);
      await expect(certAuth({ clientCert: stranger.pemPath, clientKey: stranger.keyPath }).token()).rejects.toThrow(/HTTP 400: invalid certificate or no client certificate supplied/);
    });
  });
});
