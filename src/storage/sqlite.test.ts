import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteStorage } from "./sqlite.js";
import { storageConformance } from "./storage.case.js";

const dir = mkdtempSync(join(tmpdir(), "arca-sqlite-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

storageConformance("sqlite", async () => new SqliteStorage({ path: join(dir, `db-${n++}.sqlite`) }));

describe("sqlite storage", () => {
  it("survives reopening: acknowledged writes are on disk", async () => {
    const path = join(dir, "reopen.sqlite");
    const a = new SqliteStorage({ path });
    await a.put("k", Buffer.from("durable"));
    await a.close();
    const b = new SqliteStorage({ path });
    expect((await b.get("k"))?.toString()).toBe("durable");
    await b.close();
  });

  it("keeps the database, -wal and -shm files private (0600) in an existing directory", async () => {
    const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);
    const fresh = join(dir, "private.sqlite");
    const s = new SqliteStorage({ path: fresh });
    await s.put("k", Buffer.from("v"));
    expect([mode(fresh), mode(`${fresh}-wal`), mode(`${fresh}-shm`)]).toEqual(["600", "600", "600"]);
    await s.close();

    // Files left readable by an earlier version (or an operator) are tightened on open.
    const old = join(dir, "old.sqlite");
    for (const f of [old, `${old}-wal`, `${old}-shm`]) writeFileSync(f, "");
    for (const f of [old, `${old}-wal`, `${old}-shm`]) chmodSync(f, 0o644);
    const t = new SqliteStorage({ path: old });
    await t.put("k", Buffer.from("v"));
    expect([mode(old), mode(`${old}-wal`), mode(`${old}-shm`)]).toEqual(["600", "600", "600"]);
    await t.close();
  });

  it("readers never see a transaction before it commits", async () => {
    const s = new SqliteStorage({ path: join(dir, "iso.sqlite") });
    let seenInside: Buffer | undefined = Buffer.from("unset");
    await s.transaction(async (tx) => {
      await tx.put("iso", Buffer.from("x"));
      seenInside = await s.get("iso");
    });
    expect(seenInside).toBeUndefined();
    expect((await s.get("iso"))?.toString()).toBe("x");
    await s.close();
  });
});
