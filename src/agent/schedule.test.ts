import { describe, expect, it } from "vitest";
import { backoffDelay, renewalTime } from "./schedule.js";

const H = 3600_000;
const t0 = Date.UTC(2026, 0, 1);
const validity = { notBefore: new Date(t0), notAfter: new Date(t0 + 24 * H) };

describe("renewalTime", () => {
  it("defaults to 2/3 of the lifetime, moved earlier by at most 10% of it", () => {
    expect(renewalTime(validity, undefined, () => 0)).toBe(t0 + 16 * H);
    expect(renewalTime(validity, undefined, () => 0.999)).toBeGreaterThan(t0 + 16 * H - 2.4 * H);
    expect(renewalTime(validity, undefined, () => 0.999)).toBeLessThan(t0 + 16 * H);
  });

  it("honours renew_before", () => {
    expect(renewalTime(validity, 2 * 3600, () => 0)).toBe(t0 + 22 * H);
  });

  it("falls back to the default when renew_before is not shorter than the lifetime (no renewal loop)", () => {
    expect(renewalTime(validity, 48 * 3600, () => 0)).toBe(t0 + 16 * H);
  });

  it("counts from the moment of issue when the CA backdated notBefore", () => {
    // A 9 s certificate backdated by 30 s: from notBefore, 2/3 of the lifetime would be in the past.
    const v = { notBefore: new Date(t0 - 30_000), notAfter: new Date(t0 + 9_000), issuedAt: new Date(t0) };
    expect(renewalTime(v, undefined, () => 0)).toBe(t0 + 6_000);
  });
});

describe("backoffDelay", () => {
  it("doubles per failure up to the cap, with jitter in the upper half", () => {
    const b = { baseMs: 1000, maxMs: 8000 };
    expect(backoffDelay(1, b, () => 0)).toBe(500);
    expect(backoffDelay(1, b, () => 1)).toBe(1000);
    expect(backoffDelay(3, b, () => 1)).toBe(4000);
    expect(backoffDelay(10, b, () => 1)).toBe(8000);
    expect(backoffDelay(1000, b, () => 0)).toBe(4000);
  });
});
