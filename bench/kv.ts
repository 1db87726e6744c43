/**
 * KV v2 read and write throughput over HTTP at concurrency 32, beside a bare node:http hello-world
 * server measured in the same run (both in this process, on one core; wrk on the other).
 *
 *   npx tsx bench/kv.ts [--seconds 5] [--entries 1000000]
 *
 * When PostgreSQL is installed (Debian's postgresql), the read and durable-write cases run again on a
 * throwaway cluster (fsync on) in the same run, so the two backends are compared on the same machine.
 *
 * With --entries N (> 10,000) it measures reads at 10,000 entries first, then grows the store to N
 * entries and measures again, printing RSS and the p99 ratio.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDevServer } from "../dist/server/server.js";
import { createLogger } from "../dist/server/log.js";
import { printTable, requireWrk, runWrk, type LoadResult } from "./wrk.js";
import { startBareServer } from "./baseline.js";
import { postgresAvailable, startPgCluster } from "../test/postgres.js";

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(argv[i + 1]);
};
const seconds = arg("seconds", 5);
const entries = arg("entries", 10_000);
const connections = 32;

async function preload(core: Awaited<ReturnType<typeof startDevServer>>["core"], token: string, from: number, to: number): Promise<void> {
  const started = Date.now();
  let next = from;
  const worker = async () => {
    while (next < to) {
      const i = next++;
      await core.handleRequest(core.newRequest({ operation: "update", path: `secret/data/bench/k${i}`, data: { data: { value: `v${i}`.padEnd(64, "x") } }, clientToken: token }));
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  const s = (Date.now() - started) / 1000;
  console.log(`preloaded ${to - from} entries in ${s.toFixed(1)} s (${((to - from) / s).toFixed(0)} writes/s in-process)`);
}

const readLua = (n: number) => `
request = function()
  return wrk.format("GET", "/v1/secret/data/bench/k" .. math.random(0, ${n - 1}))
end`;

const writeLua = `
counter = 0
request = function()
  counter = counter + 1
  local body = '{"data":{"value":"' .. string.rep("x", 64) .. '"}}'
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/v1/secret/data/w/" .. math.random(0, 1000000000) .. "-" .. counter, headers, body)
end`;

/** The read and durable-write cases on PostgreSQL storage (a local cluster, fsync on). */
async function postgresRows(base: number): Promise<LoadResult[]> {
  const pg = await startPgCluster({ durable: true });
  const dir = mkdtempSync(join(tmpdir(), "arca-bench-pg-"));
  const arca = await startDevServer({
    listenAddress: "127.0.0.1:0",
    dataDir: dir,
    storage: { type: "postgresql", connectionUrl: pg.url, maxParallel: 32 },
    logger: createLogger("error", () => undefined),
  });
  try {
    const token = arca.rootToken!;
    const headers = { "X-Vault-Token": token };
    await preload(arca.core, token, 0, base);
    return [
      await runWrk(`kv v2 read (${base} entries), postgresql`, arca.url, { connections, seconds, headers, lua: readLua(base) }),
      await runWrk("kv v2 write (durable), postgresql", arca.url, { connections, seconds, headers, lua: writeLua }),
    ];
  } finally {
    await arca.stop();
    pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  requireWrk();
  const { url: bareUrl, server: bare } = await startBareServer();
  const dir = mkdtempSync(join(tmpdir(), "arca-bench-"));
  const arca = await startDevServer({ listenAddress: "127.0.0.1:0", dataDir: dir, logger: createLogger("error", () => undefined) });
  const token = arca.rootToken!;
  const headers = { "X-Vault-Token": token };
  try {
    const base = Math.min(entries, 10_000);
    await preload(arca.core, token, 0, base);
    const baseline = await runWrk("bare node:http hello world", `${bareUrl}/`, { connections, seconds });
    const rows: LoadResult[] = [baseline];
    const read10k = await runWrk(`kv v2 read (${base} entries)`, arca.url, { connections, seconds, headers, lua: readLua(base) });
    rows.push(read10k);
    rows.push(await runWrk("kv v2 write (durable)", arca.url, { connections, seconds, headers, lua: writeLua }));
    if (entries > base) {
      await preload(arca.core, token, base, entries);
      rows.push(await runWrk(`kv v2 read (${entries} entries)`, arca.url, { connections, seconds, headers, lua: readLua(entries) }));
    }
    if (postgresAvailable()) rows.push(...(await postgresRows(base)));
    else console.log("PostgreSQL not installed: PostgreSQL cases skipped");
    console.log(`\nconcurrency ${connections}, ${seconds} s per case, wrk -t1 on loopback\n`);
    printTable(rows, baseline);
    const rss = process.memoryUsage().rss / 1024 / 1024;
    console.log(`\nRSS ${rss.toFixed(0)} MB`);
    if (entries > base) console.log(`read p99 at ${entries} / at ${base}: ${(rows[3].p99Ms / read10k.p99Ms).toFixed(2)}×`);
  } finally {
    await arca.stop();
    bare.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
