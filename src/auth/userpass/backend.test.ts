import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { expectArcaError, initializedCore } from "../../../test/core.js";
import { Core } from "../../core/core.js";
import { ArcaError } from "../../common/errors.js";
import type { Operation, Response } from "../../core/framework/request.js";
import { SqliteStorage } from "../../storage/sqlite.js";
import { createUserpassBackend } from "./backend.js";
import { LoginLimiter } from "./login-limiter.js";
import { hashPassword, verifyPassword } from "./password.js";

let core: Core;
let storage: SqliteStorage;
let root: string;

beforeEach(async () => {
  ({ core, storage, root } = await initializedCore({ userpass: createUserpassBackend }));
  await call("update", "sys/auth/userpass", { type: "userpass" });
});

afterEach(async () => {
  vi.useRealTimers();
  await storage.close();
});

async function call(operation: Operation, path: string, data: Record<string, unknown> = {}, opts: { token?: string | null; remote?: string } = {}): Promise<Response | undefined> {
  const clientToken = opts.token === null ? undefined : (opts.token ?? root);
  return core.handleRequest(core.newRequest({ operation, path, data, clientToken, remoteAddress: opts.remote ?? "127.0.0.1" }));
}

const up = (op: Operation, path: string, data: Record<string, unknown> = {}) => call(op, `auth/userpass/${path}`, data);
const login = (user: string, password: string, remote = "127.0.0.1") => call("update", `auth/userpass/login/${user}`, { password }, { token: null, remote });

const expectError = expectArcaError;

describe("users", () => {
  it("creates, reads without the password, lists, updates policies and password, deletes", async () => {
    await up("update", "users/Alice", { password: "s3cret-pw", token_policies: "ops", token_ttl: "1h" });
    const read = await up("read", "users/alice");
    expect(read?.data).toEqual({
      token_bound_cidrs: [],
      token_explicit_max_ttl: 0,
      token_max_ttl: 0,
      token_no_default_policy: false,
      token_num_uses: 0,
      token_period: 0,
      token_policies: ["ops"],
      token_ttl: 3600,
      token_type: "default",
    });
    expect((await up("list", "users/"))?.data?.keys).toEqual(["alice"]);
    await up("update", "users/alice/policies", { token_policies: "ops,audit" });
    expect((await up("read", "users/alice"))?.data?.token_policies).toEqual(["audit", "ops"]);
    await up("update", "users/alice/password", { password: "new-pw" });
    await expectError(login("alice", "s3cret-pw"), 400, "invalid username or password");
    expect((await login("alice", "new-pw"))?.auth).toBeDefined();
    await up("delete", "users/alice");
    await expectError(up("read", "users/alice"), 404);
  });

  it("keeps the password out of every response and out of storage in the clear", async () => {
    const pw = "canary-password-7f3a9";
    const responses = [
      await up("update", "users/bob", { password: pw, policies: "ops", ttl: "10m", max_ttl: "1h", bound_cidrs: "127.0.0.1" }),
      await up("read", "users/bob"),
      await up("list", "users/"),
      await up("update", "users/bob/password", { password: pw }),
      await login("bob", pw),
    ];
    expect(JSON.stringify(responses)).not.toContain(pw);
    expect(JSON.stringify(responses)).not.toContain("scrypt");
    const mount = core.root.mounts("auth").find((m) => m.path === "userpass/")!;
    const raw = (await core.barrier.get(`auth/${mount.uuid}/user/bob`))!.toString("utf8");
    expect(raw).not.toContain(pw);
    expect(raw).toMatch(/"passwordHash":"\$scrypt\$ln=15,r=8,p=1\$/);
    // Legacy aliases are echoed as OpenBao does.
    expect((await up("read", "users/bob"))?.data).toMatchObject({ policies: ["ops"], ttl: 600, max_ttl: 3600, bound_cidrs: ["127.0.0.1"] });
  });

  it("requires a password on create and refuses bcrypt password_hash", async () => {
    await expectError(up("update", "users/nopw", { token_policies: "x" }), 400, "missing password");
    await expectError(up("update", "users/h", { password_hash: "$2a$10$abcdefghijklmnopqrstuv" }), 400, /password_hash is not supported/);
    await expectError(up("update", "users/ghost/password", { password: "x" }), 400, "username does not exist");
  });
});

describe("login", () => {
  beforeEach(async () => {
    await up("update", "users/carol", { password: "right", token_policies: "ops", token_ttl: "30m", token_num_uses: 5 });
  });

  it("returns an orphan token with the user's policies and metadata", async () => {
    const auth = (await login("Carol", "right"))!.auth!;
    expect(auth).toMatchObject({ policies: ["default", "ops"], metadata: { username: "carol" }, leaseDuration: 1800, orphan: true, numUses: 5, renewable: true });
    const entry = await core.root.tokens.lookup(auth.clientToken);
    expect(entry).toMatchObject({ parent: "", path: "auth/userpass/login/Carol", displayName: "userpass-carol" });
  });

  it("answers unknown user and wrong password identically, after a KDF either way", async () => {
    const t0 = performance.now();
    await expectError(login("carol", "wrong"), 400, "invalid username or password");
    const wrong = performance.now() - t0;
    const t1 = performance.now();
    await expectError(login("nobody", "wrong"), 400, "invalid username or password");
    const missing = performance.now() - t1;
    // Both paid a full scrypt (tens of ms at least); a missing user is not answered noticeably faster.
    expect(missing).toBeGreaterThan(20);
    expect(missing).toBeGreaterThan(wrong / 3);
  });

  it("enforces token_bound_cidrs at login", async () => {
    await up("update", "users/dave", { password: "pw", token_bound_cidrs: "10.0.0.0/8" });
    await expectError(login("dave", "pw", "192.168.0.1"), 403, "permission denied");
    expect((await login("dave", "pw", "10.1.1.1"))?.auth).toBeDefined();
  });

  it("locks a user out after 5 failures whatever the source address, for 15 minutes (OpenBao's user lockout)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    // Rotating source addresses does not give more guesses.
    for (let i = 0; i < 5; i++) await expectError(login("carol", "wrong", `10.0.${i}.1`), 400, "invalid username or password");
    // Locked: refused at once, even with the right password, from any address.
    await expectError(login("carol", "right", "10.9.9.9"), 403, "permission denied");
    // Another user is not affected.
    await expectError(login("someone", "x", "10.0.0.1"), 400);
    vi.setSystemTime(Date.now() + 14 * 60_000);
    await expectError(login("carol", "right", "10.9.9.9"), 403, "permission denied");
    vi.setSystemTime(Date.now() + 61_000);
    expect((await login("carol", "right", "10.9.9.9"))?.auth).toBeDefined();
  });

  it("resets the failure count after the counter-reset time without failures, and on a success", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    for (let i = 0; i < 4; i++) await expectError(login("carol", "wrong", `10.1.${i}.1`), 400);
    vi.setSystemTime(Date.now() + 16 * 60_000);
    for (let i = 0; i < 4; i++) await expectError(login("carol", "wrong", `10.1.${i}.1`), 400);
    expect((await login("carol", "right", "10.1.9.1"))?.auth).toBeDefined();
    for (let i = 0; i < 4; i++) await expectError(login("carol", "wrong", `10.1.${i}.1`), 400);
    expect((await login("carol", "right", "10.1.9.1"))?.auth).toBeDefined();
  });

  it("limits failures per source address across users (password spraying)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    for (let i = 0; i < 20; i++) await expectError(login(`user${i}`, "Winter2026!", "10.2.0.1"), 400);
    await expectError(login("carol", "right", "10.2.0.1"), 429, /too many failed login attempts from this address; try again in \d+s/);
    expect((await login("carol", "right", "10.2.0.2"))?.auth).toBeDefined();
    vi.setSystemTime(Date.now() + 61_000);
    expect((await login("carol", "right", "10.2.0.1"))?.auth).toBeDefined();
  });

  it("counts parallel guesses before their KDF finishes", async () => {
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => login("carol", "wrong", `10.3.0.${i}`)));
    const statuses = results.map((r) => (r.status === "rejected" ? (r.reason as ArcaError).status : 200));
    expect(statuses.filter((s) => s === 400)).toHaveLength(5);
    expect(statuses.filter((s) => s === 403)).toHaveLength(3);
  });

  it("takes threshold, duration, counter reset and disable from the mount's user_lockout_config", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    await call("update", "sys/auth/userpass/tune", { user_lockout_config: { lockout_threshold: "2", lockout_duration: "30s", lockout_counter_reset_duration: "10s" } });
    expect((await call("read", "sys/auth/userpass/tune"))?.data).toMatchObject({
      user_lockout_threshold: 2,
      user_lockout_duration: 30,
      user_lockout_counter_reset_duration: 10,
      user_lockout_disable: false,
    });
    for (let i = 0; i < 2; i++) await expectError(login("carol", "wrong", `10.4.${i}.1`), 400);
    await expectError(login("carol", "right"), 403, "permission denied");
    vi.setSystemTime(Date.now() + 31_000);
    expect((await login("carol", "right"))?.auth).toBeDefined();

    await call("update", "sys/auth/userpass/tune", { user_lockout_config: { lockout_disable: true } });
    for (let i = 0; i < 8; i++) await expectError(login("carol", "wrong", `10.5.${i}.1`), 400);
    expect((await login("carol", "right"))?.auth).toBeDefined();

    await expectError(call("update", "sys/auth/userpass/tune", { user_lockout_config: { lockout_threshold: "many" } }), 400);
    await expectError(call("update", "sys/auth/token/tune", { user_lockout_config: { lockout_threshold: "3" } }), 400, /user lockout configuration for auth type "token" not allowed/);
  });
});

describe("LoginLimiter", () => {
  it("a success clears the user's count; the tables stay bounded", () => {
    let now = 0;
    const policy = { threshold: 2, durationMs: 1000, counterResetMs: 1000, disabled: false };
    const l = new LoginLimiter({ addressMaxAttempts: 100, addressWindowMs: 1000, maxKeys: 3, now: () => now });
    l.begin("u", "a", policy);
    l.begin("u", "a", policy)();
    l.begin("u", "a", policy);
    l.begin("u", "a", policy);
    expect(() => l.begin("u", "a", policy)).toThrow(/permission denied/);
    for (let i = 0; i < 10; i++) l.begin(`u${i}`, `a${i}`, policy);
    expect(l.trackedKeys).toBeLessThanOrEqual(6);
    now = 5000;
    l.begin("u", "a", policy);
  });
});

describe("password hashing", () => {
  it("verifies, rejects wrong passwords and malformed hashes, salts every hash", async () => {
    const a = await hashPassword("pw");
    const b = await hashPassword("pw");
    expect(a).not.toBe(b);
    expect(await verifyPassword("pw", a)).toBe(true);
    expect(await verifyPassword("pw!", a)).toBe(false);
    expect(await verifyPassword("pw", "$scrypt$ln=30,r=8,p=1$AAAA$AAAA")).toBe(false);
    expect(await verifyPassword("pw", "plaintext")).toBe(false);
  });
});
