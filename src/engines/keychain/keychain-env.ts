/** What every keychain path and job shares: keystore types, the plaintext cache, the mount's settings. */
import { ArcaError, invalidRequest } from "../../common/errors.js";
import type { BackendLogger } from "../../core/framework/system-view.js";
import type { KeyManager } from "../../hsm/key-manager.js";
import type { KeyValueStore } from "../../storage/storage.js";
import type { KeyCache } from "./key-cache.js";
import type { RecordCache } from "./record-cache.js";
import type { KeystoreContext, KeystoreProvider, KeystoreRegistry } from "./keystore.js";
import { mustGet, records } from "./records.js";

export interface KeychainSettings {
  /** The software keystore may be used (dev server, or mount option allow_software_keystore=true). */
  allowSoftware: boolean;
  /** Shortest schedule-deletion window in seconds (mount option min_pending_window, default 7d). */
  minPendingWindow: number;
}

export interface KeychainEnv {
  keystoreTypes: KeystoreRegistry;
  /** L2 and L3 plaintext, nothing else (ids prefixed "l2/" and "l3/"). */
  cache: KeyCache;
  keyManager: KeyManager | undefined;
  logger: BackendLogger;
  /** Read per request: a tune of the mount's options applies at once. */
  settings(): KeychainSettings;
  /** Parsed system, configuration and key records for the hot path (record-cache.ts: writers call changed()). */
  records: RecordCache;
  /** Keys whose re-wrap job runs now in this process (one runner per key). */
  running: Set<string>;
  /** Told the name of an L1 that may be used again (namespace-keys.ts: a namespace it sealed reopens). */
  usableListeners: Set<(name: string) => Promise<void>>;
}

export function keystoreContext(env: KeychainEnv, storage: KeyValueStore): KeystoreContext {
  return { keyManager: env.keyManager, storage, allowSoftware: env.settings().allowSoftware, logger: env.logger };
}

/** The provider of the stored keystore `name`. */
export async function openKeystore(env: KeychainEnv, storage: KeyValueStore, name: string): Promise<KeystoreProvider> {
  const ks = await mustGet(`keystore ${name}`, records.keystore(storage, name));
  const type = env.keystoreTypes.get(ks.type);
  if (!type) throw new ArcaError("unavailable", `keystore type ${ks.type} is not available on this server`);
  return type.open({ type: ks.type, config: ks.config, secrets: ks.secrets }, keystoreContext(env, storage));
}

/** A non-negative integer version parsed from a path or field. */
export function parseVersion(raw: unknown): number {
  const n = typeof raw === "number" ? raw : Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw invalidRequest("version must be a positive integer");
  return n;
}

/**
 * A handler that writes records: whatever it wrote is dropped from the record cache before it answers
 * (also when it fails half-way), so no later request reads an older state.
 */
/**
 * An L1 may be used again (enable, a HYOK key back to ENABLED). The records first, so listeners read the new
 * state; awaited, so the namespaces the L1 sealed are open again when enable answers.
 */
export async function announceUsable(env: KeychainEnv, name: string): Promise<void> {
  env.records.changed();
  await Promise.allSettled([...env.usableListeners].map((listener) => listener(name)));
}

export function mutating<C, R>(env: KeychainEnv, handler: (ctx: C) => Promise<R>): (ctx: C) => Promise<R> {
  return async (ctx) => {
    try {
      return await handler(ctx);
    } finally {
      env.records.changed();
    }
  };
}
