// The keystone auth method against a scripted stand-in Keystone, for what a real one cannot be made to do
// on demand: be down, hang, hand out an almost-expired token. keystone-real.test.ts covers the real one.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectArcaError, initializedCore, tokenWithPolicy, type TestCore } from "../../../test/core.js";
import { freePort } from "../../../test/processes.js";
import { FakeKeystone } from "../../../test/fake-keystone.js";
import type { Operation, Response } from "../../core/framework/request.js";
import { createKeystoneBackend } from "./backend.js";
import { ValidationCache } from "./validation-cache.js";
import { KeystoneTokenExchange } from "./exchange.js";

let t: TestCore;
let ks: FakeKeystone;

const call = (operation: Operation, path: string, data: Record<string, unknown> = {}, opts: { token?: string | null; ns?: string } = {}): Promise<Response | undefined> =>
  t.core.handleRequest(t.core.newRequest({ operation, path, data, clientToken: opts.token === null ? undefined : (opts.token ?? t.root), remoteAddress: "127.0.0.1" }), opts.ns);
const login = (token: string) => call("update", "auth/keystone/login", { token }, { token: null });
const configure = (extra: Record<string, unknown> = {}) =>
  call("update", "auth/keystone/config", { keystone_url: ks.url, service_username: "svc", service_password: "svc-password-31f", service_project_name: "service", ...extra });

beforeEach(async () => {
  t = await initializedCore({ keystone: createKeystoneBackend });
  ks = new FakeKeystone();
  await ks.start();
  await call("update", "sys/namespaces/tenant");
  await call("update", "sys/auth/keystone", { type: "keystone" });
  await call("update", "auth/keystone/projects/p1", { namespace: "tenant" });
  await call("update", "auth/keystone/roles/reader", { policies: "reader" });
});

afterEach(async () => {
  await ks.stop();
  await t.storage.close();
});

describe("config", () => {
  it("never returns the service password or admin token", async () => {
    await configure();
    const read = await call("read", "auth/keystone/config");
    expect(read?.data).toMatchObject({ keystone_url: ks.url, service_username: "svc", service_password_set: true, admin_token_set: false, cache_ttl: 60 });
    expect(JSON.stringify(read)).not.toContain("svc-password-31f");
    await call("update", "auth/keystone/config", { admin_token: "admin-token-9a8b", service_username: undefined });
    const again = await call("read", "auth/keystone/config");
    expect(again?.data).toMatchObject({ admin_token_set: true, service_password_set: false });
    expect(JSON.stringify(again)).not.toContain("admin-token-9a8b");
  });

  it("refuses bad URLs and needs credentials", async () => {
    await expectArcaError(configure({ keystone_url: "file:///etc/passwd" }), 400, "keystone_url must be http or https");
    await expectArcaError(configure({ keystone_url: "http://u:p@host/v3" }), 400, /must not carry credentials/);
    await expectArcaError(call("update", "auth/keystone/config", { keystone_url: ks.url }), 400, /service credentials are needed/);
  });

  it("is written only by a root-namespace token with sudo", async () => {
    await call("update", "sys/policies/acl/kscfg", { policy: 'path "auth/keystone/config" { capabilities = ["create", "update", "read"] }' });
    const noSudo = await tokenWithPolicy(t, "kscfg");
    await expectArcaError(call("update", "auth/keystone/config", { keystone_url: ks.url, admin_token: "x" }, { token: noSudo }), 403);
  });

  it("is refused to a tenant namespace's token even with sudo: keystone_url makes the server call out", async () => {
    await call("update", "sys/auth/keystone", { type: "keystone" }, { ns: "tenant" });
    await call("update", "sys/policies/acl/kscfg", { policy: 'path "auth/keystone/config" { capabilities = ["create", "update", "read", "sudo"] }' }, { ns: "tenant" });
    const tenantAdmin = (await call("update", "auth/token/create", { policies: ["kscfg"] }, { ns: "tenant" }))?.auth?.clientToken;
    expect(tenantAdmin).toBeDefined();
    await expectArcaError(
      call("update", "auth/keystone/config", { keystone_url: ks.url, admin_token: "x" }, { token: tenantAdmin, ns: "tenant" }),
      403,
      /a token of the root namespace is needed/,
    );
  });

  it("answers a login before configuration with a clear 400", async () => {
    await expectArcaError(login("some-token"), 400, /not configured/);
  });
});

describe("login", () => {
  beforeEach(async () => {
    await configure({ cache_ttl: "30s" });
  });

  it("bounds the Arca token by the Keystone token's expiry", async () => {
    ks.tokens.set("tok-short", { expiresAt: new Date(Date.now() + 100_000), project: { id: "p1", name: "one" }, roles: ["reader"] });
    const auth = (await login("tok-short"))?.auth;
    expect(auth?.leaseDuration).toBeGreaterThan(90);
    expect(auth?.leaseDuration).toBeLessThanOrEqual(100);
    // No renewal can stretch it either.
    const renewed = await call("update", "auth/token/renew-self", { increment: "10h" }, { token: auth!.clientToken, ns: "tenant" });
    expect(renewed?.auth?.leaseDuration).toBeLessThanOrEqual(100);
  });

  it("refuses a token Keystone reports as expired, and a cached one once it has expired", async () => {
    ks.tokens.set("tok-old", { expiresAt: new Date(Date.now() - 1000), project: { id: "p1", name: "one" }, roles: [] });
    await expectArcaError(login("tok-old"), 403, "permission denied");
    const cache = new ValidationCache();
    const v = { userId: "u", userName: "u", roles: [], expiresAt: Date.now() + 1000 };
    cache.set("tok", v, 60_000);
    expect(cache.get("tok")).toBe(v);
    expect(cache.get("tok", Date.now() + 2000)).toBeUndefined();
  });

  it("a config write on another node (invalidate) drops the validations made under the old config", async () => {
    ks.tokens.set("tok-remote-7c1a", { expiresAt: new Date(Date.now() + 3600_000), project: { id: "p1", name: "one" }, roles: ["reader"] });
    await login("tok-remote-7c1a");
    expect(ks.validations).toBe(1);
    const mounted = t.core.root.router.all().find((m) => m.entry.type === "keystone");
    await mounted!.backend.invalidate("roles/reader"); // a mapping: read per login, nothing to drop
    await login("tok-remote-7c1a");
    expect(ks.validations).toBe(1);
    await mounted!.backend.invalidate("config");
    await login("tok-remote-7c1a");
    expect(ks.validations).toBe(2);
  });

  it("asks Keystone once per cache_ttl, caching by the token's hash only", async () => {
    ks.tokens.set("tok-cached-5e2d", { expiresAt: new Date(Date.now() + 3600_000), project: { id: "p1", name: "one" }, roles: ["reader"] });
    await login("tok-cached-5e2d");
    await login("tok-cached-5e2d");
    expect(ks.validations).toBe(1);
    const cache = new ValidationCache(2);
    const v = { userId: "u", userName: "u", roles: [], expiresAt: Date.now() + 60_000 };
    cache.set("secret-a", v, 60_000);
    cache.set("secret-b", v, 60_000);
    cache.set("secret-c", v, 60_000);
    expect(cache.size).toBe(2);
    expect(cache.get("secret-a")).toBeUndefined();
    expect(JSON.stringify([...(cache as unknown as { entries: Map<string, unknown> }).entries.keys()])).not.toContain("secret");
  });

  it("refuses a default_namespace substitution that is not one namespace name", async () => {
    await configure({ default_namespace: "{{project_name}}" });
    ks.tokens.set("tok-slash", { expiresAt: new Date(Date.now() + 3600_000), project: { id: "p9", name: "tenant/child" }, roles: [] });
    await expectArcaError(login("tok-slash"), 403, /not mapped/);
  });

  it("answers 503, not a hang, when Keystone is down or does not answer", async () => {
    ks.tokens.set("tok-ok", { expiresAt: new Date(Date.now() + 3600_000), project: { id: "p1", name: "one" }, roles: [] });
    const closed = await freePort();
    await configure({ keystone_url: `http://127.0.0.1:${closed}/v3` });
    await expectArcaError(login("tok-ok"), 503, /keystone is unavailable: ECONNREFUSED/);
    await configure({ keystone_url: ks.url, request_timeout: "1s" });
    ks.hang = true;
    await expectArcaError(login("tok-ok"), 503, /keystone is unavailable: no answer within 1000 ms/);
  });

  it("refuses over-long and non-printable tokens without asking Keystone", async () => {
    await expectArcaError(login("x".repeat(9000)), 403);
    await expectArcaError(login("bad\ntoken"), 403);
    expect(ks.validations).toBe(0);
  });
});

describe("KeystoneTokenExchange", () => {
  beforeEach(async () => {
    await configure({ cache_ttl: "0s" });
    ks.tokens.set("tok-ex", { expiresAt: new Date(Date.now() + 3600_000), project: { id: "p1", name: "one" }, roles: ["reader"] });
  });

  it("re-validates after refreshMs and revokes the Arca token once Keystone refuses the Keystone token", async () => {
    const ex = new KeystoneTokenExchange(t.core, { refreshMs: 0 });
    const first = await ex.exchange("tok-ex", "127.0.0.1");
    expect(first.namespace).toBe("tenant/");
    const lookup = (token: string) => call("read", "auth/token/lookup-self", {}, { token, ns: "tenant" });
    expect((await lookup(first.clientToken))?.data?.policies).toEqual(["default", "reader"]);
    const second = await ex.exchange("tok-ex", "127.0.0.1");
    expect(second.clientToken).not.toBe(first.clientToken);
    expect(ks.validations).toBe(2);
    ks.tokens.delete("tok-ex"); // revoked in Keystone
    await expectArcaError(ex.exchange("tok-ex", "127.0.0.1"), 403, "permission denied");
    await expectArcaError(lookup(second.clientToken), 403);
  });

  it("keeps one Arca token per Keystone token while fresh, and a bounded number of them", async () => {
    const ex = new KeystoneTokenExchange(t.core, { maxEntries: 1 });
    const a = await ex.exchange("tok-ex", "127.0.0.1");
    expect((await ex.exchange("tok-ex", "127.0.0.1")).clientToken).toBe(a.clientToken);
    expect(ks.validations).toBe(1);
    ks.tokens.set("tok-ex2", { expiresAt: new Date(Date.now() + 3600_000), project: { id: "p1", name: "one" }, roles: [] });
    await ex.exchange("tok-ex2", "127.0.0.1");
    // tok-ex was pushed out: the next exchange validates again.
    await ex.exchange("tok-ex", "127.0.0.1");
    expect(ks.validations).toBe(3);
  });
});
