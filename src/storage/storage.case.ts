/**
 * The conformance suite every Storage backend must pass. Call it from the backend's own test file with
 * a factory that returns a fresh, empty store.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Storage } from "./storage.js";

export function storageConformance(name: string, make: () => Promise<Storage>): void {
  describe(`storage conformance: ${name}`, () => {
    let store: Storage | undefined;
    const open = async (): Promise<Storage> => (store = await make());
    afterEach(async () => {
      await store?.close();
      store = undefined;
    });

    it("gets what was put, and nothing after delete", async () => {
      const s = await open();
      expect(await s.get("a/b")).toBeUndefined();
      await s.put("a/b", Buffer.from("v1"));
      expect((await s.get("a/b"))?.toString()).toBe("v1");
      await s.put("a/b", Buffer.from("v2"));
      expect((await s.get("a/b"))?.toString()).toBe("v2");
      await s.delete("a/b");
      expect(await s.get("a/b")).toBeUndefined();
      await s.delete("a/b"); // deleting a missing key is not an error
    });

    it("stores binary values byte for byte", async () => {
      const s = await open();
      const v = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await s.put("bin", v);
      expect((await s.get("bin"))?.equals(v)).toBe(true);
      await s.put("empty", Buffer.alloc(0));
      expect((await s.get("empty"))?.length).toBe(0);
    });

    it("lists one level, folders once with a trailing slash, in byte order", async () => {
      const s = await open();
      for (const k of ["p/a", "p/b/1", "p/b/2", "p/c", "p/d/x/y", "q/z", "pa"]) await s.put(k, Buffer.from(k));
      expect(await s.list("p/")).toEqual(["a", "b/", "c", "d/"]);
      expect(await s.list("p/b/")).toEqual(["1", "2"]);
      expect(await s.list("")).toEqual(["p/", "pa", "q/"]);
      expect(await s.list("nothing/")).toEqual([]);
    });

    it("pages with after and limit", async () => {
      const s = await open();
      for (const k of ["l/a", "l/b/1", "l/c", "l/d", "l/e"]) await s.put(k, Buffer.from("x"));
      expect(await s.list("l/", { limit: 2 })).toEqual(["a", "b/"]);
      expect(await s.list("l/", { after: "b/", limit: 2 })).toEqual(["c", "d"]);
      expect(await s.list("l/", { after: "a" })).toEqual(["b/", "c", "d", "e"]);
      expect(await s.list("l/", { after: "bb" })).toEqual(["c", "d", "e"]);
      expect(await s.list("l/", { after: "e" })).toEqual([]);
    });

    it("commits a transaction atomically and rolls it back on error", async () => {
      const s = await open();
      await s.put("t/x", Buffer.from("0"));
      await s.transaction(async (tx) => {
        await tx.put("t/x", Buffer.from("1"));
        await tx.put("t/y", Buffer.from("1"));
        expect((await tx.get("t/x"))?.toString()).toBe("1"); // reads its own writes
        expect(await tx.list("t/")).toEqual(["x", "y"]);
      });
      expect((await s.get("t/y"))?.toString()).toBe("1");
      await expect(
        s.transaction(async (tx) => {
          await tx.put("t/x", Buffer.from("2"));
          await tx.delete("t/y");
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      expect((await s.get("t/x"))?.toString()).toBe("1");
      expect((await s.get("t/y"))?.toString()).toBe("1");
    });

    it("isolates concurrent transactions: a failing one does not undo its neighbours", async () => {
      const s = await open();
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          s.transaction(async (tx) => {
            await tx.put(`c/${i}`, Buffer.from(String(i)));
            if (i % 3 === 0) throw new Error(`fail ${i}`);
            return i;
          }),
        ),
      );
      const ok = results.filter((r) => r.status === "fulfilled").length;
      expect(ok).toBe(13);
      const keys = await s.list("c/");
      expect(keys.sort()).toEqual(Array.from({ length: 20 }, (_, i) => i).filter((i) => i % 3 !== 0).map(String).sort());
    });

    it("serialises read-modify-write transactions (no lost updates)", async () => {
      const s = await open();
      await s.put("ctr", Buffer.from("0"));
      await Promise.all(
        Array.from({ length: 50 }, () =>
          s.transaction(async (tx) => {
            const n = Number((await tx.get("ctr"))?.toString());
            await tx.put("ctr", Buffer.from(String(n + 1)));
          }),
        ),
      );
      expect((await s.get("ctr"))?.toString()).toBe("50");
    });

    it("refuses keys it cannot store faithfully", async () => {
      const s = await open();
      await expect(s.put("", Buffer.from("x"))).rejects.toThrow();
      await expect(s.put("/abs", Buffer.from("x"))).rejects.toThrow();
      await expect(s.put("nul\0key", Buffer.from("x"))).rejects.toThrow();
    });

    it("reads every entry in byte order, from one consistent state while writes go on", async () => {
      const s = await open();
      // More entries than one page of any backend, so the iteration spans several queries.
      const keys = Array.from({ length: 1200 }, (_, i) => `e/${String(i).padStart(5, "0")}`);
      await Promise.all(keys.map((k) => s.put(k, Buffer.from(k))));
      await s.put("a-first", Buffer.alloc(0));
      const seen: string[] = [];
      for await (const { key, value } of s.entries()) {
        if (seen.length === 1) {
          // Committed after the iteration started: neither the new key nor the change may show up.
          await s.put("e/99999", Buffer.from("late"));
          await s.put("e/01000", Buffer.from("changed"));
          await s.delete("e/01100");
        }
        if (key.startsWith("e/")) expect(value.toString()).toBe(key);
        seen.push(key);
      }
      expect(seen).toEqual(["a-first", ...keys]);
      expect((await s.get("e/01000"))?.toString()).toBe("changed");
      // Stopping early ends the read transaction without harm.
      for await (const entry of s.entries()) if (entry.key) break;
      await s.put("after", Buffer.from("x"));
      expect((await s.get("after"))?.toString()).toBe("x");
    });

    it("keeps unicode keys exact", async () => {
      const s = await open();
      await s.put("u/ключ", Buffer.from("1"));
      await s.put("u/鍵/x", Buffer.from("2"));
      expect(await s.list("u/")).toEqual(["ключ", "鍵/"]);
      expect((await s.get("u/ключ"))?.toString()).toBe("1");
    });
  });
}
