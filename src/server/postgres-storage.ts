/**
 * Opens `storage "postgresql"` from the config. The URL may come from BAO_PG_CONNECTION_URL (or
 * VAULT_PG_CONNECTION_URL), as in OpenBao, so that a password need not sit in the config file; it is
 * logged only redacted. With ha_enabled, startHa adds the leadership lock and cache coherence.
 */
import { PostgresStorage, redactConnectionUrl } from "../storage/postgres.js";
import type { Storage } from "../storage/storage.js";
import { ConfigError, type PostgresStorageConfig, type StorageConfig } from "./config.js";
import { PostgresLeadership } from "../storage/postgres-leader.js";
import { watchRemote } from "../core/remote-changes.js";
import type { Core } from "../core/core.js";
import type { Logger } from "./log.js";

export async function openPostgres(cfg: PostgresStorageConfig, logger: Logger): Promise<Storage> {
  const url = connectionUrlOf(cfg);
  if (!url) throw new ConfigError("storage.postgresql.connection_url: is required (or set BAO_PG_CONNECTION_URL)", "storage.postgresql.connection_url");
  const storage = await PostgresStorage.open({
    connectionUrl: url,
    ...(cfg.haEnabled ? { haEnabled: true } : {}),
    ...(cfg.table !== undefined ? { table: cfg.table } : {}),
    ...(cfg.maxParallel !== undefined ? { maxParallel: cfg.maxParallel } : {}),
    onError: (message) => logger.warn({ error: message }, "postgresql connection error"),
  });
  logger.info({ url: redactConnectionUrl(url), table: storage.table, ha: cfg.haEnabled ?? false }, "storage: postgresql");
  return storage;
}

function connectionUrlOf(cfg: PostgresStorageConfig): string {
  return process.env.BAO_PG_CONNECTION_URL || process.env.VAULT_PG_CONNECTION_URL || cfg.connectionUrl || "";
}

export interface RunningHa {
  isActive(): boolean;
  stop(): Promise<void>;
}

/**
 * HA on a shared table: the leadership lock (who runs background work) and cache coherence (the core
 * applies other servers' commits). Undefined when the storage is not shared.
 */
export async function startHa(core: Core, cfg: StorageConfig, apiAddr: string, logger: Logger): Promise<RunningHa | undefined> {
  if (cfg.type !== "postgresql" || !cfg.haEnabled || !(core.storage instanceof PostgresStorage)) return undefined;
  const storage = core.storage;
  const unwatch = watchRemote(core, (message) => logger.error({ error: message }, "applying another server's changes failed"));
  const leadership = new PostgresLeadership({
    connectionUrl: connectionUrlOf(cfg),
    table: storage.table,
    ...(cfg.haTable !== undefined ? { haTable: cfg.haTable } : {}),
    node: storage.node,
    apiAddr,
    onChange: (active) => logger.info({ node: storage.node }, active ? "holding background work (active)" : "no longer holding background work"),
    onError: (message) => logger.warn({ error: message }, "HA lock connection problem"),
  });
  await leadership.start();
  core.ha = leadership;
  return {
    isActive: () => leadership.active,
    stop: async () => {
      unwatch();
      core.ha = undefined;
      await leadership.stop();
    },
  };
}
