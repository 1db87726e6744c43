import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresAvailable, POSTGRES_SKIP_REASON, startPgCluster, type PgCluster } from "../../test/postgres.js";
import { PostgresStorage, redactConnectionUrl } from "./postgres.js";
import { PG_SCHEMA_VERSION } from "./postgres-migrations.js";
import { storageConformance } from "./storage.case.js";

const available = postgresAvailable();
if (!available) console.warn(POSTGRES_SKIP_REASON);

describe.skipIf(!available)("postgresql storage", () => {
  let pg: PgCluster;
  let n = 0;
  beforeAll(async () => {
    pg = await startPgCluster();
  }, 60_000);
  afterAll(() => pg?.stop());

  // Each case gets a table of its own in the shared cluster: a fresh, empty store.
  storageConformance("postgresql", async () => PostgresStorage.open({ connectionUrl: pg.url, table: `conf_${n++}` }));

  it("creates the schema on first start, records its version, and reopens without redoing it", async () => {
    const a = await PostgresStorage.open({ connectionUrl: pg.url, table: "schema_t" });
    await a.put("k", Buffer.from("durable"));
    await a.close();
    expect(pg.psql(`SELECT version FROM schema_t_schema`).trim()).toBe(String(PG_SCHEMA_VERSION));
    const b = await PostgresStorage.open({ connectionUrl: pg.url, table: "schema_t" });
    expect((await b.get("k"))?.toString()).toBe("durable");
    await b.close();
  });

  it("refuses a schema newer than it knows", async () => {
    const a = await PostgresStorage.open({ connectionUrl: pg.url, table: "newer_t" });
    await a.close();
    pg.psql(`UPDATE newer_t_schema SET version = ${PG_SCHEMA_VERSION + 1}`);
    await expect(PostgresStorage.open({ connectionUrl: pg.url, table: "newer_t" })).rejects.toThrow(/newer than this server/);
  });

  it("without ha_enabled, a second server on the same table is refused until the first stops", async () => {
    const a = await PostgresStorage.open({ connectionUrl: pg.url, table: "single_t" });
    await expect(PostgresStorage.open({ connectionUrl: pg.url, table: "single_t" })).rejects.toThrow(/ha_enabled/);
    await a.close();
    const b = await PostgresStorage.open({ connectionUrl: pg.url, table: "single_t" });
    await b.close();
  });

  it("stores only what it is given: a value's bytes are in the table as written", async () => {
    const s = await PostgresStorage.open({ connectionUrl: pg.url, table: "bytes_t" });
    await s.put("x/y", Buffer.from([0, 1, 2, 255]));
    expect(pg.psql(`SELECT encode(value, 'hex') FROM bytes_t WHERE key = 'x/y'`).trim()).toBe("000102ff");
    await s.close();
  });

  it("lists a folder larger than one range page, and pages through it", async () => {
    const s = await PostgresStorage.open({ connectionUrl: pg.url, table: "big_t" });
    const names = Array.from({ length: 700 }, (_, i) => `k${String(i).padStart(4, "0")}`);
    await Promise.all(names.map((k) => s.put(`big/${k}`, Buffer.from("v"))));
    await s.put("big/k0300/sub", Buffer.from("v"));
    const all = await s.list("big/");
    expect(all.length).toBe(701);
    expect(all.slice(300, 303)).toEqual(["k0300", "k0300/", "k0301"]);
    expect(await s.list("big/", { after: "k0599", limit: 3 })).toEqual(["k0600", "k0601", "k0602"]);
    await s.close();
  });

  it("never puts the connection password in an error", async () => {
    const bad = pg.url.replace(pg.password, "wrong-secret-pw");
    const err = await PostgresStorage.open({ connectionUrl: bad, table: "pw_t" }).then(
      () => new Error("opened with a wrong password"),
      (e: unknown) => e as Error,
    );
    expect(err.message).toMatch(/password authentication failed/);
    expect(err.message).not.toContain("wrong-secret-pw");
    expect(redactConnectionUrl(pg.url)).not.toContain(pg.password);
    expect(redactConnectionUrl(pg.url)).toContain("redacted");
  });

  describe("change feed (HA)", () => {
    const open = (table: string): Promise<PostgresStorage> => PostgresStorage.open({ connectionUrl: pg.url, table, haEnabled: true });
    const next = (s: PostgresStorage): Promise<readonly string[] | "all"> =>
      new Promise((resolve) => {
        const stop = s.watchRemoteChanges((keys) => {
          stop();
          resolve(keys);
        });
      });

    it("tells the other servers on the table which keys committed, not the writer, and nothing rolled back", async () => {
      const a = await open("feed_t");
      const b = await open("feed_t");
      const heardByA: Array<readonly string[] | "all"> = [];
      a.watchRemoteChanges((k) => heardByA.push(k));
      try {
        const got = next(b);
        await Promise.allSettled([
          a.put("x/1", Buffer.from("1")),
          a.transaction(async (tx) => {
            await tx.put("x/2", Buffer.from("2"));
            await tx.delete("x/3");
          }),
          a.transaction(async (tx) => {
            await tx.put("x/rolled-back", Buffer.from("no"));
            throw new Error("abort");
          }),
        ]);
        expect([...((await got) as string[])].sort()).toEqual(["x/1", "x/2", "x/3"]);
        const back = next(a);
        await b.put("y", Buffer.from("from b"));
        expect(await back).toEqual(["y"]);
        expect(heardByA).toEqual([["y"]]);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it("catches up by sequence number after its connection is lost", async () => {
      const a = await open("catchup_t");
      const b = await open("catchup_t");
      const heard: string[] = [];
      b.watchRemoteChanges((keys) => {
        if (keys !== "all") heard.push(...keys);
      });
      try {
        const reconnect = b.dropFeedConnectionForTest();
        // Written while b is not listening: no notification reaches it, only the catch-up can.
        for (let i = 0; i < 5; i++) await a.put(`missed/${i}`, Buffer.from("v"));
        await new Promise((r) => setTimeout(r, 100));
        expect(heard).toEqual([]);
        reconnect();
        const deadline = Date.now() + 10_000;
        while (heard.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(heard).toEqual(["missed/0", "missed/1", "missed/2", "missed/3", "missed/4"]);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it("reports everything changed when the rows it missed were pruned", async () => {
      const a = await open("pruned_t");
      const b = await open("pruned_t");
      const heard: Array<readonly string[] | "all"> = [];
      b.watchRemoteChanges((keys) => heard.push(keys));
      try {
        const reconnect = b.dropFeedConnectionForTest();
        await a.put("p/1", Buffer.from("v"));
        await a.put("p/2", Buffer.from("v"));
        pg.psql(`DELETE FROM pruned_t_changes WHERE keys = ARRAY['p/1']`);
        reconnect();
        const deadline = Date.now() + 10_000;
        while (heard.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(heard).toEqual(["all"]);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it("lets several servers share the table when HA is on", async () => {
      const a = await open("shared_t");
      const b = await open("shared_t");
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).transaction(async (tx) => {
        const n = Number((await tx.get("ctr"))?.toString() ?? "0");
        await tx.put("ctr", Buffer.from(String(n + 1)));
      })));
      expect((await b.get("ctr"))?.toString()).toBe("20");
      await a.close();
      await b.close();
    });
  });

  it("refuses table names that are not plain identifiers", async () => {
    await expect(PostgresStorage.open({ connectionUrl: pg.url, table: 'x"; DROP TABLE y; --' })).rejects.toThrow(/plain identifier/);
  });
});
