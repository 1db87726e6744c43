import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { expectArcaError, initializedCore } from "../../../test/core.js";
import { Core } from "../core.js";
import type { AuthResponse, Operation, Response } from "../framework/request.js";
import { SqliteStorage } from "../../storage/sqlite.js";
import { calculateTtl, sanitizePolicies } from "./token-rules.js";

let core: Core;
let storage: SqliteStorage;
let root: string;

beforeEach(async () => {
  ({ core, storage, root } = await initializedCore());
  await core.root.policies.write("app", `path "secret/*" { capabilities = ["read"] }`, {});
  // Enough to create children and look itself up, nothing more.
  await core.root.policies.write(
    "creator",
    `path "auth/token/create" { capabilities = ["update"] }
     path "auth/token/create-orphan" { capabilities = ["update"] }
     path "auth/token/lookup" { capabilities = ["update"] }
     path "auth/token/revoke-orphan" { capabilities = ["update"] }`,
    {},
  );
  await core.root.policies.write(
    "admin",
    `path "auth/token/*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }`,
    {},
  );
});

afterEach(async () => {
  vi.useRealTimers();
  await storage.close();
});

async function call(operation: Operation, path: string, data: Record<string, unknown> = {}, clientToken = root): Promise<Response | undefined> {
  return core.handleRequest(core.newRequest({ operation, path: `auth/token/${path}`, data, clientToken }));
}

async function create(data: Record<string, unknown> = {}, clientToken = root, path = "create"): Promise<AuthResponse & { warnings?: string[] }> {
  const resp = await call("update", path, data, clientToken);
  if (!resp?.auth) throw new Error("no auth block");
  return { ...resp.auth, warnings: resp.warnings };
}

async function lookup(token: string): Promise<Record<string, unknown>> {
  const resp = await call("update", "lookup", { token });
  return resp?.data ?? {};
}

const expectError = expectArcaError;

describe("auth/token/create", () => {
  it("creates a child token with the default policy and an OpenBao-shaped auth block", async () => {
    const a = await create({ policies: ["app"], ttl: "1h", display_name: "my app!", meta: { team: "x" } });
    expect(a.clientToken).toMatch(/^hvs\.[0-9A-Za-z]{24}$/);
    expect(a.accessor).toMatch(/^[0-9A-Za-z]{24}$/);
    expect(a.policies).toEqual(["app", "default"]);
    expect(a.tokenPolicies).toEqual(["app", "default"]);
    expect(a.leaseDuration).toBe(3600);
    expect(a.renewable).toBe(true);
    expect(a.orphan).toBe(false);
    expect(a.tokenType).toBe("service");
    expect(a.entityId).toBe("");
    expect(a.metadata).toEqual({ team: "x" });
    expect(a.warnings ?? []).toEqual([]);

    const d = await lookup(a.clientToken);
    expect(d).toMatchObject({
      id: a.clientToken,
      accessor: a.accessor,
      display_name: "token-my-app",
      path: "auth/token/create",
      policies: ["app", "default"],
      meta: { team: "x" },
      orphan: false,
      num_uses: 0,
      creation_ttl: 3600,
      explicit_max_ttl: 0,
      renewable: true,
      type: "service",
      entity_id: "",
    });
    expect(d.ttl).toBeGreaterThan(3590);
    expect(typeof d.expire_time).toBe("string");
    expect(typeof d.issue_time).toBe("string");
    expect(d.creation_time).toBeTypeOf("number");
  });

  it("warns about policies that do not exist and honours no_default_policy", async () => {
    const a = await create({ policies: ["nope", "App"], no_default_policy: true });
    expect(a.policies).toEqual(["app", "nope"]);
    expect(a.warnings).toEqual(['Policy "nope" does not exist']);
    // No ttl: the mount/system default applies.
    expect(a.leaseDuration).toBe(core.defaultLeaseTtl);
  });

  it("lets a child of root inherit root without a TTL, and looks up the root token like OpenBao", async () => {
    const a = await create();
    expect(a.policies).toEqual(["root"]);
    expect(a.leaseDuration).toBe(0);
    expect(a.renewable).toBe(false);
    const d = await lookup(root);
    expect(d).toMatchObject({ policies: ["root"], path: "auth/token/root", display_name: "root", expire_time: null, ttl: 0, orphan: true, meta: null });
    expect(d).not.toHaveProperty("issue_time");
  });

  it("enforces the subset rule for non-sudo callers", async () => {
    const parent = await create({ policies: ["creator", "app"] });
    const child = await create({ policies: ["app"] }, parent.clientToken);
    expect(child.policies).toEqual(["app", "default"]);
    await expectError(create({ policies: ["admin"] }, parent.clientToken), 400, "child policies must be subset of parent");
    // Inherits the parent's policies when none are given.
    const inherited = await create({}, parent.clientToken);
    expect(inherited.policies).toEqual(["app", "creator", "default"]);
  });

  it("requires sudo for no_parent, id and period, and root for root children", async () => {
    const parent = await create({ policies: ["creator"] });
    await expectError(create({ no_parent: true }, parent.clientToken), 400, "root or sudo privileges required to create orphan token");
    await expectError(create({ id: "custom" }, parent.clientToken), 400, "root or sudo privileges required to specify token id");
    await expectError(create({ period: "1h" }, parent.clientToken), 400, "root or sudo privileges required to create periodic token");
    const admin = await create({ policies: ["admin"] });
    await expectError(create({ policies: ["root"] }, admin.clientToken), 400, "root tokens may not be created without parent token being root");
    const orphan = await create({ no_parent: true, policies: ["app"] }, admin.clientToken);
    expect(orphan.orphan).toBe(true);
  });

  it("accepts a custom id from root and rejects bad ones", async () => {
    const a = await create({ id: "my-token", policies: ["app"] });
    expect(a.clientToken).toBe("my-token");
    await expectError(create({ id: "my-token" }), 400, "cannot create a token with a duplicate ID");
    await expectError(create({ id: "hvs.abc" }), 400, "custom token ID cannot have the 'hvs.' prefix");
    await expectError(create({ id: "a.b" }), 400, "custom token ID cannot have a '.' in the value");
  });

  it("rejects bad input with 4xx errors", async () => {
    await expectError(create({ type: "batch", num_uses: 2 }), 400, 'batch tokens cannot have "num_uses" set');
    await expectError(create({ type: "weird" }), 400, "invalid 'token_type' value");
    await expectError(create({ num_uses: -1 }), 400, "number of uses cannot be negative");
    await expectError(create({ ttl: "forever" }), 400);
    await expectError(create({ ttl: "-5s" }), 400);
    await expectError(create({ entity_alias: "x" }), 400, "'entity_alias' is only allowed in combination with token role");
    await expectError(call("update", "create", {}, "hvs.notatoken"), 403, "permission denied");
  });

  it("creates orphans through create-orphan for callers allowed there", async () => {
    const parent = await create({ policies: ["creator", "app"] });
    const orphan = await create({ policies: ["app"] }, parent.clientToken, "create-orphan");
    expect(orphan.orphan).toBe(true);
    await call("update", "revoke", { token: parent.clientToken });
    expect((await lookup(orphan.clientToken)).orphan).toBe(true);
  });
});

describe("TTLs", () => {
  it("caps the TTL at the explicit max TTL and at the system max", async () => {
    const a = await create({ ttl: "2h", explicit_max_ttl: "1h", policies: ["app"] });
    expect(a.leaseDuration).toBe(3600);
    expect(a.warnings?.[0]).toBe('TTL of "2h" exceeded the effective max_ttl of "1h"; TTL value is capped accordingly');
    const b = await create({ ttl: `${core.maxLeaseTtl + 100}`, policies: ["app"] });
    expect(b.leaseDuration).toBe(core.maxLeaseTtl);
    expect((await lookup(a.clientToken)).explicit_max_ttl).toBe(3600);
  });

  it("bounds root tokens by an explicit max TTL", async () => {
    const a = await create({ explicit_max_ttl: "10m" });
    expect(a.policies).toEqual(["root"]);
    expect(a.leaseDuration).toBe(600);
    // An expiring root token cannot mint a non-expiring one.
    await expectError(create({}, a.clientToken), 400, "expiring root tokens cannot create non-expiring root tokens");
  });

  it("expires tokens and their children", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const parent = await create({ ttl: "60s", policies: ["creator", "app"] });
    const child = await create({ policies: ["app"], ttl: "30s" }, parent.clientToken);
    vi.setSystemTime(Date.now() + 61_000);
    await expectError(call("read", "lookup-self", {}, parent.clientToken), 403, "permission denied");
    await expectError(lookup(parent.clientToken), 403, "bad token");
    await expectError(lookup(child.clientToken), 403, "bad token");
  });

  it("renews up to the explicit max TTL and then refuses", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const a = await create({ ttl: "10m", explicit_max_ttl: "30m", policies: ["app"] });
    vi.setSystemTime(Date.now() + 5 * 60_000);
    const r1 = await call("update", "renew", { token: a.clientToken, increment: "20m" });
    expect(r1?.auth?.leaseDuration).toBe(20 * 60);
    expect(r1?.auth?.clientToken).toBe(a.clientToken);
    vi.setSystemTime(Date.now() + 19 * 60_000);
    // 24 min into a 30 min hard limit: capped to what is left.
    const r2 = await call("update", "renew", { token: a.clientToken, increment: "1h" });
    expect(r2?.auth?.leaseDuration).toBe(6 * 60);
    expect(r2?.warnings?.[0]).toBe('TTL of "1h" exceeded the effective max_ttl of "6m"; TTL value is capped accordingly');
    const d = await lookup(a.clientToken);
    expect(d.last_renewal_time).toBeTypeOf("number");
    expect(d.ttl).toBeLessThanOrEqual(360);
    // At the hard limit the token is gone.
    vi.setSystemTime(Date.now() + 6 * 60_000 + 1000);
    await expectError(call("update", "renew", { token: a.clientToken }), 400, "token not found");
  });

  it("renews periodic tokens to their period, beyond any max TTL", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const a = await create({ period: "1h", policies: ["app"] });
    expect(a.leaseDuration).toBe(3600);
    expect((await lookup(a.clientToken)).period).toBe(3600);
    for (let i = 0; i < 30; i++) {
      vi.setSystemTime(Date.now() + 50 * 60_000);
      const r = await call("update", "renew-self", { increment: "10s" }, a.clientToken);
      expect(r?.auth?.leaseDuration).toBe(3600);
    }
    // 25 hours on, far beyond the creation TTL: still alive.
    expect((await lookup(a.clientToken)).ttl).toBeGreaterThan(3500);
  });

  it("refuses to renew non-renewable and non-expiring tokens", async () => {
    const a = await create({ renewable: false, ttl: "1h", policies: ["app"] });
    expect(a.renewable).toBe(false);
    await expectError(call("update", "renew", { token: a.clientToken }), 400, "lease is not renewable");
    await expectError(call("update", "renew-self", {}, root), 400, "lease is not renewable");
    await expectError(call("update", "renew", { token: "hvs.unknown" }), 400, "token not found");
    await expectError(call("update", "renew", {}), 400, "missing token ID");
  });

  it("really expires with wall-clock time", async () => {
    const a = await create({ ttl: "1s", policies: ["app"] });
    await new Promise((r) => setTimeout(r, 1100));
    await expectError(lookup(a.clientToken), 403, "bad token");
  });
});

describe("num_uses", () => {
  it("works exactly N times", async () => {
    const a = await create({ num_uses: 3, policies: ["app"] });
    expect(a.numUses).toBe(3);
    const first = await call("read", "lookup-self", {}, a.clientToken);
    expect(first?.data?.num_uses).toBe(2);
    await call("read", "lookup-self", {}, a.clientToken);
    await call("read", "lookup-self", {}, a.clientToken);
    await expectError(call("read", "lookup-self", {}, a.clientToken), 403, "permission denied");
    await expectError(lookup(a.clientToken), 403, "bad token");
  });

  it("does not let a limited-use token create children", async () => {
    const a = await create({ num_uses: 5, policies: ["creator"] });
    await expectError(create({}, a.clientToken), 400, "restricted use token cannot generate child tokens");
  });
});

describe("revocation", () => {
  it("revokes a token and its whole tree", async () => {
    const parent = await create({ policies: ["creator", "app"] });
    const child = await create({ policies: ["creator", "app"] }, parent.clientToken);
    const grandchild = await create({ policies: ["app"] }, child.clientToken);
    expect(await call("update", "revoke", { token: parent.clientToken })).toBeUndefined();
    for (const t of [parent, child, grandchild]) await expectError(lookup(t.clientToken), 403, "bad token");
    // Idempotent.
    expect(await call("update", "revoke", { token: parent.clientToken })).toBeUndefined();
    await expectError(call("update", "revoke", {}), 400, "missing token ID");
  });

  it("revoke-self revokes the caller and its children", async () => {
    const parent = await create({ policies: ["creator", "app"] });
    const child = await create({ policies: ["app"] }, parent.clientToken);
    await call("update", "revoke-self", {}, parent.clientToken);
    await expectError(lookup(child.clientToken), 403, "bad token");
  });

  it("revoke-orphan needs sudo and leaves children as orphans", async () => {
    const parent = await create({ policies: ["creator", "app"] });
    const child = await create({ policies: ["app"] }, parent.clientToken);
    await expectError(call("update", "revoke-orphan", { token: child.clientToken }, parent.clientToken), 400, "root or sudo privileges required to revoke and orphan");
    await call("update", "revoke-orphan", { token: parent.clientToken });
    await expectError(lookup(parent.clientToken), 403, "bad token");
    expect((await lookup(child.clientToken)).orphan).toBe(true);
    await expectError(call("update", "revoke-orphan", { token: parent.clientToken }), 400, "token to revoke not found");
  });
});

describe("accessors", () => {
  it("looks up, renews, lists and revokes by accessor", async () => {
    const a = await create({ policies: ["app"], ttl: "1h" });
    const d = (await call("update", "lookup-accessor", { accessor: a.accessor }))?.data;
    expect(d?.id).toBe("");
    expect(d?.accessor).toBe(a.accessor);
    expect(d?.policies).toEqual(["app", "default"]);

    const r = await call("update", "renew-accessor", { accessor: a.accessor, increment: 7200 });
    expect(r?.auth?.clientToken).toBe("");
    expect(r?.auth?.leaseDuration).toBe(7200);

    const list = await call("list", "accessors/");
    expect(list?.data?.keys).toEqual(expect.arrayContaining([a.accessor]));

    expect(await call("update", "revoke-accessor", { accessor: a.accessor })).toBeUndefined();
    await expectError(lookup(a.clientToken), 403, "bad token");
    await expectError(call("update", "lookup-accessor", { accessor: a.accessor }), 400, "invalid accessor");
    await expectError(call("update", "lookup-accessor", {}), 400, "missing accessor");
    expect((await call("update", "revoke-accessor", { accessor: a.accessor }))?.warnings).toEqual(["No token found with this accessor"]);
  });

  it("requires sudo to list accessors", async () => {
    const noSudo = await core.root.policies.write("lister", `path "auth/token/accessors" { capabilities = ["list"] }`, {});
    expect(noSudo.name).toBe("lister");
    const t = await create({ policies: ["lister"] });
    await expectError(call("list", "accessors/", {}, t.clientToken), 403, "permission denied");
    const admin = await create({ policies: ["admin"] });
    expect((await call("list", "accessors/", {}, admin.clientToken))?.data?.keys).toContain(admin.accessor);
  });
});

describe("roles", () => {
  it("writes, reads, lists and deletes roles", async () => {
    expect(await call("update", "roles/web", { allowed_policies: "app,Other", orphan: true, path_suffix: "ver1", token_num_uses: 2 })).toBeUndefined();
    const r = await call("read", "roles/web");
    expect(r?.data).toEqual({
      name: "web",
      allowed_policies: ["app", "other"],
      disallowed_policies: [],
      allowed_policies_glob: [],
      disallowed_policies_glob: [],
      allowed_entity_aliases: null,
      orphan: true,
      renewable: true,
      path_suffix: "ver1",
      period: 0,
      token_period: 0,
      explicit_max_ttl: 0,
      token_explicit_max_ttl: 0,
      token_no_default_policy: false,
      token_type: "default-service",
      token_num_uses: 2,
    });
    expect((await call("list", "roles/"))?.data?.keys).toEqual(["web"]);
    // Update keeps what is not sent.
    await call("update", "roles/web", { renewable: false });
    expect((await call("read", "roles/web"))?.data).toMatchObject({ orphan: true, renewable: false, path_suffix: "ver1" });
    await call("delete", "roles/web");
    await expectError(call("read", "roles/web"), 404);
  });

  it("creates tokens against a role", async () => {
    await call("update", "roles/web", { allowed_policies: ["app", "admin"], orphan: true, path_suffix: "ver1", token_explicit_max_ttl: "1h", token_num_uses: 4 });
    // A creator that could not grant "admin" by the subset rule can through the role.
    await core.root.policies.write("role-user", `path "auth/token/create/web" { capabilities = ["update"] }`, {});
    const u = await create({ policies: ["role-user"] });
    const t = await create({ policies: ["admin"] }, u.clientToken, "create/web");
    expect(t.policies).toEqual(["admin", "default"]);
    expect(t.orphan).toBe(true);
    expect(t.numUses).toBe(4);
    expect(t.leaseDuration).toBe(3600);
    const d = await lookup(t.clientToken);
    expect(d).toMatchObject({ path: "auth/token/create/web/ver1", role: "web", explicit_max_ttl: 0 });
    // Default: the role's allowed policies.
    const t2 = await create({}, u.clientToken, "create/web");
    expect(t2.policies).toEqual(["admin", "app", "default"]);
    await expectError(create({ policies: ["root"] }, u.clientToken, "create/web"), 400, /must be subset of the role's allowed policies/);
    await expectError(create({}, root, "create/missing"), 400, "unknown role missing");
  });

  it("enforces disallowed policies and globs", async () => {
    await call("update", "roles/limited", { disallowed_policies: ["admin"], allowed_policies_glob: ["ap*"], disallowed_policies_glob: ["*secret"] });
    const a = await create({ policies: ["app"] }, root, "create/limited");
    expect(a.policies).toEqual(["app", "default"]);
    await expectError(create({ policies: ["admin"] }, root, "create/limited"), 400, /must be subset|is disallowed/);
    await call("update", "roles/nodef", { disallowed_policies: ["default"] });
    const b = await create({ policies: ["app"] }, root, "create/nodef");
    expect(b.policies).toEqual(["app"]);
  });

  it("rejects invalid role settings", async () => {
    await expectError(call("update", "roles/x", { token_type: "nope" }), 400, /invalid 'token_type' value/);
    await expectError(call("update", "roles/x", { token_type: "batch" }), 400, "'token_type' cannot be 'batch' when role is set to generate non-orphan tokens");
    await expectError(call("update", "roles/x", { path_suffix: "a/../b" }), 400);
    await call("update", "roles/b", { token_type: "batch", orphan: true, renewable: false });
    expect((await create({ policies: ["app"] }, root, "create/b")).tokenType).toBe("batch");
    await expectError(create({}, root, "create/b"), 400, "batch tokens cannot be root tokens");
  });
});

describe("tidy", () => {
  it("removes dangling index entries and orphans children of missing parents", async () => {
    const parent = await create({ policies: ["creator", "app"] });
    const child = await create({ policies: ["app"] }, parent.clientToken);
    const parentEntry = await core.root.tokens.lookup(parent.clientToken);
    if (!parentEntry) throw new Error("parent missing");
    // Simulate an interrupted revocation: the parent's entry is gone, its index rows are not.
    const view = (core.root.tokens as unknown as { store: { delete(k: string): Promise<void> } }).store;
    await view.delete(`id/${parentEntry.id}`);
    // Like OpenBao, the accessor is still listed until tidy removes its index row.
    expect((await call("list", "accessors/"))?.data?.keys).toContain(parent.accessor);

    const resp = await call("update", "tidy");
    expect(resp?.status).toBe(202);
    expect(resp?.warnings?.[0]).toMatch(/^Tidy operation successfully started/);
    expect((await lookup(child.clientToken)).orphan).toBe(true);
    const after = await call("list", "accessors/");
    expect(after?.warnings).toBeUndefined();
    expect(after?.data?.keys).not.toContain(parent.accessor);
  });
});

describe("lookup", () => {
  it("accepts GET with ?token, falls back to the caller's token, and 403s bad tokens", async () => {
    const a = await create({ policies: ["app"] });
    expect((await call("read", "lookup", { token: a.clientToken }))?.data?.id).toBe(a.clientToken);
    // The default policy grants lookup-self, not lookup.
    await expectError(call("read", "lookup", {}, a.clientToken), 403, "permission denied");
    expect((await call("read", "lookup"))?.data?.id).toBe(root);
    await expectError(lookup("hvs.000000000000000000000000"), 403, "bad token");
    expect((await call("read", "lookup-self", {}, a.clientToken))?.data?.id).toBe(a.clientToken);
    // The default policy grants lookup-self for reading only, as OpenBao's does.
    await expectError(call("update", "lookup-self", {}, a.clientToken), 403, "permission denied");
  });

  it("answers ?help from the declared paths", () => {
    const backend = core.root.router.get("auth/token/")?.backend;
    expect(backend?.route("create/myrole")?.params).toEqual({ role_name: "myrole" });
    expect(backend?.route("roles/r1")?.path.spec.fields).toHaveProperty("allowed_policies");
    expect(backend?.isRootPath("accessors/")).toBe(true);
  });
});

describe("helpers", () => {
  it("sanitizes policies like policyutil", () => {
    expect(sanitizePolicies([" B", "a", "", "a"], true)).toEqual(["a", "b", "default"]);
    expect(sanitizePolicies(["a", "root", "b"], true)).toEqual(["root"]);
  });

  it("calculates TTLs like framework.CalculateTTL", () => {
    const start = Math.floor(Date.now() / 1000);
    const base = { increment: 0, backendTtl: 0, period: 0, backendMaxTtl: 0, explicitMaxTtl: 0, start, sysMaxTtl: 7200, sysDefaultTtl: 3600 };
    expect(calculateTtl(base).ttl).toBe(3600);
    expect(calculateTtl({ ...base, backendTtl: 9000 }).ttl).toBe(7200);
    expect(calculateTtl({ ...base, period: 9000 }).warnings[0]).toMatch(/^period of "2h30m" exceeded the effective max_ttl of "2h"/);
    expect(calculateTtl({ ...base, period: 600, explicitMaxTtl: 300 }).ttl).toBe(300);
    expect(() => calculateTtl({ ...base, start: start - 100, explicitMaxTtl: 50 })).toThrow("past the max TTL, cannot renew");
  });
});
