import { describe, expect, it } from "vitest";
import { SqliteStorage } from "../storage/sqlite.js";
import { SealManager } from "./seal-manager.js";

describe("shamir seal", () => {
  it("recovers the root key from any threshold of shares, in any order", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const seal = new SealManager(storage);
    const { rootKey, keys } = await seal.initialize({ secretShares: 5, secretThreshold: 3 });
    const expected = Buffer.from(rootKey);
    for (const pick of [[0, 1, 2], [4, 2, 0], [1, 3, 4]]) {
      let out: Buffer | undefined;
      for (const i of pick) out = await seal.submitShare(keys[i]);
      expect(out?.equals(expected)).toBe(true);
    }
  });

  it("counts a repeated share once and rejects a wrong combination with progress reset", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const seal = new SealManager(storage);
    const { keys } = await seal.initialize({ secretShares: 3, secretThreshold: 2 });
    expect(await seal.submitShare(keys[0])).toBeUndefined();
    expect(await seal.submitShare(keys[0])).toBeUndefined();
    expect(seal.progress).toBe(1);
    const forged = Buffer.from(keys[1]);
    forged[0] ^= 0xff;
    await expect(seal.submitShare(forged)).rejects.toMatchObject({ status: 400 });
    expect(seal.progress).toBe(0);
  });

  it("validates share parameters as OpenBao does", async () => {
    const seal = new SealManager(new SqliteStorage({ path: ":memory:" }));
    await expect(seal.initialize({ secretShares: 0, secretThreshold: 0 })).rejects.toThrow("shares must be at least one");
    await expect(seal.initialize({ secretShares: 3, secretThreshold: 1 })).rejects.toThrow("threshold must be greater than one");
    await expect(seal.initialize({ secretShares: 2, secretThreshold: 3 })).rejects.toThrow("threshold cannot be larger than shares");
    await expect(seal.initialize({ secretShares: 256, secretThreshold: 3 })).rejects.toThrow("less than 256");
  });
});
