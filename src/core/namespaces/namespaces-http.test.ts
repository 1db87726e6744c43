// Namespaces over real HTTP: OpenBao's resolution table, sys/namespaces, tokens and policies per namespace,
// deletion that leaves nothing behind, the API lock, and audit entries that name the namespace.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { allStorageKeys, api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";

let server: RunningServer;
let root: string;

const uniq = (p: string): string => `${p}${randomUUID().slice(0, 8)}`;
const call = (method: string, path: string, opts: { token?: string; body?: unknown; ns?: string } = {}) =>
  api(server.url, method, path, { token: opts.token ?? root, body: opts.body, headers: opts.ns !== undefined ? { "X-Vault-Namespace": opts.ns } : {} });

async function createNs(path: string, opts: { ns?: string; token?: string; body?: unknown } = {}): Promise<Record<string, unknown>> {
  const r = await call("POST", `sys/namespaces/${path}`, { ns: opts.ns, token: opts.token, body: opts.body ?? {} });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body?.data as Record<string, unknown>;
}

beforeAll(async () => {
  server = await devServer();
  root = server.rootToken ?? "";
});
afterAll(async () => {
  await server.stop();
});

describe("namespace resolution (OpenBao's cases)", () => {
  let a: string;
  beforeAll(async () => {
    a = uniq("res");
    await createNs(a);
    await createNs(`${a}/ns2`);
    await createNs(`${a}/ns2/ns3`);
    for (const ns of [a, `${a}/ns2`, `${a}/ns2/ns3`]) {
      const m = await call("POST", "sys/mounts/secret", { ns, body: { type: "kv", options: { version: "1" } } });
      expect(m.status).toBe(204);
      expect((await call("PUT", "secret/where", { ns, body: { in: ns } })).status).toBe(204);
    }
  });

  const read = async (ns: string | undefined, path: string) => call("GET", path, { ns });

  it("header only, header + path, path only, nested, longest prefix wins", async () => {
    expect((await read(a, "secret/where")).body?.data).toEqual({ in: a });
    expect((await read(`${a}/ns2`, "secret/where")).body?.data).toEqual({ in: `${a}/ns2` });
    expect((await read(undefined, `${a}/ns2/secret/where`)).body?.data).toEqual({ in: `${a}/ns2` });
    expect((await read(a, "ns2/ns3/secret/where")).body?.data).toEqual({ in: `${a}/ns2/ns3` });
    expect((await read(`/${a}/`, "ns2/secret/where")).body?.data).toEqual({ in: `${a}/ns2` });
    expect((await read("root", `${a}/secret/where`)).body?.data).toEqual({ in: a });
  });

  it("a header naming a missing namespace is a 404, and the header cannot spill into the path", async () => {
    const missing = await read(`${a}/nope`, "ns2/secret/where");
    expect(missing.status).toBe(404);
    expect(missing.body?.errors).toEqual(["namespace not found"]);
    expect((await read(`${a}/secret`, "where")).status).toBe(404);
  });

  it("the header is echoed back", async () => {
    const r = await read(a, "secret/where");
    expect(r.headers.get("x-vault-namespace")).toBe(a);
    expect((await read(undefined, "sys/mounts")).headers.get("x-vault-namespace")).toBeNull();
    // On every kind of answer: an error, a 404 without data, a 204, a refused root-only endpoint.
    expect((await read(`${a}/nope`, "secret/where")).headers.get("x-vault-namespace")).toBe(`${a}/nope`);
    expect((await read(a, "secret/missing")).headers.get("x-vault-namespace")).toBe(a);
    expect((await call("PUT", "secret/echo", { ns: a, body: { x: "y" } })).headers.get("x-vault-namespace")).toBe(a);
    expect((await call("GET", "sys/seal-status", { ns: a })).headers.get("x-vault-namespace")).toBe(a);
    expect((await call("GET", "secret/where", { ns: a, token: "hvs.nope" })).headers.get("x-vault-namespace")).toBe(a);
  });

  it("path-prefixed sys paths act in the namespace they name", async () => {
    const r = await call("LIST", `${a}/sys/namespaces`);
    expect(r.status).toBe(200);
    expect(r.body?.data).toMatchObject({ keys: ["ns2/"] });
  });

  it("root-only endpoints answer 400 in a namespace", async () => {
    for (const [method, path] of [
      ["GET", "sys/seal-status"],
      ["PUT", "sys/seal"],
      ["GET", "sys/health"],
      ["PUT", "sys/unseal"],
      ["GET", "sys/init"],
      ["PUT", "sys/generate-root/attempt"],
      ["GET", "sys/metrics"],
    ]) {
      const r = await call(method, path, { ns: a });
      expect(r.status, path).toBe(400);
      expect(r.body?.errors, path).toEqual(["operation unavailable in namespaces"]);
    }
    for (const [method, path] of [
      ["GET", "sys/audit"],
      ["POST", "sys/rotate"],
      ["GET", "sys/key-status"],
    ]) {
      const viaHeader = await call(method, path, { ns: a });
      expect(viaHeader.status, path).toBe(400);
      const viaPath = await call(method, `${a}/${path}`);
      expect(viaPath.status, path).toBe(400);
      expect(viaPath.body?.errors).toEqual(["operation unavailable in namespaces"]);
    }
    // and the server was not sealed by the attempt
    expect((await call("GET", "sys/seal-status")).body?.sealed).toBe(false);
  });
});

describe("sys/namespaces", () => {
  it("creates, reads, lists, scans, patches and deletes, with OpenBao's shapes", async () => {
    const p = uniq("crud");
    const created = await createNs(p, { body: { custom_metadata: { team: "a", env: "dev" } } });
    expect(created).toMatchObject({ path: `${p}/`, tainted: false, locked: false, custom_metadata: { team: "a", env: "dev" } });
    expect(created.id).toMatch(/^[0-9A-Za-z]{6}$/);
    expect(created.uuid).toMatch(/^[0-9a-f-]{36}$/);

    await createNs("child", { ns: p });
    await createNs(`${p}/child/grand`);
    const list = await call("LIST", "sys/namespaces", { ns: p });
    expect(list.body?.data).toMatchObject({ keys: ["child/"], key_info: { "child/": { path: `${p}/child/` } } });
    const scan = await call("SCAN", "sys/namespaces", { ns: p });
    expect((scan.body?.data as { keys: string[] }).keys).toEqual(["child/", "child/grand/"]);

    const read = await call("GET", `sys/namespaces/${p}`);
    expect(read.body?.data).toMatchObject({ id: created.id, custom_metadata: { team: "a" } });
    const patched = await api(server.url, "PATCH", `sys/namespaces/${p}`, {
      token: root,
      body: { custom_metadata: { env: null, owner: "ops" } },
      headers: { "Content-Type": "application/merge-patch+json" },
    });
    expect(patched.status).toBe(200);
    expect((patched.body?.data as { custom_metadata: unknown }).custom_metadata).toEqual({ team: "a", owner: "ops" });

    const withChildren = await call("DELETE", `sys/namespaces/${p}`);
    expect(withChildren.status).toBe(400);
    expect((await call("DELETE", `sys/namespaces/${p}/child/grand`)).status).toBe(204);
    expect((await call("DELETE", "sys/namespaces/child", { ns: p })).status).toBe(204);
    expect((await call("DELETE", `sys/namespaces/${p}`)).status).toBe(204);
    expect((await call("GET", `sys/namespaces/${p}`)).status).toBe(404);
    const again = await call("DELETE", `sys/namespaces/${p}`);
    expect(again.status).toBe(200);
    expect(again.body?.warnings).toEqual(["requested namespace does not exist"]);
  });

  it("a namespace and a mount cannot take the same name (the namespace would hide the mount)", async () => {
    const p = uniq("shadow");
    await createNs(p);
    expect((await call("POST", "sys/mounts/data", { ns: p, body: { type: "kv" } })).status).toBe(204);
    const hidden = await call("POST", "sys/namespaces/data", { ns: p, body: {} });
    expect(hidden.status).toBe(400);
    expect((hidden.body?.errors as string[])[0]).toContain("would hide the mount");
    await createNs("team", { ns: p });
    const mount = await call("POST", "sys/mounts/team", { ns: p, body: { type: "kv" } });
    expect(mount.status).toBe(400);
    expect((mount.body?.errors as string[])[0]).toContain("in use by the namespace");
    expect((await call("POST", "sys/mounts/team/deeper", { ns: p, body: { type: "kv" } })).status).toBe(400);
  });

  it("concurrent creates of one path make exactly one namespace", async () => {
    const p = uniq("race");
    const results = await Promise.all(Array.from({ length: 8 }, () => call("POST", `sys/namespaces/${p}`, { body: {} })));
    // One create wins; the others either lost the race (400) or came after it and updated it (200).
    expect(results.every((r) => r.status === 200 || r.status === 400)).toBe(true);
    const uuids = new Set(results.filter((r) => r.status === 200).map((r) => (r.body?.data as { uuid: string }).uuid));
    expect(uuids.size).toBe(1);
    const scan = await call("SCAN", "sys/namespaces");
    expect((scan.body?.data as { keys: string[] }).keys.filter((k) => k === `${p}/`)).toHaveLength(1);
    const stored = (await allStorageKeys(server.core.storage, "core/namespaces/")).length;
    expect((await call("DELETE", `sys/namespaces/${p}`)).status).toBe(204);
    expect((await allStorageKeys(server.core.storage, "core/namespaces/")).length).toBe(stored - 1);
  });

  it("refuses bad names, duplicates, missing parents and bad metadata with 400", async () => {
    const p = uniq("bad");
    await createNs(p);
    for (const name of ["sys", "auth", "root", "cubbyhole", "..", "has space", "a*b"]) {
      const r = await call("POST", `sys/namespaces/${name}`, { ns: p, body: {} });
      expect(r.status, name).toBe(400);
    }
    expect((await call("POST", `sys/namespaces/${p}`, { body: { seal: { type: "shamir" } } })).status).toBe(400);
    expect((await call("POST", `sys/namespaces/${p}-missing/child`, { body: {} })).status).toBe(400);
    expect((await call("POST", `sys/namespaces/${uniq("m")}`, { body: { custom_metadata: { n: 1 } } })).status).toBe(400);
    expect((await call("POST", `sys/namespaces/${uniq("m")}`, { body: { custom_metadata: "x" } })).status).toBe(400);
  });

  it("each namespace has its own builtin mounts, policies and tokens with the namespace id suffix", async () => {
    const p = uniq("own");
    const { id } = await createNs(p);
    const mounts = await call("GET", "sys/mounts", { ns: p });
    expect(Object.keys(mounts.body?.data as object).sort()).toEqual(["cubbyhole/", "sys/"]);
    expect((await call("GET", "sys/auth", { ns: p })).body?.data).toHaveProperty(["token/"]);
    expect(((await call("LIST", "sys/policies/acl", { ns: p })).body?.data as { keys: string[] }).keys).toEqual(["default", "root"]);

    const made = await call("POST", "auth/token/create", { ns: p, body: { policies: ["default"] } });
    expect(made.status).toBe(200);
    const auth = made.body?.auth as { client_token: string; accessor: string };
    expect(auth.client_token).toMatch(new RegExp(`^hvs\\.[0-9A-Za-z]{24}\\.${String(id)}$`));
    expect(auth.accessor).toMatch(new RegExp(`^[0-9A-Za-z]{24}\\.${String(id)}$`));
    const self = await call("GET", "auth/token/lookup-self", { ns: p, token: auth.client_token });
    expect(self.status).toBe(200);
    // A namespace token means nothing in the root namespace.
    expect((await call("GET", "auth/token/lookup-self", { token: auth.client_token })).status).toBe(403);
  });

  it("response wrapping works inside a namespace, with the wrapping token of that namespace", async () => {
    const p = uniq("wrap");
    const { id } = await createNs(p);
    const wrapped = await api(server.url, "POST", "auth/token/create", {
      token: root,
      body: { policies: ["default"] },
      headers: { "X-Vault-Namespace": p, "X-Vault-Wrap-TTL": "60" },
    });
    expect(wrapped.status).toBe(200);
    const wrapToken = (wrapped.body?.wrap_info as { token: string }).token;
    expect(wrapToken.endsWith(`.${String(id)}`)).toBe(true);
    const unwrapped = await call("POST", "sys/wrapping/unwrap", { ns: p, token: wrapToken, body: {} });
    expect(unwrapped.status).toBe(200);
    expect((unwrapped.body?.auth as { client_token: string }).client_token.endsWith(`.${String(id)}`)).toBe(true);
    expect((await call("POST", "sys/wrapping/unwrap", { ns: p, token: wrapToken, body: {} })).status).toBe(403);
  });

  it("a parent's policy grants a child's paths as child/..., never the reverse", async () => {
    const p = uniq("pol");
    await createNs(p);
    await createNs("kid", { ns: p });
    expect((await call("POST", "sys/mounts/kv", { ns: `${p}/kid`, body: { type: "kv" } })).status).toBe(204);
    expect((await call("PUT", "kv/s", { ns: `${p}/kid`, body: { v: "kid" } })).status).toBe(204);
    expect((await call("POST", "sys/mounts/kv", { ns: p, body: { type: "kv" } })).status).toBe(204);
    expect((await call("PUT", "kv/s", { ns: p, body: { v: "parent" } })).status).toBe(204);

    await call("PUT", "sys/policies/acl/kid-reader", { ns: p, body: { policy: 'path "kid/kv/*" { capabilities = ["read"] }\npath "kid/sys/capabilities-self" { capabilities = ["update"] }' } });
    const granted = ((await call("POST", "auth/token/create", { ns: p, body: { policies: ["kid-reader"] } })).body?.auth as { client_token: string }).client_token;
    const bare = ((await call("POST", "auth/token/create", { ns: p, body: { policies: ["default"] } })).body?.auth as { client_token: string }).client_token;
    expect((await call("GET", "kv/s", { ns: `${p}/kid`, token: granted })).body?.data).toEqual({ v: "kid" });
    expect((await call("GET", "kid/kv/s", { ns: p, token: granted })).body?.data).toEqual({ v: "kid" });
    expect((await call("GET", "kv/s", { ns: `${p}/kid`, token: bare })).status).toBe(403);
    expect((await call("GET", "kv/s", { ns: p, token: granted })).status).toBe(403);
    const caps = await call("POST", "sys/capabilities-self", { ns: `${p}/kid`, token: granted, body: { paths: ["kv/s"] } });
    expect(caps.body?.data).toMatchObject({ capabilities: ["read"] });

    // The child's own root-like policy reaches nothing of the parent.
    await call("PUT", "sys/policies/acl/all", { ns: `${p}/kid`, body: { policy: 'path "*" { capabilities = ["read", "list", "update", "create", "delete", "sudo"] }' } });
    const kidAll = ((await call("POST", "auth/token/create", { ns: `${p}/kid`, body: { policies: ["all"] } })).body?.auth as { client_token: string }).client_token;
    expect((await call("GET", "kv/s", { ns: `${p}/kid`, token: kidAll })).status).toBe(200);
    expect((await call("GET", "kv/s", { ns: p, token: kidAll })).status).toBe(403);
    expect((await call("GET", `${p}/kv/s`, { token: kidAll })).status).toBe(403);
  });

  it("deleting a namespace revokes its tokens and leaves nothing in storage", async () => {
    const p = uniq("del");
    const { uuid } = await createNs(p);
    await createNs("inner", { ns: p });
    expect((await call("POST", "sys/mounts/secret", { ns: p, body: { type: "kv", options: { version: "2" } } })).status).toBe(204);
    expect((await call("POST", "secret/data/app", { ns: p, body: { data: { password: "hunter2" } } })).status).toBe(200);
    expect((await call("POST", "sys/mounts/transit", { ns: p, body: { type: "transit" } })).status).toBe(204);
    expect((await call("POST", "transit/keys/k", { ns: p, body: {} })).status).toBe(200);
    expect((await call("POST", "sys/auth/approle", { ns: p, body: { type: "approle" } })).status).toBe(204);
    expect((await call("POST", "auth/approle/role/r", { ns: p, body: { token_policies: ["default"] } })).status).toBe(204);
    await call("PUT", "sys/policies/acl/p1", { ns: p, body: { policy: 'path "*" { capabilities = ["read"] }' } });
    const tok = ((await call("POST", "auth/token/create", { ns: p, body: { policies: ["p1"] } })).body?.auth as { client_token: string }).client_token;
    expect((await call("PUT", "cubbyhole/x", { ns: p, token: tok, body: { a: "b" } })).status).toBe(204);

    const before = await allStorageKeys(server.core.storage);
    expect(before.some((k) => k.includes(String(uuid)))).toBe(true);

    expect((await call("DELETE", `sys/namespaces/${p}/inner`)).status).toBe(204);
    expect((await call("DELETE", `sys/namespaces/${p}`)).status).toBe(204);
    const after = await allStorageKeys(server.core.storage);
    expect(after.filter((k) => k.includes(String(uuid)))).toEqual([]);
    // The token died with its namespace, even if a namespace of that name comes back.
    await createNs(p);
    expect((await call("GET", "auth/token/lookup-self", { ns: p, token: tok })).status).toBe(403);
    expect((await call("GET", "secret/data/app", { ns: p })).status).toBe(404);
  });

  it("the API lock refuses every request into the namespace and below, until unlocked with the key", async () => {
    const p = uniq("lock");
    await createNs(p);
    await createNs("below", { ns: p });
    const lock = await call("POST", `sys/namespaces/api-lock/lock/${p}`);
    expect(lock.status).toBe(200);
    const key = (lock.body?.data as { unlock_key: string }).unlock_key;
    for (const ns of [p, `${p}/below`]) {
      const r = await call("GET", "sys/mounts", { ns });
      expect(r.status).toBe(503);
      expect(r.body?.errors).toEqual(["API access to this namespace has been locked by an administrator"]);
    }
    expect((await call("GET", "sys/mounts")).status).toBe(200);
    // A token without sudo needs the right key.
    await call("PUT", "sys/policies/acl/unlocker", { body: { policy: 'path "sys/namespaces/*" { capabilities = ["update"] }' } });
    const weak = ((await call("POST", "auth/token/create", { body: { policies: ["unlocker"] } })).body?.auth as { client_token: string }).client_token;
    expect((await call("POST", `sys/namespaces/api-lock/unlock/${p}`, { token: weak, body: {} })).status).toBe(400);
    expect((await call("POST", `sys/namespaces/api-lock/unlock/${p}`, { token: weak, body: { unlock_key: "wrong" } })).status).toBe(400);
    expect((await call("POST", `sys/namespaces/api-lock/unlock/${p}`, { token: weak, body: { unlock_key: key } })).status).toBe(204);
    expect((await call("GET", "sys/mounts", { ns: `${p}/below` })).status).toBe(200);
  });
});

describe("audit entries carry the namespace", () => {
  it("records the namespace id and path of requests and refusals", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arca-nsaudit-"));
    const file = join(dir, "audit.log");
    const device = uniq("nsaudit");
    try {
      expect((await call("PUT", `sys/audit/${device}`, { body: { type: "file", options: { file_path: file } } })).status).toBe(204);
      const p = uniq("aud");
      const { id } = await createNs(p);
      await call("GET", "sys/mounts", { ns: p });
      await call("GET", "sys/mounts", { ns: p, token: "hvs.bogus" });
      await call("DELETE", `sys/audit/${device}`);
      const entries = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string; request: { path: string; namespace: { id: string; path: string } }; error?: string });
      const inNs = entries.filter((e) => e.request.namespace.id === id);
      expect(inNs.length).toBeGreaterThanOrEqual(4);
      expect(inNs.every((e) => e.request.namespace.path === `${p}/` && e.request.path === "sys/mounts")).toBe(true);
      expect(inNs.some((e) => e.type === "response" && e.error === "permission denied")).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
