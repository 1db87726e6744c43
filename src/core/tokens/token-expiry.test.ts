/**
 * Token expiry: a child under an expired parent is refused at once, renewal cannot outrun the parent,
 * and the expiration manager's run (`revokeExpired`) revokes expired tokens with their subtrees and
 * cubbyholes, from the time-ordered index alone.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { expectArcaError, initializedCore } from "../../../test/core.js";
import type { Core } from "../core.js";
import type { AuthResponse, Operation, Response } from "../framework/request.js";
import type { SqliteStorage } from "../../storage/sqlite.js";
import { createCubbyholeBackend } from "../../engines/cubbyhole/backend.js";
import { EXPIRY_PREFIX } from "./expiry-index.js";

let core: Core;
let storage: SqliteStorage;
let root: string;

beforeEach(async () => {
  ({ core, storage, root } = await initializedCore({ cubbyhole: () => createCubbyholeBackend() }));
  await core.root.policies.write(
    "creator",
    `path "auth/token/create" { capabilities = ["update"] }
     path "cubbyhole/*" { capabilities = ["create", "read", "update"] }`,
    {},
  );
  vi.useFakeTimers({ toFake: ["Date"] });
});

afterEach(async () => {
  vi.useRealTimers();
  await storage.close();
});

const MIN = 60_000;

async function call(operation: Operation, path: string, data: Record<string, unknown> = {}, clientToken = root): Promise<Response | undefined> {
  return core.handleRequest(core.newRequest({ operation, path, data, clientToken }));
}

async function create(data: Record<string, unknown>, clientToken = root): Promise<AuthResponse> {
  const resp = await call("update", "auth/token/create", data, clientToken);
  if (!resp?.auth) throw new Error("no auth block");
  return resp.auth;
}

const advance = (ms: number): void => void vi.setSystemTime(Date.now() + ms);

async function accessors(): Promise<unknown[]> {
  return ((await call("list", "auth/token/accessors/"))?.data?.keys as unknown[] | undefined) ?? [];
}

/** A parent whose explicit max TTL ends in 10 minutes, and a child of it with a 5-minute TTL. */
async function family(): Promise<{ parent: AuthResponse; child: AuthResponse }> {
  const parent = await create({ policies: ["creator"], ttl: "10m", explicit_max_ttl: "10m" });
  const child = await create({ policies: ["creator"], ttl: "5m" }, parent.clientToken);
  return { parent, child };
}

describe("a child under an expiring parent", () => {
  it("cannot renew past its parent's expiry", async () => {
    const { child } = await family();
    advance(4 * MIN);
    const r = await call("update", "auth/token/renew-self", { increment: "1h" }, child.clientToken);
    expect(r?.auth?.leaseDuration).toBe(6 * 60);
    expect(r?.warnings).toContain('TTL of "1h" exceeded the expiry of a parent token in "6m"; TTL value is capped accordingly');
    const lookup = await call("read", "auth/token/lookup-self", {}, child.clientToken);
    expect(lookup?.data?.ttl).toBe(6 * 60);
  });

  it("is refused the moment its parent expires, before anything revokes it, and cannot renew", async () => {
    const parent = await create({ policies: ["creator"], ttl: "10m" });
    const child = await create({ policies: ["creator"], ttl: "10m" }, parent.clientToken);
    // A renewal may shorten a lease: the parent now ends nine minutes before its child.
    await call("update", "auth/token/renew-self", { increment: "1m" }, parent.clientToken);
    advance(MIN + 1000);
    // Nothing has run since the parent expired: both are still stored.
    expect(await accessors()).toEqual(expect.arrayContaining([parent.accessor, child.accessor]));
    await expectArcaError(call("read", "cubbyhole/x", {}, child.clientToken), 403, "permission denied");
    // The refusal revoked the expired parent with its subtree on the spot.
    const left = await accessors();
    expect(left).not.toContain(child.accessor);
    expect(left).not.toContain(parent.accessor);
    await expectArcaError(call("update", "auth/token/renew", { token: child.clientToken }), 400, "token not found");
  });

  it("cannot renew once its parent is past its explicit max TTL", async () => {
    const { child } = await family();
    advance(4 * MIN);
    await call("update", "auth/token/renew-self", { increment: "1h" }, child.clientToken);
    advance(6 * MIN + 1000);
    await expectArcaError(call("update", "auth/token/renew-self", { increment: "1h" }, child.clientToken), 403, "permission denied");
    await expectArcaError(call("update", "auth/token/renew", { token: child.clientToken, increment: "1h" }), 400, "token not found");
  });
});

describe("the expiration run", () => {
  it("revokes expired tokens with their subtrees and cubbyholes, and nothing else", async () => {
    const { parent, child } = await family();
    const other = await create({ policies: ["creator"], ttl: "1h" });
    await call("update", "cubbyhole/secret", { v: "child's" }, child.clientToken);
    const cubbyhole = core.root.router.get("cubbyhole/");
    expect(await cubbyhole?.storage.list("")).toHaveLength(1);

    advance(10 * MIN + 1000);
    expect(await accessors()).toEqual(expect.arrayContaining([parent.accessor, child.accessor, other.accessor]));
    expect(await core.root.tokens.revokeExpired(Date.now())).toBeGreaterThanOrEqual(1);
    const left = await accessors();
    expect(left).toContain(other.accessor);
    expect(left).not.toContain(parent.accessor);
    expect(left).not.toContain(child.accessor);
    expect(await cubbyhole?.storage.list("")).toEqual([]);
    expect((await call("read", "auth/token/lookup-self", {}, other.clientToken))?.data?.accessor).toBe(other.accessor);
  });

  it("follows renewals: a renewed token is kept, and revoked at its new expiry", async () => {
    const t = await create({ policies: ["creator"], ttl: "10m" });
    advance(9 * MIN);
    await call("update", "auth/token/renew-self", { increment: "30m" }, t.clientToken);
    advance(2 * MIN);
    expect(await core.root.tokens.revokeExpired(Date.now())).toBe(0);
    expect(await accessors()).toContain(t.accessor);
    advance(29 * MIN);
    expect(await core.root.tokens.revokeExpired(Date.now())).toBe(1);
    expect(await accessors()).not.toContain(t.accessor);
  });

  it("indexes the tokens of a store written before the index existed, once, at setup", async () => {
    const t = await create({ policies: ["creator"], ttl: "10m" });
    // Make the store look like an older one: no index rows, no marker.
    const view = (core.root.tokens as unknown as { store: { list(p: string): Promise<string[]>; delete(k: string): Promise<void> } }).store;
    for (const bucket of await view.list(EXPIRY_PREFIX)) {
      for (const id of await view.list(`${EXPIRY_PREFIX}${bucket}`)) await view.delete(`${EXPIRY_PREFIX}${bucket}${id}`);
    }
    await view.delete("expire-index");
    advance(11 * MIN);
    expect(await core.root.tokens.revokeExpired(Date.now())).toBe(0);
    await core.root.tokens.setup();
    expect(await core.root.tokens.revokeExpired(Date.now())).toBe(1);
    expect(await accessors()).not.toContain(t.accessor);
  });

  it("indexes expiring tokens only, by the minute they expire in", async () => {
    await create({ policies: ["root"] });
    await create({ policies: ["creator"], ttl: "10m" });
    const view = (core.root.tokens as unknown as { store: { list(p: string): Promise<string[]> } }).store;
    const buckets = await view.list(EXPIRY_PREFIX);
    expect(buckets).toHaveLength(1);
    const minute = Math.floor((Date.now() + 10 * MIN) / MIN) * 60;
    expect(buckets[0]).toBe(`${String(minute).padStart(12, "0")}/`);
    expect(await view.list(`${EXPIRY_PREFIX}${buckets[0]}`)).toHaveLength(1);
  });
});

describe("a token created in a child namespace by a parent namespace's token", () => {
  async function crossFamily(): Promise<{ parent: AuthResponse; child: AuthResponse }> {
    await call("update", "sys/namespaces/team");
    const parent = await create({ policies: ["root"], ttl: "10m" });
    const resp = await call("update", "team/auth/token/create", { policies: ["default"], ttl: "10m" }, parent.clientToken);
    if (!resp?.auth) throw new Error("no auth block");
    const child = resp.auth;
    expect((await call("read", "team/auth/token/lookup-self", {}, child.clientToken))?.data?.orphan).toBe(false);
    return { parent, child };
  }

  it("is refused once that parent expires", async () => {
    const { parent, child } = await crossFamily();
    await call("update", "auth/token/renew-self", { increment: "1m" }, parent.clientToken);
    // Renewal of the child is capped by the parent in the other namespace too.
    const r = await call("update", "team/auth/token/renew-self", { increment: "1h" }, child.clientToken);
    expect(r?.auth?.leaseDuration).toBe(60);
    advance(MIN + 1000);
    await expectArcaError(call("read", "team/auth/token/lookup-self", {}, child.clientToken), 403, "permission denied");
  });

  it("is refused once that parent is revoked", async () => {
    const { parent, child } = await crossFamily();
    await call("update", "auth/token/revoke", { token: parent.clientToken });
    await expectArcaError(call("read", "team/auth/token/lookup-self", {}, child.clientToken), 403, "permission denied");
  });
});
