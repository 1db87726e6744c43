/**
 * KV v2 read in a namespace three levels deep beside the same read in the root namespace, in one run
 * (aim: ≥ 0.9×), addressed by X-Vault-Namespace and by path prefix; a bare node:http server for scale.
 *
 *   npx tsx bench/namespaces.ts [--seconds 5] [--entries 1000] [--rounds 3]
 */
import { startDevServer } from "../dist/server/server.js";
import { createLogger } from "../dist/server/log.js";
import { printTable, requireWrk, runWrk, type LoadResult } from "./wrk.js";
import { startBareServer } from "./baseline.js";
import type { Core } from "../dist/core/core.js";

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(argv[i + 1]);
};
const seconds = arg("seconds", 5);
const entries = arg("entries", 1000);
const rounds = arg("rounds", 3);
const connections = 32;
const DEEP = "tenant/team/app";

async function call(core: Core, token: string, operation: "update", path: string, data: Record<string, unknown>, namespace?: string): Promise<void> {
  await core.handleRequest(core.newRequest({ operation, path, data, clientToken: token }), namespace);
}

async function preload(core: Core, token: string, namespace: string | undefined): Promise<void> {
  for (let i = 0; i < entries; i++) {
    await call(core, token, "update", `secret/data/bench/k${i}`, { data: { value: `v${i}`.padEnd(64, "x") } }, namespace);
  }
}

const readLua = (prefix: string) => `
request = function()
  return wrk.format("GET", "/v1/${prefix}secret/data/bench/k" .. math.random(0, ${entries - 1}))
end`;

async function main(): Promise<void> {
  requireWrk();
  const { url: bareUrl, server: bare } = await startBareServer();
  const arca = await startDevServer({ listenAddress: "127.0.0.1:0", logger: createLogger("error", () => undefined) });
  const token = arca.rootToken!;
  const core = arca.core;
  try {
    let parent = "";
    for (const name of DEEP.split("/")) {
      await call(core, token, "update", `sys/namespaces/${name}`, {}, parent || undefined);
      parent = parent ? `${parent}/${name}` : name;
    }
    await call(core, token, "update", "sys/mounts/secret", { type: "kv", options: { version: "2" } }, DEEP);
    await preload(core, token, undefined);
    await preload(core, token, DEEP);

    // Warm both paths up first, so neither case pays for the JIT.
    await runWrk("warm-up", arca.url, { connections, seconds: 2, headers: { "X-Vault-Token": token }, lua: readLua("") });
    await runWrk("warm-up", arca.url, { connections, seconds: 2, headers: { "X-Vault-Token": token, "X-Vault-Namespace": DEEP }, lua: readLua("") });
    const bareRow = await runWrk("bare node:http hello world", `${bareUrl}/`, { connections, seconds });
    // The cases take turns, several rounds, and each reports its median round: on a shared machine one
    // run of each in a fixed order measures the neighbours as much as the server.
    const cases: Array<[string, Record<string, string>, string]> = [
      ["kv v2 read, root namespace", { "X-Vault-Token": token }, ""],
      [`kv v2 read, ${DEEP} (header)`, { "X-Vault-Token": token, "X-Vault-Namespace": DEEP }, ""],
      [`kv v2 read, ${DEEP} (path)`, { "X-Vault-Token": token }, `${DEEP}/`],
    ];
    const runs: LoadResult[][] = cases.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (const [i, [name, headers, prefix]] of cases.entries()) runs[i].push(await runWrk(name, arca.url, { connections, seconds, headers, lua: readLua(prefix) }));
    }
    const median = (rs: LoadResult[]): LoadResult => [...rs].sort((a, b) => a.opsPerSec - b.opsPerSec)[Math.floor(rs.length / 2)];
    const [rootRow, headerRow, pathRow] = runs.map(median);
    const rows: LoadResult[] = [rootRow, headerRow, pathRow, bareRow];
    console.log(`\nconcurrency ${connections}, ${seconds} s per run, median of ${rounds} alternating rounds, ${entries} entries per namespace, wrk -t1 on loopback; × is against the root-namespace read\n`);
    printTable(rows, rootRow);
    console.log(`\naim: namespaced read ≥ 0.90× root read → header ${(headerRow.opsPerSec / rootRow.opsPerSec).toFixed(2)}×, path ${(pathRow.opsPerSec / rootRow.opsPerSec).toFixed(2)}×`);
  } finally {
    await arca.stop();
    bare.close();
  }
}

await main();
