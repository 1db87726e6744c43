import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../test/cli.js";
import { api, devServer, freshServer } from "../../test/servers.js";
import type { RunningServer } from "../server/server.js";

describe("arca operator snapshot", () => {
  let source: RunningServer;
  let target: RunningServer | undefined;
  const dir = mkdtempSync(join(tmpdir(), "arca-snap-cli-"));
  const file = join(dir, "backup.snap");
  beforeAll(async () => {
    source = await devServer();
    expect((await api(source.url, "PUT", "secret/data/app", { token: source.rootToken, body: { data: { v: "cli-canary" } } })).status).toBe(200);
  });
  afterAll(async () => {
    await source.stop();
    await target?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("saves a private, verified file, inspects it, and restores it into a fresh server", async () => {
    const env = { ARCA_ADDR: source.url, ARCA_TOKEN: source.rootToken ?? "" };
    const saved = await runCli(["operator", "snapshot", "save", file], env);
    expect(saved.out).toMatch(/Snapshot saved to .* entries, sha256 [0-9a-f]{64}/);
    expect(saved.code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file).includes(Buffer.from("cli-canary"))).toBe(false);

    const inspected = await runCli(["operator", "snapshot", "inspect", "-format=json", file]);
    expect(inspected.code).toBe(0);
    const summary = JSON.parse(inspected.out) as Record<string, unknown>;
    expect(summary).toMatchObject({ format: 1, storage_type: "sqlite", seal_type: "shamir" });
    expect((summary.areas as Record<string, number>)["core/"]).toBeGreaterThan(0);

    target = await freshServer();
    const restored = await runCli(["operator", "snapshot", "restore", file], { ARCA_ADDR: target.url });
    expect(restored.out).toMatch(/Success! Restored \d+ entries\. Unseal it/);
    expect(restored.code).toBe(0);
    await api(target.url, "PUT", "sys/unseal", { body: { key: source.unsealKey } });
    const read = await api(target.url, "GET", "secret/data/app", { token: source.rootToken });
    expect((read.body?.data as { data: { v: string } }).data.v).toBe("cli-canary");
  });

  it("fails clearly on a damaged file, a missing file and a refused restore", async () => {
    const own = join(dir, "own.snap");
    expect((await runCli(["operator", "snapshot", "save", own], { ARCA_ADDR: source.url, ARCA_TOKEN: source.rootToken ?? "" })).code).toBe(0);
    const damaged = join(dir, "damaged.snap");
    const bytes = readFileSync(own);
    writeFileSync(damaged, bytes.subarray(0, bytes.length - 1));
    const bad = await runCli(["operator", "snapshot", "inspect", damaged]);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/not a valid Arca snapshot: checksum mismatch/);
    expect((await runCli(["operator", "snapshot", "inspect", join(dir, "none.snap")])).out).toMatch(/cannot read .*ENOENT/);
    const refused = await runCli(["operator", "snapshot", "restore", own], { ARCA_ADDR: source.url });
    expect(refused.code).toBe(2);
    expect(refused.out).toMatch(/uninitialised server/);
  });
});
