/**
 * What an engine sees of the server (OpenBao's logical.SystemView): its mount, its namespace's name, lease
 * bounds, the HSM keys it may use, a logger, and — for auth methods — token issuance. Nothing else: an
 * engine that could reach the core could read other mounts' storage or bypass policy, so the factory
 * gets this and not the namespace or the core.
 *
 * Core's own backends (sys/, auth/token/) are not engines: they are given the namespace and the core
 * (see CoreBackendFactory in core.ts).
 */
import type { KeyManager } from "../../hsm/key-manager.js";
import type { InputLimits } from "../limits.js";
import type { MountEntry } from "../mounts.js";
import type { CreateTokenParams, TokenEntry } from "../tokens/token-entry.js";
import type { NamespaceRef } from "./request.js";

/** Structured logging; fields, never secret values (the server's pino logger satisfies it). */
export interface BackendLogger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

/** Effective lease bounds in seconds: `def` is never above `max`. */
export interface LeaseBounds {
  max: number;
  def: number;
}

/** Token issuance for auth methods: the tokens of the mount's namespace, or of one below it. */
export interface TokenIssuer {
  create(p: CreateTokenParams): Promise<{ token: string; entry: TokenEntry }>;
  /**
   * A token in the namespace at `relPath` below the mount's ("" is the mount's own), for methods that map
   * an outside tenant to a namespace (keystone: project → namespace). Never above or beside the mount's
   * namespace: a mount can only hand out what its own namespace owns. A missing namespace is a 400.
   */
  createIn(relPath: string, p: CreateTokenParams): Promise<{ token: string; entry: TokenEntry; namespace: NamespaceRef }>;
}

export interface SystemView {
  /** The namespace the mount lives in. */
  readonly namespace: NamespaceRef;
  /** The mount's entry as tuned now (a tune replaces the entry); the one it was built with once unmounted. */
  mount(): MountEntry;
  /** The mount's effective lease bounds: its tune where set, else the server's. */
  leaseBounds(): LeaseBounds;
  /** HSM keys this mount created or was granted, nothing else; undefined when no HSM is declared. */
  readonly keyManager: KeyManager | undefined;
  /** Lines carry the namespace and the mount path. */
  readonly logger: BackendLogger;
  /** Tokens in the mount's namespace (logins). */
  readonly tokens: TokenIssuer;
  /** The server's bounds on what one caller may make it hold (config `limits`). */
  readonly limits: Readonly<InputLimits>;
}

/** A logger that drops everything (cores built without one, tests). */
export const silentLogger: BackendLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** `logger` with `fields` added to every line. */
export function withFields(logger: BackendLogger, fields: Record<string, unknown>): BackendLogger {
  return {
    debug: (f, msg) => logger.debug({ ...fields, ...f }, msg),
    info: (f, msg) => logger.info({ ...fields, ...f }, msg),
    warn: (f, msg) => logger.warn({ ...fields, ...f }, msg),
    error: (f, msg) => logger.error({ ...fields, ...f }, msg),
  };
}

/** A mount's effective lease bounds: the mount's tune where set, else the server's (OpenBao's rule). */
export function effectiveLeaseBounds(mount: MountEntry, server: LeaseBounds): LeaseBounds {
  const max = mount.config.maxLeaseTtl > 0 ? mount.config.maxLeaseTtl : server.max;
  const def = mount.config.defaultLeaseTtl > 0 ? mount.config.defaultLeaseTtl : server.def;
  return { max, def: Math.min(def, max) };
}
