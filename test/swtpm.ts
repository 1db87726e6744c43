// A software TPM (Debian's swtpm) with a tpm2-pkcs11 token, for tests of keys held in a TPM (the agent's
// service keys, the unsealer's share key).
//
// Why these shapes (measured on Debian 12: swtpm 0.7, tpm2-tss 3.2.1, tpm2-pkcs11 1.9):
//  - swtpm has no resource manager and serves one connection at a time: every tpm2-pkcs11 user must be a
//    process of its own that ends (or holds the TPM alone while it runs), never the test runner itself.
//  - tpm2_ptool runs tpm2-tools that leave transient objects loaded; with no resource manager to flush them
//    the TPM runs out of object slots, so ptool runs them through flushing wrappers, and callers flush()
//    after each of their own programs too.
//  - The swtpm TCTI talks to the control channel on the next port; that is not configurable.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, hasCommand, startProcess, waitForPort, type Spawned } from "./processes.js";

export const TPM2_PKCS11_LIB = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so";
const SWTPM_TOOLS = ["swtpm", "tpm2_ptool", "tpm2_flushcontext"];
const SWTPM_PACKAGES = "swtpm, libtpm2-pkcs11-1, libtpm2-pkcs11-tools, tpm2-tools";

/** The tpm2-tools tpm2_ptool runs, each followed by a flush of what it left loaded. */
const PTOOL_COMMANDS = ["changeauth", "create", "createprimary", "encryptdecrypt", "evictcontrol", "getcap", "import", "load", "loadexternal", "readpublic", "sign", "unseal"];

/**
 * True when swtpm, tpm2-pkcs11 and `extraTools` are installed. Missing ones skip the suite locally and fail
 * it on CI (CI=true), where .ci/run installs them.
 */
export function swtpmAvailable(what: string, extraTools: readonly string[] = [], extraPackages = ""): boolean {
  const missing = [...[...SWTPM_TOOLS, ...extraTools].filter((t) => !hasCommand(t)), ...(existsSync(TPM2_PKCS11_LIB) ? [] : [TPM2_PKCS11_LIB])];
  if (missing.length > 0 && process.env.CI === "true") {
    throw new Error(`${what} needs ${missing.join(", ")} on CI (${[SWTPM_PACKAGES, extraPackages].filter(Boolean).join(", ")})`);
  }
  return missing.length === 0;
}

export interface SoftTpm {
  name: string;
  process: Spawned;
  store: string;
  label: string;
  pin: string;
  /** Environment for every program that talks to this TPM (tpm2-tools, tpm2-pkcs11). */
  env: NodeJS.ProcessEnv;
  /** Flushes transient objects a finished program left in the TPM. */
  flush(): void;
  stop(): Promise<void>;
}

/** Starts a fresh swtpm under `work/name` and provisions a tpm2-pkcs11 store with one token (user PIN 1234). */
export async function startSoftTpm(work: string, name: string, label = `svc-${name}`): Promise<SoftTpm> {
  const dir = join(work, name);
  const state = join(dir, "state");
  const store = join(dir, "store");
  const wrap = join(dir, "bin");
  for (const d of [state, store, wrap]) mkdirSync(d, { recursive: true });
  const port = await freePort();
  const ctrl = port + 1;
  const proc = startProcess(
    "swtpm",
    ["socket", "--tpm2", "--tpmstate", `dir=${state}`, "--server", `type=tcp,port=${port},bindaddr=127.0.0.1`, "--ctrl", `type=tcp,port=${ctrl},bindaddr=127.0.0.1`, "--flags", "not-need-init,startup-clear"],
    process.env,
  );
  try {
    await waitForPort(port, proc);
    return provisionToken(name, label, proc, port, store, wrap);
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

function provisionToken(name: string, label: string, proc: Spawned, port: number, store: string, wrap: string): SoftTpm {
  const tcti = `swtpm:host=127.0.0.1,port=${port}`;
  for (const cmd of PTOOL_COMMANDS) {
    const path = join(wrap, `tpm2_${cmd}`);
    writeFileSync(path, `#!/bin/sh\n/usr/bin/tpm2_${cmd} "$@"\nrc=$?\n/usr/bin/tpm2_flushcontext -t >/dev/null 2>&1\nexit $rc\n`);
    chmodSync(path, 0o755);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, TPM2TOOLS_TCTI: tcti, TPM2_PKCS11_TCTI: tcti, TPM2_PKCS11_STORE: store, TPM2_PKCS11_LOG_LEVEL: "0" };
  const flush = () => execFileSync("tpm2_flushcontext", ["-t"], { env, stdio: "ignore" });
  const ptoolEnv = { ...env, PATH: `${wrap}:${process.env.PATH ?? ""}` };
  const pin = "1234";
  execFileSync("tpm2_ptool", ["init", "--path", store], { env: ptoolEnv, stdio: "pipe" });
  flush();
  execFileSync("tpm2_ptool", ["addtoken", "--pid=1", "--sopin=5678", `--userpin=${pin}`, `--label=${label}`, "--path", store], { env: ptoolEnv, stdio: "pipe" });
  flush();
  return { name, process: proc, store, label, pin, env, flush, stop: () => proc.stop() };
}
