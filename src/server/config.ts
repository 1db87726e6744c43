// The server configuration file, in OpenBao's format (HCL or JSON).
//
// Known settings are validated strictly (wrong types and impossible combinations are errors naming the
// field); unknown top-level and listener keys only produce warnings, as OpenBao does, so configs written
// for OpenBao load. Our own `hsm` block is strict: a typo there could pick the wrong token.

import {
  checkHclKeys,
  hclAttr,
  hclBlocks,
  hclBool,
  hclNumber,
  hclString,
  hclStringList,
  isHclObject,
  loadHclConfig,
  parseHclConfig,
  type HclBlock,
  type HclObject,
} from "../common/hcl/hcl.js";
import { parseDurationSeconds } from "../core/policy/policy.js";
import { opensslCiphersFromGo, TLS_VERSION_NAMES, tlsVersionAtMost, tlsVersionFromOpenBao } from "./tls-settings.js";
import type { SecureVersion } from "node:tls";
import { pinExposureWarnings, pinSourcesOf } from "./pin-exposure.js";
import { LIMIT_SETTING, type InputLimits } from "../core/limits.js";
import { parseHsmBlocks, type HsmBlockConfig } from "../hsm/hsm-config.js";
import { parseKeystorePluginBlocks, type KeystorePluginBlockConfig } from "../hsm/plugin/plugin-config.js";
import { parseAllowedNetworks, type OutboundPolicy } from "../common/outbound-guard.js";
import { isPlainTableName } from "../storage/postgres-sql.js";
import type { SnapshotSchedule } from "./scheduled-snapshots.js";

export const DEFAULT_LISTENER_ADDRESS = "127.0.0.1:8200";
export const DEFAULT_MAX_REQUEST_SIZE = 32 * 1024 * 1024;
/** OpenBao's system default and maximum lease TTL: 768h (32 days). */
export const DEFAULT_LEASE_TTL_SECONDS = 768 * 3600;

export type StorageConfig =
  | { type: "sqlite"; path: string }
  | PostgresStorageConfig;

/** OpenBao's `storage "postgresql"` fields; the URL may also come from BAO_PG_CONNECTION_URL at start. */
export interface PostgresStorageConfig {
  type: "postgresql";
  connectionUrl?: string;
  table?: string;
  haEnabled?: boolean;
  haTable?: string;
  maxParallel?: number;
}

export interface ListenerConfig {
  type: "tcp";
  address: string;
  /** TLS is on unless `tls_disable = true`. */
  tlsDisable: boolean;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** `tls_min_version` / `tls_max_version`; the minimum defaults to TLS 1.2 as in OpenBao. */
  tlsMinVersion?: SecureVersion;
  tlsMaxVersion?: SecureVersion;
  /** `tls_cipher_suites`, as an OpenSSL cipher string. */
  tlsCiphers?: string;
  /** `tls_require_and_verify_client_cert`: the handshake fails without a client certificate that verifies. */
  tlsRequireClientCert?: boolean;
  /** `tls_client_ca_file`: CAs client certificates must chain to (default: node's bundled roots, as Go's system pool). */
  tlsClientCaFile?: string;
  /** `tls_disable_client_certs`: do not ask clients for a certificate at all (no cert auth on this listener). */
  tlsDisableClientCerts?: boolean;
  /** Bytes; 0 = no limit (`max_request_size` < 0 in the file). */
  maxRequestSize: number;
  /**
   * `serve = "barbican"`: this listener serves only the Barbican API, at its root (`/v1/secrets`), for clients
   * configured with a plain Barbican endpoint. Default: OpenBao's API, with the front doors under their prefixes.
   */
  serve?: "barbican";
}

export type SealParam = string | number | boolean;
export interface SealConfig {
  type: string;
  disabled: boolean;
  /** Every other attribute of the block, as written (may include secrets such as a PIN). */
  params: Readonly<Record<string, SealParam>>;
}

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

export interface ServerConfig {
  storage: StorageConfig;
  listeners: ListenerConfig[];
  apiAddr?: string;
  clusterAddr?: string;
  clusterName?: string;
  ui: boolean;
  logLevel: LogLevel;
  /** Seconds. */
  defaultLeaseTtl: number;
  maxLeaseTtl: number;
  seals: SealConfig[];
  hsms: HsmBlockConfig[];
  /** `keystore_plugin` blocks: out-of-process key stores (docs/keystore-plugins.md), started on first use. */
  keystorePlugins?: KeystorePluginBlockConfig[];
  /** The `limits` block: only the settings written; the rest take the core's defaults. */
  limits?: Partial<InputLimits>;
  /**
   * The `keychain` block: where HYOK keystores (transit) may make this server connect. Default: https to
   * public addresses only. `allow_insecure_transit = true` allows http; `allowed_keystore_networks` lists CIDR
   * blocks (loopback, private …) that may be reached anyway.
   */
  keychainOutbound?: OutboundPolicy;
  /** The `barbican` block: the Barbican API beside OpenBao's (off when absent; on in dev mode). */
  barbican?: BarbicanConfig;
  /** The `snapshots` block: scheduled storage snapshots to a directory. */
  snapshots?: SnapshotSchedule;
  /** Unknown or ignored settings, for the start-up log. */
  warnings: string[];
}

export interface BarbicanConfig {
  /** URL prefix on every listener, e.g. "/barbican". */
  prefix: string;
  /** X-Project-Id without a token (Barbican's unauthenticated-context): dev mode only. */
  noauth: boolean;
  /** Base of refs in answers (Barbican's host_href); default: from the request's Host and the prefix. */
  hostHref?: string;
  /**
   * A keystore of the `barbican-keychain/` keychain mount: payloads are encrypted under a per-project key
   * chain whose L1 keys live there. Unset: payloads are protected by the barrier alone.
   */
  keystore?: string;
  /**
   * The CA of certificate orders: a PKI mount of the root namespace and its role (a project namespace may
   * name its own with the custom metadata barbican-pki-mount / barbican-pki-role). Unset: refused.
   */
  pkiMount?: string;
  pkiRole?: string;
  /**
   * A `keystone` auth mount of the root namespace: an X-Auth-Token that is not an Arca token is validated
   * there (a Keystone token), and the request runs as the Arca token it is exchanged for, in the project's
   * namespace. Unset: X-Auth-Token must be an Arca token.
   */
  keystoneMount?: string;
}

/** An unusable configuration. `field` names the offending setting (e.g. `listener.tcp[0].address`). */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    message: string,
    readonly field?: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

const TOP_LEVEL_KNOWN = new Set([
  "storage",
  "backend",
  "listener",
  "api_addr",
  "cluster_addr",
  "cluster_name",
  "ui",
  "log_level",
  "disable_mlock",
  "default_lease_ttl",
  "max_lease_ttl",
  "seal",
  "hsm",
  "keystore_plugin",
  "limits",
  "keychain",
  "barbican",
  "snapshots",
]);
// Accepted because OpenBao configs commonly carry them; they have no effect here.
const TOP_LEVEL_IGNORED = new Set(["disable_mlock", "log_format", "pid_file", "telemetry", "plugin_directory", "disable_cache"]);
const LISTENER_KNOWN = new Set([
  "serve",
  "address",
  "tls_cert_file",
  "tls_key_file",
  "tls_disable",
  "max_request_size",
  "tls_min_version",
  "tls_max_version",
  "tls_cipher_suites",
  "tls_prefer_server_cipher_suites",
  "tls_require_and_verify_client_cert",
  "tls_client_ca_file",
  "tls_disable_client_certs",
]);
/**
 * OpenBao listener settings Arca does not implement and that make a listener stricter or less revealing:
 * ignoring one would silently open what the config closes, so each is a start-up error. `whenTrue` ones
 * are errors only when switched on (off is what Arca does anyway).
 */
const LISTENER_UNSUPPORTED: ReadonlyArray<{ key: string; whenTrue?: boolean; what: string }> = [
  { key: "chroot_namespace", what: "confining a listener to a namespace" },
  { key: "require_request_header", whenTrue: true, what: "requiring the X-Vault-Request header" },
  { key: "redact_addresses", whenTrue: true, what: "redacting addresses from unauthenticated answers" },
  { key: "redact_cluster_name", whenTrue: true, what: "redacting the cluster name from unauthenticated answers" },
  { key: "redact_version", whenTrue: true, what: "redacting the version from unauthenticated answers" },
  { key: "custom_response_headers", what: "custom response headers" },
  { key: "proxy_protocol_behavior", what: "the PROXY protocol" },
  { key: "proxy_protocol_authorized_addrs", what: "the PROXY protocol" },
  { key: "x_forwarded_for_authorized_addrs", what: "X-Forwarded-For handling" },
  { key: "x_forwarded_for_hop_skips", what: "X-Forwarded-For handling" },
  { key: "x_forwarded_for_reject_not_authorized", what: "X-Forwarded-For handling" },
  { key: "x_forwarded_for_reject_not_present", what: "X-Forwarded-For handling" },
  { key: "x_forwarded_for_client_cert_header", what: "client certificates forwarded in a header" },
  { key: "x_forwarded_for_client_cert_header_decoder", what: "client certificates forwarded in a header" },
];
const LOG_LEVELS: Readonly<Record<string, LogLevel>> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warn: "warn",
  warning: "warn",
  error: "error",
  err: "error",
};

const configError = (message: string, field?: string, line?: number): ConfigError => new ConfigError(message, field, line);

export async function loadServerConfig(path: string): Promise<ServerConfig> {
  const config = await loadHclConfig(path, buildConfig, configError);
  config.warnings.push(...pinExposureWarnings(path, pinSourcesOf(config.hsms, config.seals.map((s) => s.params))));
  return config;
}

export function parseServerConfig(text: string, filename = "config.hcl"): Promise<ServerConfig> {
  return parseHclConfig(text, filename, buildConfig, configError);
}

function buildConfig(doc: HclObject, filename: string): ServerConfig {
  const warnings: string[] = [];
  const bad = (field: string, message: string): never => {
    throw new ConfigError(`${filename}: ${field}: ${message}`, field);
  };

  for (const key of Object.keys(doc)) {
    if (!TOP_LEVEL_KNOWN.has(key) && !TOP_LEVEL_IGNORED.has(key)) warnings.push(`unknown setting "${key}" ignored`);
    else if (TOP_LEVEL_IGNORED.has(key)) warnings.push(`setting "${key}" has no effect`);
  }

  // storage (or its legacy name, backend): exactly one.
  const storageBlocks = [...hclBlocks(doc, "storage", 1), ...hclBlocks(doc, "backend", 1)];
  if (storageBlocks.length === 0) bad("storage", `a storage block is required (storage "sqlite" { path = "…" })`);
  if (storageBlocks.length > 1) bad("storage", "only one storage block is allowed");
  const storage = parseStorage(storageBlocks[0], bad);

  const listenerBlocks = hclBlocks(doc, "listener", 1);
  if (listenerBlocks.length === 0) bad("listener", `at least one listener is required (listener "tcp" { address = "${DEFAULT_LISTENER_ADDRESS}" })`);
  const counters = new Map<string, number>();
  const listeners = listenerBlocks.map((block) => {
    const type = block.labels[0];
    const n = counters.get(type) ?? 0;
    counters.set(type, n + 1);
    return parseListener(block, `listener.${type}[${n}]`, bad, warnings);
  });

  const logLevelRaw = hclString(doc, "log_level", "log_level");
  let logLevel: LogLevel = "info";
  if (logLevelRaw !== undefined) {
    const l = LOG_LEVELS[logLevelRaw.trim().toLowerCase()];
    if (!l) bad("log_level", `unknown log level (expected trace, debug, info, warn or error)`);
    logLevel = l;
  }

  const defaultLeaseTtl = duration(doc, "default_lease_ttl", bad) ?? DEFAULT_LEASE_TTL_SECONDS;
  const maxLeaseTtl = duration(doc, "max_lease_ttl", bad) ?? DEFAULT_LEASE_TTL_SECONDS;
  if (defaultLeaseTtl > maxLeaseTtl) bad("default_lease_ttl", "cannot be greater than max_lease_ttl");

  hclBool(doc, "disable_mlock", "disable_mlock"); // type-checked, otherwise ignored (no mlock in Node)

  const seals = hclBlocks(doc, "seal", 1).map((block, i) => parseSeal(block, `seal.${block.labels[0]}[${i}]`, bad));
  const hsms = parseHsmBlocks(doc, bad);
  const keystorePlugins = parseKeystorePluginBlocks(doc, bad);

  const limits = parseLimits(doc, bad);
  const keychainOutbound = parseKeychain(doc, bad);
  const barbican = parseBarbican(doc, bad);
  const snapshots = parseSnapshots(doc, bad);
  const barbicanListener = listeners.findIndex((l) => l.serve === "barbican");
  if (barbicanListener >= 0 && !barbican) bad(`listener.tcp[${barbicanListener}].serve`, "needs a barbican block (the Barbican API's settings)");

  return {
    storage,
    listeners,
    ...optional("limits", limits),
    ...optional("keychainOutbound", keychainOutbound),
    ...optional("barbican", barbican),
    ...optional("snapshots", snapshots),
    ...optional("apiAddr", hclString(doc, "api_addr", "api_addr")),
    ...optional("clusterAddr", hclString(doc, "cluster_addr", "cluster_addr")),
    ...optional("clusterName", hclString(doc, "cluster_name", "cluster_name")),
    ui: hclBool(doc, "ui", "ui") ?? false,
    logLevel,
    defaultLeaseTtl,
    maxLeaseTtl,
    seals,
    hsms,
    ...optional("keystorePlugins", keystorePlugins.length > 0 ? keystorePlugins : undefined),
    warnings,
  };
}

type Bad = (field: string, message: string) => never;

function optional<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}

function duration(body: HclObject, key: string, bad: Bad, field = key): number | undefined {
  const v = hclAttr(body, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" && typeof v !== "number") return bad(field, "expected a duration");
  const secs = parseDurationSeconds(v);
  if (secs === undefined) return bad(field, `invalid duration (use e.g. "768h" or seconds)`);
  return secs;
}

function parseStorage(block: HclBlock, bad: Bad): StorageConfig {
  const type = block.labels[0];
  const field = `storage.${type}`;
  const b = block.body;
  switch (type) {
    case "sqlite": {
      checkHclKeys(b, ["path"], field);
      const path = hclString(b, "path", `${field}.path`);
      if (!path) return bad(`${field}.path`, "is required");
      return { type, path };
    }
    case "postgresql": {
      checkHclKeys(b, ["connection_url", "table", "ha_enabled", "ha_table", "max_parallel", "max_idle_connections", "skip_create_table"], field);
      const identifier = (key: string): string | undefined => {
        const v = hclString(b, key, `${field}.${key}`);
        if (v !== undefined && !isPlainTableName(v)) bad(`${field}.${key}`, "must be a plain identifier (letters, digits, _; at most 54)");
        return v;
      };
      const maxParallel = hclNumber(b, "max_parallel", `${field}.max_parallel`);
      if (maxParallel !== undefined && (!Number.isSafeInteger(maxParallel) || maxParallel < 1)) {
        bad(`${field}.max_parallel`, "must be a whole number of at least 1");
      }
      return {
        type,
        ...optional("connectionUrl", hclString(b, "connection_url", `${field}.connection_url`)),
        ...optional("table", identifier("table")),
        ...optional("haEnabled", hclBool(b, "ha_enabled", `${field}.ha_enabled`)),
        ...optional("haTable", identifier("ha_table")),
        ...optional("maxParallel", maxParallel),
      };
    }
    default:
      return bad(field, `unknown storage type "${type}" (supported: sqlite, postgresql)`);
  }
}

function parseListener(block: HclBlock, field: string, bad: Bad, warnings: string[]): ListenerConfig {
  const type = block.labels[0];
  if (type !== "tcp") bad(field, `unknown listener type "${type}" (supported: tcp)`);
  const b = block.body;
  for (const { key, whenTrue, what } of LISTENER_UNSUPPORTED) {
    if (hclAttr(b, key) === undefined || (whenTrue && !hclBool(b, key, `${field}.${key}`))) continue;
    bad(`${field}.${key}`, `is not supported by Arca (${what}); remove it only if the listener may work without it`);
  }
  for (const key of Object.keys(b)) {
    if (!LISTENER_KNOWN.has(key) && !LISTENER_UNSUPPORTED.some((u) => u.key === key)) warnings.push(`${field}: unknown setting "${key}" ignored`);
  }
  const address = hclString(b, "address", `${field}.address`);
  if (!address) bad(`${field}.address`, "is required");
  if (!/^(\[[0-9A-Fa-f:.]+\]|[^:\s]*):\d{1,5}$/.test(address) || Number(address.split(":").pop()) > 65535) {
    bad(`${field}.address`, `must be host:port (e.g. "${DEFAULT_LISTENER_ADDRESS}")`);
  }
  const tlsDisable = hclBool(b, "tls_disable", `${field}.tls_disable`) ?? false;
  const tlsCertFile = hclString(b, "tls_cert_file", `${field}.tls_cert_file`) || undefined;
  const tlsKeyFile = hclString(b, "tls_key_file", `${field}.tls_key_file`) || undefined;
  if (!tlsDisable) {
    if (!tlsCertFile) bad(`${field}.tls_cert_file`, "is required unless tls_disable = true");
    if (!tlsKeyFile) bad(`${field}.tls_key_file`, "is required unless tls_disable = true");
  }
  const tlsOptions = parseListenerTls(b, field, tlsDisable, bad, warnings);
  const rawSize = hclNumber(b, "max_request_size", `${field}.max_request_size`);
  if (rawSize !== undefined && !Number.isSafeInteger(rawSize)) bad(`${field}.max_request_size`, "must be a whole number of bytes");
  // OpenBao: unset or 0 → 32 MiB; negative → no limit.
  const maxRequestSize = rawSize === undefined || rawSize === 0 ? DEFAULT_MAX_REQUEST_SIZE : rawSize < 0 ? 0 : rawSize;
  const serve = hclString(b, "serve", `${field}.serve`);
  if (serve !== undefined && serve !== "barbican") bad(`${field}.serve`, `must be "barbican" (unset: the OpenBao API)`);
  return {
    ...optional("serve", serve === "barbican" ? ("barbican" as const) : undefined),
    type: "tcp",
    address,
    tlsDisable,
    ...optional("tlsCertFile", tlsCertFile),
    ...optional("tlsKeyFile", tlsKeyFile),
    ...tlsOptions,
    maxRequestSize,
  };
}

type ListenerTls = Pick<ListenerConfig, "tlsMinVersion" | "tlsMaxVersion" | "tlsCiphers" | "tlsRequireClientCert" | "tlsClientCaFile" | "tlsDisableClientCerts">;

/** The TLS settings beyond cert and key, mapped for node:tls (tls-settings.ts). */
function parseListenerTls(b: HclObject, field: string, tlsDisable: boolean, bad: Bad, warnings: string[]): ListenerTls {
  const version = (key: string): SecureVersion | undefined => {
    const v = hclString(b, key, `${field}.${key}`);
    if (v === undefined || v === "") return undefined;
    return tlsVersionFromOpenBao(v) ?? bad(`${field}.${key}`, `value "${v}" not supported, please specify one of [${TLS_VERSION_NAMES.join(",")}]`);
  };
  const min = version("tls_min_version");
  const max = version("tls_max_version");
  if (min && max && !tlsVersionAtMost(min, max)) bad(`${field}.tls_max_version`, "must not be lower than tls_min_version");
  const suites = hclString(b, "tls_cipher_suites", `${field}.tls_cipher_suites`);
  let ciphers: string | undefined;
  if (suites !== undefined && suites !== "") {
    try {
      ciphers = opensslCiphersFromGo(suites);
    } catch (err) {
      bad(`${field}.tls_cipher_suites`, (err as Error).message);
    }
  }
  const require = hclBool(b, "tls_require_and_verify_client_cert", `${field}.tls_require_and_verify_client_cert`) ?? false;
  const caFile = hclString(b, "tls_client_ca_file", `${field}.tls_client_ca_file`) || undefined;
  const disableClientCerts = hclBool(b, "tls_disable_client_certs", `${field}.tls_disable_client_certs`) ?? false;
  if (require && disableClientCerts) {
    bad(field, "'tls_disable_client_certs' and 'tls_require_and_verify_client_cert' are mutually exclusive");
  }
  // Without TLS there is no client certificate to require: refuse rather than serve plain HTTP to anyone.
  if (tlsDisable && require) bad(`${field}.tls_require_and_verify_client_cert`, "needs TLS, but tls_disable = true");
  if (caFile && !require) warnings.push(`${field}: tls_client_ca_file has no effect without tls_require_and_verify_client_cert (the cert auth method trusts its own certs/ entries)`);
  return {
    ...optional("tlsMinVersion", min),
    ...optional("tlsMaxVersion", max),
    ...optional("tlsCiphers", ciphers),
    ...(require ? { tlsRequireClientCert: true } : {}),
    ...optional("tlsClientCaFile", require ? caFile : undefined),
    ...(disableClientCerts ? { tlsDisableClientCerts: true } : {}),
  };
}

/**
 * `barbican { prefix = "/barbican"  host_href = "https://kms.example:8200/barbican"  keystore = "hsm"  pki_mount = "pki"  pki_role = "barbican"
 *  keystone_mount = "keystone" }`:
 * the Barbican API on every listener. No noauth here: Barbican's unauthenticated context is dev mode's only.
 */
function parseBarbican(doc: HclObject, bad: Bad): BarbicanConfig | undefined {
  const blocks = hclBlocks(doc, "barbican", 0);
  if (blocks.length === 0) return undefined;
  if (blocks.length > 1) bad("barbican", "only one barbican block is allowed");
  const body = blocks[0].body;
  checkHclKeys(body, ["prefix", "host_href", "keystore", "pki_mount", "pki_role", "keystone_mount"], "barbican");
  const prefix = hclString(body, "prefix", "barbican.prefix") ?? "/barbican";
  if (!/^(\/[\w.-]+)+$/.test(prefix) || prefix.startsWith("/v1")) bad("barbican.prefix", `must be a path such as "/barbican" (not under /v1)`);
  const hostHref = hclString(body, "host_href", "barbican.host_href");
  if (hostHref !== undefined && !/^https?:\/\/[^\s]+$/.test(hostHref)) bad("barbican.host_href", "must be an http(s) URL");
  const keystore = hclString(body, "keystore", "barbican.keystore");
  const pkiMount = hclString(body, "pki_mount", "barbican.pki_mount")?.replace(/^\/+|\/+$/g, "");
  const pkiRole = hclString(body, "pki_role", "barbican.pki_role");
  if ((pkiMount === undefined) !== (pkiRole === undefined)) bad("barbican.pki_mount", "pki_mount and pki_role go together");
  if (pkiMount !== undefined && !/^[\w.-]+(\/[\w.-]+)*$/.test(pkiMount)) bad("barbican.pki_mount", `must be a mount path such as "pki"`);
  if (pkiRole !== undefined && !/^[\w.-]+$/.test(pkiRole)) bad("barbican.pki_role", "must be a role name");
  const keystoneMount = hclString(body, "keystone_mount", "barbican.keystone_mount")?.replace(/^\/+|\/+$/g, "");
  if (keystoneMount !== undefined && !/^[\w.-]+(\/[\w.-]+)*$/.test(keystoneMount)) bad("barbican.keystone_mount", `must be an auth mount path such as "keystone"`);
  return {
    prefix,
    noauth: false,
    ...optional("hostHref", hostHref),
    ...optional("keystore", keystore),
    ...optional("pkiMount", pkiMount),
    ...optional("pkiRole", pkiRole),
    ...optional("keystoneMount", keystoneMount),
  };
}

function parseLimits(doc: HclObject, bad: Bad): Partial<InputLimits> | undefined {
  const blocks = hclBlocks(doc, "limits", 0);
  if (blocks.length === 0) return undefined;
  if (blocks.length > 1) bad("limits", "only one limits block is allowed");
  const body = blocks[0].body;
  const keys = Object.entries(LIMIT_SETTING) as [keyof InputLimits, string][];
  checkHclKeys(
    body,
    keys.map(([, name]) => name),
    "limits",
  );
  const out: Partial<InputLimits> = {};
  for (const [key, name] of keys) {
    const v = hclNumber(body, name, `limits.${name}`);
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 1) bad(`limits.${name}`, "must be a whole number of at least 1");
    out[key] = v;
  }
  return out;
}

function parseKeychain(doc: HclObject, bad: Bad): OutboundPolicy | undefined {
  const blocks = hclBlocks(doc, "keychain", 0);
  if (blocks.length === 0) return undefined;
  if (blocks.length > 1) bad("keychain", "only one keychain block is allowed");
  const body = blocks[0].body;
  checkHclKeys(body, ["allow_insecure_transit", "allowed_keystore_networks"], "keychain");
  const allowedNetworks = hclStringList(body, "allowed_keystore_networks", "keychain.allowed_keystore_networks") ?? [];
  try {
    parseAllowedNetworks(allowedNetworks);
  } catch (err) {
    bad("keychain.allowed_keystore_networks", err instanceof Error ? err.message : "invalid network");
  }
  return { allowHttp: hclBool(body, "allow_insecure_transit", "keychain.allow_insecure_transit") ?? false, allowedNetworks };
}

/** `snapshots { directory = "…", interval = "1h", retain = 24 }`. */
function parseSnapshots(doc: HclObject, bad: Bad): SnapshotSchedule | undefined {
  const blocks = hclBlocks(doc, "snapshots", 0);
  if (blocks.length === 0) return undefined;
  if (blocks.length > 1) bad("snapshots", "only one snapshots block is allowed");
  const b = blocks[0].body;
  checkHclKeys(b, ["directory", "interval", "retain"], "snapshots");
  const directory = hclString(b, "directory", "snapshots.directory");
  if (!directory) return bad("snapshots.directory", "is required");
  const intervalSeconds = duration(b, "interval", bad, "snapshots.interval") ?? 3600;
  if (intervalSeconds < 60) bad("snapshots.interval", "must be at least 1m");
  const retain = hclNumber(b, "retain", "snapshots.retain") ?? 24;
  if (!Number.isSafeInteger(retain) || retain < 1) bad("snapshots.retain", "must be a whole number of at least 1");
  return { directory, intervalSeconds, retain };
}

function parseSeal(block: HclBlock, field: string, bad: Bad): SealConfig {
  const type = block.labels[0];
  if (!/^[a-z0-9_-]+$/i.test(type)) bad(field, "invalid seal type");
  const params: Record<string, SealParam> = {};
  let disabled = false;
  for (const [key, v] of Object.entries(block.body)) {
    if (key === "disabled") {
      disabled = hclBool(block.body, "disabled", `${field}.disabled`) ?? false;
      continue;
    }
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") {
      Object.defineProperty(params, key, { value: v, enumerable: true });
    } else if (v !== null) {
      bad(`${field}.${key}`, isHclObject(v) || Array.isArray(v) ? "expected a string, number or boolean" : "invalid value");
    }
  }
  return { type, disabled, params: Object.freeze(params) };
}
