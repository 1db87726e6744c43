/**
 * sys/remount over HTTP: secrets engines and auth methods move with their data, within a namespace and
 * into a child one; policies keep their paths; and the moves a caller must not make are refused (onto a
 * used path, from or into sys/, auth to non-auth, two moves racing for one mount or one destination).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";

let s: RunningServer;
let root: string;

beforeAll(async () => {
  s = await devServer();
  root = s.rootToken!;
});
afterAll(async () => s.stop());

const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => api(s.url, method, path, { token: root, body, headers });

async function remount(from: string, to: string): Promise<{ status: number; id?: string; errors?: unknown }> {
  const r = await call("POST", "sys/remount", { from, to });
  return { status: r.status, id: (r.body?.data as { migration_id?: string } | undefined)?.migration_id, errors: r.body?.errors };
}

describe("sys/remount", () => {
  it("moves a KV v2 mount with its secrets; the old path is gone; status says success", async () => {
    expect((await call("POST", "sys/mounts/mv-old", { type: "kv", options: { version: "2" } })).status).toBe(204);
    await call("POST", "mv-old/data/app", { data: { password: "p1" } });
    const r = await call("POST", "sys/remount", { from: "mv-old", to: "mv-new" });
    expect(r.status).toBe(200);
    const id = (r.body?.data as { migration_id: string }).migration_id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body?.migration_id).toBe(id); // OpenBao's sys injector copies data to the top level here
    const status = await call("GET", `sys/remount/status/${id}`);
    expect(status.body?.data).toEqual({ migration_id: id, migration_info: { source_mount: "mv-old/", target_mount: "mv-new/", status: "success" } });
    expect(((await call("GET", "mv-new/data/app")).body?.data as { data: unknown }).data).toEqual({ password: "p1" });
    expect((await call("GET", "mv-old/data/app")).status).toBe(404);
    const mounts = (await call("GET", "sys/mounts")).body?.data as Record<string, { options: unknown }>;
    expect(mounts["mv-new/"].options).toEqual({ version: "2" });
    expect(mounts["mv-old/"]).toBeUndefined();
    expect((await call("GET", "sys/remount/status/00000000-0000-0000-0000-000000000000")).status).toBe(404);
  });

  it("keeps policies as written: a policy on the old path does not follow the mount", async () => {
    await call("POST", "sys/mounts/pol-old", { type: "kv", options: { version: "2" } });
    await call("POST", "pol-old/data/x", { data: { v: 1 } });
    await call("PUT", "sys/policies/acl/pol-reader", { policy: 'path "pol-old/data/*" { capabilities = ["read"] }' });
    const t = ((await call("POST", "auth/token/create", { policies: ["pol-reader"] })).body?.auth as { client_token: string }).client_token;
    expect((await remount("pol-old/", "pol-new/")).status).toBe(200);
    expect((await call("GET", "sys/policies/acl/pol-reader")).body?.data).toMatchObject({ policy: 'path "pol-old/data/*" { capabilities = ["read"] }' });
    expect((await api(s.url, "GET", "pol-new/data/x", { token: t })).status).toBe(403);
  });

  it("moves an auth method: logins work at the new path", async () => {
    await call("POST", "sys/auth/up-old", { type: "userpass" });
    await call("POST", "auth/up-old/users/alice", { password: "pw", token_policies: ["default"] });
    expect((await remount("auth/up-old", "auth/up-new")).status).toBe(200);
    const login = await api(s.url, "POST", "auth/up-new/login/alice", { body: { password: "pw" } });
    expect(login.status).toBe(200);
    // No mount there any more: an unauthenticated request to a path nobody serves is refused.
    expect((await api(s.url, "POST", "auth/up-old/login/alice", { body: { password: "pw" } })).status).toBe(403);
    expect(Object.keys((await call("GET", "sys/auth")).body?.data as object)).toContain("up-new/");
  });

  it("moves a mount into a child namespace, data copied and the source cleared", async () => {
    await call("POST", "sys/namespaces/mvns");
    await call("POST", "sys/mounts/cross", { type: "kv", options: { version: "2" } });
    await call("POST", "cross/data/k", { data: { in: "root" } });
    const r = await remount("cross", "mvns/cross-in");
    expect(r.status).toBe(200);
    const inside = await call("GET", "cross-in/data/k", undefined, { "X-Vault-Namespace": "mvns" });
    expect((inside.body?.data as { data: unknown }).data).toEqual({ in: "root" });
    expect((await call("GET", "cross/data/k")).status).toBe(404);
    expect((await call("GET", `sys/remount/status/${r.id}`)).body?.data).toMatchObject({ migration_info: { source_mount: "cross/", target_mount: "mvns/cross-in/", status: "success" } });
  });

  it("refuses moves onto a used path, from or into protected paths, auth to non-auth, and unknown sources", async () => {
    await call("POST", "sys/mounts/h-a", { type: "kv" });
    await call("POST", "sys/mounts/h-b", { type: "kv" });
    await call("POST", "sys/auth/h-up", { type: "userpass" });
    const cases: Array<[string, string, string]> = [
      ["h-a", "h-b", 'path already in use at "h-b/"'],
      ["h-a", "h-a/inner", 'path already in use at "h-a/"'],
      ["h-a", "sys/h-a", 'cannot remount to destination "sys/h-a/"'],
      ["h-a", "cubbyhole/x", 'cannot remount to destination "cubbyhole/x/"'],
      ["sys", "h-sys", 'cannot remount "sys/"'],
      ["cubbyhole", "h-cub", 'cannot remount "cubbyhole/"'],
      ["auth/token", "auth/h-tok", 'cannot remount "auth/token/"'],
      ["auth/h-up", "h-up-secret", 'cannot remount auth mount to non-auth mount "h-up-secret/"'],
      ["h-missing", "h-c", 'no matching mount at "h-missing/"'],
      ["h-a", "", "both 'from' and 'to' path must be specified as a string"],
      ["h-a", "../x", 'invalid mount path "../x"'],
    ];
    for (const [from, to, message] of cases) {
      const r = await remount(from, to);
      expect({ from, to, status: r.status, errors: r.errors }).toEqual({ from, to, status: 400, errors: [message] });
    }
    const mounts = Object.keys((await call("GET", "sys/mounts")).body?.data as object);
    expect(mounts).toEqual(expect.arrayContaining(["h-a/", "h-b/", "sys/", "cubbyhole/"]));
  });

  it("needs sudo on sys/remount", async () => {
    await call("PUT", "sys/policies/acl/remount-no-sudo", { policy: 'path "sys/remount" { capabilities = ["update"] }' });
    const t = ((await call("POST", "auth/token/create", { policies: ["remount-no-sudo"] })).body?.auth as { client_token: string }).client_token;
    await call("POST", "sys/mounts/nosudo", { type: "kv" });
    expect((await api(s.url, "POST", "sys/remount", { token: t, body: { from: "nosudo", to: "nosudo2" } })).status).toBe(403);
  });

  it("concurrent moves of one mount, or onto one path: exactly one wins, and no data is lost", async () => {
    await call("POST", "sys/mounts/race-a", { type: "kv", options: { version: "2" } });
    await call("POST", "race-a/data/k", { data: { v: "a" } });
    const same = await Promise.all(["race-x", "race-y", "race-z"].map((to) => remount("race-a", to)));
    expect(same.map((r) => r.status).sort()).toEqual([200, 400, 400]);
    const winner = ["race-x", "race-y", "race-z"][same.findIndex((r) => r.status === 200)];
    expect(((await call("GET", `${winner}/data/k`)).body?.data as { data: unknown }).data).toEqual({ v: "a" });

    await call("POST", "sys/mounts/race-b", { type: "kv" });
    await call("POST", "sys/mounts/race-c", { type: "kv" });
    const onto = await Promise.all(["race-b", "race-c"].map((from) => remount(from, "race-dest")));
    expect(onto.map((r) => r.status).sort()).toEqual([200, 400]);
    const mounts = Object.keys((await call("GET", "sys/mounts")).body?.data as object).filter((m) => m.startsWith("race-"));
    expect(mounts.length).toBe(3); // the first winner, race-dest, and the loser of the second race
  });
});
