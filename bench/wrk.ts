/**
 * Load generation for the HTTP benchmarks: wrk (Debian's `wrk`), a C load generator, so that the
 * client does not compete with the server for the JavaScript event loop. Results are parsed from its
 * `--latency` output.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LoadResult {
  name: string;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export function requireWrk(): void {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
  } catch (err) {
    // wrk --version exits 1 but prints; only a missing binary is fatal.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error("wrk is not installed: apt-get install -y wrk", { cause: err });
    }
  }
}

function toMs(v: string, unit: string): number {
  const n = Number(v);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : n;
}

export async function runWrk(
  name: string,
  url: string,
  opts: { connections: number; seconds: number; headers?: Record<string, string>; lua?: string; threads?: number },
): Promise<LoadResult> {
  const args = ["-t", String(opts.threads ?? 1), "-c", String(opts.connections), "-d", `${opts.seconds}s`, "--latency"];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push("-H", `${k}: ${v}`);
  if (opts.lua) {
    const dir = mkdtempSync(join(tmpdir(), "arca-wrk-"));
    const file = join(dir, "script.lua");
    writeFileSync(file, opts.lua);
    args.push("-s", file);
  }
  args.push(url);
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn("wrk", args);
    let text = "";
    child.stdout.on("data", (d: Buffer) => (text += d.toString()));
    child.stderr.on("data", (d: Buffer) => (text += d.toString()));
    child.on("error", reject);
    child.on("close", () => resolve(text));
  });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sockErr = /Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)/.exec(out);
  if (!rps || !p50 || !p99) throw new Error(`could not parse wrk output:\n${out}`);
  return {
    name,
    opsPerSec: Number(rps[1]),
    p50Ms: toMs(p50[1], p50[2]),
    p99Ms: toMs(p99[1], p99[2]),
    errors: (non2xx ? Number(non2xx[1]) : 0) + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

export function printTable(rows: LoadResult[], baseline: LoadResult): void {
  const line = (cells: string[]) => console.log(cells.map((c, i) => (i === 0 ? c.padEnd(34) : c.padStart(12))).join(""));
  line(["case", "ops/s", "p50 ms", "p99 ms", "× baseline", "errors"]);
  for (const r of rows) {
    line([r.name, r.opsPerSec.toFixed(0), r.p50Ms.toFixed(2), r.p99Ms.toFixed(2), (r.opsPerSec / baseline.opsPerSec).toFixed(2), String(r.errors)]);
  }
}
