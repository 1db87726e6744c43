/**
 * Batch tokens through the core: made by auth/token/create (type or role), nothing stored, usable for
 * requests, no accessor, not renewable, no children, no cubbyhole; and the hostile cases: a forged or
 * tampered token, a token carried to another namespace, one whose parent is revoked, one past its TTL.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { expectArcaError, initializedCore } from "../../../test/core.js";
import { allStorageKeys } from "../../../test/servers.js";
import type { Core } from "../core.js";
import type { AuthResponse, Operation, Response } from "../framework/request.js";
import type { SqliteStorage } from "../../storage/sqlite.js";
import { createCubbyholeBackend } from "../../engines/cubbyhole/backend.js";

let core: Core;
let storage: SqliteStorage;
let root: string;

beforeEach(async () => {
  ({ core, storage, root } = await initializedCore({ cubbyhole: () => createCubbyholeBackend() }));
  await core.root.policies.write("reader", `path "sys/policies/acl/*" { capabilities = ["read"] }\npath "auth/token/*" { capabilities = ["update", "read"] }\npath "cubbyhole/*" { capabilities = ["read", "update"] }`, {});
});
afterEach(async () => {
  vi.useRealTimers();
  await storage.close();
});

function call(operation: Operation, path: string, data: Record<string, unknown> = {}, clientToken = root, namespace?: string): Promise<Response | undefined> {
  return core.handleRequest(core.newRequest({ operation, path, data, clientToken }), namespace);
}

async function batch(data: Record<string, unknown> = {}, clientToken = root, path = "auth/token/create"): Promise<AuthResponse> {
  const r = await call("update", path, { type: "batch", policies: ["reader"], ttl: "1h", ...data }, clientToken);
  if (!r?.auth) throw new Error("no auth block");
  return r.auth;
}

describe("batch tokens", () => {
  it("are hvb. tokens with no accessor, not renewable, and nothing of them is stored", async () => {
    const before = (await allStorageKeys(storage)).length;
    const t = await batch();
    expect(t.clientToken).toMatch(/^hvb\.[A-Za-z0-9_-]+$/);
    expect(t).toMatchObject({ accessor: "", tokenType: "batch", renewable: false, leaseDuration: 3600, policies: ["default", "reader"], orphan: false });
    expect((await allStorageKeys(storage)).length).toBe(before);
    // Usable: reads what its policy allows, and looks itself up.
    expect((await call("read", "sys/policies/acl/reader", {}, t.clientToken))?.data?.name).toBe("reader");
    const self = (await call("read", "auth/token/lookup-self", {}, t.clientToken))?.data;
    expect(self).toMatchObject({ type: "batch", accessor: "", renewable: false, id: t.clientToken, policies: ["default", "reader"], orphan: false });
    await expectArcaError(call("read", "sys/policies/acl/reader", {}, `${t.clientToken}x`), 403);
  });

  it("cannot be renewed, revoked, make children, or use a cubbyhole", async () => {
    const t = await batch();
    await expectArcaError(call("update", "auth/token/renew-self", {}, t.clientToken), 400, "batch tokens cannot be renewed");
    await expectArcaError(call("update", "auth/token/create", { policies: ["reader"] }, t.clientToken), 400, "batch tokens cannot create more tokens");
    await expectArcaError(call("update", "auth/token/revoke-self", {}, t.clientToken), 400, "batch tokens cannot be revoked");
    await expectArcaError(call("update", "auth/token/revoke", { token: t.clientToken }), 400, "batch tokens cannot be revoked");
    await expectArcaError(call("update", "cubbyhole/x", { v: 1 }, t.clientToken), 400, 'cubbyhole operations are only supported by "service" type tokens');
  });

  it("refuses what a batch token cannot carry", async () => {
    await expectArcaError(batch({ num_uses: 3 }), 400, 'batch tokens cannot have "num_uses" set');
    await expectArcaError(batch({ period: "1h" }), 400, 'batch tokens cannot have "period" set');
    await expectArcaError(batch({ explicit_max_ttl: "2h" }), 400, 'batch tokens cannot have "explicit_max_ttl" set');
    await expectArcaError(batch({ policies: ["root"] }), 400, "batch tokens cannot be root tokens");
  });

  it("come from token roles with token_type batch or default-batch", async () => {
    await call("update", "auth/token/roles/b", { token_type: "batch", orphan: true, renewable: false, allowed_policies: ["reader"] });
    const forced = await call("update", "auth/token/create/b", { type: "service", policies: ["reader"] });
    expect(forced?.auth).toMatchObject({ tokenType: "batch", orphan: true });
    await call("update", "auth/token/roles/db", { token_type: "default-batch", orphan: true, renewable: false, allowed_policies: ["reader"] });
    expect((await call("update", "auth/token/create/db", { policies: ["reader"] }))?.auth?.tokenType).toBe("batch");
    expect((await call("update", "auth/token/create/db", { policies: ["reader"], type: "service" }))?.auth?.tokenType).toBe("service");
  });

  it("forged or tampered tokens are refused with 403, never a 500", async () => {
    const t = (await batch()).clientToken;
    const body = t.slice(4);
    const flip = (i: number): string => {
      const raw = Buffer.from(body, "base64url");
      raw[i] ^= 1;
      return `hvb.${raw.toString("base64url")}`;
    };
    const forged = [
      flip(0),
      flip(5),
      flip(Buffer.from(body, "base64url").length - 1),
      `hvb.${Buffer.from(JSON.stringify({ p: ["root"], m: {}, d: "x", pa: "auth/token/create", c: 0, t: 99999, e: 9e15, par: "", n: false })).toString("base64url")}`,
      "hvb.",
      "hvb.!!!!",
      `hvb.${"A".repeat(5000)}`,
      `${t}.`,
      `${t}.nsid00`,
    ];
    for (const f of forged) await expectArcaError(call("read", "sys/policies/acl/reader", {}, f), 403, "permission denied");
  });

  it("is valid in its namespace only, and dies with its parent or its TTL", async () => {
    await call("update", "sys/namespaces/bta");
    await call("update", "sys/namespaces/btb");
    await call("update", "sys/policies/acl/reader", { policy: `path "sys/policies/acl/*" { capabilities = ["read"] }` }, root, "bta");
    await call("update", "sys/policies/acl/reader", { policy: `path "sys/policies/acl/*" { capabilities = ["read"] }` }, root, "btb");
    const inA = await batch({}, root, "bta/auth/token/create");
    expect(inA.clientToken).toMatch(/^hvb\.[A-Za-z0-9_-]+\.[A-Za-z0-9]+$/);
    expect((await call("read", "sys/policies/acl/reader", {}, inA.clientToken, "bta"))?.data?.name).toBe("reader");
    // In B (its suffix swapped for B's id, or as it is): refused.
    await expectArcaError(call("read", "sys/policies/acl/reader", {}, inA.clientToken, "btb"), 403);
    const idB = core.namespaces.root.children.get("btb")!.ref.id;
    const swapped = inA.clientToken.replace(/\.[^.]+$/, `.${idB}`);
    await expectArcaError(call("read", "sys/policies/acl/reader", {}, swapped, "btb"), 403);
    // A root-namespace batch token does not act in a child namespace either.
    const inRoot = await batch();
    await expectArcaError(call("read", "sys/policies/acl/reader", {}, inRoot.clientToken, "bta"), 403);

    // Parent revoked: its non-orphan batch child is dead.
    const parent = (await call("update", "auth/token/create", { policies: ["reader"], ttl: "2h" }))!.auth!;
    const child = await batch({}, parent.clientToken);
    expect((await call("read", "sys/policies/acl/reader", {}, child.clientToken))?.data?.name).toBe("reader");
    await call("update", "auth/token/revoke", { token: parent.clientToken });
    await expectArcaError(call("read", "sys/policies/acl/reader", {}, child.clientToken), 403);

    // Past its TTL.
    const short = await batch({ ttl: "60s" });
    vi.useFakeTimers({ now: Date.now() + 61_000, toFake: ["Date"] });
    await expectArcaError(call("read", "sys/policies/acl/reader", {}, short.clientToken), 403);
  });
});
