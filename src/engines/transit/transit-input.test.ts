import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ArcaError } from "../../common/errors.js";
import { decodeBase64, isStdBase64 } from "./transit-input.js";

/** The reference grammar: groups of four, the last one possibly "xx==" or "xxx=" (Go's StdEncoding). */
const GRAMMAR = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function accepts(s: string): boolean {
  try {
    decodeBase64("x", s);
    return true;
  } catch (err) {
    expect(err).toBeInstanceOf(ArcaError);
    expect((err as ArcaError).status).toBe(400);
    return false;
  }
}

describe("transit base64 input", () => {
  it("decodes canonical base64 of any length to the original bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => {
        const s = Buffer.from(b).toString("base64");
        expect(decodeBase64("x", s).equals(Buffer.from(b))).toBe(true);
        expect(isStdBase64(s)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("accepts exactly the strings of the reference grammar (url-safe, garbage, bad padding refused)", () => {
    const alphabet = fc.constantFrom(..."AQgw+/=-_*. Zz09".split(""));
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 24 }).map((a) => a.join("")), (s) => {
        expect(accepts(s), JSON.stringify(s)).toBe(GRAMMAR.test(s));
        if (GRAMMAR.test(s)) expect(decodeBase64("x", s).equals(Buffer.from(s, "base64"))).toBe(true);
      }),
      { numRuns: 3000 },
    );
    // non-zero padding bits are accepted, as Go's (non-strict) StdEncoding does
    expect(decodeBase64("x", "QR==")).toEqual(Buffer.from("A"));
    for (const bad of ["Q", "QQ", "QQ=", "Q===", "====", "QQ-_", "QUJD\u00e9", "QQ==QQ==", "A B="]) expect(accepts(bad), bad).toBe(false);
    // newlines are ignored, as Go's decoder does
    const long = randomBytes(200).toString("base64");
    expect(decodeBase64("x", long.replace(/(.{76})/g, "$1\n")).equals(Buffer.from(long, "base64"))).toBe(true);
    expect(() => decodeBase64("x", 42)).toThrow(/expected a string/);
  });
});
