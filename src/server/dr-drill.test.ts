// The disaster-recovery drill (issue 18), runnable alone: `npx vitest run src/server/dr-drill.test.ts`.
//
// Primary site: PostgreSQL + two Arca servers (HA) under write load. DR site: a physical standby fed by
// streaming replication (pg_basebackup -R), synchronous, so a commit is acknowledged only once the standby
// has it. The drill loses the primary site at once (PostgreSQL stopped -m immediate, Arca gone), promotes
// the standby, starts Arca there (auto-unsealed by the HSM when SoftHSM is installed, else unsealed with
// the Shamir key) and checks every acknowledged write. It prints RPO (acknowledged writes missing) and RTO
// (primary lost → DR Arca serving).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { postgresAvailable, POSTGRES_SKIP_REASON, startPgCluster, type PgCluster } from "../../test/postgres.js";
import { api } from "../../test/servers.js";
import { eventually, pkcs11SealBlock, sealedConfig, startSealed } from "../../test/hsm-servers.js";
import { createSoftHsmToken, softHsmAvailable } from "../../test/softhsm.js";
import type { RunningServer } from "./server.js";
import type { ServerConfig } from "./config.js";

const available = postgresAvailable();
if (!available) console.warn(POSTGRES_SKIP_REASON);
const withHsm = softHsmAvailable();

describe.skipIf(!available)("disaster-recovery drill: PostgreSQL standby promoted, Arca started on it", () => {
  const clusters: PgCluster[] = [];
  const servers: RunningServer[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    for (const c of clusters) c.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("keeps every acknowledged write and reports RPO and RTO", async () => {
    const primary = await startPgCluster({ durable: true });
    clusters.push(primary);
    const standby = await startPgCluster({ durable: true, standbyOf: primary });
    clusters.push(standby);
    primary.psql("ALTER SYSTEM SET synchronous_standby_names = '*'");
    primary.psql("SELECT pg_reload_conf()");
    await eventually(async () => primary.psql("SELECT sync_state FROM pg_stat_replication").trim() === "sync", 20_000);

    const token = withHsm ? createSoftHsmToken({ label: "dr-seal" }) : undefined;
    const config = (cluster: PgCluster): ServerConfig => {
      const dir = mkdtempSync(join(tmpdir(), "arca-dr-"));
      dirs.push(dir);
      return { ...sealedConfig(dir, token ? [pkcs11SealBlock(token)] : []), storage: { type: "postgresql", connectionUrl: cluster.url, table: "dr_t", haEnabled: true } };
    };
    const start = async (cluster: PgCluster): Promise<RunningServer> => {
      const s = await startSealed(config(cluster));
      servers.push(s);
      return s;
    };

    const a = await start(primary);
    const init = await api(a.url, "PUT", "sys/init", { body: token ? { recovery_shares: 1, recovery_threshold: 1 } : { secret_shares: 1, secret_threshold: 1 } });
    const { root_token: root, keys_base64: keys } = init.body as { root_token: string; keys_base64: string[] };
    // Started once the storage is initialised, so an HSM seal unseals it at start.
    const b = await start(primary);
    for (const s of token ? [] : [a, b]) await api(s.url, "PUT", "sys/unseal", { body: { key: keys[0] } });
    for (const s of [a, b]) expect((await api(s.url, "GET", "sys/seal-status")).body?.sealed).toBe(false);
    expect((await api(a.url, "POST", "sys/mounts/kv", { token: root, body: { type: "kv", options: { version: "1" } } })).status).toBe(204);

    // Write load through both primary-site servers until the disaster.
    const acknowledged: string[] = [];
    let disaster = false;
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; !disaster; i++) {
        const target = (w + i) % 2 === 0 ? a : b;
        const key = `w${w}-${i}`;
        try {
          const r = await api(target.url, "PUT", `kv/${key}`, { token: root, body: { v: key } });
          if (r.status === 204) acknowledged.push(key);
        } catch {
          // the site is going down
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    await new Promise((r) => setTimeout(r, 2000));

    // The primary site is lost at once.
    const lostAt = Date.now();
    disaster = true;
    primary.stop();
    await Promise.all(writers);
    for (const s of [a, b]) {
      await s.stop().catch(() => undefined);
      servers.splice(servers.indexOf(s), 1);
    }

    // DR site: promote the standby, start Arca on it, unseal.
    standby.promote();
    const dr = await start(standby);
    if (!token) await api(dr.url, "PUT", "sys/unseal", { body: { key: keys[0] } });
    await eventually(async () => (await api(dr.url, "GET", "sys/health")).status === 200, 30_000);
    const rto = Date.now() - lostAt;

    const missing: string[] = [];
    for (const key of acknowledged) {
      const r = await api(dr.url, "GET", `kv/${key}`, { token: root });
      if ((r.body?.data as { v?: string } | undefined)?.v !== key) missing.push(key);
    }
    // The DR site takes writes.
    expect((await api(dr.url, "PUT", "kv/after-failover", { token: root, body: { v: "ok" } })).status).toBe(204);
    console.log(
      `DR drill (${token ? "HSM auto-unseal" : "Shamir unseal"}): ${acknowledged.length} writes acknowledged on the primary site; ` +
        `RPO ${missing.length} acknowledged writes lost; RTO ${rto} ms (primary lost → DR Arca serving, including promotion)`,
    );
    expect(missing).toEqual([]);
  }, 180_000);
});
