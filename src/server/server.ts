/**
 * The composition root: storage, seals, core, listeners. Kept small; each subsystem builds its own parts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Core, type SealTiming } from "../core/core.js";
import { newMount } from "../core/mounts.js";
import { KeyConfigError } from "../hsm/key-errors.js";
import { parseHsmFlag, type HsmDeclaration, type HsmRegistry } from "../hsm/hsm-registry.js";
import type { ReconnectPolicy } from "../hsm/token.js";
import { buildSeals, type BuiltSeals } from "../seal/from-config.js";
import { SealConfigError } from "../seal/pkcs11.js";
import { SqliteStorage } from "../storage/sqlite.js";
import { openPostgres, startHa, type RunningHa } from "./postgres-storage.js";
import type { Storage } from "../storage/storage.js";
import { builtinEngines, coreBackends } from "./engines.js";
import { startListener, type RunningListener } from "./listener.js";
import { barbicanWireFormat } from "../http/barbican/barbican-format.js";
import { DEV_KEYSTORE, KeychainBinding } from "../http/barbican/keychain-sealer.js";
import { PkiBinding } from "../http/barbican/pki-binding.js";
import { ServerMetrics } from "./metrics.js";
import { createLogger, parseLogLevel, type Logger } from "./log.js";
import { ConfigError, DEFAULT_MAX_REQUEST_SIZE, type BarbicanConfig, type ServerConfig, type StorageConfig } from "./config.js";
import type { HsmBlockConfig } from "../hsm/hsm-config.js";
import { KeystorePluginSet } from "../hsm/plugin/plugin-set.js";
import { warmUpHcl } from "../common/hcl/hcl.js";
import { startJobs, type JobsOptions } from "./jobs.js";

export interface RunningServer {
  core: Core;
  listeners: RunningListener[];
  /** The first listener's URL. */
  url: string;
  logger: Logger;
  /** Dev mode only. */
  rootToken?: string;
  unsealKey?: string;
  /** Dev mode with -dev-hsm: the one recovery share. */
  recoveryKey?: string;
  /** The declared HSMs (seal tokens included), when any: for status and for tests' login counters. */
  hsmRegistry?: HsmRegistry;
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  afterCore?: (core: Core) => Promise<void>;
  /** Auto-unseal retry / seal health-check timing (tests shorten it). */
  sealTiming?: Partial<SealTiming>;
  /** Reconnect policy of the HSM tokens the seals use (tests shorten it). */
  hsmReconnect?: Partial<ReconnectPolicy>;
  /** Background jobs' interval and clock (tests shorten and move them). */
  jobs?: JobsOptions;
  /** A dev server: engines may offer what is for development only (the keychain's software keystore). */
  devMode?: boolean;
}

async function openStorage(cfg: StorageConfig, logger: Logger): Promise<Storage> {
  if (cfg.type === "sqlite") return new SqliteStorage({ path: cfg.path });
  return openPostgres(cfg, logger);
}

function buildConfiguredSeals(config: ServerConfig, logger: Logger, opts: StartOptions): BuiltSeals {
  try {
    return buildSeals(config.seals, config.hsms.map(hsmDeclaration), {
      warn: (msg) => logger.warn({}, msg),
      ...(opts.hsmReconnect ? { reconnect: opts.hsmReconnect } : {}),
    });
  } catch (err) {
    if (err instanceof SealConfigError || err instanceof KeyConfigError) throw new ConfigError(err.message, "seal");
    throw err;
  }
}

function optionalOutbound(config: ServerConfig): { keychainOutbound?: ServerConfig["keychainOutbound"] } {
  return config.keychainOutbound ? { keychainOutbound: config.keychainOutbound } : {};
}

function hsmDeclaration(h: HsmBlockConfig): HsmDeclaration {
  return { ...h };
}

export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger(parseLogLevel(config.logLevel));
  // Only a head start: a parser that fails to start here is started again by the first parse.
  await warmUpHcl().catch((err: unknown) => logger.warn({ error: err instanceof Error ? err.message : String(err) }, "HCL parser warm-up failed"));
  // Seals are built before storage opens: a bad seal block is a config error, not a half-started server.
  const built = buildConfiguredSeals(config, logger, opts);
  const storage = await openStorage(config.storage, logger);
  const keystorePlugins = new KeystorePluginSet(config.keystorePlugins ?? []);
  // Barbican payloads under the key chain: the binding is handed to the engines now and to the core below.
  const keychain = config.barbican?.keystore !== undefined ? new KeychainBinding({ keystore: config.barbican.keystore, dev: opts.devMode ?? false }) : undefined;
  const pki = config.barbican ? new PkiBinding(config.barbican.pkiMount !== undefined && config.barbican.pkiRole !== undefined ? { mount: config.barbican.pkiMount, role: config.barbican.pkiRole } : undefined) : undefined;
  const core = new Core({
    storage,
    engines: builtinEngines({
      devMode: opts.devMode ?? false,
      keystorePlugins: (name) => keystorePlugins.resolve(name),
      ...optionalOutbound(config),
      ...(keychain ? { barbicanSealer: (ns) => keychain.sealerFor(ns) } : {}),
      ...(pki ? { barbicanIssuer: (ns) => pki.issuerFor(ns) } : {}),
    }),
    coreBackends: coreBackends(),
    logger,
    seals: built.seals,
    ...(built.keyManager ? { keyManager: built.keyManager } : {}),
    ...(opts.sealTiming ? { sealTiming: opts.sealTiming } : {}),
    clusterName: config.clusterName,
    defaultLeaseTtl: config.defaultLeaseTtl,
    maxLeaseTtl: config.maxLeaseTtl,
    ...(config.limits ? { limits: config.limits } : {}),
  });
  keychain?.attach(core);
  pki?.attach(core);
  const release = async (): Promise<void> => {
    await core.shutdown();
    await keystorePlugins.close();
    await built.close();
    await storage.close();
  };
  try {
    await opts.afterCore?.(core);
    // With an auto seal the server unseals itself: the first attempt is awaited, retries run in the background.
    await core.startAutoUnseal();
  } catch (err) {
    await release();
    throw err;
  }
  if (core.sealed && core.seal.hasAutoSeals && (await core.isInitialized())) {
    logger.warn({ warnings: core.seal.warnings(true) }, "auto-unseal did not complete");
  }
  const listeners: RunningListener[] = [];
  try {
    const metrics = new ServerMetrics(core, built.registry);
    core.metrics = metrics;
    const formats = config.barbican ? [barbicanWireFormat(core, config.barbican)] : [];
    // A Barbican-only listener serves the format at its root, as a plain Barbican endpoint.
    const barbicanRoot = config.barbican && config.listeners.some((l) => l.serve === "barbican") ? [barbicanWireFormat(core, { ...config.barbican, prefix: "" })] : [];
    for (const l of config.listeners) listeners.push(await startListener(core, l, logger, metrics, l.serve === "barbican" ? barbicanRoot : formats));
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await release();
    throw err;
  }
  for (const l of listeners) logger.info({ address: l.url }, "listening");
  let ha: RunningHa | undefined;
  try {
    ha = await startHa(core, config.storage, config.apiAddr ?? listeners[0]?.url ?? "", logger);
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await release();
    throw err;
  }
  const jobs = startJobs(core, logger, {
    ...opts.jobs,
    ...(config.snapshots ? { snapshots: config.snapshots } : {}),
    ...(ha ? { isActive: () => ha.isActive() } : {}),
  });
  return {
    core,
    listeners,
    url: listeners[0]?.url ?? "",
    logger,
    ...(built.registry ? { hsmRegistry: built.registry } : {}),
    stop: async () => {
      await Promise.all(listeners.map((l) => l.close()));
      await jobs.stop();
      await ha?.stop();
      await release();
    },
  };
}

export interface DevOptions {
  rootTokenId?: string;
  listenAddress?: string;
  logger?: Logger;
  /** Keep the SQLite file here instead of a temp dir removed at stop. */
  dataDir?: string;
  /**
   * `-dev-hsm=pkcs11:token=T?module-path=…&pin-value=…`: declare that HSM and seal with a `pkcs11` auto seal
   * on it (its key generated when missing) instead of a single Shamir share.
   */
  devHsm?: string;
  /** The config file's `limits` block (tests lower or raise them). */
  limits?: ServerConfig["limits"];
  /** `keystore_plugin` blocks (tests declare the sample provider). */
  keystorePlugins?: ServerConfig["keystorePlugins"];
  /** Storage other than the SQLite file in the data dir (benches compare backends). */
  storage?: StorageConfig;
  /** Also serve the Barbican API alone, at the root of a plain-HTTP listener on this address (host:port). */
  barbicanListenAddress?: string;
  /** Settings of the `barbican` block beside dev mode's (tests name a CA for certificate orders). */
  barbican?: Partial<Pick<BarbicanConfig, "pkiMount" | "pkiRole" | "hostHref" | "keystoneMount">>;
}

/** Label of the dev seal key on the -dev-hsm token. */
export const DEV_SEAL_KEY_LABEL = "arca-dev-seal";

/**
 * Dev mode: embedded SQLite in a temp dir, initialised with one share, unsealed, `secret/` as KV v2,
 * plain HTTP. Never for production: the unseal (or recovery) key and root token are printed.
 */
export async function startDevServer(opts: DevOptions = {}): Promise<RunningServer> {
  const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "arca-dev-"));
  const config: ServerConfig = {
    storage: opts.storage ?? { type: "sqlite", path: join(dir, "arca.db") },
    listeners: [
      { type: "tcp", address: opts.listenAddress ?? "127.0.0.1:8200", tlsDisable: true, maxRequestSize: DEFAULT_MAX_REQUEST_SIZE },
      ...(opts.barbicanListenAddress !== undefined ? [{ type: "tcp" as const, address: opts.barbicanListenAddress, tlsDisable: true, maxRequestSize: DEFAULT_MAX_REQUEST_SIZE, serve: "barbican" as const }] : []),
    ],
    ui: false,
    logLevel: "info",
    defaultLeaseTtl: 768 * 3600,
    maxLeaseTtl: 768 * 3600,
    seals: [],
    hsms: [],
    warnings: [],
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.keystorePlugins ? { keystorePlugins: opts.keystorePlugins } : {}),
    barbican: { prefix: "/barbican", noauth: true, keystore: DEV_KEYSTORE, ...opts.barbican },
  };
  const auto = opts.devHsm !== undefined;
  if (opts.devHsm !== undefined) {
    const { hsm, seal } = devHsmConfig(opts.devHsm);
    config.hsms = [hsm];
    config.seals = [seal];
  }
  let rootToken = "";
  let unsealKey = "";
  let recoveryKey = "";
  const server = await startServer(config, {
    logger: opts.logger,
    devMode: true,
    afterCore: async (core) => {
      const init = await core.initialize(
        auto ? { secretShares: 0, secretThreshold: 0, recoveryShares: 1, recoveryThreshold: 1 } : { secretShares: 1, secretThreshold: 1 },
        { keepUnsealed: true, rootTokenId: opts.rootTokenId },
      );
      rootToken = init.rootToken;
      unsealKey = init.keys[0]?.toString("base64") ?? "";
      recoveryKey = init.recoveryKeys[0]?.toString("base64") ?? "";
      await core.root.mount(newMount("secret", "secret/", "kv", { description: "key/value secret storage", options: { version: "2" } }));
    },
  });
  return {
    ...server,
    rootToken,
    unsealKey,
    ...(recoveryKey ? { recoveryKey } : {}),
    stop: async () => {
      await server.stop();
      if (!opts.dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The `hsm` and `seal "pkcs11"` blocks the dev flag stands for. */
export function devHsmConfig(flag: string): { hsm: HsmBlockConfig; seal: ServerConfig["seals"][number] } {
  let decl: HsmDeclaration;
  try {
    decl = parseHsmFlag(flag, "dev");
  } catch (err) {
    throw new ConfigError(`-dev-hsm: ${err instanceof Error ? err.message : String(err)}`, "dev-hsm");
  }
  const hsm: HsmBlockConfig = { name: decl.name, lib: decl.lib };
  if (decl.tokenLabel !== undefined) hsm.tokenLabel = decl.tokenLabel;
  if (decl.serial !== undefined) hsm.serial = decl.serial;
  if (decl.pin !== undefined) hsm.pin = decl.pin;
  if (decl.pinFile !== undefined) hsm.pinFile = decl.pinFile;
  const token = decl.tokenLabel !== undefined ? `token=${encodeURIComponent(decl.tokenLabel)}` : `serial=${encodeURIComponent(decl.serial ?? "")}`;
  return { hsm, seal: { type: "pkcs11", disabled: false, params: { key: `pkcs11:${token};object=${DEV_SEAL_KEY_LABEL}`, generate_key: true } } };
}
