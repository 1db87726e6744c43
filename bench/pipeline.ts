/**
 * What the core's request pipeline costs without HTTP: CPU time per `core.handleRequest` (token, policy,
 * audit, engine) for a KV read, a transit encrypt of 1 KiB and a keychain data key, beside the same
 * read sent over HTTP with the core answered by a canned response (what the HTTP side costs alone).
 * CPU time rather than ops/s: it stays meaningful on a machine shared with other work.
 *
 *   npm run build && npx tsx bench/pipeline.ts [--ops 5000] [--concurrency 1]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startDevServer } from "../dist/server/server.js";
import { createLogger } from "../dist/server/log.js";
import type { Operation } from "../dist/core/framework/request.js";
import { runWrk } from "./wrk.js";
import { startBareServer } from "./baseline.js";

const { values: args } = parseArgs({ options: { ops: { type: "string", default: "5000" }, concurrency: { type: "string", default: "1" } } });
const OPS = Number(args.ops);
const WIDTH = Number(args.concurrency);
const ROUNDS = 5;

/** CPU µs per call of `fn` (the median of ROUNDS rounds of OPS calls, WIDTH in flight). */
async function cpuPerOp(fn: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(OPS, 2000); i++) await fn(i); // warm-up: JIT and caches
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let next = 0;
    const c0 = process.cpuUsage();
    await Promise.all(Array.from({ length: WIDTH }, async () => {
      while (next < OPS) await fn(next++);
    }));
    const c = process.cpuUsage(c0);
    rounds.push((c.user + c.system) / OPS);
  }
  return rounds.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "arca-bench-pipeline-"));
  const arca = await startDevServer({ listenAddress: "127.0.0.1:0", dataDir: dir, logger: createLogger("error", () => undefined) });
  const { url: bareUrl, server: bare } = await startBareServer();
  const core = arca.core;
  const token = arca.rootToken!;
  const call = (operation: Operation, path: string, data: Record<string, unknown> = {}) =>
    core.handleRequest(core.newRequest({ operation, path, data, clientToken: token, remoteAddress: "127.0.0.1" }));
  try {
    for (let i = 0; i < 1000; i++) await call("update", `secret/data/bench/k${i}`, { data: { value: "v".padEnd(64, "x") } });
    await call("update", "sys/mounts/transit", { type: "transit" });
    await call("update", "transit/keys/bench");
    await call("update", "sys/mounts/kc", { type: "keychain" });
    await call("update", "kc/keystores/ks", { type: "software" });
    await call("update", "kc/keys/k", { keystore: "ks" });
    await call("update", "kc/key-configurations/cfg", { primary_key: "k" });
    await call("update", "kc/systems/bench", { key_configuration: "cfg" });
    const plaintext = Buffer.alloc(1024, 7).toString("base64");
    const rows: Array<[string, number]> = [
      ["kv v2 read", await cpuPerOp((i) => call("read", `secret/data/bench/k${i % 1000}`))],
      ["transit encrypt 1 KiB", await cpuPerOp(() => call("update", "transit/encrypt/bench", { plaintext }))],
      ["keychain datakey (256 bits)", await cpuPerOp(() => call("update", "kc/systems/bench/datakey", { bits: 256 }))],
      ["auth/token/lookup-self", await cpuPerOp(() => call("read", "auth/token/lookup-self"))],
    ];
    console.log(`\ncore.handleRequest in process (no HTTP), ${WIDTH} in flight, median of ${ROUNDS} × ${OPS}\n`);
    for (const [name, us] of rows) console.log(`${name.padEnd(32)} ${us.toFixed(1).padStart(7)} µs CPU/op`);

    // The HTTP side alone: the same KV read over HTTP, then with the core answering a canned response.
    const seconds = 3;
    const lua = `request = function() return wrk.format("GET", "/v1/secret/data/bench/k" .. math.random(0, 999)) end`;
    const overHttp = async (name: string, url: string, withLua: boolean): Promise<string> => {
      const c0 = process.cpuUsage();
      const r = await runWrk(name, url, { connections: 32, seconds, headers: { "X-Vault-Token": token }, ...(withLua ? { lua } : {}) });
      const c = process.cpuUsage(c0);
      return `${name.padEnd(32)} ${((c.user + c.system) / (r.opsPerSec * seconds)).toFixed(1).padStart(7)} µs CPU/req  (${r.opsPerSec.toFixed(0)} ops/s)`;
    };
    const lines = [await overHttp("bare node:http hello world", `${bareUrl}/`, false), await overHttp("kv v2 read over HTTP", arca.url, true)];
    const real = core.handleRequest.bind(core);
    const canned = await real(core.newRequest({ operation: "read", path: "secret/data/bench/k1", clientToken: token }));
    core.handleRequest = () => Promise.resolve(canned);
    try {
      lines.push(await overHttp("same, core stubbed (HTTP only)", arca.url, true));
    } finally {
      core.handleRequest = real;
    }
    console.log(`\nover HTTP (wrk, 32 connections, ${seconds} s; this process's CPU per request)\n`);
    for (const l of lines) console.log(l);
  } finally {
    await arca.stop();
    bare.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
