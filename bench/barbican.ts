/**
 * The Barbican API's figures the SCS issue asks for: create secret, GET payload and GET metadata at
 * concurrency 16, measured by the Barbican peer kit's load generator (load.mjs, another process) against
 * Arca's /barbican front door, beside a bare node:http server (wrk) and — with --peer — real Barbican 15
 * (../shared/peers/barbican, started separately) in the same run.
 *
 *   npm run build && npx tsx bench/barbican.ts [--seconds 10] [--peer http://127.0.0.1:19311]
 *
 * Arca runs in this process (dev mode, SQLite, noauth with X-Project-Id); the loader runs in its own.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDevServer } from "../dist/server/server.js";
import { createLogger } from "../dist/server/log.js";
import { startBareServer } from "./baseline.js";
import { requireWrk, runWrk } from "./wrk.js";

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i === -1 ? undefined : argv[i + 1];
};
const seconds = Number(arg("seconds") ?? 10);
const peer = arg("peer");
const LOADER = process.env.BARBICAN_LOADER ?? "/work/shared/peers/barbican/load.mjs";

interface Scenario {
  scenario: string;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
}

/** Runs load.mjs (create, payload, meta) against `base`; resolves its per-scenario results. */
async function load(base: string, label: string): Promise<Scenario[]> {
  const dir = mkdtempSync(join(tmpdir(), "arca-bench-barbican-"));
  const out = join(dir, "r.json");
  const args = [LOADER, "--base", base, "--header", "X-Project-Id: bench", "--scenario", "all", "--concurrency", "16", "--duration", String(seconds), "--warmup", "2", "--out", out, "--label", label];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`load.mjs exited ${code}`))));
  });
  const results = (JSON.parse(readFileSync(out, "utf8")) as { results: Scenario[] }).results;
  rmSync(dir, { recursive: true, force: true });
  return results;
}

async function main(): Promise<void> {
  if (!existsSync(LOADER)) throw new Error(`the peer kit's load generator is missing: ${LOADER} (set BARBICAN_LOADER)`);
  requireWrk();
  const { url: bareUrl, server: bare } = await startBareServer();
  const dir = mkdtempSync(join(tmpdir(), "arca-bench-"));
  const arca = await startDevServer({ listenAddress: "127.0.0.1:0", dataDir: dir, logger: createLogger("error") });
  try {
    const baseline = await runWrk("bare node:http (wrk, c=16)", bareUrl, { connections: 16, seconds });
    const arcaResults = await load(`${arca.url}/barbican`, "arca");
    const peerResults = peer ? await load(peer, "barbican-15") : undefined;
    const line = (cells: string[]) => console.log(cells.map((c, i) => (i === 0 ? c.padEnd(18) : c.padStart(17))).join(""));
    console.log(`\nbaseline: ${baseline.name}: ${baseline.opsPerSec.toFixed(0)} ops/s, p50 ${baseline.p50Ms.toFixed(2)} ms, p99 ${baseline.p99Ms.toFixed(2)} ms`);
    line(["scenario (c=16)", "Arca req/s", "p50 ms", "p99 ms", "errors", ...(peerResults ? ["Barbican req/s", "p50 ms", "p99 ms", "Arca ÷ Barbican"] : []), "× baseline"]);
    for (const a of arcaResults) {
      const p = peerResults?.find((r) => r.scenario === a.scenario);
      line([
        a.scenario,
        a.rps.toFixed(0),
        a.p50_ms.toFixed(2),
        a.p99_ms.toFixed(2),
        String(a.errors),
        ...(p ? [p.rps.toFixed(0), p.p50_ms.toFixed(2), p.p99_ms.toFixed(2), (a.rps / p.rps).toFixed(1)] : []),
        (a.rps / baseline.opsPerSec).toFixed(2),
      ]);
    }
  } finally {
    await arca.stop();
    bare.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
