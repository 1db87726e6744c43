/**
 * Mount tables: which backend serves which path prefix. Two tables, as in OpenBao: secrets engines
 * (`core/mounts`) and auth methods (`core/auth`, routed under "auth/"). Each mount's data lives under
 * its own prefix in the barrier (`logical/<uuid>/` or `auth/<uuid>/`) and the engine sees only a view of it.
 */
import { randomUUID } from "node:crypto";
import { ArcaError } from "../common/errors.js";
import { getJson, putJson } from "./view.js";
import type { KeyValueStore } from "../storage/storage.js";
import { randomBase62 } from "../common/ids.js";

export type MountTable = "secret" | "auth";

export interface MountConfig {
  defaultLeaseTtl: number;
  maxLeaseTtl: number;
  forceNoCache: boolean;
  listingVisibility: string;
  passthroughRequestHeaders: string[];
  allowedResponseHeaders: string[];
  auditNonHmacRequestKeys: string[];
  auditNonHmacResponseKeys: string[];
  tokenType?: string;
  /** Managed keys (sys/managed-keys) this mount's engine may use, by name (OpenBao's allowed_managed_keys). */
  allowedManagedKeys?: string[];
  /** OpenBao's user_lockout_config (auth mounts that lock users out); unset fields take the defaults. */
  userLockout?: UserLockoutConfig;
}

export interface UserLockoutConfig {
  threshold?: number;
  durationSeconds?: number;
  counterResetSeconds?: number;
  disabled?: boolean;
}

/** OpenBao's defaults: locked after 5 failures, for 15 minutes; the count is forgotten 15 minutes after the last failure. */
export const DEFAULT_USER_LOCKOUT: Required<UserLockoutConfig> = { threshold: 5, durationSeconds: 900, counterResetSeconds: 900, disabled: false };

export function effectiveUserLockout(config: UserLockoutConfig | undefined): Required<UserLockoutConfig> {
  return { ...DEFAULT_USER_LOCKOUT, ...config };
}

export interface MountEntry {
  table: MountTable;
  /** Mount point relative to its table, ending in "/": "secret/", "token/" (served at auth/token/). */
  path: string;
  type: string;
  description: string;
  uuid: string;
  accessor: string;
  config: MountConfig;
  options: Record<string, string> | null;
  local: boolean;
  sealWrap: boolean;
  externalEntropyAccess: boolean;
  /** Set on built-in mounts that cannot be disabled or moved (sys/, auth/token/, cubbyhole/). */
  builtin?: boolean;
}

export const MOUNTS_PATH = "core/mounts";
export const AUTH_PATH = "core/auth";

export function defaultMountConfig(): MountConfig {
  return {
    defaultLeaseTtl: 0,
    maxLeaseTtl: 0,
    forceNoCache: false,
    listingVisibility: "",
    passthroughRequestHeaders: [],
    allowedResponseHeaders: [],
    auditNonHmacRequestKeys: [],
    auditNonHmacResponseKeys: [],
  };
}

/** The router path of a mount: auth methods live under "auth/". */
export function routePath(m: Pick<MountEntry, "table" | "path">): string {
  return m.table === "auth" ? `auth/${m.path}` : m.path;
}

/** The barrier prefix holding a mount's data. */
export function dataPrefix(m: Pick<MountEntry, "table" | "uuid" | "type">): string {
  if (m.type === "system") return "sys/";
  if (m.type === "token") return "sys/token/";
  return m.table === "auth" ? `auth/${m.uuid}/` : `logical/${m.uuid}/`;
}

const RESERVED = ["sys/", "auth/", "cubbyhole/", "identity/", "audit/"];

export function normaliseMountPath(raw: string): string {
  let p = raw.trim().replace(/^\/+/, "");
  if (!p.endsWith("/")) p += "/";
  if (p === "/" || p.includes("//") || p.split("/").some((s) => s === "." || s === "..")) {
    throw new ArcaError("invalid_request", `invalid mount path "${raw.slice(0, 128)}"`);
  }
  if (p.length > 256) throw new ArcaError("invalid_request", "mount path too long");
  return p;
}

export function newMount(
  table: MountTable,
  path: string,
  type: string,
  init: Partial<Pick<MountEntry, "description" | "options" | "local" | "sealWrap" | "externalEntropyAccess" | "builtin">> & {
    config?: Partial<MountConfig>;
  } = {},
): MountEntry {
  const prefix = table === "auth" ? "auth_" : "";
  return {
    table,
    path,
    type,
    description: init.description ?? "",
    uuid: randomUUID(),
    accessor: `${prefix}${type}_${randomBase62(8).toLowerCase()}`,
    config: { ...defaultMountConfig(), ...init.config },
    options: init.options ?? null,
    local: init.local ?? false,
    sealWrap: init.sealWrap ?? false,
    externalEntropyAccess: init.externalEntropyAccess ?? false,
    builtin: init.builtin,
  };
}

export function isReservedSecretPath(path: string): boolean {
  return RESERVED.some((r) => path === r || path.startsWith(r));
}

export async function loadTable(barrier: KeyValueStore, table: MountTable): Promise<MountEntry[]> {
  return (await getJson<MountEntry[]>(barrier, table === "auth" ? AUTH_PATH : MOUNTS_PATH)) ?? [];
}

export async function saveTable(barrier: KeyValueStore, table: MountTable, entries: MountEntry[]): Promise<void> {
  await putJson(barrier, table === "auth" ? AUTH_PATH : MOUNTS_PATH, entries.filter((e) => e.table === table));
}
