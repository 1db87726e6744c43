import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { expectArcaError, initializedCore } from "../../../test/core.js";
import { Core } from "../../core/core.js";
import { ArcaError } from "../../common/errors.js";
import type { Operation, Response } from "../../core/framework/request.js";
import { SqliteStorage } from "../../storage/sqlite.js";
import { createAppRoleBackend } from "./backend.js";

let core: Core;
let storage: SqliteStorage;
let root: string;

beforeEach(async () => {
  ({ core, storage, root } = await initializedCore({ approle: createAppRoleBackend }));
  await call("update", "sys/auth/approle", { type: "approle" });
  await core.root.policies.write("app", `path "secret/*" { capabilities = ["read"] }`, {});
});

afterEach(async () => {
  vi.useRealTimers();
  await storage.close();
});

async function call(
  operation: Operation,
  path: string,
  data: Record<string, unknown> = {},
  opts: { token?: string | null; remote?: string } = {},
): Promise<Response | undefined> {
  const clientToken = opts.token === null ? undefined : (opts.token ?? root);
  return core.handleRequest(core.newRequest({ operation, path, data, clientToken, remoteAddress: opts.remote ?? "127.0.0.1" }));
}

const ar = (op: Operation, path: string, data: Record<string, unknown> = {}, opts: { token?: string | null; remote?: string } = {}) =>
  call(op, `auth/approle/${path}`, data, opts);

async function login(roleId: string, secretId: string | undefined, remote = "127.0.0.1"): Promise<Response | undefined> {
  return ar("update", "login", { role_id: roleId, secret_id: secretId }, { token: null, remote });
}

const expectError = expectArcaError;

async function roleId(name: string): Promise<string> {
  return (await ar("read", `role/${name}/role-id`))?.data?.role_id as string;
}

async function secretId(name: string, data: Record<string, unknown> = {}): Promise<{ secret_id: string; secret_id_accessor: string; secret_id_ttl: number; secret_id_num_uses: number }> {
  const resp = await ar("update", `role/${name}/secret-id`, data);
  return resp?.data as { secret_id: string; secret_id_accessor: string; secret_id_ttl: number; secret_id_num_uses: number };
}

describe("roles", () => {
  it("creates, reads (OpenBao's shape), lists and deletes a role", async () => {
    await ar("update", "role/Web", { token_policies: "app", token_ttl: "20m", token_max_ttl: "30m", secret_id_num_uses: 10, secret_id_ttl: 600, secret_id_bound_cidrs: ["10.0.0.0/8"] });
    const read = await ar("read", "role/web");
    expect(read?.data).toEqual({
      bind_secret_id: true,
      secret_id_bound_cidrs: ["10.0.0.0/8"],
      secret_id_num_uses: 10,
      secret_id_ttl: 600,
      local_secret_ids: false,
      token_bound_cidrs: [],
      token_explicit_max_ttl: 0,
      token_max_ttl: 1800,
      token_no_default_policy: false,
      token_num_uses: 0,
      token_period: 0,
      token_policies: ["app"],
      token_ttl: 1200,
      token_type: "default",
    });
    expect((await ar("list", "role/"))?.data?.keys).toEqual(["web"]);
    expect(await roleId("web")).toMatch(/^[0-9a-f-]{36}$/);
    await ar("delete", "role/web");
    await expectError(ar("read", "role/web"), 404);
  });

  it("accepts the legacy policies/period aliases and echoes them", async () => {
    await ar("update", "role/legacy", { policies: "app,Other", period: "1h" });
    const data = (await ar("read", "role/legacy"))?.data;
    expect(data).toMatchObject({ token_policies: ["app", "other"], policies: ["app", "other"], token_period: 3600, period: 3600 });
    await expectError(ar("update", "role/legacy", { policies: "a", token_policies: "b" }), 400, /cannot specify both/);
  });

  it("refuses a role without any constraint, bad CIDRs, negative uses and a shared role_id", async () => {
    await expectError(ar("update", "role/none", { bind_secret_id: false }), 400, "at least one constraint should be enabled on the role");
    await expectError(ar("update", "role/bad", { secret_id_bound_cidrs: "300.1.1.1/8" }), 400, "invalid CIDR blocks");
    await expectError(ar("update", "role/neg", { secret_id_num_uses: -1 }), 400, "secret_id_num_uses cannot be negative");
    await ar("update", "role/one", { role_id: "fixed-id" });
    await expectError(ar("update", "role/two", { role_id: "fixed-id" }), 400, "role_id already in use");
    await expectError(ar("update", "role/ttl", { token_ttl: "2h", token_max_ttl: "1h" }), 400, /token_ttl/);
  });

  it("sets a custom role_id and drops the old one's index", async () => {
    await ar("update", "role/r", {});
    const old = await roleId("r");
    const sid = (await secretId("r")).secret_id;
    await ar("update", "role/r/role-id", { role_id: "my-role-id" });
    expect(await roleId("r")).toBe("my-role-id");
    await expectError(login(old, sid), 400, "invalid role or secret ID");
    expect((await login("my-role-id", sid))?.auth).toBeDefined();
  });

  it("deleting a role removes its secret IDs", async () => {
    await ar("update", "role/r", { role_id: "rid" });
    const sid = (await secretId("r")).secret_id;
    await ar("delete", "role/r");
    await ar("update", "role/r", { role_id: "rid" });
    await expectError(login("rid", sid), 400, "invalid role or secret ID");
    expect((await ar("list", "role/r/secret-id/"))?.data?.keys).toEqual([]);
  });
});

describe("secret IDs", () => {
  beforeEach(async () => {
    await ar("update", "role/r", { token_policies: "app", secret_id_num_uses: 5, secret_id_ttl: "10m" });
  });

  it("generates, lists accessors, looks up and destroys by secret ID and by accessor", async () => {
    const a = await secretId("r", { metadata: JSON.stringify({ team: "db" }) });
    expect(a.secret_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.secret_id_ttl).toBe(600);
    expect(a.secret_id_num_uses).toBe(5);
    const b = await secretId("r");
    expect(((await ar("list", "role/r/secret-id/"))?.data?.keys as string[]).sort()).toEqual([a.secret_id_accessor, b.secret_id_accessor].sort());

    const looked = (await ar("update", "role/r/secret-id/lookup", { secret_id: a.secret_id }))?.data;
    expect(looked).toMatchObject({ secret_id_accessor: a.secret_id_accessor, secret_id_num_uses: 5, secret_id_ttl: 600, metadata: { team: "db" }, cidr_list: [], token_bound_cidrs: [] });
    expect(JSON.stringify(looked)).not.toContain(a.secret_id);
    const byAccessor = (await ar("update", "role/r/secret-id-accessor/lookup", { secret_id_accessor: b.secret_id_accessor }))?.data;
    expect(byAccessor?.secret_id_accessor).toBe(b.secret_id_accessor);

    await ar("update", "role/r/secret-id/destroy", { secret_id: a.secret_id });
    expect(await ar("update", "role/r/secret-id/lookup", { secret_id: a.secret_id })).toBeUndefined();
    await ar("update", "role/r/secret-id-accessor/destroy", { secret_id_accessor: b.secret_id_accessor });
    await expectError(ar("update", "role/r/secret-id-accessor/lookup", { secret_id_accessor: b.secret_id_accessor }), 404, /failed to find accessor entry/);
    await expectError(ar("update", "role/r/secret-id-accessor/destroy", { secret_id_accessor: b.secret_id_accessor }), 404);
  });

  it("stores no secret ID in a form that can be presented at login", async () => {
    const { secret_id, secret_id_accessor } = await secretId("r");
    const rid = await roleId("r");
    const mount = core.root.mounts("auth").find((m) => m.path === "approle/")!;
    const seen: string[] = [];
    const walk = async (prefix: string): Promise<void> => {
      for (const k of await core.barrier.list(prefix)) {
        if (k.endsWith("/")) await walk(prefix + k);
        else seen.push(prefix + k + "=" + ((await core.barrier.get(prefix + k))?.toString("latin1") ?? ""));
      }
    };
    await walk(`auth/${mount.uuid}/`);
    const dump = seen.join("\n");
    expect(dump).not.toContain(secret_id);
    expect(seen.some((k) => k.startsWith(`auth/${mount.uuid}/accessor/${secret_id_accessor}`))).toBe(false);
    expect(dump).toContain(rid); // the role_id is an identifier kept in the role, as OpenBao does
    expect(seen.some((k) => k.includes(`role_id/${rid}`))).toBe(false);
  });

  it("custom secret IDs work once registered and cannot be registered twice", async () => {
    await ar("update", "role/r/custom-secret-id", { secret_id: "my-own-secret" });
    await expectError(ar("update", "role/r/custom-secret-id", { secret_id: "my-own-secret" }), 400, "SecretID is already registered");
    expect((await login(await roleId("r"), "my-own-secret"))?.auth?.metadata).toEqual({ role_name: "r" });
  });

  it("refuses num_uses/ttl wider than the role's and CIDRs outside the role's", async () => {
    await expectError(secretId("r", { num_uses: 6 }), 400, "num_uses cannot be higher than the role's secret_id_num_uses");
    await expectError(secretId("r", { num_uses: 0 }), 400, "num_uses cannot be higher than the role's secret_id_num_uses");
    await expectError(secretId("r", { ttl: "1h" }), 400, "ttl cannot be longer than the role's secret_id_ttl");
    const narrow = await secretId("r", { num_uses: 2, ttl: "1m" });
    expect(narrow).toMatchObject({ secret_id_num_uses: 2, secret_id_ttl: 60 });
    await ar("update", "role/c", { secret_id_bound_cidrs: "10.0.0.0/8", token_bound_cidrs: "10.1.0.0/16" });
    await expectError(secretId("c", { cidr_list: "192.168.0.0/16" }), 400, /subset relationship/);
    await expectError(secretId("c", { token_bound_cidrs: "10.2.0.0/16" }), 400, /subset relationship/);
    expect((await secretId("c", { cidr_list: "10.5.0.0/16", token_bound_cidrs: "10.1.2.3" })).secret_id).toBeTruthy();
  });

  it("refuses secret IDs for a role without bind_secret_id and for a missing role", async () => {
    await ar("update", "role/nobind", { bind_secret_id: false, secret_id_bound_cidrs: "127.0.0.0/8" });
    await expectError(secretId("nobind"), 400, "bind_secret_id is not set on the role");
    await expectError(secretId("missing"), 404, 'role "missing" does not exist');
  });

  it("tidy removes expired secret IDs", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { secret_id_accessor } = await secretId("r", { ttl: "1m" });
    const keep = await secretId("r");
    vi.setSystemTime(Date.now() + 120_000);
    const resp = await ar("update", "tidy/secret-id");
    expect(resp?.status).toBe(202);
    expect((await ar("list", "role/r/secret-id/"))?.data?.keys).toEqual([keep.secret_id_accessor]);
    await expectError(ar("update", "role/r/secret-id-accessor/lookup", { secret_id_accessor }), 404);
  });
});

describe("login", () => {
  it("returns an orphan token with the role's policies, TTLs and role_name metadata", async () => {
    await ar("update", "role/r", { token_policies: "app", token_ttl: "20m", token_max_ttl: "30m", token_num_uses: 3 });
    const sid = await secretId("r", { metadata: '{"host":"db1"}' });
    const resp = await login(await roleId("r"), sid.secret_id);
    const auth = resp!.auth!;
    expect(auth).toMatchObject({ policies: ["app", "default"], tokenPolicies: ["app", "default"], metadata: { host: "db1", role_name: "r" }, leaseDuration: 1200, renewable: true, orphan: true, numUses: 3, tokenType: "service" });
    const entry = await core.root.tokens.lookup(auth.clientToken);
    expect(entry).toMatchObject({ parent: "", path: "auth/approle/login", displayName: "approle", numUses: 3 });
    expect(entry?.policies).toEqual(["app", "default"]);
    // The token is refused outside its policies.
    await expectError(call("read", "sys/policies/acl/app", {}, { token: auth.clientToken }), 403);
  });

  it("honours token_no_default_policy, token_period and the mount's max lease TTL", async () => {
    await call("update", "sys/auth/approle/tune", { max_lease_ttl: "1h" });
    await ar("update", "role/p", { token_policies: "app", token_no_default_policy: true, token_ttl: "5h" });
    const a = (await login(await roleId("p"), (await secretId("p")).secret_id))!;
    expect(a.auth).toMatchObject({ policies: ["app"], leaseDuration: 3600 });
    await ar("update", "role/per", { token_period: "10m" });
    const b = (await login(await roleId("per"), (await secretId("per")).secret_id))!;
    expect(b.auth?.leaseDuration).toBe(600);
  });

  it("answers the same 400 for a wrong role_id, a wrong secret_id and a secret for another role", async () => {
    await ar("update", "role/a", {});
    await ar("update", "role/b", {});
    const sa = (await secretId("a")).secret_id;
    const sb = (await secretId("b")).secret_id;
    await expectError(login("no-such-role", sa), 400, "invalid role or secret ID");
    await expectError(login(await roleId("a"), "wrong-secret"), 400, "invalid role or secret ID");
    await expectError(login(await roleId("a"), sb), 400, "invalid role or secret ID");
    await expectError(login(await roleId("a"), undefined), 400, "missing secret_id");
    await expectError(login("", sa), 400, "missing role_id");
  });

  it("spends secret_id_num_uses atomically: exactly N of many concurrent logins succeed", async () => {
    await ar("update", "role/r", { secret_id_num_uses: 3 });
    const rid = await roleId("r");
    const { secret_id } = await secretId("r");
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => login(rid, secret_id)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    for (const r of results) if (r.status === "rejected") expect((r.reason as ArcaError).message).toBe("invalid role or secret ID");
    // The used-up secret ID is gone, accessor included.
    expect(await ar("update", "role/r/secret-id/lookup", { secret_id })).toBeUndefined();
  });

  it("counts down remaining uses visibly", async () => {
    await ar("update", "role/r", { secret_id_num_uses: 3 });
    const { secret_id } = await secretId("r");
    await login(await roleId("r"), secret_id);
    expect((await ar("update", "role/r/secret-id/lookup", { secret_id }))?.data?.secret_id_num_uses).toBe(2);
  });

  it("refuses an expired secret ID and deletes it", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    await ar("update", "role/r", { secret_id_ttl: "1m" });
    const rid = await roleId("r");
    const { secret_id } = await secretId("r");
    vi.setSystemTime(Date.now() + 59_000);
    expect((await login(rid, secret_id))?.auth).toBeDefined();
    vi.setSystemTime(Date.now() + 2_000);
    await expectError(login(rid, secret_id), 400, "invalid role or secret ID");
    expect(await ar("update", "role/r/secret-id/lookup", { secret_id })).toBeUndefined();
  });

  it("enforces secret ID cidr_list, the role's secret_id_bound_cidrs and token_bound_cidrs without spending a use", async () => {
    await ar("update", "role/r", { secret_id_bound_cidrs: "10.0.0.0/8", secret_id_num_uses: 1 });
    const rid = await roleId("r");
    const { secret_id } = await secretId("r", { cidr_list: "10.1.0.0/16" });
    await expectError(login(rid, secret_id, "10.2.0.1"), 400, /unauthorized by CIDR restrictions on the secret ID/);
    await expectError(login(rid, secret_id, "192.168.1.1"), 400, /unauthorized by CIDR restrictions/);
    // IPv4-mapped IPv6, as Node reports IPv4 peers on a dual-stack socket.
    expect((await login(rid, secret_id, "::ffff:10.1.2.3"))?.auth).toBeDefined();

    await ar("update", "role/t", { token_bound_cidrs: "10.9.0.0/16", secret_id_num_uses: 1 });
    const tid = await roleId("t");
    const t = await secretId("t");
    await expectError(login(tid, t.secret_id, "10.8.0.1"), 403, "permission denied");
    expect((await login(tid, t.secret_id, "10.9.0.1"))?.auth).toBeDefined();

    // A secret ID's own token_bound_cidrs override the role's.
    const own = await secretId("t", { token_bound_cidrs: "10.9.9.9" });
    await expectError(login(tid, own.secret_id, "10.9.0.1"), 403);
    expect((await login(tid, own.secret_id, "10.9.9.9"))?.auth).toBeDefined();
  });

  it("logs in with role_id alone when bind_secret_id is off, inside the bound CIDRs only", async () => {
    await ar("update", "role/n", { bind_secret_id: false, secret_id_bound_cidrs: "127.0.0.0/8" });
    const rid = await roleId("n");
    expect((await login(rid, undefined))?.auth?.metadata).toEqual({ role_name: "n" });
    await expectError(login(rid, undefined, "10.0.0.1"), 400, /CIDR restrictions on the role/);
  });

  it("never mints root tokens", async () => {
    await ar("update", "role/r", { token_policies: "root" });
    await expectError(login(await roleId("r"), (await secretId("r")).secret_id), 400, "auth methods cannot create root tokens");
  });

  it("is reachable without a token; management paths are not", async () => {
    await ar("update", "role/r", {});
    await expectError(ar("read", "role/r/role-id", {}, { token: null }), 403);
    const limited = (await call("update", "auth/token/create", { policies: "app" }))!.auth!.clientToken;
    await expectError(ar("update", "role/r/secret-id", {}, { token: limited }), 403);
  });

  it("enforces token_bound_cidrs on every use of the token, not only at login", async () => {
    await ar("update", "role/bound", { token_policies: "default", token_bound_cidrs: "10.1.0.0/16" });
    const rid = await roleId("bound");
    const sid = (await secretId("bound")).secret_id;
    await expectError(login(rid, sid, "192.168.1.9"), 403);
    const token = (await login(rid, sid, "10.1.2.3"))!.auth!.clientToken;
    expect((await call("read", "auth/token/lookup-self", {}, { token, remote: "10.1.9.9" }))?.data).toBeTruthy();
    await expectError(call("read", "auth/token/lookup-self", {}, { token, remote: "10.2.0.1" }), 403);
    await expectError(call("read", "auth/token/lookup-self", {}, { token, remote: "::ffff:192.168.0.1" }), 403);
    expect((await call("read", "auth/token/lookup-self", {}, { token, remote: "::ffff:10.1.0.7" }))?.data).toBeTruthy();
  });
});
