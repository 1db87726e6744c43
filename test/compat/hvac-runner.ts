/**
 * Runs the hvac scripts of this folder: Debian's python3-hvac 0.11.2, a client nobody here wrote. One
 * runner for every hvac suite, with one rule for a missing client: skipped with a warning locally, a
 * failure when CI=true (a missing client must not pass silently as "skipped").
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Debian's interpreter on purpose: the python3 first on PATH may be another installation without hvac.
const PYTHON = "/usr/bin/python3";
const HERE = dirname(fileURLToPath(import.meta.url));

export interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one script asynchronously (a sync spawn would block the in-process server it talks to). */
export function runScript(script: string, env: Record<string, string>): Promise<ScriptResult> {
  return new Promise((resolve) => {
    execFile(
      PYTHON,
      [join(HERE, script)],
      { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PYTHONDONTWRITEBYTECODE: "1", NO_PROXY: "*", ...env }, timeout: 50_000, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** Runs a script and returns its JSON results; a non-zero exit fails the test with the script's own message. */
export async function hvac(script: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  const r = await runScript(script, env);
  if (r.code !== 0) throw new Error(`${script} exited ${r.code}:\n${r.stderr.trim()}\nstdout: ${r.stdout.trim()}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const probe = existsSync(PYTHON) ? await runScript("hvac_probe.py", {}) : { code: 127, stdout: "", stderr: `${PYTHON} does not exist` };

/** Whether `suite` can run; throws under CI=true when hvac is missing. */
export function hvacAvailable(suite: string): boolean {
  if (probe.code === 0) return true;
  const why = `hvac is not importable with ${PYTHON}: ${probe.stderr.trim() || `exit ${probe.code}`}`;
  if (process.env.CI === "true") throw new Error(`${why} (CI=true: the compatibility suite must run)`);
  console.warn(`skipping ${suite}: ${why}`);
  return false;
}
