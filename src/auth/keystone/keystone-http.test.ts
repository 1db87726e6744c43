// The keystone mount as a real server serves it: registered as a builtin engine, login over HTTP without
// a token, refusals in the API envelope.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import { FakeKeystone } from "../../../test/fake-keystone.js";
import { freePort } from "../../../test/processes.js";
import type { RunningServer } from "../../server/server.js";

let server: RunningServer;
let ks: FakeKeystone;
let root: string;

beforeAll(async () => {
  server = await devServer();
  root = server.rootToken ?? "";
  ks = new FakeKeystone();
  await ks.start();
  ks.tokens.set("tok-http", { expiresAt: new Date(Date.now() + 3600_000), project: { id: "p1", name: "one" }, roles: ["reader"] });
  for (const [path, body] of [
    ["sys/namespaces/tenant", {}],
    ["sys/auth/keystone", { type: "keystone" }],
    ["auth/keystone/config", { keystone_url: ks.url, admin_token: "service-token" }],
    ["auth/keystone/projects/p1", { namespace: "tenant" }],
    ["auth/keystone/roles/reader", { policies: "reader" }],
  ] as const) {
    const r = await api(server.url, "POST", path, { token: root, body });
    expect(r.status, path).toBeLessThan(300);
  }
});

afterAll(async () => {
  await ks?.stop();
  await server?.stop();
});

describe("keystone over HTTP", () => {
  it("logs in with a Keystone token and no Arca token", async () => {
    const r = await api(server.url, "POST", "auth/keystone/login", { body: { token: "tok-http" } });
    expect(r.status).toBe(200);
    const auth = r.body?.auth as { client_token: string; policies: string[]; metadata: Record<string, string> };
    expect(auth.policies).toEqual(["default", "reader"]);
    expect(auth.metadata).toMatchObject({ user_id: "u1", user_name: "alice", project_id: "p1", project_name: "one", roles: "reader", namespace: "tenant" });
    const self = await api(server.url, "GET", "auth/token/lookup-self", { token: auth.client_token, headers: { "X-Vault-Namespace": "tenant" } });
    expect(self.status).toBe(200);
  });

  it("answers refusals and an unreachable Keystone in the API envelope", async () => {
    const forged = await api(server.url, "POST", "auth/keystone/login", { body: { token: "forged" } });
    expect(forged).toMatchObject({ status: 403, body: { errors: ["permission denied"] } });
    const missing = await api(server.url, "POST", "auth/keystone/login", { body: {} });
    expect(missing).toMatchObject({ status: 400, body: { errors: ["missing token"] } });
    const closed = await freePort();
    await api(server.url, "POST", "auth/keystone/config", { token: root, body: { keystone_url: `http://127.0.0.1:${closed}/v3` } });
    try {
      const down = await api(server.url, "POST", "auth/keystone/login", { body: { token: "tok-http" } });
      expect(down.status).toBe(503);
      expect((down.body?.errors as string[])[0]).toMatch(/^keystone is unavailable: /);
    } finally {
      await api(server.url, "POST", "auth/keystone/config", { token: root, body: { keystone_url: ks.url } });
    }
    const health = await api(server.url, "GET", "sys/health");
    expect(health.status).toBe(200);
  });
});
