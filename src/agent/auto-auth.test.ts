// auto_auth against a real dev server (AppRole, userpass) and a stub TLS endpoint (cert: Arca has no cert
// auth method, so the stub stands in for OpenBao's and checks that the client certificate is presented).
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../test/servers.js";
import type { RunningServer } from "../server/server.js";
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
    let stub: Server;
    let url: string;
    beforeAll(async () => {
      const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: work, stdio: "ignore" });
      openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=stub CA", "-days", "1", "-addext", "subjectAltName=DNS:localhost"]);
      openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=svc-client"]);
      openssl(["x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.pem", "-days", "1"]);
      stub = createServer({ key: readFileSync(f("ca.key")), cert: readFileSync(f("ca.pem")), ca: readFileSync(f("ca.pem")), requestCert: true, rejectUnauthorized: false }, (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        const authorized = (req.socket as TLSSocket).authorized && peer.subject?.CN === "svc-client" && req.url === "/v1/auth/cert/login";
        res.writeHead(authorized ? 200 : 400, { "Content-Type": "application/json" });
        res.end(JSON.stringify(authorized ? { auth: { client_token: "s.fromcert", lease_duration: 60 } } : { errors: ["client certificate required"] }));
      });
      await new Promise<void>((r) => stub.listen(0, "127.0.0.1", r));
      const a = stub.address();
      url = `https://localhost:${typeof a === "object" && a ? a.port : 0}`;
    });
    afterAll(() => stub.close());

    it("presents the configured client certificate to auth/cert/login", async () => {
      const auth = new AutoAuth({ address: url, caCert: f("ca.pem"), tlsSkipVerify: false }, { method: { type: "cert", mountPath: "auth/cert", clientCert: f("client.pem"), clientKey: f("client.key") }, sinks: [] });
      expect(await auth.token()).toBe("s.fromcert");
      const without = new AutoAuth({ address: url, caCert: f("ca.pem"), tlsSkipVerify: false }, { method: { type: "cert", mountPath: "auth/cert" }, sinks: [] });
      await expect(without.token()).rejects.toThrow(/cert login at auth\/cert\/login failed \(HTTP 400: client certificate required\)/);
    });
  });
});
