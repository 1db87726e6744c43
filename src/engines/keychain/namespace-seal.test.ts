/**
 * A namespace sealed by a keychain L1 (issue 15): the namespace root key is wrapped through the L1's keystore,
 * so revoking that one L1 seals the tenant's whole namespace (every request into it, its children too), and
 * enabling it reopens the namespace with its data intact (an operator's explicit seal excepted). A dev
 * server: the software keystore stands in for the HSM (keychain-hsm.test.ts covers the pkcs11 keystore).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";

describe("a namespace sealed by a keychain L1", () => {
  let server: RunningServer;
  let root: string;
  const call = (method: string, path: string, opts: { ns?: string; body?: unknown } = {}) =>
    api(server.url, method, path, { token: root, ...(opts.body !== undefined ? { body: opts.body } : {}), headers: opts.ns ? { "X-Vault-Namespace": opts.ns } : {} });

  async function action(key: string, name: string, opts: { body?: unknown } = {}): Promise<void> {
    const r = await call("POST", `kc/keys/${key}/${name}`, opts);
    expect(r.status, `${name}: ${JSON.stringify(r.body)}`).toBeLessThan(300);
  }

  beforeAll(async () => {
    server = await devServer();
    root = server.rootToken!;
    expect((await call("POST", "sys/mounts/kc", { body: { type: "keychain" } })).status).toBe(204);
    expect((await call("POST", "kc/keystores/soft", { body: { type: "software" } })).status).toBe(204);
  });
  afterAll(async () => {
    await server.stop();
  });

  /** A fresh L1 and a tenant sealed by it, holding a secret in a KV mount and one in a child namespace. */
  async function tenant(): Promise<{ ns: string; key: string }> {
    const key = `l1-${randomUUID().slice(0, 8)}`;
    const ns = `t${randomUUID().slice(0, 8)}`;
    expect((await call("POST", `kc/keys/${key}`, { body: { keystore: "soft" } })).status).toBe(204);
    const created = await call("POST", `sys/namespaces/${ns}`, { body: { seal: { type: "keychain", mount: "kc", key } } });
    expect(created.status).toBe(200);
    expect(created.body?.data).toMatchObject({ sealable: true, sealed: false, seal_type: "keychain", keychain_mount: "kc/", key });
    expect((await call("POST", "sys/mounts/kv", { ns, body: { type: "kv" } })).status).toBe(204);
    expect((await call("PUT", "kv/db", { ns, body: { password: "pw" } })).status).toBe(204);
    expect((await call("POST", "sys/namespaces/team", { ns })).status).toBe(200);
    expect((await call("POST", "sys/mounts/kv", { ns: `${ns}/team`, body: { type: "kv" } })).status).toBe(204);
    expect((await call("PUT", "kv/x", { ns: `${ns}/team`, body: { v: "team" } })).status).toBe(204);
    return { ns, key };
  }

  async function expectWhole(ns: string): Promise<void> {
    expect((await call("GET", "kv/db", { ns })).body?.data).toEqual({ password: "pw" });
    expect((await call("GET", "kv/x", { ns: `${ns}/team` })).body?.data).toEqual({ v: "team" });
  }

  async function expectSealed(ns: string): Promise<void> {
    for (const [n, path] of [
      [ns, "kv/db"],
      [ns, "sys/mounts"],
      [`${ns}/team`, "kv/x"],
    ]) {
      const r = await call("GET", path, { ns: n });
      expect(r.status, `${n} ${path}`).toBe(503);
      expect((r.body?.errors as string[])[0]).toBe("namespace is sealed");
    }
  }

  it("revoking the L1 seals the whole namespace; enable and unseal restore it intact", async () => {
    const { ns, key } = await tenant();
    await expectWhole(ns);
    await action(key, "revoke");
    await expectSealed(ns);
    const status = (await call("GET", `sys/namespaces/${ns}/seal-status`)).body?.data as { sealed: boolean; type: string; sealed_reason: string };
    expect(status).toMatchObject({ sealed: true, type: "keychain" });
    expect(status.sealed_reason).toMatch(/REVOKED/);
    // While the L1 is revoked, unseal cannot succeed and says why.
    const early = await call("PUT", `sys/namespaces/${ns}/unseal`, { body: {} });
    expect(early.status).toBe(503);
    expect((early.body?.errors as string[])[1]).toMatch(/REVOKED/);
    // The rest of the server goes on.
    expect((await call("LIST", "kc/keys")).status).toBe(200);

    await action(key, "enable");
    expect((await call("PUT", `sys/namespaces/${ns}/unseal`, { body: {} })).status).toBe(200);
    await expectWhole(ns);
  });

  it("enabling the L1 reopens a namespace it sealed, with no unseal call (and again after a second revoke)", async () => {
    const { ns, key } = await tenant();
    for (let round = 0; round < 2; round++) {
      await action(key, "revoke");
      await expectSealed(ns);
      await action(key, "enable");
      expect((await call("GET", `sys/namespaces/${ns}/seal-status`)).body?.data, `round ${round}`).toMatchObject({ sealed: false });
      await expectWhole(ns);
    }
  });

  it("an operator's seal outlives the L1's return, whether it came before the revoke or after it", async () => {
    const before = await tenant();
    expect((await call("PUT", `sys/namespaces/${before.ns}/seal`, { body: {} })).status).toBeLessThan(300);
    await action(before.key, "revoke");
    await action(before.key, "enable");
    await expectSealed(before.ns);

    const after = await tenant();
    await action(after.key, "revoke");
    await expectSealed(after.ns);
    expect((await call("PUT", `sys/namespaces/${after.ns}/seal`, { body: {} })).status).toBeLessThan(300);
    await action(after.key, "enable");
    await expectSealed(after.ns);
    // The explicit unseal still opens both.
    for (const t of [before, after]) {
      expect((await call("PUT", `sys/namespaces/${t.ns}/unseal`, { body: {} })).status).toBe(200);
      await expectWhole(t.ns);
    }
  });

  it("a disabled L1 keeps the namespace open (decryption continues) but seals no new namespace", async () => {
    const { ns, key } = await tenant();
    await action(key, "disable");
    await expectWhole(ns);
    const refused = await call("POST", `sys/namespaces/t${randomUUID().slice(0, 8)}`, { body: { seal: { type: "keychain", mount: "kc", key } } });
    expect(refused.status).toBe(400);
    expect((refused.body?.errors as string[])[0]).toMatch(/DISABLED/);
  });

  it("scheduling the L1's deletion seals the namespace; cancel, enable and unseal restore it", async () => {
    const { ns, key } = await tenant();
    await action(key, "schedule-deletion", { body: { pending_window: "7d" } });
    await expectSealed(ns);
    expect((await call("PUT", `sys/namespaces/${ns}/unseal`, { body: {} })).status).toBe(503);
    await action(key, "cancel-deletion");
    await action(key, "enable");
    expect((await call("PUT", `sys/namespaces/${ns}/unseal`, { body: {} })).status).toBe(200);
    await expectWhole(ns);
  });

  it("names only a keychain mount of the parent namespace, with a clear 4xx for anything else", async () => {
    const key = `l1-${randomUUID().slice(0, 8)}`;
    expect((await call("POST", `kc/keys/${key}`, { body: { keystore: "soft" } })).status).toBe(204);
    const create = (seal: unknown, ns?: string) => call("POST", `sys/namespaces/t${randomUUID().slice(0, 8)}`, { body: { seal }, ...(ns ? { ns } : {}) });
    for (const seal of [
      { type: "keychain", mount: "nope", key },
      { type: "keychain", mount: "kc", key: "missing" },
      { type: "keychain", mount: "sys", key },
      { type: "keychain", mount: "kc" },
      { type: "keychain", mount: "../kc", key },
    ]) {
      const r = await create(seal);
      expect(r.status, JSON.stringify(seal)).toBeGreaterThanOrEqual(400);
      expect(r.status, JSON.stringify(seal)).toBeLessThan(500);
      expect(r.body).toHaveProperty("errors");
    }
    // From a child namespace, "kc" names that namespace's mount, never the root's keychain.
    const plain = `p${randomUUID().slice(0, 8)}`;
    expect((await call("POST", `sys/namespaces/${plain}`)).status).toBe(200);
    expect((await create({ type: "keychain", mount: "kc", key }, plain)).status).toBe(400);
  });
});
