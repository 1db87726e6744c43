import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, quietLogger } from "../../test/servers.js";
import { createLogger } from "./log.js";
import { startJobs } from "./jobs.js";
import { startServer, type RunningServer } from "./server.js";
import { DEFAULT_MAX_REQUEST_SIZE, type ServerConfig } from "./config.js";

const HOUR_MS = 3600_000;

/** Resolves once `probe` is true, polling; fails after `ms`. */
async function eventually(probe: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not met within ${ms} ms`);
}

describe("background jobs on a running server", () => {
  let s: RunningServer;
  let root = "";
  let dir = "";
  // auto_rotate_period is at least an hour (as OpenBao): the jobs' clock runs two hours ahead instead.
  let clockOffset = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "arca-jobs-"));
    const config: ServerConfig = {
      storage: { type: "sqlite", path: join(dir, "arca.db") },
      listeners: [{ type: "tcp", address: "127.0.0.1:0", tlsDisable: true, maxRequestSize: DEFAULT_MAX_REQUEST_SIZE }],
      ui: false,
      logLevel: "error",
      defaultLeaseTtl: 3600,
      maxLeaseTtl: 3600,
      seals: [],
      hsms: [],
      warnings: [],
    };
    let unsealKey = "";
    s = await startServer(config, {
      logger: quietLogger,
      jobs: { intervalMs: 100, now: () => new Date(Date.now() + clockOffset) },
      afterCore: async (core) => {
        const init = await core.initialize({ secretShares: 1, secretThreshold: 1 }, { keepUnsealed: true });
        root = init.rootToken;
        unsealKey = init.keys[0].toString("base64");
      },
    });
    s.unsealKey = unsealKey;
    expect((await api(s.url, "POST", "sys/mounts/transit", { token: root, body: { type: "transit" } })).status).toBe(204);
  });
  afterAll(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const latest = async (name: string): Promise<number> => {
    const r = await api(s.url, "GET", `transit/keys/${name}`, { token: root });
    return (r.body?.data as { latest_version: number }).latest_version;
  };

  it("rotates a key whose auto_rotate_period has passed, and leaves the others alone", async () => {
    expect((await api(s.url, "POST", "transit/keys/auto", { token: root, body: { auto_rotate_period: "1h" } })).status).toBeLessThan(300);
    await api(s.url, "POST", "transit/keys/manual", { token: root, body: {} });
    // Not due yet: several runs go by without a rotation.
    await new Promise((r) => setTimeout(r, 400));
    expect(await latest("auto")).toBe(1);

    clockOffset = 2 * HOUR_MS;
    await eventually(async () => (await latest("auto")) >= 2);
    // Back to real time: the new version is fresh, so the key is not due again for an hour.
    clockOffset = 0;
    await new Promise((r) => setTimeout(r, 300));
    const settled = await latest("auto");
    await new Promise((r) => setTimeout(r, 400));
    expect(await latest("auto")).toBe(settled);
    expect(await latest("manual")).toBe(1);
  });

  it("does nothing while sealed", async () => {
    await api(s.url, "POST", "transit/keys/sealed-key", { token: root, body: { auto_rotate_period: "1h" } });
    expect((await api(s.url, "PUT", "sys/seal", { token: root })).status).toBe(204);
    clockOffset = 2 * HOUR_MS;
    await new Promise((r) => setTimeout(r, 400));
    clockOffset = 0;
    expect((await api(s.url, "PUT", "sys/unseal", { body: { key: s.unsealKey } })).status).toBe(200);
    expect(await latest("sealed-key")).toBe(1);
  });
});

describe("the scheduler", () => {
  it("never overlaps a run with itself and stops cleanly", async () => {
    const lines: string[] = [];
    const logger = createLogger("debug", (l) => lines.push(l));
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    // A fake core: one transit mount whose storage is slow to list, so runs would overlap if allowed to.
    const storage = {
      list: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        runs++;
        await new Promise((r) => setTimeout(r, 60));
        active--;
        return [];
      },
    };
    const ns = { path: "", mounts: () => [{ table: "secret", path: "transit/", type: "transit" }], router: { get: () => ({ storage }) } };
    const core = { sealed: false, keysFor: () => undefined, namespaces: { open: () => [ns] } };
    const jobs = startJobs(core as unknown as Parameters<typeof startJobs>[0], logger, { intervalMs: 5 });
    await Promise.all([jobs.runOnce(), jobs.runOnce(), jobs.runOnce()]);
    await new Promise((r) => setTimeout(r, 200));
    await jobs.stop();
    const after = runs;
    await new Promise((r) => setTimeout(r, 100));
    expect(maxActive).toBe(1);
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(runs).toBe(after);
  });

  it("logs a failing job without stopping", async () => {
    const lines: string[] = [];
    const logger = createLogger("debug", (l) => lines.push(l));
    const ns = {
      path: "",
      mounts: () => {
        throw new Error("mount table unreadable");
      },
      router: { get: () => undefined },
    };
    const core = { sealed: false, keysFor: () => undefined, namespaces: { open: () => [ns] } };
    const jobs = startJobs(core as unknown as Parameters<typeof startJobs>[0], logger, { intervalMs: 10 });
    await jobs.runOnce();
    await jobs.runOnce();
    await jobs.stop();
    const failures = lines.filter((l) => l.includes("background job failed"));
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures[0]).toContain("mount table unreadable");
  });
});
