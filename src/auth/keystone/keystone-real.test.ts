// The keystone auth method against a real Keystone (Debian's python3-keystone), started once for the file.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectArcaError, initializedCore, type TestCore } from "../../../test/core.js";
import { KEYSTONE_ADMIN, KEYSTONE_SKIP_REASON, keystoneAvailable, startKeystone, type RunningKeystone } from "../../../test/keystone.js";
import type { Operation, Response } from "../../core/framework/request.js";
import { createKeystoneBackend } from "./backend.js";
import { KeystoneTokenExchange, exchangeKeystoneToken } from "./exchange.js";

const available = keystoneAvailable();
if (!available) console.warn(KEYSTONE_SKIP_REASON);

describe.skipIf(!available)("keystone auth against a real Keystone", () => {
  let ks: RunningKeystone;
  let t: TestCore;
  /** Keystone project IDs. */
  let projectA: string;
  let projectUnmapped: string;
  let projectByName: string;
  const pw = "alice-pw-7c1e";

  const call = (operation: Operation, path: string, data: Record<string, unknown> = {}, opts: { token?: string | null; ns?: string } = {}): Promise<Response | undefined> =>
    t.core.handleRequest(t.core.newRequest({ operation, path, data, clientToken: opts.token === null ? undefined : (opts.token ?? t.root), remoteAddress: "127.0.0.1" }), opts.ns);
  const login = (token: string) => call("update", "auth/keystone/login", { token }, { token: null });

  beforeAll(async () => {
    ks = await startKeystone();
    t = await initializedCore({ keystone: createKeystoneBackend });
    projectA = await ks.createProject("tenant-a-project");
    projectUnmapped = await ks.createProject("unmapped-project");
    projectByName = await ks.createProject("by-name");
    const reader = await ks.roleId("reader");
    const member = await ks.roleId("member");
    for (const p of [projectA, projectUnmapped, projectByName]) await ks.createUser(`alice-${p.slice(0, 6)}`, pw, p, [reader, member]);

    await call("update", "sys/namespaces/tenant-a");
    await call("update", "sys/namespaces/by-name");
    await call("update", "sys/policies/acl/reader", { policy: 'path "sys/policies/acl/*" { capabilities = ["read"] }' }, { ns: "tenant-a" });
    await call("update", "sys/auth/keystone", { type: "keystone" });
    await call("update", "auth/keystone/config", {
      keystone_url: ks.url,
      service_username: KEYSTONE_ADMIN.user,
      service_password: KEYSTONE_ADMIN.password,
      service_project_name: KEYSTONE_ADMIN.project,
      cache_ttl: "1s",
      token_ttl: "8h",
    });
    await call("update", `auth/keystone/projects/${projectA}`, { namespace: "tenant-a" });
    await call("update", "auth/keystone/roles/reader", { policies: "reader" });
    // Stored lower-cased, matched case-insensitively.
    await call("update", "auth/keystone/roles/Member", { policies: "member-policy" });
  }, 300_000);

  afterAll(async () => {
    await t?.storage.close();
    await ks?.stop();
  }, 30_000);

  const userOf = (p: string) => `alice-${p.slice(0, 6)}`;

  it("turns a valid project-scoped token into an Arca token in the mapped namespace, with the roles' policies", async () => {
    const kt = await ks.issueToken(userOf(projectA), pw, projectA);
    const auth = (await login(kt.token))?.auth;
    expect(auth).toBeDefined();
    expect(auth!.policies).toEqual(["default", "member-policy", "reader"]);
    expect(auth!.metadata).toMatchObject({ user_name: userOf(projectA), project_id: projectA, project_name: "tenant-a-project", roles: "member,reader", namespace: "tenant-a" });
    expect(auth!.metadata.user_id).toMatch(/^[0-9a-f]{32}$/);
    // token_ttl is 8h, the Keystone token lives 1h: the Arca token may not outlive it.
    const left = (Date.parse(kt.expiresAt) - Date.now()) / 1000;
    expect(auth!.leaseDuration).toBeGreaterThan(0);
    expect(auth!.leaseDuration).toBeLessThanOrEqual(Math.ceil(left));
    // The token lives in tenant-a, and its policies work there.
    const self = await call("read", "auth/token/lookup-self", {}, { token: auth!.clientToken, ns: "tenant-a" });
    expect(self?.data).toMatchObject({ path: "auth/keystone/login", meta: { namespace: "tenant-a" } });
    expect((await call("read", "sys/policies/acl/reader", {}, { token: auth!.clientToken, ns: "tenant-a" }))?.data?.name).toBe("reader");
    // …and in no other namespace.
    await expectArcaError(call("read", "auth/token/lookup-self", {}, { token: auth!.clientToken }), 403);
    // Nothing returned carries the Keystone token.
    expect(JSON.stringify(auth)).not.toContain(kt.token);
  });

  it("refuses a revoked token once the cached validation is older than cache_ttl", async () => {
    const kt = await ks.issueToken(userOf(projectA), pw, projectA);
    expect((await login(kt.token))?.auth).toBeDefined();
    await ks.revoke(kt.token);
    await new Promise((r) => setTimeout(r, 1500));
    await expectArcaError(login(kt.token), 403, "permission denied");
  });

  it("refuses an unscoped token", async () => {
    const kt = await ks.issueToken(userOf(projectA), pw);
    await expectArcaError(login(kt.token), 403, "permission denied");
  });

  it("refuses a token whose project has no mapping (and no default rule), saying so", async () => {
    const kt = await ks.issueToken(userOf(projectUnmapped), pw, projectUnmapped);
    await expectArcaError(login(kt.token), 403, /is not mapped to a namespace/);
  });

  it("refuses forged tokens: random bytes, and a real token with one character changed", async () => {
    await expectArcaError(login("gAAAAAB" + "x".repeat(180)), 403, "permission denied");
    const kt = await ks.issueToken(userOf(projectA), pw, projectA);
    const i = 40;
    const mangled = kt.token.slice(0, i) + (kt.token[i] === "A" ? "B" : "A") + kt.token.slice(i + 1);
    await expectArcaError(login(mangled), 403, "permission denied");
    await expectArcaError(login(""), 400, "missing token");
  });

  it("maps an unmapped project by the config's default_namespace rule", async () => {
    await call("update", "auth/keystone/config", { default_namespace: "{{project_name}}" });
    try {
      const kt = await ks.issueToken(userOf(projectByName), pw, projectByName);
      const auth = (await login(kt.token))?.auth;
      expect(auth?.metadata.namespace).toBe("by-name");
      // A project whose name is no existing namespace is refused with a clear 400.
      const other = await ks.issueToken(userOf(projectUnmapped), pw, projectUnmapped);
      await expectArcaError(login(other.token), 400, /namespace "unmapped-project" does not exist/);
    } finally {
      await call("update", "auth/keystone/config", { default_namespace: "" });
    }
  });

  it("lets a front door exchange X-Auth-Token values: one Arca token per Keystone token while fresh", async () => {
    const kt = await ks.issueToken(userOf(projectA), pw, projectA);
    const once = await exchangeKeystoneToken(t.core, kt.token, "127.0.0.1");
    expect(once.namespace).toBe("tenant-a/");
    expect(once.metadata.project_id).toBe(projectA);
    const ex = new KeystoneTokenExchange(t.core, { mountPath: "keystone/" });
    const a = await ex.exchange(kt.token, "127.0.0.1");
    const b = await ex.exchange(kt.token, "127.0.0.1");
    expect(b.clientToken).toBe(a.clientToken);
    expect(a.clientToken).not.toBe(once.clientToken);
    await expectArcaError(ex.exchange("not-a-keystone-token", "127.0.0.1"), 403);
  });

  it("says clearly when Keystone refuses the service credentials", async () => {
    await call("update", "auth/keystone/config", { service_password: "wrong" });
    try {
      const kt = await ks.issueToken(userOf(projectA), pw, projectA);
      await expectArcaError(login(kt.token), 502, /keystone refused the service credentials/);
    } finally {
      await call("update", "auth/keystone/config", { service_password: KEYSTONE_ADMIN.password });
    }
  });
});
