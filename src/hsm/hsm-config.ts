// The `hsm "NAME" { … }` block, one parser for every configuration file that declares HSMs (the server's
// and the unsealer's), so both accept the same settings and the same PIN sources:
//
//   hsm "main" {
//     lib          = "/usr/lib/softhsm/libsofthsm2.so"
//     token_label  = "arca"            # or serial = "…" (never a slot index: slot order is not stable)
//     pin_file     = "/etc/arca/pin"   # exactly one PIN source: pin_file, pin_env or pin
//     max_sessions = 8                 # optional
//   }
//
// `pin` takes OpenBao's forms, as the pkcs11 seal block does: a literal, `file://<path>` or `env://<VAR>`.
// A PIN never goes in a key URI here (pin-value, pin-source): URIs are logged and stored.
//
// The block is strict (unknown keys are errors): a typo could pick the wrong token. Errors name the field
// and never quote a value, since a value may be the PIN.
import { checkHclKeys, hclBlocks, hclNumber, hclString, type HclObject } from "../common/hcl/hcl.js";
import type { HsmDeclaration } from "./hsm-registry.js";

/** What one `hsm` block declares: an HsmDeclaration without the settings only code may set. */
export type HsmBlockConfig = Pick<HsmDeclaration, "name" | "lib" | "tokenLabel" | "serial" | "pin" | "pinFile" | "pinEnv" | "maxSessions">;

/** Throws the calling configuration's own error for `field` (e.g. `hsm.main.lib`). */
export type ConfigFailure = (field: string, message: string) => never;

type PinSource = Pick<HsmDeclaration, "pin" | "pinFile" | "pinEnv">;

const HSM_KEYS = ["lib", "token_label", "serial", "pin", "pin_file", "pin_env", "max_sessions"] as const;
const MAX_SESSIONS_LIMIT = 1024;

/** OpenBao's PIN forms: a literal, `file://<path>` or `env://<VAR>`. */
export function pinSourceOf(pin: string): PinSource {
  if (pin.startsWith("file://")) return { pinFile: pin.slice("file://".length) };
  if (pin.startsWith("env://")) return { pinEnv: pin.slice("env://".length) };
  return { pin };
}

/** Every `hsm "NAME" {…}` block of a configuration document, in document order; none is an empty list. */
export function parseHsmBlocks(doc: HclObject, bad: ConfigFailure): HsmBlockConfig[] {
  const blocks = hclBlocks(doc, "hsm", 1);
  // Names first: a duplicate is the clearer error even when the second block is also incomplete.
  const names = new Set<string>();
  for (const { labels } of blocks) {
    if (names.has(labels[0])) bad(`hsm.${labels[0]}`, "duplicate hsm name");
    names.add(labels[0]);
  }
  return blocks.map((block) => parseHsmBlock(block.labels[0], block.body, bad));
}

function parseHsmBlock(name: string, b: HclObject, bad: ConfigFailure): HsmBlockConfig {
  const field = `hsm.${name}`;
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) bad(field, "hsm name may only contain letters, digits, '.', '_' and '-'");
  checkHclKeys(b, HSM_KEYS, field);
  const lib = hclString(b, "lib", `${field}.lib`);
  if (!lib) return bad(`${field}.lib`, "is required (path to the PKCS#11 module)");
  const tokenLabel = hclString(b, "token_label", `${field}.token_label`) || undefined;
  const serial = hclString(b, "serial", `${field}.serial`) || undefined;
  if (!tokenLabel && !serial) bad(field, "token_label or serial is required");
  const maxSessions = hclNumber(b, "max_sessions", `${field}.max_sessions`);
  if (maxSessions !== undefined && (!Number.isInteger(maxSessions) || maxSessions < 1 || maxSessions > MAX_SESSIONS_LIMIT)) {
    bad(`${field}.max_sessions`, `must be a whole number from 1 to ${MAX_SESSIONS_LIMIT}`);
  }
  const pin = pinOf(b, field, bad);
  return {
    name,
    lib,
    ...(tokenLabel !== undefined ? { tokenLabel } : {}),
    ...(serial !== undefined ? { serial } : {}),
    ...pin,
    ...(maxSessions !== undefined ? { maxSessions } : {}),
  };
}

/** The block's one PIN source. Empty strings count as unset, as for every other setting. */
function pinOf(b: HclObject, field: string, bad: ConfigFailure): PinSource {
  const pin = hclString(b, "pin", `${field}.pin`) || undefined;
  const pinFile = hclString(b, "pin_file", `${field}.pin_file`) || undefined;
  const pinEnv = hclString(b, "pin_env", `${field}.pin_env`) || undefined;
  const given = [pin, pinFile, pinEnv].filter((x) => x !== undefined).length;
  if (given > 1) bad(field, "set only one of pin, pin_file and pin_env");
  // Checked here rather than when the token first opens: a server would otherwise start and fail to unseal.
  if (given === 0) bad(field, "a PIN source is required: set one of pin_file, pin_env and pin");
  if (pinFile !== undefined) return { pinFile };
  if (pinEnv !== undefined) return { pinEnv };
  const source = pinSourceOf(pin ?? "");
  if (source.pinFile === "") bad(`${field}.pin`, "file:// needs a path (file:///etc/arca/pin)");
  if (source.pinEnv === "") bad(`${field}.pin`, "env:// needs a variable name (env://ARCA_HSM_PIN)");
  return source;
}
