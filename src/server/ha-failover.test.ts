// HA failover with real processes: kill -9 of the server holding background work while clients write
// through both servers. Every acknowledged write must survive, and the other server must take over
// background work within 5 s. Repeated for ARCA_FAILOVER_CYCLES cycles (default 3; the figure
// was measured with 20), a new server replacing the killed one each time.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresAvailable, POSTGRES_SKIP_REASON, startPgCluster, type PgCluster } from "../../test/postgres.js";
import { startServerProcess, type ServerProcess } from "../../test/server-process.js";
import { api } from "../../test/servers.js";
import { DEFAULT_MAX_REQUEST_SIZE, type ServerConfig } from "./config.js";

const available = postgresAvailable();
if (!available) console.warn(POSTGRES_SKIP_REASON);
const CYCLES = Number(process.env.ARCA_FAILOVER_CYCLES ?? 3);

describe.skipIf(!available)("HA failover under write load (kill -9)", () => {
  let pg: PgCluster;
  let config: ServerConfig;
  let unsealKey: string;
  let root: string;
  const procs: ServerProcess[] = [];

  const start = async (): Promise<ServerProcess> => {
    const p = await startServerProcess(config);
    procs.push(p);
    if (unsealKey) expect((await api(p.url, "PUT", "sys/unseal", { body: { key: unsealKey } })).body?.sealed).toBe(false);
    return p;
  };
  const isActive = async (p: ServerProcess): Promise<boolean> => {
    try {
      return (await api(p.url, "GET", "sys/leader")).body?.is_self === true;
    } catch {
      return false;
    }
  };

  beforeAll(async () => {
    pg = await startPgCluster({ durable: true });
    config = {
      storage: { type: "postgresql", connectionUrl: pg.url, table: "failover_t", haEnabled: true },
      listeners: [{ type: "tcp", address: "127.0.0.1:0", tlsDisable: true, maxRequestSize: DEFAULT_MAX_REQUEST_SIZE }],
      ui: false,
      logLevel: "error",
      defaultLeaseTtl: 3600,
      maxLeaseTtl: 3600,
      seals: [],
      hsms: [],
      warnings: [],
    };
    const first = await start();
    const init = await api(first.url, "PUT", "sys/init", { body: { secret_shares: 1, secret_threshold: 1 } });
    ({ root_token: root } = init.body as { root_token: string });
    unsealKey = (init.body as { keys_base64: string[] }).keys_base64[0];
    expect((await api(first.url, "PUT", "sys/unseal", { body: { key: unsealKey } })).body?.sealed).toBe(false);
    expect((await api(first.url, "POST", "sys/mounts/kv", { token: root, body: { type: "kv", options: { version: "1" } } })).status).toBe(204);
    await start();
  }, 120_000);
  afterAll(async () => {
    for (const p of procs) await p.kill().catch(() => undefined);
    pg?.stop();
  });

  it(`loses no acknowledged write and hands background work over within 5 s (${CYCLES} cycles)`, async () => {
    const acknowledged = new Map<string, string>();
    let writes = 0;
    let failed = 0;
    const takeovers: number[] = [];
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const live = procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
      expect(live).toHaveLength(2);
      const flags = await Promise.all(live.map(isActive));
      expect(flags.filter(Boolean)).toHaveLength(1);
      const active = live[flags.indexOf(true)];
      const standby = live[flags.indexOf(false)];

      let stop = false;
      const writer = async (w: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          // Clients spread over both servers; a write that fails (its server killed) is not acknowledged.
          const target = (w + i) % 2 === 0 ? active : standby;
          const key = `c${cycle}-w${w}-${i}`;
          writes++;
          try {
            const r = await api(target.url, "PUT", `kv/${key}`, { token: root, body: { v: key } });
            if (r.status === 204 || r.status === 200) acknowledged.set(key, key);
            else failed++;
          } catch {
            failed++;
          }
        }
      };
      const writers = Array.from({ length: 8 }, (_, w) => writer(w));
      await new Promise((r) => setTimeout(r, 700));
      const killedAt = Date.now();
      await active.kill();
      while (!(await isActive(standby))) {
        if (Date.now() - killedAt > 5000) throw new Error(`no takeover within 5 s (cycle ${cycle})`);
        await new Promise((r) => setTimeout(r, 50));
      }
      takeovers.push(Date.now() - killedAt);
      await new Promise((r) => setTimeout(r, 300));
      stop = true;
      await Promise.all(writers);
      await start();
    }
    const survivor = procs.find((p) => p.child.exitCode === null && p.child.signalCode === null);
    let lost = 0;
    for (const [key, value] of acknowledged) {
      const r = await api(survivor!.url, "GET", `kv/${key}`, { token: root });
      if ((r.body?.data as { v?: string } | undefined)?.v !== value) lost++;
    }
    takeovers.sort((x, y) => x - y);
    console.log(
      `failover: ${CYCLES} kill -9 cycles, ${writes} writes attempted, ${acknowledged.size} acknowledged, ${failed} failed (killed server), ` +
        `${lost} acknowledged lost; takeover ms min ${takeovers[0]} median ${takeovers[Math.floor(takeovers.length / 2)]} max ${takeovers[takeovers.length - 1]}`,
    );
    expect(lost).toBe(0);
    expect(acknowledged.size).toBeGreaterThan(0);
  }, 300_000);
});
