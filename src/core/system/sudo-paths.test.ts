/**
 * Paths that need sudo on top of the operation's capability, as in OpenBao (PathsSpecial.Root): a policy
 * written for OpenBao that grants create/update/delete without sudo must not manage auth methods or wipe a
 * PKI mount here either.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { coreCall, expectArcaError, initializedCore, tokenWithPolicy, type TestCore } from "../../../test/core.js";
import type { Operation, Response } from "../framework/request.js";
import { createPkiBackend } from "../../engines/pki/backend.js";
import { createUserpassBackend } from "../../auth/userpass/backend.js";

let t: TestCore;

const ALL = `"create", "read", "update", "delete", "list"`;

beforeEach(async () => {
  t = await initializedCore({ pki: createPkiBackend, userpass: createUserpassBackend });
  await call("update", "sys/mounts/pki", { type: "pki" });
  await call("update", "pki/root/generate/internal", { common_name: "Sudo Test Root", key_type: "ec", key_bits: 256 });
  await t.core.root.policies.write("operator", `path "sys/auth/*" { capabilities = [${ALL}] }\npath "pki/*" { capabilities = [${ALL}] }`, {});
  await t.core.root.policies.write("admin", `path "sys/auth/*" { capabilities = [${ALL}, "sudo"] }\npath "pki/*" { capabilities = [${ALL}, "sudo"] }`, {});
});

afterEach(async () => {
  await t.storage.close();
});

const call = (operation: Operation, path: string, data: Record<string, unknown> = {}, token = t.root): Promise<Response | undefined> => coreCall(t, operation, path, data, token);
const tokenWith = (policy: string): Promise<string> => tokenWithPolicy(t, policy);

describe("sudo-protected paths", () => {
  it("enabling, tuning and disabling an auth method needs sudo on sys/auth/*", async () => {
    const operator = await tokenWith("operator");
    await expectArcaError(call("update", "sys/auth/userpass", { type: "userpass" }, operator), 403);
    const admin = await tokenWith("admin");
    await call("update", "sys/auth/userpass", { type: "userpass" }, admin);
    await expectArcaError(call("update", "sys/auth/userpass/tune", { default_lease_ttl: "1h" }, operator), 403);
    await expectArcaError(call("read", "sys/auth/userpass/tune", {}, operator), 403);
    await call("update", "sys/auth/userpass/tune", { default_lease_ttl: "1h" }, admin);
    await expectArcaError(call("delete", "sys/auth/userpass", {}, operator), 403);
    await call("delete", "sys/auth/userpass", {}, admin);
  });

  it("DELETE pki/root needs sudo", async () => {
    const operator = await tokenWith("operator");
    await expectArcaError(call("delete", "pki/root", {}, operator), 403);
    expect((await call("list", "pki/issuers", {}, operator))?.data?.keys).toHaveLength(1);
    const admin = await tokenWith("admin");
    await call("delete", "pki/root", {}, admin);
    expect((await call("list", "pki/issuers", {}, operator))?.data?.keys ?? []).toHaveLength(0);
  });

  it("the rest of the PKI mount needs no sudo", async () => {
    const operator = await tokenWith("operator");
    await call("update", "pki/root/generate/internal", { common_name: "Second Root", key_type: "ec", key_bits: 256, issuer_name: "second" }, operator);
  });
});
