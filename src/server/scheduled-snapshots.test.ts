import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { initializedCore } from "../../test/core.js";
import { quietLogger } from "../../test/servers.js";
import { decodeSnapshot } from "../storage/snapshot-format.js";
import { startJobs } from "./jobs.js";
import { runSnapshotSchedule } from "./scheduled-snapshots.js";
import { parseServerConfig } from "./config.js";

const dirs: string[] = [];
const newDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "arca-sched-snap-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("scheduled storage snapshots", () => {
  it("writes one per interval, verified and private, and keeps the newest `retain`", async () => {
    const { core } = await initializedCore();
    const directory = join(newDir(), "snaps");
    const schedule = { directory, intervalSeconds: 3600, retain: 2 };
    const t0 = Date.UTC(2026, 11, 7, 1, 0, 0);
    const at = (minutes: number): Date => new Date(t0 + minutes * 60_000);
    const first = await runSnapshotSchedule(core, schedule, at(0), quietLogger);
    expect(first).toBe("arca-20261207T010000000Z.snap");
    expect(await runSnapshotSchedule(core, schedule, at(59), quietLogger)).toBeUndefined();
    expect(await runSnapshotSchedule(core, schedule, at(60), quietLogger)).toBe("arca-20261207T020000000Z.snap");
    expect(await runSnapshotSchedule(core, schedule, at(125), quietLogger)).toBe("arca-20261207T030500000Z.snap");
    expect(readdirSync(directory).sort()).toEqual(["arca-20261207T020000000Z.snap", "arca-20261207T030500000Z.snap"]);
    for (const f of readdirSync(directory)) {
      expect(statSync(join(directory, f)).mode & 0o777).toBe(0o600);
      expect(decodeSnapshot(readFileSync(join(directory, f))).entries.length).toBeGreaterThan(0);
    }
    await core.shutdown();
  });

  it("runs as a background job of the server's scheduler", async () => {
    const { core } = await initializedCore();
    const directory = newDir();
    const jobs = startJobs(core, quietLogger, { intervalMs: 3_600_000, snapshots: { directory, intervalSeconds: 3600, retain: 3 } });
    await jobs.runOnce();
    await jobs.stop();
    expect(readdirSync(directory).filter((f) => f.endsWith(".snap"))).toHaveLength(1);
    await core.shutdown();
  });

  it("is configured by a snapshots block, with bad values refused by name", async () => {
    const base = `storage "sqlite" {\n  path = "x.db"\n}\nlistener "tcp" {\n  address = "127.0.0.1:8200"\n  tls_disable = true\n}\n`;
    const c = await parseServerConfig(base + `snapshots {\n  directory = "/var/backups/arca"\n  interval = "6h"\n  retain = 4\n}\n`);
    expect(c.snapshots).toEqual({ directory: "/var/backups/arca", intervalSeconds: 6 * 3600, retain: 4 });
    await expect(parseServerConfig(base + `snapshots {\n  interval = "6h"\n}\n`)).rejects.toThrow(/snapshots.directory: is required/);
    await expect(parseServerConfig(base + `snapshots {\n  directory = "d"\n  retain = 0\n}\n`)).rejects.toThrow(/snapshots.retain/);
    await expect(parseServerConfig(base + `snapshots {\n  directory = "d"\n  interval = "5s"\n}\n`)).rejects.toThrow(/snapshots.interval/);
  });
});
