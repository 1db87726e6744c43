import { describe, expect, it } from "vitest";
import { LogicalBackend } from "./backend.js";
import { buildContext, definePath, withStorage } from "./path.js";
import { ROOT_NAMESPACE, type Request } from "./request.js";
import type { KeyValueStore } from "../../storage/storage.js";

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

describe("a request's context", () => {
  const spec = definePath({ pattern: "keys/:name", fields: { n: { type: "int" } }, operations: { update: ok } });
  const route = new LogicalBackend({ type: "t", paths: [spec] }).route("keys/k1");
  const storage = { name: "mount" } as unknown as KeyValueStore;
  const request = (data: Record<string, unknown>) =>
    ({ id: "r", operation: "update", path: "keys/k1", data, namespace: ROOT_NAMESPACE }) as unknown as Request;

  it("parses fields on first use only, so a malformed field fails in the handler's turn", () => {
    const ctx = buildContext(request({ n: "not a number" }), route!, storage);
    expect(ctx.params).toEqual({ name: "k1" });
    expect(() => ctx.fields).toThrow(/n/);
  });

  it("tells supplied fields and path parameters from absent or null ones", () => {
    const ctx = buildContext(request({ n: 3, gone: null }), route!, storage);
    expect([ctx.has("n"), ctx.has("name"), ctx.has("gone"), ctx.has("other")]).toEqual([true, true, false, false]);
  });

  it("shares one parse with a context over other storage, in either order", () => {
    const req = request({ n: "7" });
    const ctx = buildContext(req, route!, storage);
    const other = { name: "txn" } as unknown as KeyValueStore;
    const scoped = withStorage(ctx, other);
    expect(scoped.storage).toBe(other);
    expect(ctx.storage).toBe(storage);
    const first = scoped.fields;
    expect(first).toMatchObject({ n: 7 });
    req.data.n = "8"; // a second parse would see this
    expect(ctx.fields).toBe(first);
    expect(scoped.has("n") && scoped.params.name === "k1" && scoped.req === req).toBe(true);
  });
});
