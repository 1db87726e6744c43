// Audit on a full disk (issue 12 §6): requests are refused while no line can be written, no half line is
// left behind, `arca audit verify` accepts the log, and once space is back the chain goes on. The disk is a
// real 64 KiB tmpfs (root only: skipped with a message elsewhere, required in CI).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";
import { verifyChain } from "./chain.js";

function tryMountTmpfs(dir: string): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const dir = mkdtempSync(join(tmpdir(), "arca-fulldisk-"));
const mounted = tryMountTmpfs(dir);
if (!mounted) rmSync(dir, { recursive: true, force: true });
if (!mounted && process.env.CI === "true") throw new Error("CI must be able to mount a tmpfs (runs as root) for the full-disk audit test");

describe.skipIf(!mounted)(mounted ? "audit on a full disk" : "audit on a full disk: skipped (mounting a tmpfs needs root)", () => {
  let server: RunningServer;
  let root: string;
  const log = join(dir, "audit.log");
  const filler = join(dir, "filler");

  beforeAll(async () => {
    server = await devServer();
    root = server.rootToken ?? "";
    const r = await api(server.url, "PUT", "sys/audit/file", { token: root, body: { type: "file", options: { file_path: log } } });
    expect(r.status).toBe(204);
  });
  afterAll(async () => {
    await server?.stop();
    execFileSync("umount", [dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses requests while full, leaves only whole lines, and continues the chain when space is back", async () => {
    // Fill the disk, then give back a little less than a page: some lines fit, one is cut mid-write.
    try {
      writeFileSync(filler, Buffer.alloc(128 * 1024));
    } catch {
      // ENOSPC: the filler holds all the space there was.
    }
    const size = readFileSync(filler).length;
    truncateSync(filler, Math.max(0, size - 3000));
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      statuses.push((await api(server.url, "PUT", `secret/data/k${i}`, { token: root, body: { data: { v: "x".repeat(200) } } })).status);
    }
    expect(statuses).toContain(500);
    const during = readFileSync(log, "utf8");
    expect(during.endsWith("\n")).toBe(true);
    expect(verifyChain(during)).toMatchObject({ ok: true });

    rmSync(filler);
    expect((await api(server.url, "PUT", "secret/data/after", { token: root, body: { data: { v: "y" } } })).status).toBe(200);
    const after = readFileSync(log, "utf8");
    const result = verifyChain(after);
    expect(result, result.reason).toMatchObject({ ok: true });
    expect(result.entries).toBeGreaterThan(verifyChain(during).entries);
  });
});
