// The unsealer daemon's configuration file (HCL or JSON):
//
//   unsealer {
//     servers         = ["https://a:8200", "https://b:8200"]
//     ca_cert         = "/etc/arca-unsealer/ca.pem"
//     tls_skip_verify = false
//     interval        = "5s"
//     backoff_max     = "1m"
//   }
//   hsm "soft" { lib = "/usr/lib/softhsm/libsofthsm2.so", token_label = "unsealer", pin_file = "/etc/…/pin" }
//   share { key = "pkcs11:token=unsealer;object=unsealer-share", file = "/var/lib/arca-unsealer/share.sealed" }
//   (a TPM adds algorithm = "rsa-oaep-sha256" to the share block: see docs/unsealer.md)
//
// Every block is strict (unknown keys are errors): this file decides which HSM holds the share and which
// servers receive it, so a typo must stop the daemon rather than silently change either.
import { parseHsmBlocks, type HsmBlockConfig } from "../hsm/hsm-config.js";
import { parsePkcs11Uri } from "../hsm/uri.js";
import { KeyConfigError } from "../hsm/key-errors.js";
import { parseDurationSeconds } from "../core/policy/policy.js";
import {
  checkHclKeys,
  hclAttr,
  hclBodies,
  hclBool,
  hclString,
  hclStringList,
  loadHclConfig,
  parseHclConfig,
  type HclObject,
} from "../common/hcl/hcl.js";

export const DEFAULT_INTERVAL_MS = 5_000;
export const DEFAULT_BACKOFF_MAX_MS = 60_000;

/**
 * How a share is sealed: AES-256-GCM in the token (HSMs, SoftHSM), or RSA-OAEP + RSA-PSS with one RSA key
 * (TPMs: tpm2-pkcs11 has no CKM_AES_GCM). Chosen in the config, never guessed, so a file in the other
 * format is refused rather than accepted as a downgrade.
 */
export type ShareAlgorithm = "aes-256-gcm" | "rsa-oaep-sha256";
export const SHARE_ALGORITHMS: readonly ShareAlgorithm[] = ["aes-256-gcm", "rsa-oaep-sha256"];

export interface ShareConfig {
  /** PKCS#11 URI of the key that seals this share (never carries a PIN). */
  key: string;
  algorithm: ShareAlgorithm;
  /** Path of the sealed share file. */
  file: string;
}

export interface UnsealerConfig {
  /** Base URLs of the servers to watch, without a trailing slash. */
  servers: string[];
  caCert?: string;
  tlsSkipVerify: boolean;
  intervalMs: number;
  backoffMaxMs: number;
  hsms: HsmBlockConfig[];
  shares: ShareConfig[];
}

/** An unusable unsealer configuration; `field` names the setting (e.g. `share[1].key`). */
export class UnsealerConfigError extends Error {
  override readonly name = "UnsealerConfigError";
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

const TOP_LEVEL = ["unsealer", "hsm", "share"] as const;
const UNSEALER_KEYS = ["servers", "ca_cert", "tls_skip_verify", "interval", "backoff_max"] as const;
const SHARE_KEYS = ["key", "file", "algorithm"] as const;

// HclSyntaxError never quotes source text, so a PIN written inline cannot leak through an error.
const configError = (message: string, field?: string): UnsealerConfigError => new UnsealerConfigError(message, field);

export function loadUnsealerConfig(path: string): Promise<UnsealerConfig> {
  return loadHclConfig(path, build, configError);
}

export function parseUnsealerConfig(text: string, filename = "unsealer.hcl"): Promise<UnsealerConfig> {
  return parseHclConfig(text, filename, build, configError);
}

function build(doc: HclObject, filename: string): UnsealerConfig {
  const bad = (field: string, message: string): never => {
    throw new UnsealerConfigError(`${filename}: ${field}: ${message}`, field);
  };
  checkHclKeys(doc, TOP_LEVEL, "");

  const unsealerBodies = hclAttr(doc, "unsealer") === undefined ? [] : hclBodies(doc.unsealer, "unsealer");
  if (unsealerBodies.length !== 1) bad("unsealer", "exactly one unsealer block is required");
  const u = unsealerBodies[0];
  checkHclKeys(u, UNSEALER_KEYS, "unsealer");

  const rawServers = hclStringList(u, "servers", "unsealer.servers") ?? [];
  if (rawServers.length === 0) bad("unsealer.servers", "at least one server URL is required");
  const servers = rawServers.map((s, i) => serverUrl(s, `unsealer.servers[${i}]`, bad));
  if (new Set(servers).size !== servers.length) bad("unsealer.servers", "a server is listed twice");

  const caCert = hclString(u, "ca_cert", "unsealer.ca_cert") || undefined;
  const tlsSkipVerify = hclBool(u, "tls_skip_verify", "unsealer.tls_skip_verify") ?? false;
  const intervalMs = durationMs(u, "interval", "unsealer.interval", bad) ?? DEFAULT_INTERVAL_MS;
  const backoffMaxMs = durationMs(u, "backoff_max", "unsealer.backoff_max", bad) ?? DEFAULT_BACKOFF_MAX_MS;
  if (intervalMs <= 0) bad("unsealer.interval", "must be greater than zero");
  if (backoffMaxMs < intervalMs) bad("unsealer.backoff_max", "must not be shorter than interval");

  const hsms = parseHsmBlocks(doc, bad);
  if (hsms.length === 0) bad("hsm", `at least one hsm "NAME" { lib, token_label, pin_file } block is required`);

  const shareBodies = hclAttr(doc, "share") === undefined ? [] : hclBodies(doc.share, "share");
  if (shareBodies.length === 0) bad("share", `at least one share { key, file } block is required`);
  const shares = shareBodies.map((b, i) => parseShare(b, `share[${i}]`, bad));
  if (new Set(shares.map((s) => s.file)).size !== shares.length) bad("share", "two share blocks name the same file");

  return { servers, ...(caCert !== undefined ? { caCert } : {}), tlsSkipVerify, intervalMs, backoffMaxMs, hsms, shares };
}

type Bad = (field: string, message: string) => never;

function serverUrl(raw: string, field: string, bad: Bad): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return bad(field, "is not a URL (expected e.g. https://arca-1:8200)");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") bad(field, "must be an http:// or https:// URL");
  if (url.username || url.password) bad(field, "must not carry credentials");
  if (url.search || url.hash) bad(field, "must not have a query or fragment");
  return url.toString().replace(/\/+$/, "");
}

function durationMs(body: HclObject, key: string, field: string, bad: Bad): number | undefined {
  const v = hclAttr(body, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" && typeof v !== "number") return bad(field, "expected a duration");
  const secs = parseDurationSeconds(v);
  if (secs === undefined) return bad(field, `invalid duration (use e.g. "5s", "500ms" or seconds)`);
  return Math.round(secs * 1000);
}

function parseShare(b: HclObject, field: string, bad: Bad): ShareConfig {
  checkHclKeys(b, SHARE_KEYS, field);
  const key = hclString(b, "key", `${field}.key`);
  if (!key) return bad(`${field}.key`, `is required (e.g. "pkcs11:token=unsealer;object=unsealer-share")`);
  const file = hclString(b, "file", `${field}.file`);
  if (!file) return bad(`${field}.file`, "is required (path of the sealed share)");
  let uri;
  try {
    uri = parsePkcs11Uri(key);
  } catch (err) {
    return bad(`${field}.key`, err instanceof KeyConfigError ? err.message : "is not a PKCS#11 URI");
  }
  if (uri.object === undefined && uri.id === undefined) bad(`${field}.key`, "must name the key with object= (and optionally id=)");
  const algorithm = hclString(b, "algorithm", `${field}.algorithm`) || "aes-256-gcm";
  if (!isShareAlgorithm(algorithm)) return bad(`${field}.algorithm`, `must be one of ${SHARE_ALGORITHMS.join(", ")}`);
  if (algorithm === "aes-256-gcm" && uri.type !== undefined && uri.type !== "secret-key") bad(`${field}.key`, "must name a secret key (type=secret-key or no type)");
  if (algorithm === "rsa-oaep-sha256" && uri.type !== undefined && uri.type !== "private") bad(`${field}.key`, "must name a private key (type=private or no type)");
  // The PIN belongs in the hsm block (pin_file/pin_env); a PIN inside the URI would end up in the sealed
  // file's header and in logs.
  if (uri.pinValue !== undefined || uri.pinSource !== undefined) bad(`${field}.key`, "must not carry pin-value or pin-source (use the hsm block)");
  if (uri.modulePath !== undefined || uri.moduleName !== undefined) bad(`${field}.key`, "must not name a module (the hsm block does)");
  return { key, file, algorithm };
}

function isShareAlgorithm(s: string): s is ShareAlgorithm {
  return (SHARE_ALGORITHMS as readonly string[]).includes(s);
}
