// `arca server -workers 2` on a throwaway PostgreSQL with a SoftHSM auto seal: both workers serve on one
// port (round-robin per connection), a write through one is read through the other, a killed worker is
// restarted while the other keeps serving, and SIGTERM to the primary stops them all.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresAvailable, POSTGRES_SKIP_REASON, startPgCluster, type PgCluster } from "../../test/postgres.js";
import { createSoftHsmToken, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../test/softhsm.js";
import { eventually } from "../../test/hsm-servers.js";
import { runCli } from "../../test/cli.js";

const available = postgresAvailable() && softHsmAvailable();
if (!available) console.warn(`${POSTGRES_SKIP_REASON}; ${SOFTHSM_SKIP_REASON}`);
const root = join(import.meta.dirname, "..", "..");

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

/** One request on a connection of its own, so that the primary hands each to the next worker. */
function call(port: number, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ host: "127.0.0.1", port, method, path: `/v1/${path}`, agent: false, headers: token ? { "X-Vault-Token": token } : {} }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined }));
    });
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error(`${method} ${path}: no answer in 5 s`)));
    req.end(payload);
  });
}

/** The primary's worker processes (its other child is tsx's esbuild service). */
function workerPids(primary: ChildProcess): number[] {
  try {
    const lines = execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(primary.pid)], { encoding: "utf8" }).trim().split("\n");
    return lines.filter((l) => l.includes("arca-cli.ts")).map((l) => Number(l.trim().split(/\s+/)[0]));
  } catch {
    return []; // ps exits 1 when there are none
  }
}

function config(pg: PgCluster, token: SoftHsmToken, port: number): string {
  return `storage "postgresql" {
  connection_url = "${pg.url}"
  table = "workers_t"
  ha_enabled = "true"
}
listener "tcp" {
  address = "127.0.0.1:${port}"
  tls_disable = true
}
seal "pkcs11" {
  lib = "${token.libPath}"
  token_label = "${token.label}"
  pin = "${token.pin}"
  key_label = "arca-seal"
  generate_key = "true"
}
log_level = "error"
`;
}

describe("-workers refusals", () => {
  it("refuses SQLite and a Shamir seal for more than one worker, saying why", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arca-workers-"));
    try {
      const sqlite = join(dir, "sqlite.hcl");
      writeFileSync(sqlite, `storage "sqlite" {\n  path = "${join(dir, "a.db")}"\n}\nlistener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n}\n`);
      const r1 = await runCli(["server", `-config=${sqlite}`, "-workers=2"]);
      expect(r1.code).toBe(1);
      expect(r1.out).toMatch(/-workers needs storage "postgresql" with ha_enabled.*no change feed/);
      const shamir = join(dir, "shamir.hcl");
      writeFileSync(shamir, `storage "postgresql" {\n  connection_url = "postgres://x"\n  ha_enabled = "true"\n}\nlistener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n}\n`);
      const r2 = await runCli(["server", `-config=${shamir}`, "-workers=2"]);
      expect(r2.code).toBe(1);
      expect(r2.out).toMatch(/-workers needs an auto seal.*Shamir/);
      const bad = await runCli(["server", `-config=${shamir}`, "-workers=zero"]);
      expect(bad.code).toBe(1);
      expect(bad.out).toMatch(/-workers: expected a whole number/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!available)("arca server -workers 2 on PostgreSQL", () => {
  let pg: PgCluster;
  let primary: ChildProcess;
  let port: number;
  let rootToken: string;
  let dir: string;
  let stderr = "";

  beforeAll(async () => {
    pg = await startPgCluster();
    const token = createSoftHsmToken({ label: "workers-seal" });
    dir = mkdtempSync(join(tmpdir(), "arca-workers-"));
    port = await freePort();
    const file = join(dir, "arca.hcl");
    writeFileSync(file, config(pg, token, port));
    primary = spawn(process.execPath, ["--import", "tsx", join(root, "test/arca-cli.ts"), "server", `-config=${file}`, "-workers=2"], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
    primary.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    await eventually(async () => (await call(port, "GET", "sys/seal-status").catch(() => undefined))?.status === 200, 60_000);
    const init = await call(port, "PUT", "sys/init", undefined, { recovery_shares: 1, recovery_threshold: 1 });
    expect(init.status, stderr).toBe(200);
    rootToken = (init.body as { root_token: string }).root_token;
  }, 120_000);
  afterAll(() => {
    if (primary.exitCode === null) primary.kill("SIGKILL");
    for (const pid of workerPids(primary)) process.kill(pid, "SIGKILL");
    pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Both workers answer: one holds background work, the other not (is_self differs). */
  const bothServe = async (): Promise<boolean> => {
    const seen = new Set<unknown>();
    for (let i = 0; i < 6; i++) {
      const r = await call(port, "GET", "sys/leader").catch(() => undefined);
      if (r?.status !== 200) return false;
      seen.add(r.body?.is_self);
    }
    return seen.has(true) && seen.has(false);
  };

  it("initialised through one worker, both unseal with the HSM and serve, a killed worker comes back, SIGTERM stops all", async () => {
    // The worker that did not get sys/init learns of it from the change feed and auto-unseals.
    await eventually(async () => {
      const all = await Promise.all(Array.from({ length: 4 }, () => call(port, "GET", "sys/seal-status")));
      return all.every((r) => r.body?.sealed === false);
    }, 20_000);
    await eventually(bothServe, 20_000);
    expect((await call(port, "POST", "sys/mounts/kv", rootToken, { type: "kv", options: { version: "1" } })).status).toBe(204);
    for (let i = 0; i < 10; i++) {
      // Consecutive connections alternate between the two workers.
      await eventually(async () => (await call(port, "PUT", `kv/k${i}`, rootToken, { v: `v${i}` })).status === 204, 5000);
      for (let j = 0; j < 2; j++) expect((await call(port, "GET", `kv/k${i}`, rootToken)).body?.data).toEqual({ v: `v${i}` });
    }

    // Then (one case: the steps depend on each other, and cases run shuffled) a killed worker is restarted
    // while the other keeps serving.
    const before = workerPids(primary);
    expect(before).toHaveLength(2);
    process.kill(before[0], "SIGKILL");
    await eventually(async () => !workerPids(primary).includes(before[0]), 10_000);
    // The service continues. (Not asserted per request: one request right after the kill was seen to go
    // unanswered, see the branch report.)
    await eventually(async () => (await call(port, "GET", "kv/k1", rootToken).catch(() => undefined))?.status === 200, 10_000);
    await eventually(async () => {
      const now = workerPids(primary);
      return now.length === 2 && !now.includes(before[0]);
    }, 20_000);
    await eventually(bothServe, 30_000);
    for (let j = 0; j < 4; j++) expect((await call(port, "GET", "kv/k2", rootToken)).body?.data).toEqual({ v: "v2" });

    // SIGTERM to the primary stops the workers gracefully, and it exits 0.
    const workers = workerPids(primary);
    expect(workers).toHaveLength(2);
    const exited = new Promise<number | null>((resolve) => primary.once("exit", (code) => resolve(code)));
    primary.kill("SIGTERM");
    expect(await exited).toBe(0);
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
  }, 120_000);
});
