// Several seals, recovery keys and migration, with in-memory auto seals (no HSM) so every branch is fast.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SqliteStorage } from "../storage/sqlite.js";
import { SealManager } from "./seal-manager.js";
import { wrappedRecoveryKeyPath, wrappedRootKeyPath, type AutoSeal, type ConfiguredSeal } from "./seal.js";

class PinError extends Error {}

/** AES-GCM in memory; `down` makes it fail like an HSM that went away, `pinWrong` like a wrong PIN. */
class FakeSeal implements AutoSeal {
  readonly type = "pkcs11";
  down = false;
  pinWrong = false;
  unwraps = 0;
  private readonly key = randomBytes(32);
  constructor(readonly name: string) {}
  private check(): void {
    if (this.pinWrong) throw new PinError("C_Login: CKR_PIN_INCORRECT");
    if (this.down) throw new Error(`token of ${this.name} not present`);
  }
  async wrap(pt: Buffer, aad: Buffer): Promise<Buffer> {
    this.check();
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", this.key, iv).setAAD(aad);
    return Buffer.concat([iv, c.update(pt), c.final(), c.getAuthTag()]);
  }
  async unwrap(blob: Buffer, aad: Buffer): Promise<Buffer> {
    this.check();
    this.unwraps++;
    const d = createDecipheriv("aes-256-gcm", this.key, blob.subarray(0, 12)).setAAD(aad);
    d.setAuthTag(blob.subarray(blob.length - 16));
    return Buffer.concat([d.update(blob.subarray(12, blob.length - 16)), d.final()]);
  }
  isFinalError(err: unknown): boolean {
    return err instanceof PinError;
  }
}

const auto = (s: FakeSeal, disabled = false): ConfiguredSeal => ({ name: s.name, type: s.type, disabled, auto: s });
const shamir = (disabled = false): ConfiguredSeal => ({ name: "shamir", type: "shamir", disabled });

describe("seal manager with auto seals", () => {
  it("init gives recovery shares, refuses secret_shares, and any one seal unwraps", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const a = new FakeSeal("hsm-a");
    const b = new FakeSeal("hsm-b");
    const m = new SealManager(storage, [auto(a), auto(b)]);
    await expect(m.initialize({ secretShares: 3, secretThreshold: 2 })).rejects.toThrow(
      "parameters secret_shares,secret_threshold not applicable to seal type pkcs11",
    );
    const init = await m.initialize({ secretShares: 0, secretThreshold: 0, recoveryShares: 3, recoveryThreshold: 2 });
    expect(init.auto).toBe(true);
    expect(init.keys).toEqual([]);
    expect(init.recoveryKeys).toHaveLength(3);
    expect(await storage.get(wrappedRecoveryKeyPath("hsm-a"))).toBeDefined();
    const root = Buffer.from(init.rootKey);

    a.down = true;
    const m2 = new SealManager(storage, [auto(a), auto(b)]);
    const out = await m2.autoUnseal();
    expect(out.rootKey?.equals(root)).toBe(true);
    const report = m2.healthReport();
    expect(report.find((h) => h.name === "hsm-a")).toMatchObject({ healthy: false });
    expect(report.find((h) => h.name === "hsm-b")).toMatchObject({ healthy: true });
    expect(m2.warnings(false).join()).toMatch(/seal "hsm-a" \(pkcs11\) is unhealthy: token of hsm-a not present/);

    // Back again: its copy is checked (and re-written if needed), and the warning goes away.
    a.down = false;
    await storage.delete(wrappedRootKeyPath("hsm-a"));
    await m2.checkSeals(root);
    expect(m2.warnings(false)).toEqual([]);
    a.down = false;
    b.down = true;
    const m3 = new SealManager(storage, [auto(a), auto(b)]);
    expect((await m3.autoUnseal()).rootKey?.equals(root)).toBe(true);
  });

  it("a new seal added to the config gets its copy (and the recovery key) once unsealed", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const a = new FakeSeal("a");
    const m = new SealManager(storage, [auto(a)]);
    const { rootKey } = await m.initialize({ secretShares: 0, secretThreshold: 0, recoveryShares: 1, recoveryThreshold: 1 });
    const b = new FakeSeal("b");
    const m2 = new SealManager(storage, [auto(a), auto(b)]);
    const out = await m2.autoUnseal();
    expect(m2.migration).toBe(false);
    await m2.checkSeals(out.rootKey ?? Buffer.alloc(0));
    expect(await storage.get(wrappedRootKeyPath("b"))).toBeDefined();
    expect(await storage.get(wrappedRecoveryKeyPath("b"))).toBeDefined();
    a.down = true;
    expect((await new SealManager(storage, [auto(a), auto(b)]).autoUnseal()).rootKey?.equals(rootKey)).toBe(true);
  });

  it("a seal removed from the config has its copies deleted once a remaining seal works, so it no longer unseals", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const a = new FakeSeal("old");
    const b = new FakeSeal("new");
    const { rootKey } = await new SealManager(storage, [auto(a), auto(b)]).initialize({ secretShares: 0, secretThreshold: 0, recoveryShares: 1, recoveryThreshold: 1 });
    // "old" leaves the configuration while its HSM is away from the remaining seal: nothing is deleted yet.
    b.down = true;
    const withoutOld = new SealManager(storage, [auto(b)]);
    await withoutOld.loadConfig();
    await withoutOld.checkSeals(rootKey);
    expect(await storage.get(wrappedRootKeyPath("old"))).toBeDefined();
    // With the remaining seal working, the retired seal's copies go, and it is said why.
    b.down = false;
    await withoutOld.checkSeals(rootKey);
    expect(await storage.get(wrappedRootKeyPath("old"))).toBeUndefined();
    expect(await storage.get(wrappedRecoveryKeyPath("old"))).toBeUndefined();
    expect(withoutOld.warnings(false).join()).toMatch(/seal "old" is no longer configured/);
    // A server given only the old seal cannot unseal any more.
    expect((await new SealManager(storage, [auto(a)]).autoUnseal()).rootKey).toBeUndefined();
    expect((await new SealManager(storage, [auto(b)]).autoUnseal()).rootKey?.equals(rootKey)).toBe(true);
  });

  it("recovery shares unseal after a manual seal (through the auto seal) and wrong ones are refused", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const a = new FakeSeal("a");
    const m = new SealManager(storage, [auto(a)]);
    const init = await m.initialize({ secretShares: 0, secretThreshold: 0, recoveryShares: 3, recoveryThreshold: 2 });
    const root = Buffer.from(init.rootKey);
    expect(await m.submitShare(init.recoveryKeys[2])).toBeUndefined();
    expect((await m.submitShare(init.recoveryKeys[0]))?.equals(root)).toBe(true);
    const other = await new SealManager(new SqliteStorage({ path: ":memory:" }), [auto(new FakeSeal("x"))]).initialize({
      secretShares: 0,
      secretThreshold: 0,
      recoveryShares: 3,
      recoveryThreshold: 2,
    });
    await m.submitShare(other.recoveryKeys[0]);
    await expect(m.submitShare(other.recoveryKeys[1])).rejects.toMatchObject({ status: 400 });
    // Recovery keys alone never unseal: with the HSM away they are refused as unavailable, not accepted.
    a.down = true;
    await m.submitShare(init.recoveryKeys[0]);
    await expect(m.submitShare(init.recoveryKeys[1])).rejects.toMatchObject({ status: 503 });
  });

  it("HSM + Shamir: the recovery shares are the Shamir seal's unseal shares (break glass without the HSM)", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const a = new FakeSeal("a");
    const m = new SealManager(storage, [auto(a), shamir()]);
    const init = await m.initialize({ secretShares: 0, secretThreshold: 0, recoveryShares: 2, recoveryThreshold: 2 });
    a.down = true;
    const m2 = new SealManager(storage, [auto(a), shamir()]);
    const out = await m2.autoUnseal();
    expect(out.rootKey).toBeUndefined();
    await m2.submitShare(init.recoveryKeys[0]);
    expect((await m2.submitShare(init.recoveryKeys[1]))?.equals(init.rootKey)).toBe(true);
  });

  it("a wrong PIN is final: no retry is asked for", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const a = new FakeSeal("a");
    await new SealManager(storage, [auto(a)]).initialize({ secretShares: 0, secretThreshold: 0, recoveryShares: 1, recoveryThreshold: 1 });
    a.pinWrong = true;
    const m = new SealManager(storage, [auto(a)]);
    const out = await m.autoUnseal();
    expect(out).toMatchObject({ retry: false });
    expect(m.warnings(true).join()).toMatch(/CKR_PIN_INCORRECT.*not retried/);
    a.pinWrong = false;
    a.down = true;
    expect(await new SealManager(storage, [auto(a)]).autoUnseal()).toMatchObject({ retry: true });
  });

  it("migrates Shamir → auto → Shamir with the same shares and the same root key", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const init = await new SealManager(storage).initialize({ secretShares: 3, secretThreshold: 2 });
    const root = Buffer.from(init.rootKey);
    const a = new FakeSeal("hsm");

    // Shamir → pkcs11: add the seal block; unseal shares (with migrate) become recovery shares.
    const toAuto = new SealManager(storage, [auto(a)]);
    await toAuto.loadConfig();
    expect(toAuto.migration).toBe(true);
    expect(await toAuto.autoUnseal()).toMatchObject({ retry: false });
    await expect(toAuto.submitShare(init.keys[0])).rejects.toThrow(/migrate=true/);
    await toAuto.submitShare(init.keys[0], { migrate: true });
    expect((await toAuto.submitShare(init.keys[1], { migrate: true }))?.equals(root)).toBe(true);
    expect(toAuto.sealConfig).toMatchObject({ type: "pkcs11", recovery_shares: 3, recovery_threshold: 2 });
    expect(await storage.get(wrappedRootKeyPath("shamir"))).toBeUndefined();
    expect((await new SealManager(storage, [auto(a)]).autoUnseal()).rootKey?.equals(root)).toBe(true);

    // pkcs11 → Shamir: mark the seal disabled; recovery shares (with migrate) become unseal shares.
    const toShamir = new SealManager(storage, [auto(a, true)]);
    await toShamir.loadConfig();
    expect(toShamir.migration).toBe(true);
    await toShamir.submitShare(init.keys[2], { migrate: true });
    expect((await toShamir.submitShare(init.keys[1], { migrate: true }))?.equals(root)).toBe(true);
    expect(toShamir.sealConfig).toMatchObject({ type: "shamir", secret_shares: 3, secret_threshold: 2 });
    expect(await storage.get(wrappedRootKeyPath("hsm"))).toBeUndefined();
    expect(await storage.get(wrappedRecoveryKeyPath("hsm"))).toBeUndefined();
    const back = new SealManager(storage);
    await back.loadConfig();
    expect(back.migration).toBe(false);
    await back.submitShare(init.keys[0]);
    expect((await back.submitShare(init.keys[2]))?.equals(root)).toBe(true);
  });
});
