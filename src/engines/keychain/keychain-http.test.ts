/**
 * The keychain engine through a real server's HTTP API: the normal pipeline applies (policies, namespaces),
 * and a tenant's keychain in its namespace is out of reach from another namespace. A dev server allows the
 * software keystore without the mount saying so (keychain-hsm.test.ts shows a non-dev server refusing it).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";
import { ArcaError } from "../../common/errors.js";
import { KeychainClient } from "./client.js";


describe("keychain over HTTP", () => {
  let server: RunningServer;
  let root: string;
  const call = (method: string, path: string, body?: unknown, token = root, ns?: string) =>
    api(server.url, method, path, { token, ...(body !== undefined ? { body } : {}), ...(ns ? { headers: { "X-Vault-Namespace": ns } } : {}) });

  async function buildChain(ns?: string): Promise<void> {
    expect((await call("POST", "sys/mounts/kc", { type: "keychain" }, root, ns)).status).toBe(204);
    expect((await call("POST", "kc/keystores/soft", { type: "software" }, root, ns)).status).toBe(204);
    expect((await call("POST", "kc/keys/k1", { keystore: "soft" }, root, ns)).status).toBe(204);
    expect((await call("POST", "kc/key-configurations/c1", { primary_key: "k1" }, root, ns)).status).toBe(204);
    expect((await call("POST", "kc/systems/s1", { key_configuration: "c1", type: "SYSTEM", region: "eu" }, root, ns)).status).toBe(204);
  }

  async function tokenIn(ns: string | undefined, policy: string): Promise<string> {
    expect((await call("PUT", "sys/policies/acl/p", { policy }, root, ns)).status).toBe(204);
    const r = await call("POST", "auth/token/create", { policies: ["p"] }, root, ns);
    return (r.body?.auth as { client_token: string }).client_token;
  }

  beforeAll(async () => {
    server = await devServer();
    root = server.rootToken!;
    await buildChain();
  });
  afterAll(async () => {
    await server.stop();
  });

  it("serves the chain, with LIST and the graph", async () => {
    const dk = await call("POST", "kc/systems/s1/datakey", { bits: 128 });
    expect(dk.status).toBe(200);
    const { plaintext, ciphertext } = dk.body?.data as { plaintext: string; ciphertext: string };
    expect((await call("POST", "kc/systems/s1/decrypt", { ciphertext })).body?.data).toEqual({ plaintext });
    expect((await call("LIST", "kc/keys")).body?.data).toEqual({ keys: ["k1"] });
    // Other tests in this file may add systems under c1 (the order is shuffled).
    expect((await call("LIST", "kc/systems")).body?.data).toMatchObject({ keys: expect.arrayContaining(["s1"]) as unknown });
    const graph = (await call("GET", "kc/graph")).body?.data as { counts: Record<string, number>; keys: Array<{ key_configurations: Array<{ systems: string[] }> }> };
    expect(graph.counts).toMatchObject({ keys: 1, key_configurations: 1 });
    expect(graph.keys[0].key_configurations[0].systems).toContain("s1");
    const bad = await call("POST", "kc/systems/s1/datakey", { bits: 64 });
    expect(bad.status).toBe(400);
    expect(bad.body).toHaveProperty("errors");
  });

  it("checks policies on every path: a data-key-only token cannot revoke or decrypt", async () => {
    const token = await tokenIn(undefined, `path "kc/systems/s1/datakey" { capabilities = ["update"] }`);
    const dk = await call("POST", "kc/systems/s1/datakey", {}, token);
    expect(dk.status).toBe(200);
    expect((await call("POST", "kc/keys/k1/revoke", {}, token)).status).toBe(403);
    expect((await call("POST", "kc/systems/s1/decrypt", { ciphertext: (dk.body?.data as { ciphertext: string }).ciphertext }, token)).status).toBe(403);
    expect((await call("GET", "kc/keys/k1", undefined, token)).status).toBe(403);
    expect((await call("GET", "kc/keys/k1")).body?.data).toMatchObject({ state: "ENABLED" });
  });

  it("keeps a tenant's keychain in its namespace: namespace A's token cannot use namespace B's", async () => {
    for (const ns of ["tenant-a", "tenant-b"]) expect((await call("POST", `sys/namespaces/${ns}`, {})).status).toBe(200);
    await buildChain("tenant-a");
    await buildChain("tenant-b");
    const tenantA = await tokenIn("tenant-a", `path "kc/*" { capabilities = ["create", "read", "update", "list"] }`);
    const own = await call("POST", "kc/systems/s1/datakey", {}, tenantA, "tenant-a");
    expect(own.status).toBe(200);
    const ciphertext = (own.body?.data as { ciphertext: string }).ciphertext;
    // B's keychain, asked for through B's namespace header or path, refuses A's token.
    expect((await call("POST", "kc/systems/s1/datakey", {}, tenantA, "tenant-b")).status).toBe(403);
    expect((await call("POST", "tenant-b/kc/systems/s1/datakey", {}, tenantA)).status).toBe(403);
    expect((await call("POST", "kc/keys/k1/revoke", {}, tenantA, "tenant-b")).status).toBe(403);
    // B's system (same names, own identities) does not open A's data key, even for root.
    expect((await call("POST", "kc/systems/s1/decrypt", { ciphertext }, root, "tenant-b")).status).toBe(400);
    // Revoking A's L1 leaves B's chain working.
    expect((await call("POST", "kc/keys/k1/revoke", {}, tenantA, "tenant-a")).status).toBe(200);
    expect((await call("POST", "kc/systems/s1/decrypt", { ciphertext }, tenantA, "tenant-a")).status).toBe(400);
    expect((await call("POST", "kc/systems/s1/datakey", {}, root, "tenant-b")).status).toBe(200);
  });

  it("serves other components in-process through the pipeline (KeychainClient), policies included", async () => {
    const kc = new KeychainClient(server.core, { mount: "kc", token: root });
    await kc.ensureSystem("project-42", "c1", { type: "barbican-project" });
    await kc.ensureSystem("project-42", "c1");
    const dk = await kc.dataKey("project-42", 128);
    expect(dk.plaintext).toHaveLength(16);
    expect((await kc.decrypt("project-42", dk.ciphertext)).equals(dk.plaintext)).toBe(true);
    expect((await kc.decrypt("project-42", await kc.rewrap("project-42", dk.ciphertext))).equals(dk.plaintext)).toBe(true);
    const weak = new KeychainClient(server.core, { mount: "kc", token: await tokenIn(undefined, `path "kc/systems/project-42/datakey" { capabilities = ["update"] }`) });
    await weak.dataKey("project-42");
    const err = await weak.decrypt("project-42", dk.ciphertext).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArcaError);
    expect((err as ArcaError).status).toBe(403);
  });
});
