/**
 * The keychain secrets engine (mount type "keychain"): OpenKCM's key chain. L1 customer keys live in a
 * keystore (an HSM token through the mount's custody-scoped key manager, a customer's own store for HYOK,
 * or software in dev); L2 key configurations are wrapped by L1 inside the keystore; L3 systems by L2; L4
 * data keys by L3. Revoking an L1 cuts off everything beneath at once. Storage layout: records.ts; the
 * chain and its associated data: chain.ts; the keystore seam: keystore.ts.
 *
 * Mount options: allow_software_keystore ("true": the dev-only software keystore may be used),
 * min_pending_window (duration, default 7d), cache_size (L2+L3 plaintexts kept in memory, default 10000),
 * hyok_sync_interval (duration, default 1m: how often HYOK keys are probed, hyok-sync.ts).
 */
import { LogicalBackend, type BackendSpec } from "../../core/framework/backend.js";
import { parseDuration } from "../../core/framework/duration.js";
import { silentLogger, type BackendLogger, type SystemView } from "../../core/framework/system-view.js";
import type { MountEntry } from "../../core/mounts.js";
import type { KeyManager } from "../../hsm/key-manager.js";
import type { NamespaceKeySource, WrappedRootKey } from "../../core/namespaces/namespace-key-source.js";
import { runKeychainJobs } from "./jobs.js";
import { invalidateFromRemote } from "./remote-invalidation.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { keychainNamespaceKeys } from "./namespace-keys.js";
import { KeyCache } from "./key-cache.js";
import { RecordCache } from "./record-cache.js";
import type { KeychainEnv, KeychainSettings } from "./keychain-env.js";
import type { KeystoreRegistry } from "./keystore.js";
import { builtinKeystoreTypes } from "./keystore-types.js";
import { pluginKeystoreType, type KeystorePluginResolver } from "./keystore-plugin.js";
import { configurationsListPath, configurationsPath } from "./path-configurations.js";
import { graphPath } from "./path-graph.js";
import { byokPaths } from "./path-byok.js";
import { HyokSync, hyokSyncInterval } from "./hyok-sync.js";
import { STRICT_OUTBOUND, type OutboundPolicy } from "../../common/outbound-guard.js";
import { keyActionPaths, keysListPath, keysPath } from "./path-keys.js";
import { keystoresListPath, keystoresPath } from "./path-keystores.js";
import { dataKeyPaths, systemsListPath, systemsPath } from "./path-systems.js";

const DEFAULT_MIN_PENDING_WINDOW = 7 * 24 * 3600;
const DEFAULT_CACHE_SIZE = 10_000;

const HELP = `
The keychain backend keeps a key chain: L1 customer keys in a keystore (HSM, customer-held, or software in
dev), L2 key configurations wrapped by L1, L3 systems wrapped by L2, and L4 data keys wrapped by L3.
Disabling an L1 stops new data keys; revoking it stops every unwrap beneath it at once.
`;

export interface KeychainBackendOptions {
  keyManager?: KeyManager;
  logger?: BackendLogger;
  /** The mount's options as tuned now (read per request). */
  options?: () => Record<string, string> | null;
  /** The software keystore is allowed whatever the mount says (dev servers, tests). */
  devMode?: boolean;
  /** Keystore types; default builtinKeystoreTypes(). */
  keystoreTypes?: KeystoreRegistry;
  /** The plaintext cache (tests pass one they can watch); default a KeyCache of the mount's cache_size. */
  cache?: KeyCache;
  /** Where transit (HYOK) keystores may connect: the server config's keychain block; default https to public addresses. */
  outbound?: OutboundPolicy;
}

function settingsFrom(options: Record<string, string> | null | undefined, devMode: boolean): KeychainSettings {
  let minPendingWindow = DEFAULT_MIN_PENDING_WINDOW;
  const raw = options?.min_pending_window;
  if (raw !== undefined && raw !== "") {
    try {
      minPendingWindow = parseDuration(raw);
    } catch {
      // A bad tune keeps the safe default rather than breaking every deletion.
    }
  }
  return { allowSoftware: devMode || options?.allow_software_keystore === "true", minPendingWindow };
}

function cacheSize(options: Record<string, string> | null | undefined): number {
  const n = Number(options?.cache_size ?? DEFAULT_CACHE_SIZE);
  return Number.isSafeInteger(n) && n >= 0 ? n : DEFAULT_CACHE_SIZE;
}

/** The keychain backend: a LogicalBackend whose L1 keys can also seal namespaces (namespace-keys.ts). */
export class KeychainBackend extends LogicalBackend implements NamespaceKeySource {
  constructor(
    spec: BackendSpec,
    private readonly namespaceKeys: NamespaceKeySource,
  ) {
    super(spec);
  }

  wrapRootKey(...args: Parameters<NamespaceKeySource["wrapRootKey"]>): Promise<WrappedRootKey> {
    return this.namespaceKeys.wrapRootKey(...args);
  }

  unwrapRootKey(...args: Parameters<NamespaceKeySource["unwrapRootKey"]>): Promise<Buffer> {
    return this.namespaceKeys.unwrapRootKey(...args);
  }

  onKeyUsable(listener: (name: string) => Promise<void>): () => void {
    return this.namespaceKeys.onKeyUsable?.(listener) ?? (() => undefined);
  }
}

export function createKeychainBackendWith(opts: KeychainBackendOptions): KeychainBackend {
  const options = opts.options ?? (() => null);
  const env: KeychainEnv = {
    keystoreTypes: opts.keystoreTypes ?? builtinKeystoreTypes({ outbound: () => opts.outbound ?? STRICT_OUTBOUND }),
    cache: opts.cache ?? new KeyCache(cacheSize(options())),
    keyManager: opts.keyManager,
    logger: opts.logger ?? silentLogger,
    settings: () => settingsFrom(options(), opts.devMode ?? false),
    records: new RecordCache(),
    running: new Set(),
    usableListeners: new Set(),
  };
  let mountStorage: KeyValueStore | undefined;
  const hyokSync = new HyokSync(env, () => hyokSyncInterval(options()));
  return new KeychainBackend({
    type: "keychain",
    paths: [
      keystoresListPath(env),
      keystoresPath(env),
      keysListPath(env),
      keysPath(env),
      ...keyActionPaths(env),
      ...byokPaths(env),
      configurationsListPath(env),
      configurationsPath(env),
      systemsListPath(env),
      systemsPath(env),
      ...dataKeyPaths(env),
      graphPath(env),
    ],
    help: HELP,
    periodic: async ({ storage, now }) => {
      await runKeychainJobs(env, storage, now);
      await hyokSync.runIfDue(storage, now);
    },
    // Seal or unmount: no L2/L3 plaintext outlives the unsealed state.
    cleanup: async () => {
      env.cache.clear();
      env.records.changed();
    },
    // The mount's view, for invalidate to read what another node wrote (remote-invalidation.ts).
    initialize: async ({ storage }) => {
      mountStorage = storage;
    },
    invalidate: (key) => invalidateFromRemote(env, mountStorage, key),
  }, keychainNamespaceKeys(env));
}

/**
 * The engine catalog's factory. `devMode` (a dev server) allows the software keystore on every mount; with
 * the server's keystore plugins, `type=plugin` keystores are known too; `outbound` is where HYOK keystores
 * may connect (the server config's keychain block).
 */
export function keychainFactory(opts: { devMode: boolean; keystorePlugins?: KeystorePluginResolver | undefined; outbound?: OutboundPolicy | undefined }): (mount: MountEntry, view: SystemView) => LogicalBackend {
  const outbound = opts.outbound;
  return (_mount, view) => {
    const keystoreTypes = builtinKeystoreTypes({ outbound: () => outbound ?? STRICT_OUTBOUND });
    if (opts.keystorePlugins) keystoreTypes.register(pluginKeystoreType(opts.keystorePlugins));
    return createKeychainBackendWith({ keyManager: view.keyManager, logger: view.logger, options: () => view.mount().options, devMode: opts.devMode, keystoreTypes, ...(outbound ? { outbound } : {}) });
  };
}
