import { describe, expect, it } from "vitest";
import { ArcaError } from "../../common/errors.js";
import {
  mergePatch,
  parseCas,
  parseCustomMetadata,
  parseVersions,
  serialiseData,
  subkeys,
  validateCustomMetadata,
  validatePath,
} from "./kv-input.js";
import { formatNs, nowNs, parseNs } from "./kv-time.js";

function errorOf(fn: () => unknown): ArcaError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ArcaError) return err;
    throw err;
  }
  throw new Error("expected an ArcaError");
}

describe("mergePatch (RFC 7386)", () => {
  it("merges objects recursively, null removes, arrays and scalars replace", () => {
    const target = { a: 1, b: { c: 2, d: 3 }, list: [1, 2], gone: "x" };
    const patch = { b: { c: null, e: 4 }, list: [3], gone: null, n: { deep: true } };
    expect(mergePatch(target, patch)).toEqual({ a: 1, b: { d: 3, e: 4 }, list: [3], n: { deep: true } });
    expect(target).toEqual({ a: 1, b: { c: 2, d: 3 }, list: [1, 2], gone: "x" }); // not mutated
  });

  it("follows the RFC's examples for non-object values", () => {
    expect(mergePatch({ a: "b" }, { a: ["c"] })).toEqual({ a: ["c"] });
    expect(mergePatch({ a: [{ b: "c" }] }, { a: [1] })).toEqual({ a: [1] });
    expect(mergePatch(["a", "b"], ["c", "d"])).toEqual(["c", "d"]);
    expect(mergePatch({ a: "foo" }, "bar")).toBe("bar");
    expect(mergePatch({ e: null }, { a: 1 })).toEqual({ e: null, a: 1 });
    expect(mergePatch([1, 2], { a: "b", c: null })).toEqual({ a: "b" });
    expect(mergePatch({}, { a: { bb: { ccc: null } } })).toEqual({ a: { bb: {} } });
  });

  it("keeps a __proto__ key as data instead of touching prototypes", () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    const out = mergePatch({}, patch) as Record<string, unknown>;
    expect(Object.hasOwn(out, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(out)).toBe('{"__proto__":{"polluted":true}}');
  });
});

describe("subkeys", () => {
  const data = { foo: "abc", bar: { baz: "def", deep: { x: 1 } }, quux: {}, arr: [1, 2] };
  it("replaces leaves (and empty objects) by null", () => {
    expect(subkeys(data, 0)).toEqual({ foo: null, bar: { baz: null, deep: { x: null } }, quux: null, arr: null });
  });
  it("cuts at the requested depth", () => {
    expect(subkeys(data, 1)).toEqual({ foo: null, bar: null, quux: null, arr: null });
    expect(subkeys(data, 2)).toEqual({ foo: null, bar: { baz: null, deep: null }, quux: null, arr: null });
  });
});

describe("input parsing", () => {
  it("parses versions like TypeCommaIntSlice", () => {
    expect(parseVersions([1, "2"])).toEqual([1, 2]);
    expect(parseVersions("1, 2,3")).toEqual([1, 2, 3]);
    expect(parseVersions(4)).toEqual([4]);
    expect(parseVersions(undefined)).toEqual([]);
    expect(errorOf(() => parseVersions("a,b")).status).toBe(400);
    expect(errorOf(() => parseVersions([{}])).status).toBe(400);
    expect(errorOf(() => parseVersions(1.5)).status).toBe(400);
  });

  it("decodes cas weakly, as Go's mapstructure does", () => {
    expect(parseCas(3)).toBe(3);
    expect(parseCas("3")).toBe(3);
    expect(parseCas("")).toBe(0);
    expect(parseCas(null)).toBe(0);
    expect(parseCas(true)).toBe(1);
    expect(parseCas(2.9)).toBe(2);
    expect(errorOf(() => parseCas("x")).message).toBe("error parsing check-and-set parameter");
    expect(errorOf(() => parseCas({})).message).toBe("error parsing check-and-set parameter");
  });

  it("validates paths", () => {
    expect(validatePath("a/b")).toBe("a/b");
    expect(validatePath("a/b/", { list: true })).toBe("a/b");
    expect(validatePath("", { list: true })).toBe("");
    for (const bad of ["a//b", "a/../b", "..", "./a", "a/", "a\0b", "x".repeat(1025)]) {
      expect(errorOf(() => validatePath(bad)).status, bad).toBe(400);
    }
    expect(validatePath("é".repeat(512))).toHaveLength(512); // exactly 1024 bytes
    expect(errorOf(() => validatePath("é".repeat(513))).status).toBe(400);
  });

  it("accepts only JSON objects as secret data, up to 512 KiB", () => {
    expect(serialiseData({ a: 1 }).toString()).toBe('{"a":1}');
    for (const bad of ["str", [1], 3, true, null]) expect(errorOf(() => serialiseData(bad)).status).toBe(400);
    const big = { blob: "x".repeat(512 * 1024) };
    const err = errorOf(() => serialiseData(big));
    expect(err.status).toBe(413);
    expect(err.kind).toBe("payload_too_large");
  });

  it("checks custom_metadata against Vault's limits with OpenBao's messages", () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"]));
    expect(errorOf(() => validateCustomMetadata(many)).message).toBe(
      "1 error occurred:\n\t* custom_metadata validation failed: payload must contain at most 64 keys, provided 65\n\n",
    );
    const atLimit = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, "v"]));
    expect(() => validateCustomMetadata(atLimit)).not.toThrow();
    expect(() => validateCustomMetadata({ ["k".repeat(128)]: "v".repeat(512) })).not.toThrow();
    const twoErrors = errorOf(() => validateCustomMetadata({ ["k".repeat(129)]: "v".repeat(513) }));
    expect(twoErrors.message).toMatch(/^2 errors occurred:\n\t\* custom_metadata validation failed: length of key "k+" is 129 but must be 0 < len\(key\) <= 128\n/);
    expect(twoErrors.message).toContain("is 513 but must be 0 < len(value) <= 512");
    expect(errorOf(() => validateCustomMetadata({ a: "" })).message).toContain('length of value for key "a" is 0');
    expect(errorOf(() => validateCustomMetadata({ a: "line\nbreak" })).message).toContain('value for key "a" contains unprintable characters');
    expect(parseCustomMetadata({ n: 1, b: true, s: "x" }, false)).toEqual({ n: "1", b: "1", s: "x" });
    expect(parseCustomMetadata({ gone: null }, true)).toEqual({ gone: null });
    expect(errorOf(() => parseCustomMetadata({ o: {} }, false)).status).toBe(400);
    expect(errorOf(() => parseCustomMetadata([1], false)).status).toBe(400);
  });
});

describe("timestamps", () => {
  it("formats like Go's RFC3339Nano (UTC, trailing zeros trimmed)", () => {
    expect(formatNs(1704067200123456789n)).toBe("2024-01-01T00:00:00.123456789Z");
    expect(formatNs(1704067200500000000n)).toBe("2024-01-01T00:00:00.5Z");
    expect(formatNs(1704067200000000000n)).toBe("2024-01-01T00:00:00Z");
  });
  it("parses its own output back to the nanosecond", () => {
    for (const ns of [1704067200123456789n, 1704067200500000000n, 1704067200000000000n, nowNs()]) expect(parseNs(formatNs(ns))).toBe(ns);
    expect(parseNs("")).toBeUndefined();
    expect(parseNs("2024-01-01 00:00:00Z")).toBeUndefined();
  });
  it("never goes backwards and agrees with the wall clock to the millisecond", () => {
    let prev = nowNs();
    for (let i = 0; i < 1000; i++) {
      const n = nowNs();
      expect(n > prev).toBe(true);
      prev = n;
    }
    expect(Math.abs(Number(prev / 1_000_000n) - Date.now())).toBeLessThan(1000);
  });
});
