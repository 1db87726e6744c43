// HA on PostgreSQL: two servers on one table both serve; writes, mounts, policies and keyring rotation on
// one are seen by the other; one holds background work and the other takes over when it stops.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresAvailable, POSTGRES_SKIP_REASON, startPgCluster, type PgCluster } from "../../test/postgres.js";
import { api, freshServer } from "../../test/servers.js";
import { eventually } from "../../test/hsm-servers.js";
import type { RunningServer } from "./server.js";

const available = postgresAvailable();
if (!available) console.warn(POSTGRES_SKIP_REASON);

describe.skipIf(!available)("HA: several servers on one PostgreSQL table", () => {
  let pg: PgCluster;
  let a: RunningServer;
  let b: RunningServer;
  let root: string;
  let unsealKey: string;
  const started: RunningServer[] = [];
  const start = async (): Promise<RunningServer> => {
    const s = await freshServer({ type: "postgresql", connectionUrl: pg.url, table: "ha_t", haEnabled: true });
    started.push(s);
    return s;
  };

  beforeAll(async () => {
    pg = await startPgCluster();
    a = await start();
    b = await start();
    const init = await api(a.url, "PUT", "sys/init", { body: { secret_shares: 1, secret_threshold: 1 } });
    const { keys_base64: keys, root_token: token } = init.body as { keys_base64: string[]; root_token: string };
    root = token;
    unsealKey = keys[0];
    for (const s of [a, b]) expect((await api(s.url, "PUT", "sys/unseal", { body: { key: unsealKey } })).body?.sealed).toBe(false);
    expect((await api(a.url, "POST", "sys/mounts/kv", { token: root, body: { type: "kv", options: { version: "2" } } })).status).toBe(204);
  }, 60_000);
  afterAll(async () => {
    for (const s of started) await s.stop().catch(() => undefined);
    pg?.stop();
  });

  const read = async (s: RunningServer, path: string, token = root): Promise<unknown> => {
    const r = await api(s.url, "GET", `kv/data/${path}`, { token });
    return (r.body?.data as { data?: { v?: unknown } } | undefined)?.data?.v;
  };

  it("a mount made on one server serves on the other, and writes on either are read on both", async () => {
    await eventually(async () => (await api(b.url, "PUT", "kv/data/from-b", { token: root, body: { data: { v: "b1" } } })).status === 200, 5000);
    expect(await read(a, "from-b")).toBe("b1");
    expect((await api(a.url, "PUT", "kv/data/from-a", { token: root, body: { data: { v: "a1" } } })).status).toBe(200);
    expect(await read(b, "from-a")).toBe("a1");
  });

  it("a write on one server replaces the value the other has cached (visibility latency printed)", async () => {
    const latencies: number[] = [];
    for (let i = 0; i < 100; i++) {
      await read(b, "hot"); // b caches the current value
      expect((await api(a.url, "PUT", "kv/data/hot", { token: root, body: { data: { v: `v${i}` } } })).status).toBe(200);
      const acked = performance.now();
      // Polled without pause (each poll is one HTTP read on b), for a latency resolution of one request.
      while ((await read(b, "hot")) !== `v${i}`) {
        if (performance.now() - acked > 5000) throw new Error(`v${i} never became visible on b`);
      }
      latencies.push(performance.now() - acked);
    }
    latencies.sort((x, y) => x - y);
    const p = (q: number): string => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(1);
    console.log(`HA write on A → visible on B: p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${p(1)} ms (n=${latencies.length})`);
  });

  it("requests arriving while a server reloads what unseal loads wait for it instead of failing", async () => {
    await api(a.url, "PUT", "kv/data/during-reload", { token: root, body: { data: { v: "r" } } });
    // Two overlapping reloads (a remote change can start one while another runs): they run one after the other.
    const reload = Promise.all([b.core.reloadFromStorage(), b.core.reloadFromStorage()]);
    const reads = await Promise.all(Array.from({ length: 5 }, () => api(b.url, "GET", "kv/data/during-reload", { token: root })));
    await reload;
    expect(reads.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  });

  it("a policy change on one server takes effect on the other", async () => {
    await api(a.url, "PUT", "sys/policies/acl/reader", { token: root, body: { policy: `path "kv/data/other" { capabilities = ["read"] }` } });
    const created = await api(a.url, "POST", "auth/token/create", { token: root, body: { policies: ["reader"] } });
    const token = (created.body?.auth as { client_token: string }).client_token;
    await api(a.url, "PUT", "kv/data/guarded", { token: root, body: { data: { v: "g" } } });
    expect((await api(b.url, "GET", "kv/data/guarded", { token })).status).toBe(403);
    await api(a.url, "PUT", "sys/policies/acl/reader", { token: root, body: { policy: `path "kv/data/guarded" { capabilities = ["read"] }` } });
    await eventually(async () => (await api(b.url, "GET", "kv/data/guarded", { token })).status === 200, 5000);
  });

  it("after a keyring rotation on one server, the other reads what is written with the new term", async () => {
    expect((await api(a.url, "PUT", "sys/rotate", { token: root })).status).toBe(204);
    expect((await api(a.url, "PUT", "kv/data/after-rotate", { token: root, body: { data: { v: "new-term" } } })).status).toBe(200);
    await eventually(async () => (await read(b, "after-rotate")) === "new-term", 5000);
    const terms = await Promise.all([a, b].map(async (s) => (await api(s.url, "GET", "sys/key-status", { token: root })).body?.data));
    expect((terms[0] as { term: number }).term).toBe((terms[1] as { term: number }).term);
  });

  it("sys/step-down moves background work to the other server, asked on the holder or on the other", async () => {
    const holder = async (): Promise<RunningServer | undefined> => {
      for (const s of [a, b]) if ((await api(s.url, "GET", "sys/leader")).body?.is_self === true) return s;
      return undefined;
    };
    await eventually(async () => (await holder()) !== undefined, 5000);
    const first = await holder();
    if (!first) throw new Error("no holder");
    const other = first === a ? b : a;
    expect((await api(first.url, "PUT", "sys/step-down", { token: root })).status).toBe(204);
    await eventually(async () => (await holder()) === other, 10_000);
    // Asked on the node that does not hold it (workers share one address): the holder still steps down.
    expect((await api(first.url, "PUT", "sys/step-down", { token: root })).status).toBe(204);
    await eventually(async () => (await api(other.url, "GET", "sys/leader")).body?.is_self === false, 10_000);
    // The first node left the lock alone for a while after its own step-down; then it takes it again.
    await eventually(async () => (await holder()) === first, 25_000);
  }, 60_000);

  it("one server holds background work; sys/leader and sys/ha-status say which; the other takes over when it stops", async () => {
    const leaders = await Promise.all([a, b].map(async (s) => (await api(s.url, "GET", "sys/leader")).body ?? {}));
    expect(leaders.map((l) => l.ha_enabled)).toEqual([true, true]);
    expect(leaders.filter((l) => l.is_self === true)).toHaveLength(1);
    const [active, standby] = leaders[0].is_self === true ? [a, b] : [b, a];
    await eventually(async () => (await api(standby.url, "GET", "sys/leader")).body?.leader_address === active.url, 5000);
    const status = await api(standby.url, "GET", "sys/ha-status", { token: root });
    const nodes = (status.body?.data as { nodes: Array<{ api_address: string; active_node: boolean }> }).nodes;
    expect(nodes.map((n) => [n.api_address, n.active_node]).sort()).toEqual([[a.url, a === active], [b.url, b === active]].sort());
    const stoppedAt = Date.now();
    await active.stop();
    started.splice(started.indexOf(active), 1);
    await eventually(async () => (await api(standby.url, "GET", "sys/leader")).body?.is_self === true, 5000);
    console.log(`HA takeover after the active server stopped: ${Date.now() - stoppedAt} ms`);
    // A new server takes the stopped one's place, so the other cases (in any order) have two again.
    const replacement = await start();
    expect((await api(replacement.url, "PUT", "sys/unseal", { body: { key: unsealKey } })).body?.sealed).toBe(false);
    if (active === a) a = replacement;
    else b = replacement;
  });
});

