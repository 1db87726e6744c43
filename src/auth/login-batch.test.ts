/**
 * Logins that yield batch tokens: token_type on userpass users and AppRole roles, and the auth mount's
 * tuned token_type (default-batch as the default, service/batch forcing it), as OpenBao decides them.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectArcaError, initializedCore } from "../../test/core.js";
import type { Core } from "../core/core.js";
import type { Operation, Response } from "../core/framework/request.js";
import type { SqliteStorage } from "../storage/sqlite.js";
import { createUserpassBackend } from "./userpass/backend.js";
import { createAppRoleBackend } from "./approle/backend.js";
import { loginTokenType } from "./token-fields.js";

let core: Core;
let storage: SqliteStorage;
let root: string;

beforeEach(async () => {
  ({ core, storage, root } = await initializedCore({ userpass: createUserpassBackend, approle: createAppRoleBackend }));
  await call("update", "sys/auth/userpass", { type: "userpass" });
  await call("update", "sys/auth/approle", { type: "approle" });
  await call("update", "sys/policies/acl/app", { policy: `path "sys/policies/acl/app" { capabilities = ["read"] }` });
});
afterEach(async () => storage.close());

function call(operation: Operation, path: string, data: Record<string, unknown> = {}, token: string | undefined = root): Promise<Response | undefined> {
  return core.handleRequest(core.newRequest({ operation, path, data, clientToken: token, remoteAddress: "127.0.0.1" }));
}

const userLogin = async (user: string) => (await call("update", `auth/userpass/login/${user}`, { password: "pw-123456" }, undefined))?.auth;

describe("batch tokens from logins", () => {
  it("userpass token_type=batch: an hvb. token that works and has no accessor", async () => {
    await call("update", "auth/userpass/users/bob", { password: "pw-123456", token_policies: "app", token_type: "batch", token_ttl: "10m" });
    expect((await call("read", "auth/userpass/users/bob"))?.data?.token_type).toBe("batch");
    const auth = await userLogin("bob");
    expect(auth).toMatchObject({ tokenType: "batch", accessor: "", renewable: false, leaseDuration: 600, orphan: true });
    expect(auth!.clientToken).toMatch(/^hvb\./);
    expect((await call("read", "sys/policies/acl/app", {}, auth!.clientToken))?.data?.name).toBe("app");
  });

  it("AppRole token_type=batch, and a batch role with num_uses is refused at login", async () => {
    await call("update", "auth/approle/role/r", { token_policies: "app", token_type: "batch" });
    const roleId = (await call("read", "auth/approle/role/r/role-id"))?.data?.role_id as string;
    const secretId = (await call("update", "auth/approle/role/r/secret-id"))?.data?.secret_id as string;
    const auth = (await call("update", "auth/approle/login", { role_id: roleId, secret_id: secretId }, undefined))?.auth;
    expect(auth?.tokenType).toBe("batch");
    expect((await call("read", "sys/policies/acl/app", {}, auth!.clientToken))?.data?.name).toBe("app");
    await call("update", "auth/approle/role/r", { token_num_uses: 2 });
    const again = (await call("update", "auth/approle/role/r/secret-id"))?.data?.secret_id as string;
    await expectArcaError(call("update", "auth/approle/login", { role_id: roleId, secret_id: again }, undefined), 400, 'batch tokens cannot have "num_uses" set');
  });

  it("the mount's token_type: default-batch makes batch the default; service and batch force it", async () => {
    await call("update", "auth/userpass/users/dflt", { password: "pw-123456", token_policies: "app" });
    await call("update", "auth/userpass/users/svc", { password: "pw-123456", token_policies: "app", token_type: "service" });
    expect((await userLogin("dflt"))?.tokenType).toBe("service");
    await call("update", "sys/auth/userpass/tune", { token_type: "default-batch" });
    expect((await call("read", "sys/auth/userpass/tune"))?.data?.token_type).toBe("default-batch");
    expect((await userLogin("dflt"))?.tokenType).toBe("batch");
    expect((await userLogin("svc"))?.tokenType).toBe("service");
    await call("update", "sys/auth/userpass/tune", { token_type: "batch" });
    expect((await userLogin("svc"))?.tokenType).toBe("batch");
    await call("update", "sys/auth/userpass/tune", { token_type: "service" });
    await call("update", "auth/userpass/users/dflt", { token_type: "batch" });
    expect((await userLogin("dflt"))?.tokenType).toBe("service");
  });

  it("loginTokenType follows OpenBao's table", () => {
    expect(loginTokenType("default", undefined)).toBe("service");
    expect(loginTokenType("batch", "default-service")).toBe("batch");
    expect(loginTokenType("default", "default-batch")).toBe("batch");
    expect(loginTokenType("service", "default-batch")).toBe("service");
    expect(loginTokenType("service", "batch")).toBe("batch");
    expect(loginTokenType("batch", "service")).toBe("service");
  });
});
