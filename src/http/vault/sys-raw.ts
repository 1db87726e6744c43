/**
 * The sys endpoints served beside the pipeline: those that work while sealed, take no token and answer
 * bare JSON objects rather than the envelope (init, seal-status, unseal, health, leader). Every endpoint
 * that takes a token (sys/seal, sys/step-down, sys/metrics) and the classic root generation are declared
 * paths of the system backend and go through the pipeline (token → ACL → audit → handler → audit); this
 * module only says how the wire format answers them.
 */
import { ArcaError } from "../../common/errors.js";
import type { Core } from "../../core/core.js";
import { parseBool } from "../../core/framework/fields.js";
import { VERSION, COMMIT_DATE } from "../../common/version.js";
import { isAutoSealType, operatorShares } from "../../seal/seal.js";
import { restoreSnapshot } from "../../core/storage-snapshot.js";
import type { QueryParams } from "../wire-format.js";

export interface RawResult {
  status: number;
  body?: unknown;
}

function toInt(v: unknown, name: string): number {
  if (v === undefined || v === null || v === "") return 0;
  const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new ArcaError("invalid_request", `${name} must be an integer`);
  return n;
}

/**
 * Whether the caller may see why a seal is unhealthy (HSM error text names tokens, keys, libraries):
 * a valid token with read on the endpoint's path. While sealed no token can be checked, so the reasons
 * are then only in the server log.
 */
async function mayReadSealDetails(core: Core, token: string | undefined, path: string): Promise<boolean> {
  if (!token || core.sealed) return false;
  try {
    const resolved = await core.resolveToken(token);
    const scoped = resolved ? await core.aclIn(resolved, core.root) : undefined;
    return scoped?.acl.check({ path, operation: "read" }).allowed ?? false;
  } catch {
    return false;
  }
}

/**
 * OpenBao's seal-status, plus two additions of ours: `warnings` (omitted when empty; why auto-unseal
 * failed, which seal is unhealthy, a pending migration) and `seals` (per-seal health, with auto seals).
 * The reasons are shown only when `detailed` (mayReadSealDetails).
 */
export async function sealStatus(core: Core, detailed = false): Promise<Record<string, unknown>> {
  // The config changes only at init and migration, both through this process: read it once.
  const config = core.seal.sealConfig ?? (await core.seal.loadConfig());
  await core.seal.probeDevices();
  const sealed = core.sealed;
  const recovery = config !== undefined && isAutoSealType(config);
  const { shares, threshold } = config ? operatorShares(config) : { shares: 0, threshold: 0 };
  const status: Record<string, unknown> = {
    type: config?.type ?? core.seal.type,
    initialized: config !== undefined,
    sealed,
    t: threshold,
    n: shares,
    progress: core.seal.progress,
    nonce: core.seal.nonce,
    version: VERSION,
    build_date: COMMIT_DATE,
    commit_date: COMMIT_DATE,
    migration: core.seal.migration,
    cluster_name: "",
    recovery_seal: recovery,
    storage_type: core.storage.type,
  };
  if (recovery) status.recovery_seal_type = "shamir";
  if (!sealed) {
    status.cluster_name = core.clusterName;
    status.cluster_id = core.clusterId;
  }
  if (config !== undefined) {
    const warnings = core.seal.warnings(sealed, detailed);
    if (warnings.length > 0) status.warnings = warnings;
  }
  if (core.seal.hasAutoSeals) status.seals = sealsReport(core, detailed);
  return status;
}

function sealsReport(core: Core, detailed: boolean): Array<Record<string, unknown>> {
  return core.seal.healthReport().map((h) => ({
    name: h.name,
    type: h.type,
    healthy: h.healthy,
    disabled: h.disabled,
    ...(detailed && h.error !== undefined ? { error: h.error } : {}),
  }));
}

async function init(core: Core, method: string, data: Record<string, unknown>): Promise<RawResult> {
  if (method === "GET") return { status: 200, body: { initialized: await core.isInitialized() } };
  if (method !== "PUT" && method !== "POST") throw new ArcaError("unsupported_operation", "unsupported operation");
  if (Array.isArray(data.pgp_keys) && data.pgp_keys.length > 0) throw new ArcaError("invalid_request", "pgp_keys are not supported yet");
  if (Array.isArray(data.recovery_pgp_keys) && data.recovery_pgp_keys.length > 0) throw new ArcaError("invalid_request", "recovery_pgp_keys are not supported yet");
  const result = await core.initialize({
    secretShares: toInt(data.secret_shares, "secret_shares"),
    secretThreshold: toInt(data.secret_threshold, "secret_threshold"),
    recoveryShares: toInt(data.recovery_shares, "recovery_shares"),
    recoveryThreshold: toInt(data.recovery_threshold, "recovery_threshold"),
  });
  const body: Record<string, unknown> = {
    keys: result.keys.map((k) => k.toString("hex")),
    keys_base64: result.keys.map((k) => k.toString("base64")),
    root_token: result.rootToken,
  };
  if (result.recoveryKeys.length > 0) {
    body.recovery_keys = result.recoveryKeys.map((k) => k.toString("hex"));
    body.recovery_keys_base64 = result.recoveryKeys.map((k) => k.toString("base64"));
  }
  for (const k of [...result.keys, ...result.recoveryKeys]) k.fill(0);
  return { status: 200, body };
}

function decodeKey(key: string): Buffer {
  // Hex first (33 bytes for a 32-byte key), then base64, as OpenBao does.
  if (/^[0-9a-fA-F]+$/.test(key) && key.length % 2 === 0) return Buffer.from(key, "hex");
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(key)) return Buffer.from(key, "base64");
  throw new ArcaError("invalid_request", "'key' must be a valid hex or base64 string");
}

async function unseal(core: Core, method: string, data: Record<string, unknown>, token: string | undefined): Promise<RawResult> {
  if (method !== "PUT" && method !== "POST") throw new ArcaError("unsupported_operation", "unsupported operation");
  if (parseBool(data.reset) === true) {
    if (!core.sealed) throw new ArcaError("invalid_request", "vault is unsealed");
    core.seal.resetProgress();
    return { status: 200, body: await sealStatus(core, await mayReadSealDetails(core, token, "sys/seal-status")) };
  }
  const key = data.key;
  if (typeof key !== "string" || key === "") {
    throw new ArcaError("invalid_request", "'key' must be specified in request body as JSON, or 'reset' set to true");
  }
  if (!(await core.isInitialized())) throw new ArcaError("invalid_request", "Vault is not initialized");
  if (core.sealed) {
    const share = decodeKey(key);
    try {
      await core.submitUnsealShare(share, { migrate: parseBool(data.migrate) === true });
    } finally {
      share.fill(0);
    }
  }
  return { status: 200, body: await sealStatus(core, await mayReadSealDetails(core, token, "sys/seal-status")) };
}

async function health(core: Core, query: QueryParams, head: boolean, token: string | undefined): Promise<RawResult> {
  // Every override is checked, used or not (as OpenBao parses all four), so a bad one is refused whatever
  // the state. Only final statuses are accepted: a 1xx is an interim response (the client waits for
  // another, and a body after it desynchronises the connection); OpenBao relies on Go refusing < 100.
  const code = (name: string, fallback: number): number => {
    const v = query.get(name);
    if (v === null || v === "") return fallback;
    if (!/^\d+$/.test(v)) throw new ArcaError("invalid_request", `failed to parse ${name} as an integer`);
    const n = Number(v);
    if (n < 200 || n > 599) throw new ArcaError("invalid_request", `${name} must be a status code from 200 to 599`);
    return n;
  };
  const codes = { active: code("activecode", 200), uninit: code("uninitcode", 501), sealed: code("sealedcode", 503) };
  code("standbycode", 429); // no standbys here; validated all the same
  const initialized = await core.isInitialized();
  await core.seal.probeDevices();
  const sealed = core.sealed;
  const status = !initialized ? codes.uninit : sealed ? codes.sealed : codes.active;
  const body = {
    initialized,
    sealed,
    standby: false,
    performance_standby: false,
    replication_performance_mode: "disabled",
    replication_dr_mode: "disabled",
    server_time_utc: Math.floor(Date.now() / 1000),
    version: VERSION,
    ...(sealed ? {} : { cluster_name: core.clusterName, cluster_id: core.clusterId }),
    // Ours: a lost seal leaves the server serving (200) but must be visible to monitoring.
    ...(core.seal.hasAutoSeals ? { seals: sealsReport(core, await mayReadSealDetails(core, token, "sys/health")) } : {}),
  };
  // 204 and 304 carry no body (RFC 9110 §15.3.5, §15.4.5).
  return { status, body: head || status === 204 || status === 304 ? undefined : body };
}

async function leader(core: Core): Promise<RawResult> {
  if (core.sealed) throw new ArcaError("sealed", "Vault is sealed");
  const ha = core.ha;
  return {
    status: 200,
    body: {
      ha_enabled: ha !== undefined,
      is_self: ha?.active ?? false,
      active_time: ha?.activeSince?.toISOString() ?? "0001-01-01T00:00:00Z",
      leader_address: ha?.leader?.apiAddr ?? "",
      leader_cluster_address: "",
      performance_standby: false,
      performance_standby_last_remote_wal: 0,
    },
  };
}

export const RAW_SYS_PATHS = new Set(["sys/init", "sys/seal-status", "sys/unseal", "sys/health", "sys/leader"]);

/**
 * Pipeline endpoints whose OpenBao wire format is the bare `data` object, not the envelope (the classic,
 * unauthenticated root generation); an uninitialised server answers them 400, as OpenBao does.
 */
export const BARE_SYS_PATHS = new Set(["sys/generate-root/attempt", "sys/generate-root/update"]);

/**
 * sys/seal and sys/step-down on a sealed server: there is nothing to seal or step down from and no token
 * can be checked, so OpenBao answers 204 before looking at the request (SealWithRequest, StepDown).
 */
export function sealedNoop(core: Core, path: string, method: string): boolean {
  return core.sealed && (path === "sys/seal" || path === "sys/step-down") && (method === "PUT" || method === "POST");
}

/**
 * POST sys/storage/snapshot: a restore goes to an uninitialised server, which has no token to check, so
 * it is answered here like sys/init (and, like init, only while the server is uninitialised). The body is
 * the snapshot file as is, whatever its Content-Type.
 */
export function isSnapshotRestore(path: string, method: string): boolean {
  return path === "sys/storage/snapshot" && (method === "POST" || method === "PUT");
}

export async function restoreSnapshotRequest(core: Core, bytes: Buffer): Promise<Record<string, unknown>> {
  const result = await restoreSnapshot(core, bytes);
  return { restored_entries: result.entries, ...(await sealStatus(core)) };
}

export async function handleRawSys(
  core: Core,
  path: string,
  method: string,
  query: QueryParams,
  data: Record<string, unknown>,
  token: string | undefined,
): Promise<RawResult> {
  switch (path) {
    case "sys/init":
      return init(core, method, data);
    case "sys/seal-status":
      if (method !== "GET") throw new ArcaError("unsupported_operation", "unsupported operation");
      return { status: 200, body: await sealStatus(core, await mayReadSealDetails(core, token, "sys/seal-status")) };
    case "sys/unseal":
      return unseal(core, method, data, token);
    case "sys/health":
      if (method !== "GET" && method !== "HEAD") throw new ArcaError("unsupported_operation", "unsupported operation");
      return health(core, query, method === "HEAD", token);
    default: // sys/leader
      return leader(core);
  }
}
