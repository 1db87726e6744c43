// Library re-initialisation (C_Finalize + C_Initialize) to find a token that came back, driven through a fake
// that behaves like SoftHSM: it sees its tokens only as they were at C_Initialize, and hands out session
// numbers from 1 again after it. The real SoftHSM run is src/seal/hsm-runtime-loss.test.ts.
import { describe, expect, it } from "vitest";
import { CKR, ckrName, HsmUnavailableError } from "./errors.js";
import { Pkcs11Module, type P11, type ReinitPolicy } from "./module.js";
import { HsmToken } from "./token.js";

function p11err(code: number): Error & { code: number } {
  return Object.assign(new Error(ckrName(code)), { code });
}

const CKF_TOKEN_INITIALIZED = 0x400;
const LABELS = ["A", "B"];

class FakeSoftHsm {
  calls: string[] = [];
  /** Token directories on disk. */
  readonly onDisk: Record<string, boolean> = { A: true, B: true };
  /** What the library read at C_Initialize. */
  private seen: Record<string, boolean> = {};
  private initialized = false;
  readonly sessions = new Map<number, string>();
  private nextSession = 1;
  /** When set, signatures wait until `release()`. */
  hold = false;
  private held: Array<() => void> = [];
  signsInFlight = 0;
  finalizedUnderCall = false;

  C_Initialize(): void {
    if (this.initialized) throw p11err(CKR.CRYPTOKI_ALREADY_INITIALIZED);
    this.calls.push("C_Initialize");
    this.initialized = true;
    this.seen = { ...this.onDisk };
    this.nextSession = 1;
  }
  C_Finalize(): void {
    if (!this.initialized) throw p11err(CKR.CRYPTOKI_NOT_INITIALIZED);
    this.calls.push("C_Finalize");
    if (this.signsInFlight > 0) this.finalizedUnderCall = true;
    this.initialized = false;
    this.sessions.clear();
  }
  C_GetSlotList(): Buffer[] {
    this.requireInit();
    return [Buffer.from([0]), Buffer.from([1])];
  }
  C_GetTokenInfo(slot: Buffer) {
    this.requireInit();
    const label = LABELS[slot[0]];
    if (!this.seen[label] || !this.onDisk[label]) throw p11err(CKR.GENERAL_ERROR);
    return { label: label.padEnd(32), serialNumber: `S-${label}`.padEnd(16), manufacturerID: "fake", model: "m", flags: CKF_TOKEN_INITIALIZED };
  }
  C_OpenSession(slot: Buffer): Buffer {
    this.requireInit();
    const h = this.nextSession++;
    this.sessions.set(h, LABELS[slot[0]]);
    this.calls.push(`open:${LABELS[slot[0]]}:${h}`);
    return Buffer.from([h]);
  }
  C_CloseSession(h: Buffer): void {
    this.calls.push(`close:${h[0]}`);
    if (!this.sessions.delete(h[0])) throw p11err(CKR.SESSION_HANDLE_INVALID);
  }
  C_Login(): void {
    this.calls.push("C_Login");
  }
  async C_SignAsync(session: Buffer): Promise<Buffer> {
    const label = this.sessions.get(session[0]);
    if (label === undefined) throw p11err(CKR.SESSION_HANDLE_INVALID);
    if (!this.onDisk[label]) throw p11err(CKR.DEVICE_REMOVED);
    this.signsInFlight++;
    if (this.hold) await new Promise<void>((r) => this.held.push(r));
    this.signsInFlight--;
    return Buffer.from(`sig-${label}`);
  }
  release(): void {
    for (const r of this.held.splice(0)) r();
  }
  private requireInit(): void {
    if (!this.initialized) throw p11err(CKR.CRYPTOKI_NOT_INITIALIZED);
  }
}

function setup(reinit: Partial<ReinitPolicy> = { minIntervalMs: 0, maxIntervalMs: 0 }) {
  const fake = new FakeSoftHsm();
  // The fake implements only what these tests call; the cast is the narrow-interface seam.
  const module = new Pkcs11Module("/fake/libsofthsm2.so", fake as unknown as P11, reinit);
  module.initialize();
  const token = (label: string) =>
    new HsmToken({
      module,
      selector: { label },
      pin: () => "1234",
      maxSessions: 2,
      reconnect: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1, recoverBaseMs: 5, recoverMaxMs: 10 },
    });
  const a = token("A");
  const b = token("B");
  const sign = (t: HsmToken) => t.run((ctx) => ctx.callAsync("C_Sign", () => fake.C_SignAsync(ctx.session)));
  return { fake, module, a, b, sign };
}

async function eventually(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("PKCS#11 library re-initialisation", () => {
  it("a token whose directory came back is found after a reset; the other token reconnects too", async () => {
    const { fake, module, a, b, sign } = setup();
    await sign(a);
    fake.onDisk.B = false;
    await expect(sign(b)).rejects.toBeInstanceOf(HsmUnavailableError);
    fake.onDisk.B = true;
    // Without a reset the library would never list B again (it read its tokens at C_Initialize).
    await expect(sign(b)).resolves.toEqual(Buffer.from("sig-B"));
    expect(module.reinits).toBeGreaterThan(0);
    // A's login and sessions died with the reset: it re-finds and logs in again by itself.
    await expect(sign(a)).resolves.toEqual(Buffer.from("sig-A"));
    expect(fake.calls.filter((c) => c === "C_Login")).toHaveLength(3);
  });

  it("never finalises under a call in flight: the reset waits, and new calls wait behind it", async () => {
    const { fake, a, b, sign } = setup();
    await sign(b);
    fake.onDisk.B = false;
    fake.hold = true;
    const inFlight = sign(a);
    await eventually(() => fake.signsInFlight === 1);
    const bFails = sign(b).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.calls).not.toContain("C_Finalize");
    const later = sign(a); // arrives while the reset drains: must not start before it
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.signsInFlight).toBe(1);
    fake.release();
    await expect(inFlight).resolves.toEqual(Buffer.from("sig-A"));
    expect(await bFails).toBeInstanceOf(HsmUnavailableError);
    expect(fake.calls).toContain("C_Finalize");
    expect(fake.finalizedUnderCall).toBe(false);
    fake.hold = false;
    fake.release();
    // The waiting call found its connection void after the reset, reconnected and ran on the new generation.
    await expect(later).resolves.toEqual(Buffer.from("sig-A"));
  });

  it("sessions of the old generation are abandoned, not closed: their numbers belong to other tokens now", async () => {
    const { fake, a, b, sign } = setup();
    await sign(a); // A holds session 1
    fake.onDisk.B = false;
    await expect(sign(b)).rejects.toBeInstanceOf(HsmUnavailableError);
    fake.onDisk.B = true;
    await sign(b); // after the reset B gets session 1 again
    const bSession = [...fake.sessions].find(([, label]) => label === "B")?.[0];
    expect(bSession).toBe(1);
    await sign(a); // A notices the new generation and reconnects
    expect(fake.sessions.get(1)).toBe("B");
    expect(fake.calls.slice(fake.calls.lastIndexOf("C_Finalize"))).not.toContain("close:1");
  });

  it("resets at most once per interval", async () => {
    const { fake, module, b, sign } = setup({ minIntervalMs: 60_000, maxIntervalMs: 60_000 });
    await sign(b);
    fake.onDisk.B = false;
    for (let i = 0; i < 5; i++) await expect(sign(b)).rejects.toBeInstanceOf(HsmUnavailableError);
    expect(module.reinits).toBe(1);
  });

  it("health: down once a call gives up, back up by itself when the token returns (no calls needed)", async () => {
    const { fake, b, sign } = setup();
    expect(b.health.state).toBe("unknown");
    await sign(b);
    expect(b.health.state).toBe("up");
    fake.onDisk.B = false;
    await expect(sign(b)).rejects.toBeInstanceOf(HsmUnavailableError);
    expect(b.health).toMatchObject({ state: "down" });
    expect(await b.probe()).toBe(false);
    fake.onDisk.B = true;
    await eventually(() => b.health.state === "up");
    b.close();
  });

  it("probe notices a token that went away without traffic", async () => {
    const { fake, a, sign } = setup();
    await sign(a);
    fake.onDisk.A = false;
    expect(await a.probe()).toBe(false);
    expect(a.health.state).toBe("down");
    a.close();
  });
});
