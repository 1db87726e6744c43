// Sealable namespaces (beyond OpenBao): a tenant's keyring wrapped by the tenant's own AES key in SoftHSM,
// reached through the same PKCS#11 code a hardware HSM uses. Seal and unseal the tenant alone; when its
// key goes away the tenant seals itself on next use and says why; when the key comes back, unseal restores
// everything; restarts keep an operator's seal.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import { api, devServer } from "../../../test/servers.js";
import { sealedConfig, startSealed } from "../../../test/hsm-servers.js";
import { cleanupSoftHsm, createSoftHsmToken, pkcs11Tool, softHsmAvailable, type SoftHsmToken } from "../../../test/softhsm.js";
import type { RunningServer } from "../../server/server.js";
import type { ServerConfig } from "../../server/config.js";

const hsm = softHsmAvailable();
let dir: string;
let token: SoftHsmToken;
let config: ServerConfig;
let server: RunningServer;
let root: string;
let unsealKey: Buffer;
const keyMaterial = randomBytes(32);
const KEY_ID = randomBytes(4).toString("hex");

function call(method: string, path: string, opts: { ns?: string; body?: unknown; token?: string } = {}) {
  return api(server.url, method, path, { token: opts.token ?? root, body: opts.body, headers: opts.ns ? { "X-Vault-Namespace": opts.ns } : {} });
}

/** The tenant's key, imported as a customer would bring it (sensitive, usable for encrypt/decrypt only inside). */
function importTenantKey(): void {
  const file = join(dir, "tenant.key");
  writeFileSync(file, keyMaterial, { mode: 0o600 });
  try {
    pkcs11Tool(token, ["--write-object", file, "--type", "secrkey", "--key-type", "AES:32", "--label", "tenant-crk", "--id", KEY_ID, "--sensitive"]);
  } finally {
    rmSync(file, { force: true });
  }
}

function removeTenantKey(): void {
  pkcs11Tool(token, ["--delete-object", "--type", "secrkey", "--id", KEY_ID]);
}

const keyUri = (): string => `pkcs11:token=${token.label};id=${KEY_ID.replace(/../g, "%$&")};type=secret-key`;

async function start(): Promise<void> {
  server = await startSealed(config);
  if (!(await server.core.isInitialized())) {
    const init = await server.core.initialize({ secretShares: 1, secretThreshold: 1 });
    root = init.rootToken;
    unsealKey = init.keys[0];
  }
  await server.core.submitUnsealShare(Buffer.from(unsealKey));
}

describe.skipIf(!hsm)("sealable namespaces (tenant key in SoftHSM)", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "arca-nsseal-"));
    token = createSoftHsmToken({ label: "tenant" });
    config = sealedConfig(dir, [], [{ name: "tenants", lib: token.libPath, tokenLabel: token.label, pin: token.pin }]);
    importTenantKey();
    await start();
    // The tenant's own key is an operator's grant: namespaces may be sealed only by granted keys.
    const granted = await call("POST", "sys/managed-keys/pkcs11/tenant-crk", { body: { uri: keyUri() } });
    expect(granted.status, JSON.stringify(granted.body)).toBe(200);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
    token?.cleanup();
    cleanupSoftHsm();
  });

  /** A sealable tenant with a KV v2 secret and a child namespace holding a KV v1 entry, beside a plain one. */
  async function tenant(): Promise<{ ns: string; other: string }> {
    const ns = `tenant-${randomUUID().slice(0, 6)}`;
    const other = `plain-${randomUUID().slice(0, 6)}`;
    const created = await call("POST", `sys/namespaces/${ns}`, { body: { seal: { type: "pkcs11", key_uri: keyUri() }, custom_metadata: { customer: "a" } } });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body?.data).toMatchObject({ path: `${ns}/`, sealable: true, sealed: false, key_uri: keyUri() });
    expect((await call("POST", `sys/namespaces/${other}`, { body: {} })).status).toBe(200);
    for (const n of [ns, other]) {
      expect((await call("POST", "sys/mounts/secret", { ns: n, body: { type: "kv", options: { version: "2" } } })).status).toBe(204);
      expect((await call("POST", "secret/data/db", { ns: n, body: { data: { password: `pw-${n}` } } })).status).toBe(200);
    }
    expect((await call("POST", "sys/namespaces/team", { ns, body: {} })).status).toBe(200);
    expect((await call("POST", "sys/mounts/kv", { ns: `${ns}/team`, body: { type: "kv" } })).status).toBe(204);
    expect((await call("PUT", "kv/x", { ns: `${ns}/team`, body: { v: "team" } })).status).toBe(204);
    return { ns, other };
  }

  async function expectWhole(ns: string): Promise<void> {
    expect((await call("GET", "secret/data/db", { ns })).body?.data).toMatchObject({ data: { password: `pw-${ns}` } });
    expect((await call("GET", "kv/x", { ns: `${ns}/team` })).body?.data).toEqual({ v: "team" });
  }

  it("creates a tenant namespace whose keyring the tenant key wraps, seals and unseals it alone", async () => {
    const { ns, other } = await tenant();
    expect((await call("PUT", `sys/namespaces/${ns}/seal`)).status).toBe(204);
    for (const [n, path] of [
      [ns, "secret/data/db"],
      [`${ns}/team`, "kv/x"],
      [ns, "sys/mounts"],
    ]) {
      const r = await call("GET", path, { ns: n });
      expect(r.status, `${n} ${path}`).toBe(503);
      expect((r.body?.errors as string[])[0]).toBe("namespace is sealed");
    }
    const status = await call("GET", `sys/namespaces/${ns}/seal-status`);
    expect(status.body?.data).toMatchObject({ type: "pkcs11", sealed: true, sealed_reason: "sealed by an operator" });
    // The rest of the server is untouched.
    expect((await call("GET", "secret/data/db", { ns: other })).body?.data).toMatchObject({ data: { password: `pw-${other}` } });
    expect((await call("GET", "sys/seal-status")).body?.sealed).toBe(false);

    // Concurrent unseals share one: every caller sees it unsealed, and the tenant is set up once.
    const unseals = await Promise.all(Array.from({ length: 5 }, () => call("PUT", `sys/namespaces/${ns}/unseal`, { body: {} })));
    for (const unsealed of unseals) {
      expect(unsealed.status).toBe(200);
      expect(unsealed.body?.data).toMatchObject({ sealed: false });
    }
    await expectWhole(ns);
  });

  it("seals itself when the tenant key is removed, says why, and comes back whole when the key returns", async () => {
    const { ns, other } = await tenant();
    await expectWhole(ns);
    removeTenantKey();
    try {
      const refused = await call("GET", "secret/data/db", { ns });
      expect(refused.status).toBe(503);
      const errors = refused.body?.errors as string[];
      expect(errors[0]).toBe("namespace is sealed");
      expect(errors[1]).toMatch(/key/i);
      const status = (await call("GET", `sys/namespaces/${ns}/seal-status`)).body?.data as { sealed: boolean; sealed_reason: string };
      expect(status.sealed).toBe(true);
      expect(status.sealed_reason).toMatch(/key/i);
      expect((await call("GET", "kv/x", { ns: `${ns}/team` })).status).toBe(503);
      // While the key is away, unseal cannot succeed and says why.
      const early = await call("PUT", `sys/namespaces/${ns}/unseal`, { body: {} });
      expect(early.status).toBe(503);
      expect((early.body?.errors as string[])[1]).toMatch(/key/i);
      expect((await call("GET", "secret/data/db", { ns: other })).status).toBe(200);
    } finally {
      importTenantKey();
    }
    expect((await call("PUT", `sys/namespaces/${ns}/unseal`, { body: {} })).status).toBe(200);
    await expectWhole(ns);
  });

  it("after a restart the tenant unseals with its key, and an operator's seal survives the restart", async () => {
    const kept = await tenant();
    const id = `t${randomUUID().slice(0, 6)}`;
    expect((await call("POST", `sys/namespaces/${id}`, { body: { seal: { type: "pkcs11", key_uri: keyUri() } } })).status).toBe(200);
    expect((await call("PUT", `sys/namespaces/${id}/seal`)).status).toBe(204);
    await server.stop();
    await start();
    await expectWhole(kept.ns);
    expect((await call("GET", "sys/mounts", { ns: id })).status).toBe(503);
    expect((await call("GET", `sys/namespaces/${id}/seal-status`)).body?.data).toMatchObject({ sealed: true });
    expect((await call("PUT", `sys/namespaces/${id}/unseal`, { body: {} })).status).toBe(200);
    expect((await call("GET", "sys/mounts", { ns: id })).status).toBe(200);
  });

  it("refuses a key the HSM does not have, and non-sealable namespaces cannot be sealed", async () => {
    const bad = await call("POST", `sys/namespaces/x${randomUUID().slice(0, 6)}`, { body: { seal: { type: "pkcs11", key_uri: `pkcs11:token=${token.label};object=no-such-key` } } });
    expect(bad.status).toBe(400);
    const plain = `p${randomUUID().slice(0, 6)}`;
    await call("POST", `sys/namespaces/${plain}`, { body: {} });
    expect((await call("PUT", `sys/namespaces/${plain}/seal`)).status).toBe(400);
    expect((await call("POST", "sys/namespaces/y", { body: { seal: { type: "pkcs11", key_uri: "not-a-uri" } } })).status).toBe(400);
    const withPin = await call("POST", "sys/namespaces/y", { body: { seal: { type: "pkcs11", key_uri: `${keyUri()}?pin-value=${token.pin}` } } });
    expect(withPin.status).toBe(400);
    expect(JSON.stringify(withPin.body)).not.toContain(`pin-value=${token.pin}`);
  });

  it("deleting a sealable namespace leaves nothing behind", async () => {
    const id = `d${randomUUID().slice(0, 6)}`;
    const created = await call("POST", `sys/namespaces/${id}`, { body: { seal: { type: "pkcs11", key_uri: keyUri() } } });
    const uuid = String((created.body?.data as { uuid: string }).uuid);
    await call("POST", "sys/mounts/kv", { ns: id, body: { type: "kv" } });
    await call("PUT", "kv/x", { ns: id, body: { v: "1" } });
    expect((await call("DELETE", `sys/namespaces/${id}`)).status).toBe(204);
    const keys: string[] = [];
    const walk = async (prefix: string): Promise<void> => {
      for (const name of await server.core.storage.list(prefix)) {
        if (name.endsWith("/")) await walk(prefix + name);
        else keys.push(prefix + name);
      }
    };
    await walk("");
    expect(keys.filter((k) => k.includes(uuid))).toEqual([]);
  });
});

describe("sealable namespaces without an HSM", () => {
  it("answer 400: a server with no HSM cannot seal a namespace", async () => {
    const dev = await devServer();
    try {
      const r = await api(dev.url, "POST", "sys/namespaces/nohsm", { token: dev.rootToken, body: { seal: { type: "pkcs11", key_uri: "pkcs11:token=x;object=y" } } });
      expect(r.status).toBe(400);
      expect((r.body?.errors as string[])[0]).toMatch(/HSM/);
      expect((await api(dev.url, "GET", "sys/namespaces/nohsm", { token: dev.rootToken })).status).toBe(404);
    } finally {
      await dev.stop();
    }
  });
});
