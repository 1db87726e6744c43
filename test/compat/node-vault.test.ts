/**
 * Compatibility with node-vault (npm), a client written against Vault: lifecycle, KV v1/v2, tokens,
 * policies, health (which node-vault never treats as an error) and error mapping. It sends the custom
 * LIST verb for lists, and PATCH with application/merge-patch+json for updates.
 */
import nodeVault from "node-vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devServer, freshServer } from "../servers.js";
import type { RunningServer } from "../../src/server/server.js";

type Client = ReturnType<typeof nodeVault>;

/** The error node-vault rejects with on a status other than 200/204. */
interface ApiError {
  message: string;
  response: { statusCode: number; body: unknown };
}

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    return err as ApiError;
  }
  throw new Error("expected the call to fail");
}

describe("node-vault against a fresh server", () => {
  let s: RunningServer & { dir: string };
  beforeAll(async () => {
    s = await freshServer();
  });
  afterAll(async () => s.stop());

  it("initialises, unseals and reports health for every state", async () => {
    const vault: Client = nodeVault({ endpoint: s.url });
    expect(await vault.initialized()).toEqual({ initialized: false });
    // Health answers 501/503 here; node-vault resolves with the body instead of rejecting.
    expect(await vault.health()).toMatchObject({ initialized: false, sealed: true });

    const init = (await vault.init({ secret_shares: 2, secret_threshold: 2 })) as { keys: string[]; root_token: string };
    expect(init.keys).toHaveLength(2);
    expect(await vault.health()).toMatchObject({ initialized: true, sealed: true });
    expect(await vault.status()).toMatchObject({ sealed: true, t: 2, n: 2, progress: 0 });

    expect(await vault.unseal({ key: init.keys[0] })).toMatchObject({ sealed: true, progress: 1 });
    expect(await vault.unseal({ key: init.keys[1] })).toMatchObject({ sealed: false, progress: 0 });
    expect(await vault.health()).toMatchObject({ initialized: true, sealed: false, standby: false });
    expect(await vault.health({ sealedcode: 200, uninitcode: 200 })).toMatchObject({ sealed: false });

    vault.token = init.root_token;
    const self = (await vault.tokenLookupSelf()) as { data: { policies: string[] } };
    expect(self.data.policies).toEqual(["root"]);
    await vault.seal();
    expect(await vault.status()).toMatchObject({ sealed: true });
  });
});

describe("node-vault against a dev server", () => {
  let s: RunningServer;
  let vault: Client;
  // node-vault's tokenCreate adopts the token it created as the client's own (tokenSource), so tokens
  // are minted through a throwaway client to keep `vault` on the root token.
  const mint = (args: Record<string, unknown>): Promise<{ auth: { client_token: string; accessor: string; lease_duration: number } }> =>
    nodeVault({ endpoint: s.url, token: s.rootToken }).tokenCreate(args) as Promise<{ auth: { client_token: string; accessor: string; lease_duration: number } }>;
  beforeAll(async () => {
    s = await devServer();
    vault = nodeVault({ endpoint: s.url, token: s.rootToken });
  });
  afterAll(async () => s.stop());

  it("writes, reads, lists, patches and deletes on KV v2", async () => {
    const written = (await vault.write("secret/data/nv/app", { data: { user: "u", pass: "p" } })) as { data: { version: number } };
    expect(written.data.version).toBe(1);
    await vault.write("secret/data/nv/other", { data: { k: "v" } });
    const read = (await vault.read("secret/data/nv/app")) as { data: { data: Record<string, string>; metadata: { version: number } } };
    expect(read.data).toMatchObject({ data: { user: "u", pass: "p" }, metadata: { version: 1 } });

    const listed = (await vault.list("secret/metadata/nv")) as { data: { keys: string[] } };
    expect(listed.data.keys.sort()).toEqual(["app", "other"]);
    // The same list through GET ?list=1, node-vault's fallback for servers without custom verbs.
    const plain = nodeVault({ endpoint: s.url, token: s.rootToken, noCustomHTTPVerbs: true });
    expect(((await plain.list("secret/metadata/nv")) as { data: { keys: string[] } }).data.keys.sort()).toEqual(["app", "other"]);

    const patched = (await vault.update("secret/data/nv/app", { data: { pass: "q" } })) as { data: { version: number } };
    expect(patched.data.version).toBe(2);
    expect(((await vault.read("secret/data/nv/app")) as { data: { data: object } }).data.data).toEqual({ user: "u", pass: "q" });

    await vault.delete("secret/data/nv/app");
    const gone = await failure(vault.read("secret/data/nv/app"));
    expect(gone.response.statusCode).toBe(404);
    await vault.delete("secret/metadata/nv/app");
    await vault.delete("secret/metadata/nv/other");
    const empty = await failure(vault.list("secret/metadata/nv"));
    expect(empty.response.statusCode).toBe(404);
    expect(empty.message).toBe("Status 404");
  });

  it("mounts KV v1 and writes, reads, lists and deletes on it", async () => {
    await vault.mount({ mount_point: "nv-kv1", type: "kv", options: { version: "1" }, description: "node-vault" });
    const mounts = (await vault.mounts()) as Record<string, { type?: string; options?: unknown }>;
    expect(mounts["nv-kv1/"]).toMatchObject({ type: "kv", options: { version: "1" } });

    await vault.write("nv-kv1/a/b", { x: "1" });
    await vault.write("nv-kv1/a/c", { y: 2 });
    expect(((await vault.read("nv-kv1/a/b")) as { data: object }).data).toEqual({ x: "1" });
    expect(((await vault.list("nv-kv1/a")) as { data: { keys: string[] } }).data.keys).toEqual(["b", "c"]);
    await vault.delete("nv-kv1/a/b");
    expect((await failure(vault.read("nv-kv1/a/b"))).response.statusCode).toBe(404);
    await vault.unmount({ mount_point: "nv-kv1" });
    expect(((await vault.mounts()) as Record<string, unknown>)["nv-kv1/"]).toBeUndefined();
  });

  it("creates and looks up tokens", async () => {
    const created = await mint({ policies: ["default"], ttl: "1h", meta: { app: "nv" } });
    expect(created.auth.client_token).toMatch(/^hvs\./);
    expect(created.auth.lease_duration).toBe(3600);
    const looked = (await vault.tokenLookup({ token: created.auth.client_token })) as { data: { policies: string[]; meta: object; accessor: string } };
    expect(looked.data).toMatchObject({ policies: ["default"], meta: { app: "nv" }, accessor: created.auth.accessor });
    const byAccessor = (await vault.tokenLookupAccessor({ accessor: created.auth.accessor })) as { data: { id: string } };
    expect(byAccessor.data.id).toBe("");

    const child = nodeVault({ endpoint: s.url, token: created.auth.client_token });
    expect(((await child.tokenLookupSelf()) as { data: { accessor: string } }).data.accessor).toBe(created.auth.accessor);
    await vault.tokenRevoke({ token: created.auth.client_token });
    const revoked = await failure(child.tokenLookupSelf());
    expect(revoked.response.statusCode).toBe(403);
    expect(revoked.message).toBe("permission denied");
  });

  it("OpenBao parity: batch tokens, KV v1 lease_duration, sys/remount, sys/metrics JSON", async () => {
    // node-vault's tokenCreate schema has no `type`: the generic write sends it as given.
    const batch = (await nodeVault({ endpoint: s.url, token: s.rootToken }).write("auth/token/create", { policies: ["default"], ttl: "20m", type: "batch" })) as {
      auth: { client_token: string; accessor: string; lease_duration: number };
    };
    expect(batch.auth.client_token).toMatch(/^hvb\./);
    expect(batch.auth).toMatchObject({ accessor: "", lease_duration: 1200 });
    const holder = nodeVault({ endpoint: s.url, token: batch.auth.client_token });
    expect(((await holder.tokenLookupSelf()) as { data: { type: string } }).data.type).toBe("batch");
    expect((await failure(holder.tokenRenewSelf())).response.statusCode).toBe(400);

    await vault.mount({ mount_point: "nv-lease", type: "kv", options: { version: "1" } });
    await vault.write("nv-lease/x", { v: "1" });
    expect(((await vault.read("nv-lease/x")) as { lease_duration: number }).lease_duration).toBe(768 * 3600);
    await vault.write("sys/remount", { from: "nv-lease", to: "nv-lease-moved" });
    expect(((await vault.read("nv-lease-moved/x")) as { data: object }).data).toEqual({ v: "1" });
    await vault.unmount({ mount_point: "nv-lease-moved" });

    const metrics = (await vault.read("sys/metrics")) as Record<string, unknown>;
    expect(Object.keys(metrics).sort()).toEqual(["Counters", "Gauges", "Points", "Samples", "Timestamp"]);
  });

  it("manages policies through the legacy sys/policy endpoints and maps a 403 to an error", async () => {
    const rules = 'path "secret/data/nv-allowed/*" { capabilities = ["create", "read", "update"] }';
    await vault.addPolicy({ name: "nv-policy", rules });
    const policies = (await vault.policies()) as { policies: string[] };
    expect(policies.policies).toEqual(expect.arrayContaining(["default", "nv-policy", "root"]));
    expect(((await vault.getPolicy({ name: "nv-policy" })) as { rules: string }).rules).toBe(rules);

    const token = (await mint({ policies: ["nv-policy"] })).auth.client_token;
    const limited = nodeVault({ endpoint: s.url, token });
    await limited.write("secret/data/nv-allowed/x", { data: { a: "b" } });
    const denied = await failure(limited.write("secret/data/elsewhere", { data: { a: "b" } }));
    expect(denied.response.statusCode).toBe(403);
    expect(denied.message).toBe("permission denied");
    expect(denied.response.body).toEqual({ errors: ["permission denied"] });

    await vault.removePolicy({ name: "nv-policy" });
    expect(((await vault.policies()) as { policies: string[] }).policies).not.toContain("nv-policy");
    expect((await failure(vault.getPolicy({ name: "nv-policy" }))).response.statusCode).toBe(404);
  });
});
