import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ACL, AclError, globbedStringsMatch, type AclOperation } from "./acl.js";
import { defaultPolicy, ROOT_POLICY } from "./builtin.js";
import { CAP_BIT, isCapability, parsePolicy, type Capability, type Policy } from "./policy.js";

// Compact policy builder: { pattern: capabilities | body } → parsed policy (JSON form: no WASM needed).
async function pol(name: string, paths: Record<string, string[] | Record<string, unknown>>): Promise<Policy> {
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(paths)) body[k] = Array.isArray(v) ? { capabilities: v } : v;
  return parsePolicy(name, JSON.stringify({ path: body }));
}

async function acl(...sets: Record<string, string[] | Record<string, unknown>>[]): Promise<ACL> {
  return new ACL(await Promise.all(sets.map((s, i) => pol(`p${i}`, s))));
}

const allowed = (a: ACL, path: string, operation: AclOperation = "read", data?: Record<string, unknown>) =>
  a.check({ path, operation, data }).allowed;

describe("ACL matching priority", () => {
  // [rules (pattern → marker capability), request path, pattern expected to win]
  // Each rule grants only "read" plus a unique marker via a different policy name, so we identify the
  // winner through grantingPolicies.
  const table: [string[], string, string | null][] = [
    // exact beats every glob
    [["foo/bar", "foo/*", "foo/+", "+/bar", "*"], "foo/bar", "foo/bar"],
    // (1) first wildcard later in the string wins
    [["foo/a*", "foo/+"], "foo/ab", "foo/a*"],
    [["foo/bar/+/baz", "foo/+/bar/baz"], "foo/bar/bar/baz", "foo/bar/+/baz"],
    [["foo/*", "foo/bar/*"], "foo/bar/baz", "foo/bar/*"],
    [["+/bar/*", "foo/+/*"], "foo/bar/x", "foo/+/*"],
    [["*", "a/*"], "a/b", "a/*"],
    [["*", "+/b"], "a/b", "+/b"],
    // (2) not ending in * beats ending in *
    [["foo/+", "foo/*"], "foo/x", "foo/+"],
    [["foo/+/bar", "foo/+/ba*"], "foo/x/bar", "foo/+/bar"],
    [["a/+/b", "a/+/*"], "a/x/b", "a/+/b"],
    // (3) fewer + segments wins
    [["foo/+/bar/baz", "foo/+/+/baz"], "foo/x/bar/baz", "foo/+/bar/baz"],
    [["a/+/+/+", "a/+/b/+"], "a/x/b/y", "a/+/b/+"],
    // (4) longer wins
    [["foo/+/bar/ba*", "foo/+/bar/b*"], "foo/x/bar/baz", "foo/+/bar/ba*"],
    [["x/+/a*", "x/+/*"], "x/y/abc", "x/+/a*"],
    // (5) lexicographically larger wins (needs literal "+b" segments to make two rules tie on 1–4)
    [["a/+/+b", "a/+b/+"], "a/+b/+b", "a/+b/+"],
    // segment counts must agree for non-prefix + rules
    [["foo/+"], "foo/bar/baz", null],
    [["foo/+"], "foo", null],
    [["foo/+"], "foo/", "foo/+"],
    [["+"], "anything", "+"],
    [["+"], "a/b", null],
    // + prefix rules need at least as many segments
    [["foo/+/*"], "foo/x", null],
    [["foo/+/*"], "foo/x/", "foo/+/*"],
    [["foo/+/*"], "foo/x/y/z", "foo/+/*"],
    // plain prefix rules
    [["secret/*"], "secret", null],
    [["secret*"], "secret", "secret*"],
    [["secret*"], "secretive/x", "secret*"],
    [["*"], "", "*"],
    [["a*b"], "a*b", "a*b"],
    [["a*b"], "axb", null],
    // nothing matches
    [["foo/*"], "bar/baz", null],
  ];

  it.each(table)("rules %j, path %j → %j", async (patterns, path, winner) => {
    const policies = await Promise.all(patterns.map((p, i) => pol(`r${i}`, { [p]: ["read"] })));
    const a = new ACL(policies);
    const res = a.check({ path, operation: "read" });
    if (winner === null) {
      expect(res.allowed).toBe(false);
      expect(res.capabilities.size).toBe(0);
    } else {
      expect(res.allowed).toBe(true);
      expect(res.grantingPolicies).toEqual([`r${patterns.indexOf(winner)}`]);
    }
  });

  it("lets the winning rule's deny stand even when a lower-priority rule grants", async () => {
    const a = await acl({ "secret/*": ["read"], "secret/+/private": ["deny"] });
    expect(allowed(a, "secret/x/private")).toBe(false);
    expect(allowed(a, "secret/x/public")).toBe(true);
  });

  it("lets a higher-priority grant win over a lower-priority deny", async () => {
    const a = await acl({ "secret/*": ["deny"], "secret/open/*": ["read"] });
    expect(allowed(a, "secret/open/x")).toBe(true);
    expect(allowed(a, "secret/closed")).toBe(false);
  });

  it("ignores leading slashes on request paths", async () => {
    const a = await acl({ "secret/foo": ["read"] });
    expect(allowed(a, "//secret/foo")).toBe(true);
  });
});

describe("ACL merging and deny", () => {
  it("unions capabilities of the same pattern across policies", async () => {
    const a = await acl({ "secret/*": ["read"] }, { "secret/*": ["update"] }, { "secret/+": ["list"] });
    const res = a.check({ path: "secret/a/b", operation: "update" });
    expect(res.allowed).toBe(true);
    expect([...res.capabilities].sort()).toEqual(["read", "update"]);
    expect(res.grantingPolicies).toEqual(["p1"]);
    expect(allowed(a, "secret/a/b", "read")).toBe(true);
  });

  it("lets deny in any policy override the merged rule, including sudo", async () => {
    for (const order of [0, 1]) {
      const sets = [{ "sys/raw/*": ["read", "sudo", "update"] }, { "sys/raw/*": ["deny"] }];
      if (order) sets.reverse();
      const a = await acl(...sets);
      const res = a.check({ path: "sys/raw/x", operation: "read" });
      expect(res.allowed).toBe(false);
      expect(res.sudo).toBe(false);
      expect([...res.capabilities]).toEqual(["deny"]);
      expect(a.capabilitiesOn("sys/raw/x")).toEqual(["deny"]);
    }
  });

  it("reports sudo from the winning rule", async () => {
    const a = await acl({ "sys/audit/*": ["read", "sudo"] });
    const res = a.check({ path: "sys/audit/file", operation: "read" });
    expect(res).toMatchObject({ allowed: true, sudo: true, isRoot: false });
    expect(a.check({ path: "sys/audit/file", operation: "update" })).toMatchObject({ allowed: false, sudo: true });
  });

  it("denies by default", async () => {
    const a = new ACL([]);
    expect(a.check({ path: "secret/x", operation: "read" })).toMatchObject({ allowed: false, isRoot: false, sudo: false });
    expect(a.capabilitiesOn("secret/x")).toEqual(["deny"]);
  });

  it("grants everything to root, which must stand alone", async () => {
    const a = new ACL([ROOT_POLICY]);
    const res = a.check({ path: "sys/raw/anything", operation: "delete" });
    expect(res).toMatchObject({ allowed: true, isRoot: true, sudo: true });
    expect(res.capabilities.has("deny")).toBe(false);
    expect(a.capabilitiesOn("x")).toEqual(["root"]);
    expect(() => new ACL([ROOT_POLICY, ROOT_POLICY])).toThrow(AclError);
    expect(() => Object.assign(ROOT_POLICY, { name: "x" })).toThrow();
  });

  it("reports capabilities in OpenBao's order", async () => {
    const a = await acl({ "secret/*": ["scan", "patch", "create", "delete", "update", "list", "read", "sudo"] });
    expect(a.capabilitiesOn("secret/x")).toEqual(["sudo", "read", "list", "update", "delete", "create", "patch", "scan"]);
  });
});

describe("LIST and the trailing slash", () => {
  it("does not let a broader wildcard bypass a deny on LIST (GHSA-xp3c-3jw3-4vcr)", async () => {
    const a = await acl({ "foo/metadata/*": ["list", "read"], "foo/metadata/private/*": ["deny"] });
    expect(allowed(a, "foo/metadata/", "list")).toBe(true);
    expect(allowed(a, "foo/metadata/public/", "list")).toBe(true);
    expect(allowed(a, "foo/metadata/private/", "list")).toBe(false);
    expect(allowed(a, "foo/metadata/private/app/", "list")).toBe(false);
    expect(allowed(a, "foo/metadata/private/app", "read")).toBe(false);
    expect(a.capabilitiesOn("foo/metadata/private/")).toEqual(["deny"]);
    expect(allowed(a, "foo/metadata/private/", "scan")).toBe(false);
  });

  it("does the same across policies and with + rules", async () => {
    const a = await acl({ "kv/+/*": ["list"] }, { "kv/+/secret/*": ["deny"] });
    expect(allowed(a, "kv/team/", "list")).toBe(true);
    expect(allowed(a, "kv/team/secret/", "list")).toBe(false);
  });

  it("still lets a rule for the path without its slash grant LIST", async () => {
    const a = await acl({ "foo/+": ["list"], "bar": ["list"], "baz*": ["list"] });
    expect(allowed(a, "foo/x/", "list")).toBe(true);
    expect(allowed(a, "bar/", "list")).toBe(true);
    expect(allowed(a, "baz/", "list")).toBe(true);
    // SCAN never had the trimmed glob lookup, only the trimmed exact one.
    expect(allowed(a, "foo/x/", "scan")).toBe(false);
    // READ gets no trailing-slash help.
    expect(allowed(a, "bar/", "read")).toBe(false);
  });

  it("keeps a deny from the path without its slash", async () => {
    const a = await acl({ "foo/+": ["deny"], "foo/bar/*": ["list"] });
    expect(allowed(a, "foo/bar/", "list")).toBe(false);
    expect(allowed(a, "foo/bar/x/", "list")).toBe(true);
  });
});

describe("parameter constraints", () => {
  const restricted = {
    capabilities: ["create", "update", "read", "patch"],
    allowed_parameters: { foo: [], bar: ["zip", "zap"], glob: ["pre*", "*suf", "*mid*"], num: [1, 2] },
    denied_parameters: { baz: [] },
    required_parameters: ["foo"],
  };

  it("enforces required, allowed and denied parameters", async () => {
    const a = await acl({ "secret/restricted": restricted });
    const ok = (data: Record<string, unknown>, op: AclOperation = "create") => allowed(a, "secret/restricted", op, data);
    expect(ok({ foo: "anything" })).toBe(true);
    expect(ok({ foo: 1, bar: "zip" })).toBe(true);
    expect(ok({ FOO: 1 })).toBe(false); // required lookup is by lower-cased name
    expect(ok({ foo: 1, bar: "zop" })).toBe(false);
    expect(ok({ bar: "zip" })).toBe(false); // foo required
    expect(ok({ foo: 1, baz: "x" })).toBe(false); // denied
    expect(ok({ foo: 1, other: "x" })).toBe(false); // not in allowed list
    expect(ok({ foo: 1, glob: "prefix" })).toBe(true);
    expect(ok({ foo: 1, glob: "a-suf" })).toBe(true);
    expect(ok({ foo: 1, glob: "xmidx" })).toBe(true);
    expect(ok({ foo: 1, glob: "nope" })).toBe(false);
    expect(ok({ foo: 1, num: 2 })).toBe(true);
    expect(ok({ foo: 1, num: 3 })).toBe(false);
    expect(ok({ foo: 1 }, "update")).toBe(true);
    expect(ok({ foo: 1 }, "patch")).toBe(true);
    expect(ok({ foo: 1, other: 2 }, "read")).toBe(false); // OpenBao checks reads too
    expect(a.check({ path: "secret/restricted", operation: "create", data: { foo: 1, baz: 1 } }).reason).toContain("baz");
  });

  it("treats * keys as all parameters", async () => {
    const a = await acl({
      "a": { capabilities: ["update"], allowed_parameters: { "*": [] } },
      "b": { capabilities: ["update"], allowed_parameters: { "*": [], "x": ["1"] } },
      "c": { capabilities: ["update"], denied_parameters: { "*": [] } },
    });
    expect(allowed(a, "a", "update", { anything: 1 })).toBe(true);
    expect(allowed(a, "b", "update", { anything: 1, x: "1" })).toBe(true);
    expect(allowed(a, "b", "update", { x: "2" })).toBe(false);
    expect(allowed(a, "c", "update", { anything: 1 })).toBe(false);
    expect(allowed(a, "c", "update", {})).toBe(true); // no data → allowed
  });

  it("does not check parameters on delete and list", async () => {
    const a = await acl({ "x": { capabilities: ["delete", "list"], denied_parameters: { "*": [] }, required_parameters: ["q"] } });
    expect(allowed(a, "x", "delete", { y: 1 })).toBe(true);
    expect(allowed(a, "x", "list", { y: 1 })).toBe(true);
  });

  it("merges constraints of the same pattern as OpenBao does", async () => {
    const a = await acl(
      { "m": { capabilities: ["update"], allowed_parameters: { a: ["1"], b: ["1"] }, required_parameters: ["a"] } },
      { "m": { capabilities: ["update"], allowed_parameters: { a: ["2"], b: [] }, required_parameters: ["c"] } },
    );
    expect(allowed(a, "m", "update", { a: "1", c: 1 })).toBe(false); // c not allowed
    const b = await acl(
      { "m": { capabilities: ["update"], allowed_parameters: { a: ["1"], b: ["1"], c: [] }, required_parameters: ["a"] } },
      { "m": { capabilities: ["update"], allowed_parameters: { a: ["2"], b: [] }, required_parameters: ["c"] } },
    );
    expect(allowed(b, "m", "update", { a: "1", c: 1 })).toBe(true);
    expect(allowed(b, "m", "update", { a: "2", c: 1, b: "anything" })).toBe(true); // [] wins
    expect(allowed(b, "m", "update", { a: "3", c: 1 })).toBe(false);
    expect(allowed(b, "m", "update", { a: "1" })).toBe(false); // c required by the 2nd policy
  });

  it("matches globbed strings like strutil.GlobbedStringsMatch", () => {
    expect(globbedStringsMatch("*", "*")).toBe(true);
    expect(globbedStringsMatch("*", "x")).toBe(false); // too short to be a glob
    expect(globbedStringsMatch("**", "anything")).toBe(true);
    expect(globbedStringsMatch("a*", "abc")).toBe(true);
    expect(globbedStringsMatch("*c", "abc")).toBe(true);
    expect(globbedStringsMatch("a*c", "abc")).toBe(false);
  });
});

describe("wrapping TTLs, pagination, expiry, templating", () => {
  it("requires a wrapped response within the TTL bounds", async () => {
    const a = await acl({ "w": { capabilities: ["read"], min_wrapping_ttl: "1m", max_wrapping_ttl: "1h" } });
    const check = (wrapTtl?: number) => a.check({ path: "w", operation: "read", wrapTtl }).allowed;
    expect(check()).toBe(false);
    expect(check(30)).toBe(false);
    expect(check(60)).toBe(true);
    expect(check(3600)).toBe(true);
    expect(check(3601)).toBe(false);
  });

  it("keeps the smaller TTL bounds when merging", async () => {
    const a = await acl({ "w": { capabilities: ["read"], max_wrapping_ttl: 100 } }, { "w": { capabilities: ["read"], max_wrapping_ttl: 50 } });
    expect(a.check({ path: "w", operation: "read", wrapTtl: 60 }).allowed).toBe(false);
    expect(a.check({ path: "w", operation: "read", wrapTtl: 50 }).allowed).toBe(true);
  });

  it("applies pagination_limit to LIST", async () => {
    const a = await acl(
      { "p/*": { capabilities: ["list"], pagination_limit: 10 } },
      { "q/*": { capabilities: ["list"], pagination_limit: 10, required_parameters: ["limit"] } },
    );
    const list = (path: string, data?: Record<string, unknown>) => a.check({ path, operation: "list", data });
    expect(list("p/")).toMatchObject({ allowed: true, paginationLimit: 10 });
    expect(list("p/", { limit: "5" }).allowed).toBe(true);
    expect(list("p/", { limit: 11 }).allowed).toBe(false);
    expect(list("p/", { limit: "max" }).allowed).toBe(true);
    expect(list("p/", { limit: "lots" }).allowed).toBe(false);
    expect(list("q/").allowed).toBe(false);
    expect(list("q/", { limit: 3 }).allowed).toBe(true);
  });

  it("ignores expired rules and rebuilds when a rule expires", async () => {
    let now = Date.parse("2030-01-01T00:00:00Z");
    const p = await pol("e", {
      "old": { capabilities: ["read"], expiration: "2029-01-01T00:00:00Z" },
      "soon": { capabilities: ["read"], expiration: "2030-01-01T00:01:00Z" },
      "forever": ["read"],
    });
    const a = new ACL([p], { now: () => now });
    expect(allowed(a, "old")).toBe(false);
    expect(allowed(a, "soon")).toBe(true);
    now += 60_000;
    expect(allowed(a, "soon")).toBe(false);
    expect(allowed(a, "forever")).toBe(true);
  });

  it("never matches identity-templated rules", async () => {
    const a = new ACL([await defaultPolicy()]);
    expect(allowed(a, "identity/entity/id/{{identity.entity.id}}")).toBe(false);
    expect(allowed(a, "identity/entity/id/abc")).toBe(false);
    expect(allowed(a, "auth/token/lookup-self")).toBe(true);
    expect(allowed(a, "cubbyhole/foo", "create")).toBe(true);
    expect(allowed(a, "sys/wrapping/unwrap", "update")).toBe(true);
    expect(allowed(a, "identity/oidc/provider/p1/authorize", "update")).toBe(true);
    expect(allowed(a, "secret/foo")).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------------
// Property: the ACL's answer equals a brute-force reading of the rules (no tries, no ranks).

interface RawRule {
  pattern: string;
  caps: Capability[];
}

function naiveMatches(p: string, path: string): boolean {
  const seg = p === "+" || p.includes("/+") || p.startsWith("+/");
  if (seg) {
    const isPrefix = p.endsWith("*");
    const cp = (isPrefix ? p.slice(0, -1) : p).split("/");
    const pp = path.split("/");
    if (pp.length < cp.length || (!isPrefix && pp.length !== cp.length)) return false;
    return cp.every((c, i) => c === "+" || c === pp[i] || (isPrefix && i === cp.length - 1 && pp[i].startsWith(c)));
  }
  if (p.endsWith("*")) return path.startsWith(p.slice(0, -1));
  return path === p;
}

function naivePriority(pattern: string): [number, number, number, number, string] {
  const seg = pattern === "+" || pattern.includes("/+") || pattern.startsWith("+/");
  const isPrefix = pattern.endsWith("*");
  const wc = isPrefix ? pattern.slice(0, -1) : pattern;
  const first = seg ? pattern.indexOf("+") : wc.length;
  return [first, isPrefix ? 0 : 1, -wc.split("/").filter((s) => s === "+").length, wc.length, wc];
}

function naiveBitmap(rules: RawRule[], rawPath: string): number | undefined {
  const path = rawPath.replace(/^\/+/, "");
  const merged = new Map<string, number>();
  for (const r of rules) {
    const key = r.pattern.startsWith("/") ? r.pattern.slice(1) : r.pattern;
    const bits = r.caps.includes("deny") ? CAP_BIT.deny : r.caps.reduce((b, c) => b | CAP_BIT[c], 0);
    const cur = merged.get(key);
    merged.set(key, cur === undefined ? bits : (cur | bits) & CAP_BIT.deny ? CAP_BIT.deny : cur | bits);
  }
  const isGlob = (p: string) => p.endsWith("*") || p === "+" || p.includes("/+") || p.startsWith("+/");
  if (merged.has(path) && !isGlob(path)) return merged.get(path);
  let best: string | undefined;
  for (const p of merged.keys()) {
    if (!isGlob(p) || !naiveMatches(p, path)) continue;
    if (best === undefined) best = p;
    else {
      const a = naivePriority(p);
      const b = naivePriority(best);
      for (let i = 0; i < 5; i++) {
        if (a[i] === b[i]) continue;
        if (a[i] > b[i]) best = p;
        break;
      }
    }
  }
  return best === undefined ? undefined : merged.get(best);
}

describe("ACL properties", () => {
  const segment = fc.constantFrom("a", "b", "ab", "+", "");
  const pattern = fc
    .tuple(fc.array(segment, { minLength: 1, maxLength: 4 }), fc.boolean())
    .map(([segs, star]) => segs.join("/") + (star ? "*" : ""))
    .filter((p) => !p.includes("+*"));
  const caps = fc.subarray(["read", "list", "update", "deny", "sudo"] as Capability[], { minLength: 1 });
  const rules = fc.array(fc.record({ pattern, caps }), { minLength: 1, maxLength: 8 });
  const reqPath = fc.array(fc.constantFrom("a", "b", "ab", "abc", "+", ""), { minLength: 1, maxLength: 5 }).map((s) => s.join("/"));

  it("allows a read exactly when the winning merged rule grants read and no deny", async () => {
    await fc.assert(
      fc.asyncProperty(rules, fc.array(reqPath, { minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 3 }), async (rs, paths, nPolicies) => {
        // Spread the rules over several policies: merging must not depend on how they are grouped.
        const groups: RawRule[][] = Array.from({ length: nPolicies }, () => []);
        rs.forEach((r, i) => groups[i % nPolicies].push(r));
        const policies = await Promise.all(
          groups.map((g, i) =>
            parsePolicy(`p${i}`, JSON.stringify({ path: g.map((r) => ({ [r.pattern]: { capabilities: r.caps } })) })),
          ),
        );
        const a = new ACL(policies);
        for (const path of paths) {
          const bits = naiveBitmap(rs, path);
          const expected = bits !== undefined && (bits & CAP_BIT.deny) === 0 && (bits & CAP_BIT.read) !== 0;
          const res = a.check({ path, operation: "read" });
          expect(res.allowed, `${JSON.stringify(rs)} ${path}`).toBe(expected);
          const want = bits === undefined ? [] : [...Object.keys(CAP_BIT)].filter((c) => isCapability(c) && bits & CAP_BIT[c]);
          expect([...res.capabilities].sort()).toEqual(want.sort());
        }
      }),
      { numRuns: 300 },
    );
  });

  it("gives the same answers for HCL and JSON forms of a policy", async () => {
    await fc.assert(
      fc.asyncProperty(rules, fc.array(reqPath, { minLength: 1, maxLength: 5 }), async (rs, paths) => {
        const hcl = rs.map((r) => `path ${JSON.stringify(r.pattern)} {\n  capabilities = ${JSON.stringify(r.caps)}\n}\n`).join("");
        const json = JSON.stringify({ path: rs.map((r) => ({ [r.pattern]: { capabilities: r.caps } })) });
        const a = new ACL([await parsePolicy("h", hcl)]);
        const b = new ACL([await parsePolicy("h", json)]);
        for (const path of paths) {
          for (const operation of ["read", "list", "update"] as const) {
            const x = a.check({ path, operation });
            const y = b.check({ path, operation });
            expect([x.allowed, [...x.capabilities]]).toEqual([y.allowed, [...y.capabilities]]);
          }
        }
      }),
      { numRuns: 60 },
    );
  });
});
