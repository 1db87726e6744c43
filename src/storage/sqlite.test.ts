import { mkdtempSync, rmSync } from "node:fs";
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
