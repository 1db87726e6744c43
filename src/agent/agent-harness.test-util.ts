// Shared by the agent's integration tests (SoftHSM and swtpm): an Arca dev server with a PKI mount, an EC
// root, roles and an AppRole login for the agent; the agent's config file; OpenSSL's pkcs11 engine
// configuration for a token. The process helpers for openssl, nginx and curl are in test/processes.ts
// (re-exported here), shared with the unsealer's TPM test.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { hasCommand } from "../../test/processes.js";
import { api, devServer } from "../../test/servers.js";
import type { RunningServer } from "../server/server.js";

export { freePort, hasCommand, runCommand, startProcess, waitForPort, type Spawned } from "../../test/processes.js";

export const ENGINE_SO = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so";

/** The OpenSSL pkcs11 engine (Debian's libengine-pkcs11-openssl): required on CI, skipped elsewhere. */
export function engineAvailable(): boolean {
  const ok = existsSync(ENGINE_SO) && hasCommand("openssl");
  if (!ok && process.env.CI === "true") throw new Error(`the OpenSSL pkcs11 engine is required on CI (${ENGINE_SO}: apt-get install libengine-pkcs11-openssl)`);
  return ok;
}

export interface ArcaPki {
  server: RunningServer;
  root: string;
  caPem: string;
  roleId: string;
  /** A fresh secret ID (each login may consume the file). */
  secretId(): Promise<string>;
}

/** Dev server, pki/ with an EC root, role `svc` (localhost, *.svc.test, IPs), role `short` (9 s), AppRole `agent`. */
export async function arcaWithPki(): Promise<ArcaPki> {
  const server = await devServer();
  const root = server.rootToken ?? "";
  const ok = async (method: string, path: string, body?: unknown) => {
    const r = await api(server.url, method, path, { token: root, body });
    if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  };
  await ok("POST", "sys/mounts/pki", { type: "pki", config: { max_lease_ttl: "8760h" } });
  const gen = await ok("POST", "pki/root/generate/internal", { common_name: "Arca Agent Test Root", key_type: "ec", key_bits: 256, ttl: "8760h" });
  const caPem = String((gen.body?.data as Record<string, unknown>).certificate);
  const names = { allowed_domains: "localhost,svc.test", allow_bare_domains: true, allow_subdomains: true, allow_localhost: true, allow_ip_sans: true, key_type: "any" };
  await ok("POST", "pki/roles/svc", { ...names, ttl: "1h", max_ttl: "24h" });
  await ok("POST", "pki/roles/short", { ...names, ttl: "9s", max_ttl: "9s", not_before_duration: "1s" });
  await ok("PUT", "sys/policies/acl/agent", { policy: `path "pki/sign/*" { capabilities = ["update"] }` });
  await ok("POST", "sys/auth/approle", { type: "approle" });
  await ok("POST", "auth/approle/role/agent", { token_policies: ["agent"], token_ttl: "1h" });
  const roleId = String(((await ok("GET", "auth/approle/role/agent/role-id")).body?.data as Record<string, unknown>).role_id);
  const secretId = async () => String(((await ok("POST", "auth/approle/role/agent/secret-id")).body?.data as Record<string, unknown>).secret_id);
  return { server, root, caPem, roleId, secretId };
}

export interface TokenForOpenssl {
  lib: string;
  label: string;
  pin: string;
}

/** An OpenSSL config that loads the pkcs11 engine for `token`'s library, PIN included (the test's token only). */
export function writeOpensslConf(dir: string, token: TokenForOpenssl): string {
  const path = join(dir, "openssl-pkcs11.cnf");
  writeFileSync(
    path,
    [
      "openssl_conf = openssl_init",
      "[openssl_init]",
      "engines = engine_section",
      "[engine_section]",
      "pkcs11 = pkcs11_section",
      "[pkcs11_section]",
      "engine_id = pkcs11",
      `dynamic_path = ${ENGINE_SO}`,
      `MODULE_PATH = ${token.lib}`,
      `PIN = ${token.pin}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return path;
}

export function expectOk(r: { code: number | null; out: string }, what: string): void {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${String(r.code)}): ${r.out}`);
  expect(r.code).toBe(0);
}
