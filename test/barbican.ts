/** Helpers for tests of the Barbican API: requests under /barbican, and python-barbicanclient's availability. */
import { spawnSync } from "node:child_process";

export interface BarbicanResult {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown> | undefined;
  bytes: Buffer;
}

export async function barbican(
  base: string,
  method: string,
  path: string,
  opts: { project?: string; token?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<BarbicanResult> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.project !== undefined) headers["X-Project-Id"] = opts.project;
  if (opts.token !== undefined) headers["X-Auth-Token"] = opts.token;
  let body: string | Blob | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : Buffer.isBuffer(opts.body) ? new Blob([new Uint8Array(opts.body)]) : JSON.stringify(opts.body);
    headers["Content-Type"] ??= "application/json";
  }
  const res = await fetch(`${base}/barbican${path}`, { method, headers, body });
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString("utf8");
  let json: Record<string, unknown> | undefined;
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, bytes };
}

/** The id at the end of a ref. */
export const idOf = (ref: string): string => ref.slice(ref.lastIndexOf("/") + 1);

export const PYTHON = "/usr/bin/python3";

/**
 * True when Debian's python3 has barbicanclient. With CI=true a missing client throws instead, so the
 * client tests fail on CI rather than silently skip.
 */
export function hasBarbicanClient(): boolean {
  const ok = spawnSync(PYTHON, ["-c", "import barbicanclient, keystoneauth1"], { stdio: "ignore" }).status === 0;
  if (!ok && process.env.CI === "true") throw new Error("python3-barbicanclient is required on CI (apt-get install python3-barbicanclient)");
  return ok;
}

export const BARBICANCLIENT_SKIP_REASON = "python3-barbicanclient not installed; Barbican client tests skipped";
