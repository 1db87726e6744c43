import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SqliteStorage } from "../storage/sqlite.js";
import { Barrier, BarrierCorruptError, KEYRING_PATH } from "./barrier.js";
import { StorageView } from "./view.js";

async function fresh(): Promise<{ storage: SqliteStorage; barrier: Barrier; rootKey: Buffer }> {
  const storage = new SqliteStorage({ path: ":memory:" });
  const barrier = new Barrier(storage);
  const rootKey = randomBytes(32);
  await barrier.initialize(rootKey);
  return { storage, barrier, rootKey };
}

describe("barrier", () => {
  it("stores ciphertext, never the plaintext, with term and version in the header", async () => {
    const { storage, barrier } = await fresh();
    const secret = Buffer.from("correct horse battery staple");
    await barrier.put("logical/x/k", secret);
    const raw = (await storage.get("logical/x/k"))!;
    expect(raw.includes(secret)).toBe(false);
    expect(raw.readUInt32BE(0)).toBe(1);
    expect(raw[4]).toBe(2);
    expect((await barrier.get("logical/x/k"))?.equals(secret)).toBe(true);
  });

  it("binds the path: a value copied to another key does not decrypt", async () => {
    const { storage, barrier } = await fresh();
    await barrier.put("a", Buffer.from("v"));
    await storage.put("b", (await storage.get("a"))!);
    await expect(barrier.get("b")).rejects.toBeInstanceOf(BarrierCorruptError);
  });

  it("detects tampering", async () => {
    const { storage, barrier } = await fresh();
    await barrier.put("t", Buffer.from("value"));
    const raw = (await storage.get("t"))!;
    raw[raw.length - 1] ^= 1;
    await storage.put("t", raw);
    await expect(barrier.get("t")).rejects.toBeInstanceOf(BarrierCorruptError);
  });

  it("refuses everything while sealed and reopens with the root key only", async () => {
    const { barrier, rootKey } = await fresh();
    await barrier.put("k", Buffer.from("v"));
    barrier.seal();
    await expect(barrier.get("k")).rejects.toMatchObject({ status: 503 });
    await expect(barrier.unseal(randomBytes(32))).rejects.toThrow();
    expect(barrier.sealed).toBe(true);
    await barrier.unseal(rootKey);
    expect((await barrier.get("k"))?.toString()).toBe("v");
  });

  it("rotates online: new writes use the new term, old ones still decrypt, across restarts", async () => {
    const { storage, barrier, rootKey } = await fresh();
    await barrier.put("old", Buffer.from("1"));
    const status = await barrier.rotate(rootKey);
    expect(status.term).toBe(2);
    await barrier.put("new", Buffer.from("2"));
    expect((await storage.get("new"))!.readUInt32BE(0)).toBe(2);
    const reopened = new Barrier(storage);
    await reopened.unseal(rootKey);
    expect((await reopened.get("old"))?.toString()).toBe("1");
    expect((await reopened.get("new"))?.toString()).toBe("2");
  });

  it("never writes the reserved seal and keyring entries through the encrypting interface", async () => {
    const { barrier } = await fresh();
    await expect(barrier.put(KEYRING_PATH, Buffer.from("x"))).rejects.toThrow(/reserved/);
    await expect(barrier.put("core/seal/shamir", Buffer.from("x"))).rejects.toThrow(/reserved/);
  });

  it("views are chrooted to their prefix, transactions included", async () => {
    const { barrier } = await fresh();
    const view = new StorageView(barrier, "logical/m1/");
    await view.put("a", Buffer.from("1"));
    await view.transaction(async (tx) => tx.put("b", Buffer.from("2")));
    expect(await barrier.list("logical/m1/")).toEqual(["a", "b"]);
    expect(await view.list("")).toEqual(["a", "b"]);
    await view.clear();
    expect(await barrier.list("logical/")).toEqual([]);
  });
});

describe("barrier read cache", () => {
  it("never serves a value older than the last acknowledged write", async () => {
    const { barrier } = await fresh();
    await barrier.put("c/k", Buffer.from("1"));
    expect((await barrier.get("c/k"))?.toString()).toBe("1"); // now cached
    await barrier.put("c/k", Buffer.from("2"));
    expect((await barrier.get("c/k"))?.toString()).toBe("2");
    await barrier.transaction(async (tx) => tx.put("c/k", Buffer.from("3")));
    expect((await barrier.get("c/k"))?.toString()).toBe("3");
    await barrier.delete("c/k");
    expect(await barrier.get("c/k")).toBeUndefined();
  });

  it("does not cache a value read while a transaction was changing it", async () => {
    // A file database: ":memory:" has a single connection, so readers would see uncommitted writes.
    const dir = mkdtempSync(join(tmpdir(), "arca-barrier-"));
    const storage = new SqliteStorage({ path: join(dir, "b.db") });
    const barrier = new Barrier(storage);
    await barrier.initialize(randomBytes(32));
    await barrier.put("r/k", Buffer.from("old"));
    let readDuring: Promise<Buffer | undefined> | undefined;
    await barrier.transaction(async (tx) => {
      await tx.put("r/k", Buffer.from("new"));
      // A reader outside the transaction sees the committed value, and must not cache it...
      readDuring = barrier.get("r/k");
      expect((await readDuring)?.toString()).toBe("old");
    });
    // ...because after the commit every reader must see the new one.
    expect((await barrier.get("r/k"))?.toString()).toBe("new");
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("hands out copies: a caller zeroing its buffer does not corrupt the cache", async () => {
    const { barrier } = await fresh();
    await barrier.put("z/k", Buffer.from("secret"));
    (await barrier.get("z/k"))!.fill(0);
    expect((await barrier.get("z/k"))?.toString()).toBe("secret");
  });

  it("forgets everything when sealed", async () => {
    const { barrier } = await fresh();
    await barrier.put("s/k", Buffer.from("v"));
    await barrier.get("s/k");
    barrier.seal();
    await expect(barrier.get("s/k")).rejects.toMatchObject({ status: 503 });
  });
});
