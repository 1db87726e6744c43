/**
 * Start-up warnings for HSM PINs that other local users can read: a config file holding a PIN inline, or a
 * PIN file, readable by everyone (mode o+r). Not an error: the operator may have reasons (a container with
 * one user), but a PIN in a world-readable file gives every local account the HSM's keys.
 */
import { statSync } from "node:fs";

export interface PinSources {
  /** The config file itself holds a PIN (an `hsm` or seal `pin`, or a `pin-value` in a PKCS#11 URI). */
  inline: boolean;
  /** PIN files the config points at. */
  files: readonly string[];
}

/** True for a file everyone may read; false when it is not, or cannot be examined (it is read later anyway). */
function worldReadable(path: string): boolean {
  try {
    return (statSync(path).mode & 0o004) !== 0;
  } catch {
    return false;
  }
}

export function pinExposureWarnings(configPath: string, sources: PinSources): string[] {
  const warnings: string[] = [];
  if (sources.inline && worldReadable(configPath)) {
    warnings.push(`${configPath} holds an HSM PIN and is readable by every user: chmod o-r it, or move the PIN to pin_file or pin_env`);
  }
  for (const f of sources.files) {
    if (worldReadable(f)) warnings.push(`the HSM PIN file ${f} is readable by every user: chmod o-r it`);
  }
  return warnings;
}

/** Where a set of HSM declarations and seal parameters keep PINs. */
export function pinSourcesOf(
  hsms: ReadonlyArray<{ pin?: string; pinFile?: string }>,
  sealParams: ReadonlyArray<Readonly<Record<string, unknown>>> = [],
): PinSources {
  const files = hsms.flatMap((h) => (h.pinFile ? [h.pinFile] : []));
  let inline = hsms.some((h) => h.pin !== undefined && h.pin !== "");
  for (const params of sealParams) {
    for (const [k, v] of Object.entries(params)) {
      if (typeof v !== "string") continue;
      if (k === "pin" && v.startsWith("file://")) files.push(v.slice("file://".length));
      else if (k === "pin" && !v.startsWith("env://") && v !== "") inline = true;
      else if (/[?&;]pin-value=/.test(v)) inline = true;
    }
  }
  return { inline, files };
}
