/**
 * What the CLI's HSM-holding daemons (`arca agent`, `arca unsealer`) share: the checks of their flags and
 * configuration file, and how they run until stopped.
 */
import { UsageError } from "./context.js";
import type { CliIo } from "./io.js";
import { pinExposureWarnings, pinSourcesOf } from "../server/pin-exposure.js";

/** Refuses any flag outside `known`, with the usage text. */
export function rejectUnknownFlags(flags: ReadonlyMap<string, string>, known: readonly string[], usage: string): void {
  for (const name of flags.keys()) if (!known.includes(name)) throw new UsageError(`unknown flag -${name}\n${usage}`);
}

/** The required `-config=FILE` (a bare `-config` parses as "true" and is refused too). */
export function requireConfigPath(flags: ReadonlyMap<string, string>, usage: string): string {
  const configPath = flags.get("config");
  if (!configPath || configPath === "true") throw new UsageError(`-config=FILE is required\n${usage}`);
  return configPath;
}

/** Warns on stderr where the config exposes HSM PINs (readable file, PIN written in the config). */
export function warnPinExposure(io: CliIo, configPath: string, hsms: Parameters<typeof pinSourcesOf>[0]): void {
  for (const w of pinExposureWarnings(configPath, pinSourcesOf(hsms))) io.stderr(`Warning: ${w}\n`);
}

/** Runs a daemon until SIGINT, SIGTERM or `external` (tests) aborts it; the listeners go away afterwards. */
export async function runUntilStopped(run: (signal: AbortSignal) => Promise<void>, external?: AbortSignal): Promise<void> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  external?.addEventListener("abort", onSignal, { once: true });
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await run(controller.signal);
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    external?.removeEventListener("abort", onSignal);
  }
}
