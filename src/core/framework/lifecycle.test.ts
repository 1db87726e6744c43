/**
 * Backend lifecycle hooks on a real core: initialize when a mount goes live (mount, unseal), cleanup when it
 * goes (unmount, seal), invalidate as a declared hook, and periodic through the background scheduler — once
 * per run per mount, one failing mount not stopping the others.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Core, type BackendFactory, type CoreBackendFactory } from "../core.js";
import { createSystemBackend } from "../system/backend.js";
import { createTokenBackend } from "../tokens/token-backend.js";
import { SqliteStorage } from "../../storage/sqlite.js";
import { LogicalBackend } from "./backend.js";
import type { SystemView } from "./system-view.js";
import { startJobs } from "../../server/jobs.js";
import { createLogger } from "../../server/log.js";

interface Event {
  hook: "initialize" | "periodic" | "invalidate" | "cleanup";
  mount: string;
  detail?: string;
}

let events: Event[] = [];
/** Mount paths whose hooks throw. */
const failing = new Set<string>();

/** An engine that records its hooks; its storage proves the hook got the mount's own view. */
const probe: BackendFactory = (mount, view: SystemView) => {
  const where = mount.path;
  const record = (hook: Event["hook"], detail?: string): void => {
    events.push({ hook, mount: where, ...(detail === undefined ? {} : { detail }) });
    if (failing.has(where)) throw new Error(`${hook} failed at ${where}`);
  };
  expect(view.mount().uuid).toBe(mount.uuid);
  return new LogicalBackend({
    type: "probe",
    paths: [],
    initialize: async ({ storage }) => {
      await storage.put("initialized", Buffer.from("yes"));
      record("initialize");
    },
    periodic: async ({ storage, now }) => {
      await storage.put("last-run", Buffer.from(now.toISOString()));
      record("periodic");
    },
    invalidate: async (key) => record("invalidate", key),
    cleanup: async () => record("cleanup"),
  });
};

let core: Core;
let storage: SqliteStorage;
let root = "";
let unsealKey: Buffer;

async function sys(operation: "update" | "delete", path: string, data: Record<string, unknown> = {}): Promise<void> {
  await core.handleRequest(core.newRequest({ operation, path, data, clientToken: root }));
}

const hooks = (hook: Event["hook"]): string[] =>
  events
    .filter((e) => e.hook === hook)
    .map((e) => e.mount)
    .sort();

beforeEach(async () => {
  events = [];
  failing.clear();
  storage = new SqliteStorage({ path: ":memory:" });
  core = new Core({
    storage,
    engines: new Map<string, BackendFactory>([["probe", probe]]),
    coreBackends: new Map<string, CoreBackendFactory>([
      ["system", createSystemBackend],
      ["token", createTokenBackend],
    ]),
  });
  const init = await core.initialize({ secretShares: 1, secretThreshold: 1 }, { keepUnsealed: true });
  root = init.rootToken;
  unsealKey = init.keys[0];
});
afterEach(async () => {
  await core.shutdown();
  await storage.close();
});

describe("backend lifecycle", () => {
  it("initializes a backend when it is mounted, with the mount's storage", async () => {
    await sys("update", "sys/mounts/one", { type: "probe" });
    expect(events).toEqual([{ hook: "initialize", mount: "one/" }]);
    const mounted = core.root.router.get("one/");
    expect((await mounted?.storage.get("initialized"))?.toString()).toBe("yes");
  });

  it("refuses a mount whose initialize fails, and leaves nothing of it behind", async () => {
    failing.add("bad/");
    await expect(sys("update", "sys/mounts/bad", { type: "probe" })).rejects.toThrow(/initialize failed/);
    expect(core.root.router.get("bad/")).toBeUndefined();
    expect(core.root.mounts("secret").some((m) => m.path === "bad/")).toBe(false);
    // The failed backend was cleaned up too.
    expect(hooks("cleanup")).toEqual(["bad/"]);
  });

  it("cleans a backend up when it is unmounted, before its storage goes", async () => {
    await sys("update", "sys/mounts/one", { type: "probe" });
    await sys("update", "sys/mounts/two", { type: "probe" });
    events = [];
    await sys("delete", "sys/mounts/one");
    expect(events).toEqual([{ hook: "cleanup", mount: "one/" }]);
  });

  it("cleans every backend up on seal and initializes them again on unseal", async () => {
    await sys("update", "sys/mounts/one", { type: "probe" });
    await sys("update", "sys/mounts/two", { type: "probe" });
    events = [];
    await core.sealNow();
    expect(hooks("cleanup")).toEqual(["one/", "two/"]);
    expect(hooks("initialize")).toEqual([]);
    events = [];
    expect(await core.submitUnsealShare(unsealKey)).toBe(true);
    expect(hooks("initialize")).toEqual(["one/", "two/"]);
  });

  it("unseals even when one mount fails to initialize, and still serves the others", async () => {
    await sys("update", "sys/mounts/one", { type: "probe" });
    await sys("update", "sys/mounts/two", { type: "probe" });
    await core.sealNow();
    failing.add("one/");
    events = [];
    expect(await core.submitUnsealShare(unsealKey)).toBe(true);
    expect(hooks("initialize")).toEqual(["one/", "two/"]);
    expect(core.root.router.get("two/")).toBeDefined();
  });

  it("passes invalidate the changed key (the HA issue will call it; nothing does yet)", async () => {
    await sys("update", "sys/mounts/one", { type: "probe" });
    await core.root.router.get("one/")?.backend.invalidate("some/key");
    expect(events.at(-1)).toEqual({ hook: "invalidate", mount: "one/", detail: "some/key" });
  });

  it("declares no hooks for a backend that has none (no-ops)", async () => {
    const plain = new LogicalBackend({ type: "plain", paths: [] });
    expect(plain.hasPeriodic).toBe(false);
    await expect(plain.initialize({ storage: core.root.store })).resolves.toBeUndefined();
    await expect(plain.cleanup()).resolves.toBeUndefined();
  });
});

describe("periodic hooks through the scheduler", () => {
  it("runs each mount's periodic once per run, in every open namespace, with the scheduler's clock", async () => {
    await sys("update", "sys/mounts/one", { type: "probe" });
    await sys("update", "sys/namespaces/team");
    await core.handleRequest(core.newRequest({ operation: "update", path: "team/sys/mounts/two", data: { type: "probe" }, clientToken: root }));
    events = [];
    const at = new Date("2030-01-02T03:04:05Z");
    const jobs = startJobs(core, createLogger("error", () => undefined), { intervalMs: 3_600_000, now: () => at });
    try {
      await jobs.runOnce();
      expect(hooks("periodic")).toEqual(["one/", "two/"]);
      await jobs.runOnce();
      expect(hooks("periodic")).toEqual(["one/", "one/", "two/", "two/"]);
    } finally {
      await jobs.stop();
    }
    expect((await core.root.router.get("one/")?.storage.get("last-run"))?.toString()).toBe(at.toISOString());
  });

  it("logs a failing periodic and still runs the other mounts'", async () => {
    await sys("update", "sys/mounts/a", { type: "probe" });
    await sys("update", "sys/mounts/b", { type: "probe" });
    await sys("update", "sys/mounts/c", { type: "probe" });
    failing.add("b/");
    events = [];
    const lines: string[] = [];
    const jobs = startJobs(core, createLogger("debug", (l) => lines.push(l)), { intervalMs: 3_600_000 });
    try {
      await jobs.runOnce();
    } finally {
      await jobs.stop();
    }
    expect(hooks("periodic")).toEqual(["a/", "b/", "c/"]);
    const failure = lines.filter((l) => l.includes("periodic function failed"));
    expect(failure).toHaveLength(1);
    expect(JSON.parse(failure[0])).toMatchObject({ mount: "b/", type: "probe", error: "periodic failed at b/" });
    expect(lines.some((l) => l.includes("background job failed"))).toBe(false);
  });

  it("runs nothing while sealed", async () => {
    await sys("update", "sys/mounts/one", { type: "probe" });
    await core.sealNow();
    events = [];
    const jobs = startJobs(core, createLogger("error", () => undefined), { intervalMs: 3_600_000 });
    await jobs.runOnce();
    await jobs.stop();
    expect(hooks("periodic")).toEqual([]);
  });
});
