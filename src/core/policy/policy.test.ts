import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CAP_BIT, parseDurationSeconds, parsePolicy, PolicyParseError, type Policy } from "./policy.js";
import { DEFAULT_POLICY_TEXT, defaultPolicy, RESPONSE_WRAPPING_POLICY_TEXT, responseWrappingPolicy } from "./builtin.js";

function rule(p: Policy, pattern: string) {
  const r = p.paths.find((x) => x.pattern === pattern);
  if (!r) throw new Error(`no rule ${pattern}`);
  return r;
}

async function parseError(text: string): Promise<PolicyParseError> {
  try {
    await parsePolicy("t", text);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyParseError);
    return err as PolicyParseError;
  }
  throw new Error("expected a PolicyParseError");
}

describe("parsePolicy", () => {
  it("parses the reference example in HCL", async () => {
    const p = await parsePolicy("Dev-Team", `
path "secret/data/+/config" { capabilities = ["read","list"] }
path "secret/*"             { capabilities = ["create","read","update","patch","delete","list","scan"] }
path "secret/super-secret"  { capabilities = ["deny"] }
path "/secret/restricted" {
  capabilities        = ["create"]
  allowed_parameters  = { "foo" = [] , "bar" = ["zip","zap"] }
  denied_parameters   = { "baz" = [] }
  required_parameters = ["foo"]
  min_wrapping_ttl = "1s"
  max_wrapping_ttl = "90s"
  expiration = "2999-01-02T15:04:05Z"
  pagination_limit = 100
  comment = "restricted"
}
`);
    expect(p.name).toBe("dev-team");
    expect(p.paths).toHaveLength(4);
    const seg = rule(p, "secret/data/+/config");
    expect(seg.hasSegmentWildcards).toBe(true);
    expect(seg.isPrefix).toBe(false);
    expect(seg.capabilities).toEqual(["read", "list"]);
    const glob = rule(p, "secret/*");
    expect(glob.isPrefix).toBe(true);
    expect(glob.path).toBe("secret/");
    expect(rule(p, "secret/super-secret").capabilitiesBitmap).toBe(CAP_BIT.deny);
    const r = rule(p, "secret/restricted");
    expect(r.allowedParameters).toEqual(new Map([["foo", []], ["bar", ["zip", "zap"]]]));
    expect(r.deniedParameters).toEqual(new Map([["baz", []]]));
    expect(r.requiredParameters).toEqual(["foo"]);
    expect(r.minWrappingTtl).toBe(1);
    expect(r.maxWrappingTtl).toBe(90);
    expect(r.expiration?.toISOString()).toBe("2999-01-02T15:04:05.000Z");
    expect(r.paginationLimit).toBe(100);
    expect(r.comment).toBe("restricted");
  });

  it("gives identical rules for HCL and JSON", async () => {
    const hcl = await parsePolicy("x", `
path "secret/foo" {
  capabilities = ["read", "update"]
  allowed_parameters = { "a" = ["x*", 1, true] }
  min_wrapping_ttl = 60
}
path "secret/+/bar*" { policy = "write" }
`);
    const json = await parsePolicy("x", JSON.stringify({
      path: {
        "secret/foo": { capabilities: ["read", "update"], allowed_parameters: { a: ["x*", 1, true] }, min_wrapping_ttl: 60 },
        "secret/+/bar*": { policy: "write" },
      },
    }));
    // hcl2json returns labelled blocks sorted by label, so compare independent of order.
    const sorted = (q: Policy) => [...q.paths].sort((a, b) => a.pattern.localeCompare(b.pattern));
    expect(sorted(json)).toEqual(sorted(hcl));
    // HCL1-JSON list form too.
    const jsonList = await parsePolicy("x", JSON.stringify({
      path: [{ "secret/foo": { capabilities: ["read", "update"], allowed_parameters: { a: ["x*", 1, true] }, min_wrapping_ttl: 60 } },
        { "secret/+/bar*": [{ policy: "write" }] }],
    }));
    expect(sorted(jsonList)).toEqual(sorted(hcl));
  });

  it.each([
    ["read", ["read", "list"]],
    ["write", ["create", "read", "update", "delete", "list"]],
    ["sudo", ["create", "read", "update", "delete", "list", "sudo"]],
    ["deny", ["deny"]],
  ])("maps legacy policy = %j", async (legacy, caps) => {
    const p = await parsePolicy("x", `path "a" {\n  policy = "${legacy}"\n}\n`);
    expect([...p.paths[0].capabilities].sort()).toEqual([...caps].sort());
  });

  it("appends legacy shorthand to explicit capabilities, but deny replaces them", async () => {
    const p = await parsePolicy("x", `path "a" {\n  capabilities = ["patch"]\n  policy = "read"\n}\npath "b" {\n  capabilities = ["read"]\n  policy = "deny"\n}\n`);
    expect(p.paths[0].capabilities).toEqual(["patch", "read", "list"]);
    expect(p.paths[1].capabilities).toEqual(["deny"]);
  });

  it("drops everything else from a deny rule", async () => {
    const p = await parsePolicy("x", `path "a" {\n  capabilities = ["read", "deny", "sudo"]\n  allowed_parameters = { x = [] }\n}\n`);
    expect(p.paths[0].capabilities).toEqual(["deny"]);
    expect(p.paths[0].allowedParameters).toBeUndefined();
  });

  it("accepts allowed_parameters written as a block", async () => {
    const p = await parsePolicy("x", `path "a" {\n  capabilities = ["create"]\n  allowed_parameters {\n    Foo = []\n  }\n}\n`);
    expect(p.paths[0].allowedParameters).toEqual(new Map([["foo", []]]));
  });

  it("marks templated paths instead of rejecting them", async () => {
    const p = await parsePolicy("x", `path "identity/entity/id/{{identity.entity.id}}" {\n  capabilities = ["read"]\n}\n`);
    expect(p.templated).toBe(true);
    expect(p.paths[0].templated).toBe(true);
  });

  it("keeps a mid-pattern * literal and strips one leading slash", async () => {
    const p = await parsePolicy("x", `path "/a*b" {\n  capabilities = ["read"]\n}\n`);
    expect(p.paths[0]).toMatchObject({ pattern: "a*b", path: "a*b", isPrefix: false, hasSegmentWildcards: false });
  });

  it("parses the built-in policies", async () => {
    const d = await defaultPolicy();
    expect(d.name).toBe("default");
    expect(d.raw).toBe(DEFAULT_POLICY_TEXT);
    expect(d.paths.map((r) => r.pattern)).toContain("sys/wrapping/unwrap");
    expect(d.templated).toBe(true);
    const rw = await responseWrappingPolicy();
    expect(rw.raw).toBe(RESPONSE_WRAPPING_POLICY_TEXT);
    expect(rw.paths).toHaveLength(2);
  });

  it.each([
    [`path "a" {\n  capabilities = ["reed"]\n}\n`, `invalid capability "reed"`],
    [`path "a" {\n  policy = "admin"\n}\n`, `invalid policy "admin"`],
    [`path "a" {\n  capabilities = ["read"]\n  colour = "blue"\n}\n`, `invalid key "colour"`],
    [`foo = 1\n`, `invalid key "foo"`],
    [`path "a+*" {\n  capabilities = ["read"]\n}\n`, `'+*' is forbidden`],
    [`path "a" {\n  capabilities = "read"\n  min_wrapping_ttl = "10x"\n}\n`, `invalid duration`],
    [`path "a" {\n  capabilities = ["read"]\n  min_wrapping_ttl = "2m"\n  max_wrapping_ttl = "1m"\n}\n`, `max_wrapping_ttl cannot be less than min_wrapping_ttl`],
    [`path "a" {\n  capabilities = ["read"]\n  expiration = "tomorrow"\n}\n`, `invalid expiration`],
    [`path "a" {\n  capabilities = ["read"]\n  list_scan_response_keys_filter_path = "x"\n}\n`, `needs to be used on a path with the list capability`],
    [`path "a" {\n  capabilities = [1]\n}\n`, `expected a list of strings`],
    [`path "a" {\n  capabilities = ["read"\n}\n`, `policy:3:1`],
    [`{"path": {"a": {"capabilities": ["read"]}}`, `policy:1:`],
    [`{"path": "a"}`, `expected a block`],
  ])("rejects %j", async (text, message) => {
    const err = await parseError(text);
    expect(err.message).toContain(message);
  });

  it("reports the line of a syntax error without echoing the source", async () => {
    const err = await parseError(`path "a" {\n  capabilities = ["read"]\n  secret = "hunter2" extra\n}\n`);
    expect(err.line).toBe(3);
    expect(err.message).not.toContain("hunter2");
  });

  it("rejects an empty name", async () => {
    await expect(parsePolicy("  ", `path "a" {}`)).rejects.toBeInstanceOf(PolicyParseError);
  });

  it("throws only PolicyParseError on arbitrary text", async () => {
    const hclish = fc.array(
      fc.constantFrom('path', '"a/*"', '"+"', "{", "}", "[", "]", "=", "capabilities", '"read"', '"deny"', ",", "\n", "policy",
        "allowed_parameters", '"*"', "1", "true", "${x}", "{{identity.entity.id}}", "#", '"', "\\", "null", "min_wrapping_ttl", '"1h"'),
      { maxLength: 30 },
    ).map((xs) => xs.join(" "));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), hclish, fc.json()), async (text) => {
        try {
          await parsePolicy("p", text);
        } catch (err) {
          if (!(err instanceof PolicyParseError)) throw err;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("parseDurationSeconds", () => {
  it.each([
    ["90s", 90],
    ["1h30m", 5400],
    ["1.5h", 5400],
    ["500ms", 0.5],
    ["3600", 3600],
    [45, 45],
    ["7d", 604800],
    ["", 0],
    ["0", 0],
  ] as const)("%j → %d", (input, secs) => {
    expect(parseDurationSeconds(input)).toBeCloseTo(secs, 9);
  });
  it.each(["1x", "h", "-5s", "1h 30m", "abc", "+"])("rejects %j", (input) => {
    expect(parseDurationSeconds(input)).toBeUndefined();
  });
});
