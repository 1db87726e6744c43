// Retry / login policy of HsmToken, driven through a fake of the narrow P11 interface (the happy paths run
// against real SoftHSM elsewhere; these cover failures SoftHSM cannot be made to produce on demand).
import { describe, expect, it } from "vitest";
import { CKR, ckrName, HsmPinError, HsmUnavailableError } from "./errors.js";
import { Pkcs11Module, type P11 } from "./module.js";
import { HsmToken } from "./token.js";

function p11err(code: number): Error & { code: number } {
  return Object.assign(new Error(ckrName(code)), { code });
}

const CKF_TOKEN_INITIALIZED = 0x400;

class FakeP11 {
  calls: string[] = [];
  loginError: number | undefined;
  signErrors: number[] = [];
  private nextSession = 1;
  C_Initialize(): void {}
  C_GetSlotList(): Buffer[] {
    this.calls.push("C_GetSlotList");
    return [Buffer.from([1]), Buffer.from([2])];
  }
  C_GetTokenInfo(slot: Buffer) {
    if (slot[0] === 1) throw p11err(CKR.GENERAL_ERROR); // a broken slot must not hide the others
    return { label: "tok".padEnd(32), serialNumber: "S1".padEnd(16), manufacturerID: "fake", model: "m", flags: CKF_TOKEN_INITIALIZED };
  }
  C_OpenSession(): Buffer {
    this.calls.push("C_OpenSession");
    return Buffer.from([this.nextSession++]);
  }
  C_CloseSession(): void {
    this.calls.push("C_CloseSession");
  }
  C_Login(_s: Buffer, _u: number, _pin: string): void {
    this.calls.push("C_Login");
    if (this.loginError !== undefined) throw p11err(this.loginError);
  }
  async C_SignAsync(): Promise<Buffer> {
    this.calls.push("C_Sign");
    const e = this.signErrors.shift();
    if (e !== undefined) throw p11err(e);
    return Buffer.from("sig");
  }
  count(name: string): number {
    return this.calls.filter((c) => c === name).length;
  }
}

function setup(opts: { attempts?: number } = {}) {
  const fake = new FakeP11();
  // The fake implements only what these tests call; the cast is the narrow-interface seam.
  const module = new Pkcs11Module("/fake/lib.so", fake as unknown as P11);
  const token = new HsmToken({
    module,
    selector: { label: "tok" },
    pin: () => "1234",
    maxSessions: 2,
    reconnect: { attempts: opts.attempts ?? 3, baseDelayMs: 1, maxDelayMs: 2 },
  });
  const sign = (idempotent = true) => token.run((ctx) => ctx.callAsync("C_Sign", () => fake.C_SignAsync()), { idempotent });
  return { fake, token, sign };
}

describe("HsmToken policy", () => {
  it("logs in once for many concurrent operations", async () => {
    const { fake, sign } = setup();
    await Promise.all(Array.from({ length: 20 }, () => sign()));
    expect(fake.count("C_Login")).toBe(1);
    expect(fake.count("C_OpenSession")).toBeLessThanOrEqual(2);
  });

  it("CKR_USER_ALREADY_LOGGED_IN counts as logged in", async () => {
    const { fake, sign } = setup();
    fake.loginError = CKR.USER_ALREADY_LOGGED_IN;
    await expect(sign()).resolves.toEqual(Buffer.from("sig"));
  });

  it.each([CKR.PIN_INCORRECT, CKR.PIN_LOCKED, CKR.PIN_EXPIRED])("PIN error 0x%s: one C_Login, latched, never retried", async (code) => {
    const { fake, token, sign } = setup();
    fake.loginError = code;
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => sign()));
    for (const r of results) expect(r.status === "rejected" && r.reason instanceof HsmPinError).toBe(true);
    await expect(sign()).rejects.toBeInstanceOf(HsmPinError);
    await expect(token.connect()).rejects.toBeInstanceOf(HsmPinError);
    expect(fake.count("C_Login")).toBe(1);
  });

  it("a device error reconnects (re-find, re-login) and re-runs an idempotent call", async () => {
    const { fake, token, sign } = setup();
    await sign();
    fake.signErrors = [CKR.DEVICE_REMOVED, CKR.SESSION_HANDLE_INVALID];
    await expect(sign()).resolves.toEqual(Buffer.from("sig"));
    expect(fake.count("C_Login")).toBe(3);
    expect(fake.count("C_GetSlotList")).toBe(3);
    expect(token.connects).toBe(3);
  });

  it("gives up with HsmUnavailableError after the configured attempts", async () => {
    const { fake, token, sign } = setup({ attempts: 2 });
    fake.signErrors = [CKR.DEVICE_ERROR, CKR.DEVICE_ERROR, CKR.DEVICE_ERROR, CKR.DEVICE_ERROR];
    await expect(sign()).rejects.toBeInstanceOf(HsmUnavailableError);
    expect(fake.count("C_Sign")).toBe(3);
    expect(token.connectAttempts).toBe(3);
  });

  it("does not re-run a non-idempotent call, but the next call reconnects", async () => {
    const { fake, sign } = setup();
    fake.signErrors = [CKR.DEVICE_REMOVED];
    await expect(sign(false)).rejects.toBeInstanceOf(HsmUnavailableError);
    expect(fake.count("C_Sign")).toBe(1);
    await expect(sign(false)).resolves.toEqual(Buffer.from("sig"));
    expect(fake.count("C_Login")).toBe(2);
  });

  it("a wrong PIN during a reconnect is final too", async () => {
    const { fake, sign } = setup();
    await sign();
    fake.signErrors = [CKR.TOKEN_NOT_PRESENT];
    fake.loginError = CKR.PIN_INCORRECT;
    await expect(sign()).rejects.toBeInstanceOf(HsmPinError);
    await expect(sign()).rejects.toBeInstanceOf(HsmPinError);
    expect(fake.count("C_Login")).toBe(2);
  });
});
