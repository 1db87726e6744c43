import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, quietLogger } from "../../test/servers.js";
import { createLogger } from "./log.js";
import { startJobs } from "./jobs.js";
import { startServer, type RunningServer } from "./server.js";
import { DEFAULT_MAX_REQUEST_SIZE, type ServerConfig } from "./config.js";
import type { Core } from "../core/core.js";

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
    // A fake core: one mount whose periodic hook is slow, so runs would overlap if allowed to.
    const backend = {
      hasPeriodic: true,
      periodic: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        runs++;
        await new Promise((r) => setTimeout(r, 60));
        active--;
      },
    };
    const ns = {
      path: "",
      fenced: false,
      enter: () => undefined,
      leave: () => undefined,
      router: { all: () => [{ entry: { table: "secret", path: "slow/", type: "slow" }, backend, storage: {} }] },
      tokens: { revokeExpired: async () => 0 },
    };
    const core = { sealed: false, namespaces: { open: () => [ns] } };
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
      fenced: false,
      enter: () => undefined,
      leave: () => undefined,
      router: {
        all: () => {
          throw new Error("mount table unreadable");
        },
      },
      tokens: { revokeExpired: async () => 0 },
    };
    const core = { sealed: false, namespaces: { open: () => [ns] } };
    const jobs = startJobs(core as unknown as Parameters<typeof startJobs>[0], logger, { intervalMs: 10 });
    await jobs.runOnce();
    await jobs.runOnce();
    await jobs.stop();
    const failures = lines.filter((l) => l.includes("background job failed"));
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures[0]).toContain("mount table unreadable");
  });
});

describe("token expiration on a running server", () => {
  let dir = "";
  let s: RunningServer | undefined;
  let root = "";
  let unsealKey = "";
  // The jobs' clock starts an hour behind, so no run revokes anything until a test moves it.
  let clockOffset = -HOUR_MS;

  const config = (): ServerConfig => ({
    storage: { type: "sqlite", path: join(dir, "arca.db") },
    listeners: [{ type: "tcp", address: "127.0.0.1:0", tlsDisable: true, maxRequestSize: DEFAULT_MAX_REQUEST_SIZE }],
    ui: false,
    logLevel: "error",
    defaultLeaseTtl: 3600,
    maxLeaseTtl: 24 * 3600,
    seals: [],
    hsms: [],
    warnings: [],
  });
  const start = async (afterCore?: (core: Core) => Promise<void>): Promise<RunningServer> =>
    startServer(config(), { logger: quietLogger, jobs: { intervalMs: 100, now: () => new Date(Date.now() + clockOffset) }, ...(afterCore ? { afterCore } : {}) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "arca-expiry-"));
    s = await start(async (core) => {
      const init = await core.initialize({ secretShares: 1, secretThreshold: 1 }, { keepUnsealed: true });
      root = init.rootToken;
      unsealKey = init.keys[0].toString("base64");
    });
    const policy = `path "auth/token/create" { capabilities = ["update"] }\npath "cubbyhole/*" { capabilities = ["create", "read", "update"] }`;
    expect((await api(s.url, "PUT", "sys/policies/acl/creator", { token: root, body: { policy } })).status).toBe(204);
  });
  afterAll(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const url = (): string => s?.url ?? "";
  const create = async (token: string, body: Record<string, unknown>): Promise<{ client_token: string; accessor: string; lease_duration: number }> => {
    const r = await api(url(), "POST", "auth/token/create", { token, body: { policies: ["creator"], ...body } });
    expect(r.status).toBe(200);
    return r.body?.auth as { client_token: string; accessor: string; lease_duration: number };
  };
  const accessors = async (): Promise<string[]> => {
    const r = await api(url(), "LIST", "auth/token/accessors", { token: root });
    return (r.body?.data as { keys?: string[] } | undefined)?.keys ?? [];
  };
  const cubbyholeRows = async (): Promise<number> => (await s?.core.root.router.get("cubbyhole/")?.storage.list(""))?.length ?? 0;

  it("refuses a child right after its parent's expiry, renews it no further, and the job revokes the rest", async () => {
    // Two families whose parent ends within seconds (explicit_max_ttl); only the first is ever used again.
    const used = await create(root, { ttl: "1h", explicit_max_ttl: "3s" });
    const usedChild = await create(used.client_token, { ttl: "1h" });
    const idle = await create(root, { ttl: "1h", explicit_max_ttl: "3s" });
    const idleChild = await create(idle.client_token, { ttl: "1h" });
    expect((await api(url(), "POST", "cubbyhole/note", { token: idleChild.client_token, body: { v: "x" } })).status).toBe(204);
    const rowsBefore = await cubbyholeRows();
    // Renewal before the parent's end cannot reach past it.
    const renewed = await api(url(), "POST", "auth/token/renew-self", { token: usedChild.client_token, body: { increment: "1h" } });
    expect(renewed.status).toBe(200);
    expect((renewed.body?.auth as { lease_duration: number }).lease_duration).toBeLessThanOrEqual(3);

    await new Promise((r) => setTimeout(r, 3200));
    // Past the parents' end; no job has revoked anything yet.
    expect(await accessors()).toEqual(expect.arrayContaining([used.accessor, usedChild.accessor, idle.accessor, idleChild.accessor]));
    expect((await api(url(), "GET", "cubbyhole/note", { token: usedChild.client_token })).status).toBe(403);
    expect((await api(url(), "POST", "auth/token/renew", { token: root, body: { token: usedChild.client_token } })).status).toBe(400);
    expect(await accessors()).toEqual(expect.arrayContaining([idle.accessor, idleChild.accessor]));

    clockOffset = 0;
    await eventually(async () => !(await accessors()).includes(idle.accessor));
    const left = await accessors();
    for (const gone of [used, usedChild, idle, idleChild]) expect(left).not.toContain(gone.accessor);
    expect((await api(url(), "POST", "auth/token/lookup-accessor", { token: root, body: { accessor: idleChild.accessor } })).status).toBe(400);
    expect(await cubbyholeRows()).toBe(rowsBefore - 1);
    clockOffset = -HOUR_MS;
  });

  it("revokes tokens that expired while the server was down, after a restart", async () => {
    const parent = await create(root, { ttl: "1h" });
    const child = await create(parent.client_token, { ttl: "30m" });
    const lasting = await create(root, { ttl: "20h" });
    // Each namespace has its own token store: the job covers them all.
    expect((await api(url(), "POST", "sys/namespaces/team", { token: root })).status).toBe(200);
    const inTeam = await api(url(), "POST", "team/auth/token/create", { token: root, body: { policies: ["default"], ttl: "1h" } });
    const teamAccessor = (inTeam.body?.auth as { accessor: string }).accessor;
    const teamAccessors = async (): Promise<string[]> => {
      const r = await api(url(), "LIST", "team/auth/token/accessors", { token: root });
      return (r.body?.data as { keys?: string[] } | undefined)?.keys ?? [];
    };
    expect(await teamAccessors()).toContain(teamAccessor);
    await s?.stop();
    s = undefined;
    // Two hours later (by the jobs' clock), a new process on the same storage.
    clockOffset = 2 * HOUR_MS;
    s = await start();
    expect((await api(url(), "PUT", "sys/unseal", { body: { key: unsealKey } })).status).toBe(200);
    await eventually(async () => !(await accessors()).includes(parent.accessor));
    const left = await accessors();
    expect(left).not.toContain(child.accessor);
    expect(left).toContain(lasting.accessor);
    await eventually(async () => !(await teamAccessors()).includes(teamAccessor));
    clockOffset = -HOUR_MS;
  });
});
