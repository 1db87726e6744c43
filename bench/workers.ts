/**
 * `arca server -workers N` throughput (issue 18): KV v1 reads and writes at concurrency 32 through wrk
 * against 1 and 2 workers on one PostgreSQL (ha_enabled, SoftHSM auto seal), beside bare node:http in the
 * same run. Each worker count gets a table of its own, initialised fresh.
 *
 *   npx tsx bench/workers.ts            (needs wrk, PostgreSQL and SoftHSM; ARCA_BENCH_SECONDS=10)
 *
 * The servers run from the TypeScript sources (tsx): after start-up the code is the same as dist's.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer as createHttpServer, get } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { printTable, requireWrk, runWrk, type LoadResult } from "./wrk.js";
import { startPgCluster, type PgCluster } from "../test/postgres.js";
import { createSoftHsmToken, type SoftHsmToken } from "../test/softhsm.js";

const SECONDS = Number(process.env.ARCA_BENCH_SECONDS ?? 10);
const CONNECTIONS = 32;
const root = join(import.meta.dirname, "..");

async function freePort(): Promise<number> {
  const srv = createHttpServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function until(check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error("server did not come up");
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function call(url: string, method: string, path: string, token?: string, body?: unknown): Promise<Record<string, unknown> | undefined> {
  const res = await fetch(`${url}/v1/${path}`, {
    method,
    headers: { ...(token ? { "X-Vault-Token": token } : {}), "Content-Type": "application/json" },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
}

function sealedOnFreshConnection(url: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    get(`${url}/v1/sys/seal-status`, { agent: false }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve((JSON.parse(text) as { sealed: boolean }).sealed));
    }).on("error", reject);
  });
}

/** Starts `arca server -workers N`, initialises it, mounts kv/ (v1) and writes the key the reads read. */
async function startArca(pg: PgCluster, token: SoftHsmToken, workers: number, dir: string): Promise<{ url: string; rootToken: string; child: ChildProcess }> {
  const port = await freePort();
  const file = join(dir, `workers-${workers}.hcl`);
  writeFileSync(
    file,
    `storage "postgresql" {\n  connection_url = "${pg.url}"\n  table = "bench_w${workers}"\n  ha_enabled = "true"\n}\n` +
      `listener "tcp" {\n  address = "127.0.0.1:${port}"\n  tls_disable = true\n}\n` +
      `seal "pkcs11" {\n  lib = "${token.libPath}"\n  token_label = "${token.label}"\n  pin = "${token.pin}"\n  key_label = "bench-w${workers}"\n  generate_key = "true"\n}\n` +
      `log_level = "error"\n`,
    { mode: 0o600 },
  );
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "test/arca-cli.ts"), "server", `-config=${file}`, `-workers=${workers}`], { cwd: root, stdio: "inherit" });
  const url = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${url}/v1/sys/seal-status`)).status === 200, 60_000);
  const init = await call(url, "PUT", "sys/init", undefined, { recovery_shares: 1, recovery_threshold: 1 });
  const rootToken = (init as { root_token: string }).root_token;
  // Every worker unsealed (each connection lands on the next worker).
  await until(async () => {
    const all = await Promise.all(Array.from({ length: 2 * workers }, () => sealedOnFreshConnection(url)));
    return all.every((sealed) => !sealed);
  }, 30_000);
  await call(url, "POST", "sys/mounts/kv", rootToken, { type: "kv", options: { version: "1" } });
  await call(url, "PUT", "kv/bench", rootToken, { value: "x".repeat(64) });
  return { url, rootToken, child };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  await exited;
}

async function main(): Promise<void> {
  requireWrk();
  console.log(`cores: ${availableParallelism()}; wrk -c ${CONNECTIONS} for ${SECONDS} s each; PostgreSQL fsync off (throwaway cluster)`);
  const pg = await startPgCluster();
  const token = createSoftHsmToken({ label: "bench-workers" });
  const dir = mkdtempSync(join(tmpdir(), "arca-bench-workers-"));
  const bare = createHttpServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end("hello world\n");
  });
  try {
    await new Promise<void>((r) => bare.listen(0, "127.0.0.1", r));
    const rows: LoadResult[] = [];
    const baseline = await runWrk("bare node:http (1 process)", `http://127.0.0.1:${(bare.address() as AddressInfo).port}/`, { connections: CONNECTIONS, seconds: SECONDS });
    rows.push(baseline);
    bare.close();
    for (const workers of [1, 2]) {
      const arca = await startArca(pg, token, workers, dir);
      try {
        const headers = { "X-Vault-Token": arca.rootToken };
        rows.push(await runWrk(`kv read, ${workers} worker(s)`, `${arca.url}/v1/kv/bench`, { connections: CONNECTIONS, seconds: SECONDS, headers }));
        const lua = `wrk.method = "PUT"\nwrk.body = '{"value":"${"y".repeat(64)}"}'\nwrk.headers["Content-Type"] = "application/json"\ncounter = 0\nrequest = function()\n  counter = counter + 1\n  return wrk.format(nil, "/v1/kv/w" .. (counter % 1000))\nend\n`;
        rows.push(await runWrk(`kv write, ${workers} worker(s)`, arca.url, { connections: CONNECTIONS, seconds: SECONDS, headers, lua }));
      } finally {
        await stop(arca.child);
      }
    }
    printTable(rows, baseline);
  } finally {
    pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
