// Throwaway SoftHSM tokens for tests and benches.
//
// SoftHSM reads SOFTHSM2_CONF once, at C_Initialize, and C_Initialize happens once per process. So the
// helper keeps ONE config + token dir per process (vitest runs each test file in its own fork), sets
// process.env.SOFTHSM2_CONF the first time it is called, and puts every token the process asks for in
// that same dir. Create the tokens a file needs before the first PKCS#11 call (beforeAll), because a
// token initialised after C_Initialize is not guaranteed to be visible to the running library.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const SOFTHSM_LIB = process.env.ARCA_TEST_SOFTHSM_LIB ?? "/usr/lib/softhsm/libsofthsm2.so";
const UTIL = "softhsm2-util";

export interface SoftHsmToken {
  libPath: string;
  label: string;
  pin: string;
  soPin: string;
  serial: string;
  /** The SOFTHSM2_CONF file shared by every token of this process. */
  conf: string;
  /** The process's token root (holds one sub-directory per token). */
  dir: string;
  /** Removes this token's files (the library may still have it open; that is the point of some tests). */
  cleanup(): void;
}

interface ProcessEnv {
  dir: string;
  conf: string;
}

let processEnv: ProcessEnv | undefined;

function hasUtil(): boolean {
  try {
    execFileSync(UTIL, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * True when SoftHSM can be used. With CI=true a missing SoftHSM throws instead, so HSM tests fail on CI
 * rather than silently skip.
 */
export function softHsmAvailable(): boolean {
  const ok = existsSync(SOFTHSM_LIB) && hasUtil();
  if (!ok && process.env.CI === "true") {
    throw new Error(`SoftHSM is required on CI: ${UTIL} or ${SOFTHSM_LIB} missing (apt-get install softhsm2)`);
  }
  return ok;
}

/** Message for `describe.skipIf` users. */
export const SOFTHSM_SKIP_REASON = `SoftHSM not installed (${UTIL} / ${SOFTHSM_LIB}); HSM tests skipped`;

function ensureProcessEnv(): ProcessEnv {
  if (processEnv) return processEnv;
  const dir = mkdtempSync(join(tmpdir(), "arca-softhsm-"));
  const tokens = join(dir, "tokens");
  mkdirSync(tokens, { mode: 0o700 });
  const conf = join(dir, "softhsm2.conf");
  writeFileSync(
    conf,
    [
      `directories.tokendir = ${tokens}`,
      "objectstore.backend = file",
      "log.level = ERROR",
      "slots.removable = false",
      "slots.mechanisms = ALL",
      "library.reset_on_fork = false",
      "",
    ].join("\n"),
  );
  process.env.SOFTHSM2_CONF = conf;
  processEnv = { dir, conf };
  return processEnv;
}

function util(conf: string, args: string[]): string {
  return execFileSync(UTIL, args, { env: { ...process.env, SOFTHSM2_CONF: conf }, encoding: "utf8" });
}

/**
 * Initialises a fresh token in this process's SoftHSM dir and returns how to reach it.
 * Labels get a random suffix unless `exactLabel` is set, so parallel files never collide.
 */
export function createSoftHsmToken(opts: { label?: string; exactLabel?: boolean; pin?: string } = {}): SoftHsmToken {
  if (!softHsmAvailable()) throw new Error(SOFTHSM_SKIP_REASON);
  const env = ensureProcessEnv();
  const base = opts.label ?? "arca-test";
  const label = opts.exactLabel ? base : `${base}-${randomBytes(3).toString("hex")}`;
  if (Buffer.byteLength(label) > 32) throw new Error(`token label too long (max 32 bytes): ${label}`);
  const pin = opts.pin ?? "1234";
  const soPin = "5678";
  util(env.conf, ["--init-token", "--free", "--label", label, "--so-pin", soPin, "--pin", pin]);
  const serial = findSerial(env.conf, label);
  const tokenDir = findTokenDir(env.conf, serial);
  return {
    libPath: SOFTHSM_LIB,
    label,
    pin,
    soPin,
    serial,
    conf: env.conf,
    dir: env.dir,
    cleanup: () => {
      if (tokenDir) rmSync(tokenDir, { recursive: true, force: true });
    },
  };
}

/** Removes the whole per-process SoftHSM dir (call from afterAll of the last user). */
export function cleanupSoftHsm(): void {
  if (!processEnv) return;
  rmSync(processEnv.dir, { recursive: true, force: true });
}

function findSerial(conf: string, label: string): string {
  // `--show-slots` prints blocks with "Label:" and "Serial number:"; pair them up.
  const out = util(conf, ["--show-slots"]);
  let serial = "";
  for (const block of out.split(/\n(?=Slot )/)) {
    const l = /Label:\s*(.*)/.exec(block)?.[1]?.trim();
    const s = /Serial number:\s*(\S+)/.exec(block)?.[1];
    if (l === label && s) serial = s;
  }
  if (!serial) throw new Error(`token ${label} not found after init`);
  return serial;
}

function findTokenDir(conf: string, serial: string): string | undefined {
  // SoftHSM names each token's directory by a UUID, not the serial; the token.object file holds the serial.
  const tokensDir = /directories\.tokendir = (.*)/.exec(readConf(conf))?.[1];
  if (!tokensDir) return undefined;
  const out = execFileSync("grep", ["-rl", "--include=token.object", serial, tokensDir], { encoding: "utf8" });
  const file = out.split("\n").find(Boolean);
  return file ? join(file, "..") : undefined;
}

function readConf(conf: string): string {
  return readFileSync(conf, "utf8");
}

/** Runs pkcs11-tool against a token (for fault tests that change the token behind our back). */
export function pkcs11Tool(token: SoftHsmToken, args: string[]): string {
  return execFileSync("pkcs11-tool", ["--module", token.libPath, "--token-label", token.label, "--login", "--pin", token.pin, ...args], {
    env: { ...process.env, SOFTHSM2_CONF: token.conf },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}
