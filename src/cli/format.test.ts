import { describe, expect, it } from "vitest";
import { banner, columns, formatQuotedList, formatValue, humanDuration, keyValueTable, mapBanner, rawField, secretTable } from "./format.js";

describe("formatValue (Go %v)", () => {
  it("renders scalars, lists, maps and nil like the Go CLI", () => {
    expect(formatValue("x")).toBe("x");
    expect(formatValue(3)).toBe("3");
    expect(formatValue(false)).toBe("false");
    expect(formatValue(null)).toBe("<nil>");
    expect(formatValue(["a", "b"])).toBe("[a b]");
    expect(formatValue({ b: 1, a: { c: [1] } })).toBe("map[a:map[c:[1]] b:1]");
    expect(formatQuotedList(["default", "root"])).toBe('["default" "root"]');
    expect(formatQuotedList(null)).toBe("[]");
  });
});

describe("humanDuration", () => {
  it.each([
    [0, "0s"],
    [45, "45s"],
    [90, "1m30s"],
    [3600, "1h"],
    [3660, "1h1m"],
    [3661, "1h1m1s"],
    [2764800, "768h"],
    [-60, "-1m"],
  ])("%d → %s", (s, want) => expect(humanDuration(s)).toBe(want));
});

describe("tables", () => {
  it("aligns columns with four spaces, underlines headers and shows empty cells as n/a", () => {
    expect(keyValueTable([["token", "abc"], ["token_accessor", ""]])).toBe(
      ["Key               Value", "---               -----", "token             abc", "token_accessor    n/a", ""].join("\n"),
    );
  });

  it("does not pad the last column", () => {
    const out = columns([["a", "b", "c"]], ["Path", "Type", "Description"]);
    for (const line of out.split("\n")) expect(line).toBe(line.trimEnd());
  });

  it("prints a secret with refresh_interval, TTL-looking fields as durations, and warnings", () => {
    const out = secretTable({ lease_duration: 2764800, data: { foo: "bar", ttl: 90, policies: ["a"] }, warnings: ["careful"] });
    expect(out).toContain("refresh_interval    768h");
    expect(out).toContain("ttl                 1m30s");
    expect(out).toContain("policies            [a]");
    expect(out).toMatch(/WARNING! .*\n\n {2}\* careful\n$/);
  });

  it("prints auth blocks like vault login", () => {
    const out = secretTable({ auth: { client_token: "hvs.x", accessor: "acc", policies: ["root"], lease_duration: 0, renewable: false, metadata: { team: "a" } } });
    expect(out).toContain('token_policies       ["root"]');
    expect(out).toContain("token_duration       ∞");
    expect(out).toContain("token_meta_team      a");
  });

  it("sizes banners like vault's padEqualSigns", () => {
    expect(banner("Secret Path", "secret/data/creds".length)).toBe("== Secret Path ==\n");
    expect(mapBanner("Metadata", { custom_metadata: 1, version: 1 })).toBe("======= Metadata =======\n");
  });

  it("prints -field values raw, with a newline only on a terminal", () => {
    expect(rawField("s3cr3t", false)).toBe("s3cr3t");
    expect(rawField("s3cr3t", true)).toBe("s3cr3t\n");
    expect(rawField(5, false)).toBe("5");
  });
});
