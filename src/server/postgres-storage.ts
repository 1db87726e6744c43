/**
 * Opens `storage "postgresql"` from the config. The URL may come from BAO_PG_CONNECTION_URL (or
 * VAULT_PG_CONNECTION_URL), as in OpenBao, so that a password need not sit in the config file; it is
 * logged only redacted.
 */
import { PostgresStorage, redactConnectionUrl } from "../storage/postgres.js";
import type { Storage } from "../storage/storage.js";
import { ConfigError, type PostgresStorageConfig } from "./config.js";
import type { Logger } from "./log.js";

export async function openPostgres(cfg: PostgresStorageConfig, logger: Logger): Promise<Storage> {
  const url = process.env.BAO_PG_CONNECTION_URL || process.env.VAULT_PG_CONNECTION_URL || cfg.connectionUrl;
  if (!url) throw new ConfigError("storage.postgresql.connection_url: is required (or set BAO_PG_CONNECTION_URL)", "storage.postgresql.connection_url");
  if (cfg.haEnabled) {
    throw new ConfigError("storage.postgresql.ha_enabled: several servers on one table are not supported by this build yet", "storage.postgresql.ha_enabled");
  }
  const storage = await PostgresStorage.open({
    connectionUrl: url,
    ...(cfg.table !== undefined ? { table: cfg.table } : {}),
    ...(cfg.maxParallel !== undefined ? { maxParallel: cfg.maxParallel } : {}),
    onError: (message) => logger.warn({ error: message }, "postgresql connection error"),
  });
  logger.info({ url: redactConnectionUrl(url), table: storage.table }, "storage: postgresql");
  return storage;
}
