import { describe, expect, it } from "vitest";
import { LogicalBackend } from "./backend.js";
import { definePath } from "./path.js";

const ok = async () => ({ data: {} });
const backend = new LogicalBackend({
  type: "t",
  paths: [
    definePath({ pattern: "data/:path+", operations: { read: ok } }),
    definePath({ pattern: "metadata/:path*", operations: { list: ok, read: ok } }),
    definePath({ pattern: "config", operations: { read: ok } }),
    definePath({ pattern: ":name", operations: { read: ok } }),
    definePath({ pattern: "mounts/:path+/tune", operations: { read: ok } }),
    definePath({ pattern: "mounts/:path+", operations: { read: ok } }),
    definePath({ pattern: "keys/:name/rotate", operations: { update: ok } }),
    definePath({ pattern: "keys/:name", operations: { read: ok } }),
  ],
});

describe("declared paths", () => {
  it.each([
    ["config", "config", {}],
    ["other", ":name", { name: "other" }],
    ["data/a/b", "data/:path+", { path: "a/b" }],
    ["metadata/", "metadata/:path*", { path: "" }],
    ["metadata", "metadata/:path*", { path: "" }],
    ["metadata/a/b/", "metadata/:path*", { path: "a/b/" }],
    ["mounts/pki/int/tune", "mounts/:path+/tune", { path: "pki/int" }],
    ["mounts/pki/int", "mounts/:path+", { path: "pki/int" }],
    ["mounts/tune", "mounts/:path+", { path: "tune" }],
    ["keys/k1/rotate", "keys/:name/rotate", { name: "k1" }],
    ["keys/k1", "keys/:name", { name: "k1" }],
  ])("routes %s to %s", (path, pattern, params) => {
    const m = backend.route(path);
    expect(m?.path.spec.pattern).toBe(pattern);
    expect(m?.params).toEqual(params);
  });

  it("does not match empty segments outside a rest parameter, or a missing rest", () => {
    expect(backend.route("data/")?.path.spec.pattern).toBe(":name");
    expect(backend.route("data/a//b")?.params).toEqual({ path: "a//b" }); // rest parameters keep empty segments
    expect(backend.route("keys//rotate")).toBeUndefined();
  });

  it("routes the same way whatever the registration order", () => {
    const reversed = new LogicalBackend({ type: "t", paths: [...backend.paths.map((p) => p.spec)].reverse() });
    for (const path of ["config", "x", "data/a", "mounts/a/tune", "keys/a/rotate", "keys/a"]) {
      expect(reversed.route(path)?.path.spec.pattern).toBe(backend.route(path)?.path.spec.pattern);
    }
  });

  it("refuses ambiguous declarations", () => {
    expect(
      () =>
        new LogicalBackend({
          type: "t",
          paths: [definePath({ pattern: "a/:x", operations: { read: ok } }), definePath({ pattern: "a/:y", operations: { read: ok } })],
        }),
    ).toThrow(/ambiguous/);
  });
});

describe("special path globs", () => {
  const b = new LogicalBackend({
    type: "t",
    paths: [definePath({ pattern: ":a*", operations: { read: ok } })],
    unauthenticatedPaths: ["ca", "cert/*", "issuer/+/crl", "issuer/+/pem*"],
  });
  it.each([
    ["ca", true],
    ["ca/pem", false],
    ["cert/abc", true],
    ["issuer/default/crl", true],
    ["issuer/default/crl/x", false],
    ["issuer//crl", false],
    ["issuer/x/pem", true],
    ["issuer/x/pemx", true],
    ["issuer/crl", false],
  ])("%s unauthenticated: %s", (path, expected) => {
    expect(b.isUnauthenticated(path)).toBe(expected);
  });
});
