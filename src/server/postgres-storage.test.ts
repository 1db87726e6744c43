import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresAvailable, POSTGRES_SKIP_REASON, startPgCluster, type PgCluster } from "../../test/postgres.js";
import { api, freshServer } from "../../test/servers.js";
import { createLogger } from "./log.js";
import { ConfigError } from "./config.js";

const available = postgresAvailable();
if (!available) console.warn(POSTGRES_SKIP_REASON);

describe.skipIf(!available)("server on postgresql storage", () => {
  let pg: PgCluster;
  beforeAll(async () => {
    pg = await startPgCluster();
  }, 60_000);
  afterAll(() => pg?.stop());

  it("initialises, unseals and serves secrets; the table holds ciphertext only and logs never hold the password", async () => {
    const lines: string[] = [];
    const logger = createLogger("debug", (line) => void lines.push(line));
    const server = await freshServer({ type: "postgresql", connectionUrl: pg.url, table: "srv_t" }, logger);
    try {
      const init = await api(server.url, "PUT", "sys/init", { body: { secret_shares: 1, secret_threshold: 1 } });
      expect(init.status).toBe(200);
      const { keys_base64: keys, root_token: root } = init.body as { keys_base64: string[]; root_token: string };
      expect((await api(server.url, "PUT", "sys/unseal", { body: { key: keys[0] } })).body?.sealed).toBe(false);
      expect((await api(server.url, "POST", "sys/mounts/kv", { token: root, body: { type: "kv", options: { version: "2" } } })).status).toBe(204);
      const plaintext = "pg-plaintext-canary-7f3a";
      expect((await api(server.url, "PUT", "kv/data/app", { token: root, body: { data: { password: plaintext } } })).status).toBe(200);
      const read = await api(server.url, "GET", "kv/data/app", { token: root });
      expect((read.body?.data as { data: Record<string, string> }).data.password).toBe(plaintext);

      const dump = pg.psql(`SELECT key || ' ' || encode(value, 'hex') FROM srv_t`);
      expect(dump).toContain("core/keyring");
      expect(dump).not.toContain(Buffer.from(plaintext).toString("hex"));
    } finally {
      await server.stop();
    }
    const log = lines.join("\n");
    expect(log).toContain("storage: postgresql");
    expect(log).not.toContain(pg.password);
  });

  it("refuses a config without a connection URL, and a second server on a table without ha_enabled", async () => {
    await expect(freshServer({ type: "postgresql" })).rejects.toThrow(ConfigError);
    const first = await freshServer({ type: "postgresql", connectionUrl: pg.url, table: "single_srv" });
    try {
      await expect(freshServer({ type: "postgresql", connectionUrl: pg.url, table: "single_srv" })).rejects.toThrow(/ha_enabled/);
    } finally {
      await first.stop();
    }
  });
});
