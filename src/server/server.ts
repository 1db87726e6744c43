/**
 * The composition root: storage, core, listeners. Kept small; each subsystem builds its own parts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Core } from "../core/core.js";
import { PolicyStore } from "../core/policy/policy-store.js";
import { newMount } from "../core/mounts.js";
import { SqliteStorage } from "../storage/sqlite.js";
import type { Storage } from "../storage/storage.js";
import { builtinEngines } from "./engines.js";
import { startListener, type RunningListener } from "./listener.js";
import { createLogger, parseLogLevel, type Logger } from "./log.js";
import { ConfigError, DEFAULT_MAX_REQUEST_SIZE, type ServerConfig, type StorageConfig } from "./config.js";
import { warmUpHcl } from "./hcl.js";

export interface RunningServer {
  core: Core;
  listeners: RunningListener[];
  /** The first listener's URL. */
  url: string;
  logger: Logger;
  /** Dev mode only. */
  rootToken?: string;
  unsealKey?: string;
  stop(): Promise<void>;
}

function openStorage(cfg: StorageConfig): Storage {
  if (cfg.type === "sqlite") return new SqliteStorage({ path: cfg.path });
  throw new ConfigError(`storage "${cfg.type}" is not available in this build yet`, "storage");
}

export async function startServer(config: ServerConfig, opts: { logger?: Logger; afterCore?: (core: Core) => Promise<void> } = {}): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger(parseLogLevel(config.logLevel));
  await warmUpHcl();
  const storage = openStorage(config.storage);
  const core = new Core({
    storage,
    engines: builtinEngines(),
    policies: (view) => new PolicyStore(view),
    clusterName: config.clusterName,
    defaultLeaseTtl: config.defaultLeaseTtl,
    maxLeaseTtl: config.maxLeaseTtl,
  });
  await opts.afterCore?.(core);
  const listeners: RunningListener[] = [];
  try {
    for (const l of config.listeners) listeners.push(await startListener(core, l, logger));
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await storage.close();
    throw err;
  }
  for (const l of listeners) logger.info({ address: l.url }, "listening");
  return {
    core,
    listeners,
    url: listeners[0]?.url ?? "",
    logger,
    stop: async () => {
      await Promise.all(listeners.map((l) => l.close()));
      await core.sealNow();
      await storage.close();
    },
  };
}

export interface DevOptions {
  rootTokenId?: string;
  listenAddress?: string;
  logger?: Logger;
  /** Keep the SQLite file here instead of a temp dir removed at stop. */
  dataDir?: string;
}

/**
 * Dev mode: embedded SQLite in a temp dir, initialised with one share, unsealed, `secret/` as KV v2,
 * plain HTTP. Never for production: the unseal key and root token are printed.
 */
export async function startDevServer(opts: DevOptions = {}): Promise<RunningServer> {
  const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "arca-dev-"));
  const config: ServerConfig = {
    storage: { type: "sqlite", path: join(dir, "arca.db") },
    listeners: [{ type: "tcp", address: opts.listenAddress ?? "127.0.0.1:8200", tlsDisable: true, maxRequestSize: DEFAULT_MAX_REQUEST_SIZE }],
    ui: false,
    logLevel: "info",
    defaultLeaseTtl: 768 * 3600,
    maxLeaseTtl: 768 * 3600,
    seals: [],
    hsms: [],
    warnings: [],
  };
  let rootToken = "";
  let unsealKey = "";
  const server = await startServer(config, {
    logger: opts.logger,
    afterCore: async (core) => {
      const init = await core.initialize({ secretShares: 1, secretThreshold: 1 }, { keepUnsealed: true, rootTokenId: opts.rootTokenId });
      rootToken = init.rootToken;
      unsealKey = init.keys[0].toString("base64");
      await core.mount(newMount("secret", "secret/", "kv", { description: "key/value secret storage", options: { version: "2" } }));
    },
  });
  return {
    ...server,
    rootToken,
    unsealKey,
    stop: async () => {
      await server.stop();
      if (!opts.dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
