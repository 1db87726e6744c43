// Namespaces per parent are a quota (DESIGN.md §8): each costs ~43 KB of memory and its own stores.
// Each test starts its own server: tests run shuffled, and each fills a quota.
import { describe, expect, it } from "vitest";
import { startDevServer, type RunningServer } from "../../server/server.js";
import { api, quietLogger } from "../../../test/servers.js";

async function withServer(run: (s: RunningServer, create: (path: string, ns?: string) => ReturnType<typeof api>) => Promise<void>): Promise<void> {
  const s = await startDevServer({ listenAddress: "127.0.0.1:0", logger: quietLogger, limits: { maxNamespacesPerParent: 3 } });
  try {
    await run(s, (path, ns) => api(s.url, "POST", `sys/namespaces/${path}`, { token: s.rootToken, body: {}, headers: ns ? { "X-Vault-Namespace": ns } : {} }));
  } finally {
    await s.stop();
  }
}

const created = (status: number): boolean => status === 200 || status === 204;

describe("namespaces per parent", () => {
  it("refuses a child beyond the quota with a 400 naming the setting, counting concurrent creates", () =>
    withServer(async (_s, create) => {
      const results = await Promise.all(["a", "b", "c", "d", "e"].map((n) => create(n)));
      expect(results.filter((r) => created(r.status))).toHaveLength(3);
      const refused = results.filter((r) => r.status === 400);
      expect(refused).toHaveLength(2);
      expect(refused[0].body?.errors).toEqual([expect.stringMatching(/already has 3 child namespaces, the limit \(server config limits\.max_namespaces_per_parent\)/)]);
    }));

  it("counts per parent, and frees a place when a child is deleted", () =>
    withServer(async (s, create) => {
      expect(created((await create("team")).status)).toBe(true);
      for (const n of ["x", "y", "z"]) expect(created((await create(n, "team")).status)).toBe(true);
      expect((await create("w", "team")).status).toBe(400);
      expect((await api(s.url, "DELETE", "sys/namespaces/team/x", { token: s.rootToken })).status).toBeLessThan(300);
      expect(created((await create("w", "team")).status)).toBe(true);
    }));
});
