// Policies are a tenant's input to a shared event loop: bounded, parsed off the loop, and unable to
// break policy handling for anyone else (DESIGN.md §8).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevServer, type RunningServer } from "../../server/server.js";
import { api, quietLogger } from "../../../test/servers.js";

const rule = (i: number): string => `path "secret/data/app${i}/*" {\n  capabilities = ["read", "list"]\n}\n`;
const rules = (n: number): string => Array.from({ length: n }, (_, i) => rule(i)).join("");

describe("hostile policies", () => {
  let server: RunningServer;
  let token: string;
  beforeAll(async () => {
    server = await startDevServer({ listenAddress: "127.0.0.1:0", logger: quietLogger });
    token = server.rootToken!;
  });
  afterAll(() => server.stop());

  const write = (name: string, policy: string) => api(server.url, "PUT", `sys/policies/acl/${name}`, { token, body: { policy } });

  it("refuses deep nesting with a 400 before it reaches the parser", async () => {
    const res = await write("deep", `path "a" {\n  capabilities = ${"(".repeat(3000)}\n}\n`);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toMatch(/nesting deeper than 64 levels/);
  });

  it("keeps policy writes and policy-bearing tokens working after a storm of hostile policies", async () => {
    // Before the fix the WASM parser died within ~50 such writes ("malloc deadlock"): the next write
    // hung and later ones failed.
    for (let i = 0; i < 60; i++) {
      const res = await write(`hostile${i}`, `path "a" {\n  capabilities = ${"(".repeat(1000 + ((i * 37) % 2000))}\n}\n`);
      expect(res.status).toBe(400);
    }
    expect((await write("reader", `path "secret/data/ok" {\n  capabilities = ["read"]\n}\n`)).status).toBe(204);
    const created = await api(server.url, "POST", "auth/token/create", { token, body: { policies: ["reader"] } });
    const child = (created.body?.auth as { client_token: string }).client_token;
    expect((await api(server.url, "GET", "secret/data/ok", { token: child })).status).toBe(404); // allowed, absent
    expect((await api(server.url, "GET", "secret/data/other", { token: child })).status).toBe(403);
  });
});

describe("policy size and rule-count limits", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startDevServer({ listenAddress: "127.0.0.1:0", logger: quietLogger, limits: { maxPolicyBytes: 4096, maxPolicyPaths: 10 } });
  });
  afterAll(() => server.stop());

  const write = (policy: string) => api(server.url, "PUT", "sys/policies/acl/p", { token: server.rootToken, body: { policy } });

  it("refuses a policy over the configured size, naming the setting", async () => {
    const res = await write(`# ${"x".repeat(5000)}\n${rule(0)}`);
    expect(res.status).toBe(400);
    expect(res.body?.errors).toEqual([expect.stringMatching(/policy is 50\d\d bytes; the limit is 4096 \(server config limits\.max_policy_bytes\)/)]);
  });

  it("refuses a policy with more path rules than configured, naming the setting", async () => {
    expect((await write(rules(10))).status).toBe(204);
    const res = await write(rules(11));
    expect(res.status).toBe(400);
    expect(res.body?.errors).toEqual([expect.stringMatching(/11 path rules; the limit is 10 \(server config limits\.max_policy_paths\)/)]);
  });

  it("answers health promptly while the issue's 1.1 MiB, 20,000-rule policy is written", async () => {
    // Before the limits this write blocked every request of every namespace for seconds; now it is
    // refused before parsing. Liveness, not speed: the bound is generous.
    const dflt = await startDevServer({ listenAddress: "127.0.0.1:0", logger: quietLogger });
    try {
      let done = false;
      const big = api(dflt.url, "PUT", "sys/policies/acl/big", { token: dflt.rootToken, body: { policy: rules(20_000) } }).finally(() => (done = true));
      let slowest = 0;
      while (!done) {
        const t0 = performance.now();
        expect((await api(dflt.url, "GET", "sys/health")).status).toBe(200);
        slowest = Math.max(slowest, performance.now() - t0);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect((await big).status).toBe(400);
      expect(slowest).toBeLessThan(500);
    } finally {
      await dflt.stop();
    }
  });

  it("defaults to 128 KiB and 1,000 rules", async () => {
    const dflt = await startDevServer({ listenAddress: "127.0.0.1:0", logger: quietLogger });
    try {
      expect(dflt.core.limits.maxPolicyBytes).toBe(128 * 1024);
      expect(dflt.core.limits.maxPolicyPaths).toBe(1000);
      const res = await api(dflt.url, "PUT", "sys/policies/acl/p", { token: dflt.rootToken, body: { policy: rules(1001) } });
      expect(res.status).toBe(400);
    } finally {
      await dflt.stop();
    }
  });
});
