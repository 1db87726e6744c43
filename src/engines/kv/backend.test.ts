import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ArcaError } from "../../common/errors.js";
import type { Request, Response } from "../../core/framework/request.js";
import { backendHarness, type Call } from "../../../test/backend-harness.js";
import { createKvBackend } from "./backend.js";

const GO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

/** A KV backend driven as the core drives it (test/backend-harness.ts). */
function harness(version: 1 | 2) {
  const h = backendHarness(createKvBackend({ version, defaultLeaseTtl: () => 768 * 3600 }), { point: "secret/", type: "kv" });
  const { storage, view, backend, call, fails } = h;

  async function raw(key: string): Promise<string | undefined> {
    return (await view.get(key))?.toString("utf8");
  }

  return { storage, view, backend, call, fails, raw, close: () => storage.close() };
}

type Harness = ReturnType<typeof harness>;
const open: Harness[] = [];
function kv(version: 1 | 2 = 2): Harness {
  const h = harness(version);
  open.push(h);
  return h;
}
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(open.splice(0).map((h) => h.close()));
});

function data(r: Response | undefined): Record<string, unknown> {
  if (!r?.data) throw new Error("no data in response");
  return r.data;
}

describe("kv v2: data", () => {
  it("writes and reads versions with OpenBao's response shapes", async () => {
    const { call, fails, raw } = kv();
    const w1 = data(await call("write", "data/app/db", { data: { user: "a", n: 1 } }));
    expect(Object.keys(w1).sort()).toEqual(["created_time", "custom_metadata", "deletion_time", "destroyed", "version"]);
    expect(w1).toMatchObject({ version: 1, deletion_time: "", destroyed: false, custom_metadata: null });
    expect(w1.created_time).toMatch(GO_TIME);

    await call("write", "data/app/db", { data: { user: "b" } });
    const latest = data(await call("read", "data/app/db"));
    expect(latest.data).toEqual({ user: "b" });
    expect(latest.metadata).toMatchObject({ version: 2, deletion_time: "", destroyed: false, custom_metadata: null });

    const first = data(await call("read", "data/app/db", { version: "1" }));
    expect(first.data).toEqual({ user: "a", n: 1 });
    expect((first.metadata as Record<string, unknown>).created_time).toBe(w1.created_time);

    // version <= 0 means the current one (OpenBao), an unknown version is a plain 404
    expect(data(await call("read", "data/app/db", { version: -1 })).data).toEqual({ user: "b" });
    const missing = await fails("read", "data/app/db", { version: 7 });
    expect(missing.status).toBe(404);
    expect(missing.data).toBeUndefined();

    // on-disk layout
    expect(await raw("versions/app/db/1")).toBe('{"user":"a","n":1}');
    expect(JSON.parse((await raw("metadata/app/db"))!)).toMatchObject({ currentVersion: 2, oldestVersion: 0 });
  });

  it("decides create vs update with the existence check", async () => {
    const { backend, view, call } = kv();
    const m = backend.resolve("data/x", "update");
    const req = { data: {}, operation: "update" } as unknown as Request;
    expect(await backend.exists(req, m, view)).toBe(false);
    await call("write", "data/x", { data: {} });
    expect(await backend.exists(req, m, view)).toBe(true);
  });

  it("answers 404 for unknown keys and ignores deletes of them", async () => {
    const { call, fails } = kv();
    const e = await fails("read", "data/nope");
    expect(e.status).toBe(404);
    expect(e.message).toBe("");
    expect(await call("delete", "data/nope")).toBeUndefined();
    expect(await call("write", "delete/nope", { versions: [1] })).toBeUndefined();
  });

  it("enforces check-and-set", async () => {
    const { call, fails } = kv();
    await call("write", "data/c", { data: { v: 1 }, options: { cas: 0 } });
    expect((await fails("write", "data/c", { data: { v: 2 }, options: { cas: 0 } })).message).toBe(
      "check-and-set parameter did not match the current version",
    );
    expect(data(await call("write", "data/c", { data: { v: 2 }, options: { cas: "1" } })).version).toBe(2);
    expect((await fails("write", "data/c", { data: {}, options: { cas: [] } })).message).toBe("error parsing check-and-set parameter");

    // required by the mount
    await call("write", "config", { cas_required: true });
    const req = await fails("write", "data/c", { data: { v: 3 } });
    expect(req.status).toBe(400);
    expect(req.message).toBe("check-and-set parameter required for this call");
    expect(data(await call("write", "data/c", { data: { v: 3 }, options: { cas: 2 } })).version).toBe(3);
    await call("write", "config", { cas_required: false });

    // required by the key's metadata
    await call("write", "metadata/k", { cas_required: true });
    expect((await fails("write", "data/k", { data: { a: 1 } })).message).toBe("check-and-set parameter required for this call");
    expect(data(await call("write", "data/k", { data: { a: 1 }, options: { cas: 0 } })).version).toBe(1);
  });

  it("lets exactly one of 100 concurrent writes with the same cas win", async () => {
    const { call } = kv();
    await call("write", "data/race", { data: { n: -1 } });
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) => call("write", "data/race", { data: { n: i }, options: { cas: 1 } })),
    );
    const ok = results.filter((r) => r.status === "fulfilled");
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(99);
    for (const f of failed) {
      expect(f.reason).toBeInstanceOf(ArcaError);
      expect((f.reason as ArcaError).message).toBe("check-and-set parameter did not match the current version");
    }
    const meta = data(await call("read", "metadata/race"));
    expect(meta.current_version).toBe(2);
    expect(Object.keys(meta.versions as object)).toEqual(["1", "2"]);
  });

  it("loses no update among concurrent writes without cas", async () => {
    const { call } = kv();
    await Promise.all(Array.from({ length: 30 }, (_, i) => call("write", "data/many", { data: { i } })));
    const meta = data(await call("read", "metadata/many"));
    expect(meta.current_version).toBe(30);
    expect(Object.keys(meta.versions as object)).toHaveLength(10);
  });

  it("patches with JSON merge patch semantics", async () => {
    const { call, fails } = kv();
    await call("write", "data/p", { data: { a: 1, nested: { x: 1, y: 2 }, list: [1, 2], drop: "me" } });
    const w = data(await call("patch", "data/p", { data: { nested: { y: null, z: 3 }, list: [9], drop: null, b: "new" } }));
    expect(w.version).toBe(2);
    expect(data(await call("read", "data/p")).data).toEqual({ a: 1, nested: { x: 1, z: 3 }, list: [9], b: "new" });
    expect(data(await call("read", "data/p", { version: 1 })).data).toEqual({ a: 1, nested: { x: 1, y: 2 }, list: [1, 2], drop: "me" });

    expect((await fails("patch", "data/p", { data: { a: 2 }, options: { cas: 1 } })).message).toBe(
      "check-and-set parameter did not match the current version",
    );
    expect(data(await call("patch", "data/p", { data: { a: 2 }, options: { cas: 2 } })).version).toBe(3);
    expect((await fails("patch", "data/p", {})).message).toBe("no data provided");
    expect((await fails("patch", "data/p", { data: "x" })).status).toBe(400);

    const absent = await fails("patch", "data/absent", { data: { a: 1 } });
    expect(absent.status).toBe(404);
    expect(absent.data).toBeUndefined();

    await call("delete", "data/p");
    const deleted = await fails("patch", "data/p", { data: { a: 3 } });
    expect(deleted.status).toBe(404);
    // OpenBao's patch 404 carries the flat version metadata (read nests it under "metadata")
    expect(deleted.data).toMatchObject({ version: 3, destroyed: false, custom_metadata: null });
    expect((deleted.data as Record<string, unknown>).deletion_time).toMatch(GO_TIME);
  });
});

describe("kv v2: delete, undelete, destroy", () => {
  it("soft-deletes the latest version and reads it back as 404 with metadata", async () => {
    const { call, fails } = kv();
    await call("write", "data/s", { data: { v: 1 } });
    await call("write", "data/s", { data: { v: 2 } });
    expect(await call("delete", "data/s")).toBeUndefined();
    const e = await fails("read", "data/s");
    expect(e.status).toBe(404);
    expect(e.message).toBe("");
    expect(e.data).toMatchObject({ data: null, metadata: { version: 2, destroyed: false, custom_metadata: null } });
    expect(((e.data as Record<string, Record<string, unknown>>).metadata).deletion_time).toMatch(GO_TIME);
    expect(data(await call("read", "data/s", { version: 1 })).data).toEqual({ v: 1 });

    await call("write", "undelete/s", { versions: [2] });
    expect(data(await call("read", "data/s")).data).toEqual({ v: 2 });
    expect((data(await call("read", "data/s")).metadata as Record<string, unknown>).deletion_time).toBe("");
  });

  it("deletes, undeletes and destroys chosen versions", async () => {
    const { call, fails, raw } = kv();
    for (let i = 1; i <= 3; i++) await call("write", "data/d", { data: { i } });
    await call("write", "delete/d", { versions: "1,2" });
    expect((await fails("read", "data/d", { version: 1 })).status).toBe(404);
    expect((await fails("read", "data/d", { version: 2 })).status).toBe(404);
    expect(data(await call("read", "data/d")).data).toEqual({ i: 3 });

    await call("write", "undelete/d", { versions: ["1"] });
    expect(data(await call("read", "data/d", { version: 1 })).data).toEqual({ i: 1 });

    await call("write", "destroy/d", { versions: [2, 3, 99] });
    const e = await fails("read", "data/d", { version: 3 });
    expect(e.data).toMatchObject({ data: null, metadata: { version: 3, destroyed: true, deletion_time: "" } });
    expect(await raw("versions/d/3")).toBeUndefined();
    expect(await raw("versions/d/2")).toBeUndefined();
    expect(await raw("versions/d/1")).toBeDefined();

    // a destroyed version cannot be undeleted
    await call("write", "undelete/d", { versions: [3] });
    expect((await fails("read", "data/d", { version: 3 })).status).toBe(404);
    const versions = data(await call("read", "metadata/d")).versions as Record<string, Record<string, unknown>>;
    expect(versions["2"]).toMatchObject({ destroyed: true });
    expect(versions["3"]).toMatchObject({ destroyed: true });
    expect(versions["1"]).toMatchObject({ destroyed: false, deletion_time: "" });

    expect((await fails("write", "delete/d", {})).message).toBe("No version number provided");
    expect((await fails("write", "undelete/d", { versions: [] })).message).toBe("No version number provided");
    expect((await fails("write", "destroy/d", { versions: "" })).message).toBe("no version number provided");
    expect((await fails("write", "destroy/d", { versions: ["x"] })).status).toBe(400);
  });
});

describe("kv v2: max_versions and delete_version_after", () => {
  it("prunes the oldest versions beyond the mount's max_versions", async () => {
    const { call, fails, raw } = kv();
    await call("write", "config", { max_versions: 3 });
    for (let i = 1; i <= 5; i++) await call("write", "data/m", { data: { i } });
    const meta = data(await call("read", "metadata/m"));
    expect(Object.keys(meta.versions as object)).toEqual(["3", "4", "5"]);
    expect(meta).toMatchObject({ current_version: 5, oldest_version: 3, max_versions: 0 });
    expect(await raw("versions/m/1")).toBeUndefined();
    expect(await raw("versions/m/2")).toBeUndefined();
    expect(await raw("versions/m/3")).toBeDefined();
    expect((await fails("read", "data/m", { version: 1 })).status).toBe(404);
  });

  it("uses the larger of the key's and the mount's max_versions, 10 by default", async () => {
    const { call } = kv();
    for (let i = 1; i <= 12; i++) await call("write", "data/d10", { data: { i } });
    let meta = data(await call("read", "metadata/d10"));
    expect(Object.keys(meta.versions as object)).toHaveLength(10);
    expect(meta.oldest_version).toBe(3);

    await call("write", "metadata/d10", { max_versions: 2 });
    await call("write", "data/d10", { data: { i: 13 } });
    meta = data(await call("read", "metadata/d10"));
    expect(Object.keys(meta.versions as object)).toEqual(["12", "13"]);
    expect(meta.oldest_version).toBe(12);

    await call("write", "config", { max_versions: 4 }); // larger than the key's 2 → 4 wins
    await call("write", "data/d10", { data: { i: 14 } });
    await call("write", "data/d10", { data: { i: 15 } });
    meta = data(await call("read", "metadata/d10"));
    expect(Object.keys(meta.versions as object)).toEqual(["12", "13", "14", "15"]);
  });

  it("treats a version as deleted once its delete_version_after has passed", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2030-01-01T00:00:00Z"));
    const { call, fails } = kv();
    await call("write", "config", { delete_version_after: "1h" });
    expect(data(await call("read", "config"))).toEqual({ cas_required: false, delete_version_after: "1h0m0s", max_versions: 0 });

    const w = data(await call("write", "data/t", { data: { v: 1 } }));
    expect(w.deletion_time).toMatch(/^2030-01-01T01:00:00(\.\d+)?Z$/);
    expect(data(await call("read", "data/t")).data).toEqual({ v: 1 });

    vi.setSystemTime(new Date("2030-01-01T01:00:01Z"));
    const e = await fails("read", "data/t");
    expect(e.status).toBe(404);
    expect(e.data).toMatchObject({ data: null, metadata: { version: 1, deletion_time: w.deletion_time } });

    // undelete restores it with a fresh deadline
    await call("write", "undelete/t", { versions: [1] });
    const r = data(await call("read", "data/t"));
    expect((r.metadata as Record<string, unknown>).deletion_time).toMatch(/^2030-01-01T02:00:01(\.\d+)?Z$/);

    // the key's shorter setting wins over the mount's
    await call("write", "metadata/t", { delete_version_after: "10m" });
    expect(data(await call("read", "metadata/t")).delete_version_after).toBe("10m0s");
    const w2 = data(await call("write", "data/t", { data: { v: 2 } }));
    expect(w2.deletion_time).toMatch(/^2030-01-01T01:10:01(\.\d+)?Z$/);

    // a negative mount setting disables the feature for every key
    await call("write", "config", { delete_version_after: "-1s" });
    expect(data(await call("read", "config")).delete_version_after).toBe("-1s");
    expect(data(await call("write", "data/t", { data: { v: 3 } })).deletion_time).toBe("");
    await call("write", "config", { delete_version_after: 0 });
    expect(data(await call("read", "config")).delete_version_after).toBe("0s");
  });
});

describe("kv v2: metadata", () => {
  it("creates, reads, updates and deletes key metadata", async () => {
    const { call, fails, raw } = kv();
    expect((await fails("read", "metadata/meta")).status).toBe(404);
    // no settings given: OpenBao writes nothing
    expect(await call("write", "metadata/meta", {})).toBeUndefined();
    expect(await raw("metadata/meta")).toBeUndefined();

    await call("write", "metadata/meta", { max_versions: 5, custom_metadata: { owner: "team-a", n: 7 } });
    let meta = data(await call("read", "metadata/meta"));
    expect(meta).toEqual({
      cas_required: false,
      created_time: meta.created_time,
      current_version: 0,
      custom_metadata: { owner: "team-a", n: "7" },
      delete_version_after: "0s",
      max_versions: 5,
      oldest_version: 0,
      updated_time: meta.created_time,
      versions: {},
    });
    expect(meta.created_time).toMatch(GO_TIME);

    const w = data(await call("write", "data/meta", { data: { a: 1 } }));
    expect(w.custom_metadata).toEqual({ owner: "team-a", n: "7" });
    meta = data(await call("read", "metadata/meta"));
    expect(meta.current_version).toBe(1);
    expect(meta.updated_time).toBe(w.created_time);
    expect(meta.versions).toEqual({ "1": { created_time: w.created_time, deletion_time: "", destroyed: false } });

    // PATCH: merge custom_metadata (null removes a key), reset a setting with null
    await call("patch", "metadata/meta", { custom_metadata: { owner: null, env: "prod" }, max_versions: null, cas_required: true });
    meta = data(await call("read", "metadata/meta"));
    expect(meta).toMatchObject({ custom_metadata: { n: "7", env: "prod" }, max_versions: 0, cas_required: true });
    await call("patch", "metadata/meta", { custom_metadata: null });
    expect(data(await call("read", "metadata/meta")).custom_metadata).toBeNull();
    expect((await fails("patch", "metadata/none", { max_versions: 1 })).status).toBe(404);

    // write replaces custom_metadata as a whole; {} clears it
    await call("write", "metadata/meta", { custom_metadata: { a: "1" } });
    await call("write", "metadata/meta", { custom_metadata: { b: "2" } });
    expect(data(await call("read", "metadata/meta")).custom_metadata).toEqual({ b: "2" });
    await call("write", "metadata/meta", { custom_metadata: {} });
    expect(data(await call("read", "metadata/meta")).custom_metadata).toBeNull();

    expect(await call("delete", "metadata/meta")).toBeUndefined();
    expect((await fails("read", "metadata/meta")).status).toBe(404);
    expect((await fails("read", "data/meta")).status).toBe(404);
    expect(await raw("versions/meta/1")).toBeUndefined();
  });

  it("enforces custom_metadata limits on write and patch", async () => {
    const { call, fails } = kv();
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"]));
    const e = await fails("write", "metadata/cm", { custom_metadata: many });
    expect(e.status).toBe(400);
    expect(e.message).toContain("payload must contain at most 64 keys, provided 65");
    expect((await fails("write", "metadata/cm", { custom_metadata: { ["k".repeat(129)]: "v" } })).status).toBe(400);
    expect((await fails("write", "metadata/cm", { custom_metadata: { k: "v".repeat(513) } })).status).toBe(400);
    expect((await fails("write", "metadata/cm", { custom_metadata: "not a map" })).status).toBe(400);

    await call("write", "metadata/cm", { custom_metadata: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, "v"])) });
    const over = await fails("patch", "metadata/cm", { custom_metadata: { extra: "1" } });
    expect(over.message).toContain("payload must contain at most 64 keys, provided 65");
    await call("patch", "metadata/cm", { custom_metadata: { k0: null, extra: "1" } });
    expect(Object.keys(data(await call("read", "metadata/cm")).custom_metadata as object)).toHaveLength(64);
  });

  it("warns when a key turns cas_required off that the mount requires", async () => {
    const { call } = kv();
    await call("write", "config", { cas_required: true });
    const r = await call("write", "metadata/w", { cas_required: false });
    expect(r?.warnings).toEqual(['"cas_required" set to false, but is mandated by backend config. This value will be ignored.']);
  });

  it("rejects bad metadata settings as 400", async () => {
    const { fails } = kv();
    expect((await fails("write", "metadata/b", { max_versions: -1 })).status).toBe(400);
    expect((await fails("write", "metadata/b", { max_versions: "many" })).status).toBe(400);
    expect((await fails("write", "metadata/b", { delete_version_after: "soon" })).status).toBe(400);
    expect((await fails("write", "metadata/b", { delete_version_after: "-5s" })).status).toBe(400);
    expect((await fails("write", "config", { max_versions: -2 })).status).toBe(400);
    expect((await fails("write", "config", { delete_version_after: "later" })).status).toBe(400);
  });
});

describe("kv v2: listing", () => {
  async function seed(call: Harness["call"]): Promise<void> {
    for (const p of ["a", "b/c", "b/d", "b/e/f", "e", "b"]) await call("write", `data/${p}`, { data: { p } });
  }

  it("lists one level with folders, paginated with after/limit", async () => {
    const { call } = kv();
    await seed(call);
    expect(data(await call("list", "metadata/")).keys).toEqual(["a", "b", "b/", "e"]);
    expect(data(await call("list", "metadata/b/")).keys).toEqual(["c", "d", "e/"]);
    expect(data(await call("list", "metadata/b")).keys).toEqual(["c", "d", "e/"]);
    expect(data(await call("list", "metadata/", { after: "a", limit: 2 })).keys).toEqual(["b", "b/"]);
    expect(data(await call("list", "metadata/", { after: "b/", limit: "1" })).keys).toEqual(["e"]);
  });

  it("answers an empty listing with 404", async () => {
    const { call, fails } = kv();
    expect((await fails("list", "metadata/")).status).toBe(404);
    await call("write", "data/x/y", { data: {} });
    expect((await fails("list", "metadata/nothing/")).status).toBe(404);
    expect((await fails("list", "metadata/", { after: "x/" })).status).toBe(404);
    // a metadata delete removes the key from listings
    await call("delete", "metadata/x/y");
    expect((await fails("list", "metadata/")).status).toBe(404);
  });

  it("scans recursively and lists detailed metadata", async () => {
    const { call } = kv();
    await seed(call);
    expect(data(await call("scan", "metadata/")).keys).toEqual(["a", "b", "b/c", "b/d", "b/e/f", "e"]);
    expect(data(await call("scan", "metadata/b/")).keys).toEqual(["c", "d", "e/f"]);

    const detailed = data(await call("list", "detailed-metadata/b/"));
    expect(detailed.keys).toEqual(["c", "d", "e/"]);
    const info = detailed.key_info as Record<string, Record<string, unknown>>;
    expect(Object.keys(info)).toEqual(["c", "d"]);
    expect(info.c).toMatchObject({ current_version: 1, oldest_version: 0, max_versions: 0, custom_metadata: null });
    expect(Object.keys(info.c.versions as object)).toEqual(["1"]);
    const scanned = data(await call("scan", "detailed-metadata/"));
    expect(Object.keys(scanned.key_info as object)).toEqual(scanned.keys);
  });
});

describe("kv v2: subkeys", () => {
  it("returns the structure without values, to a depth", async () => {
    const { call, fails } = kv();
    await call("write", "data/sk", { data: { foo: "abc", bar: { baz: "def", deep: { x: 1 } }, quux: {} } });
    await call("write", "data/sk", { data: { only: 1 } });
    const all = data(await call("read", "subkeys/sk", { version: 1 }));
    expect(all.subkeys).toEqual({ foo: null, bar: { baz: null, deep: { x: null } }, quux: null });
    expect(all.metadata).toMatchObject({ version: 1, destroyed: false, deletion_time: "" });
    expect(data(await call("read", "subkeys/sk", { version: 1, depth: "2" })).subkeys).toEqual({
      foo: null,
      bar: { baz: null, deep: null },
      quux: null,
    });
    expect(data(await call("read", "subkeys/sk")).subkeys).toEqual({ only: null });

    await call("write", "destroy/sk", { versions: [2] });
    const gone = await fails("read", "subkeys/sk");
    expect(gone.status).toBe(404);
    expect(gone.data).toMatchObject({ subkeys: null, metadata: { version: 2, destroyed: true } });
    expect((await fails("read", "subkeys/none")).status).toBe(404);
    expect((await fails("read", "subkeys/sk", { depth: "deep" })).status).toBe(400);
  });
});

describe("kv v2: bad input is a 4xx, never a TypeError", () => {
  it("rejects malformed data, versions and paths", async () => {
    const { fails } = kv();
    const cases: Array<[Call, string, Record<string, unknown>, number]> = [
      ["write", "data/x", {}, 400],
      ["write", "data/x", { data: null }, 400],
      ["write", "data/x", { data: "str" }, 400],
      ["write", "data/x", { data: [1, 2] }, 400],
      ["write", "data/x", { data: 42 }, 400],
      ["write", "data/x", { data: { a: 1 }, options: "nope" }, 400],
      ["write", "data/x", { data: { blob: "x".repeat(600 * 1024) } }, 413],
      ["read", "data/x", { version: "abc" }, 400],
      ["read", "data/x", { version: { n: 1 } }, 400],
      ["read", "data/a/../b", {}, 400],
      ["write", "data/a/../b", { data: {} }, 400],
      ["write", "data/./b", { data: {} }, 400],
      ["write", "data/x/", { data: {} }, 400],
      ["read", "data/x/", {}, 400],
      ["write", `data/${"p".repeat(1025)}`, { data: {} }, 400],
      ["write", "metadata/a/..", { max_versions: 1 }, 400],
      ["list", "metadata/a/../", {}, 400],
      ["write", "delete/x", { versions: { a: 1 } }, 400],
      ["write", "data/x\u0000y", { data: {} }, 400],
    ];
    for (const [op, path, body, status] of cases) {
      const e = await fails(op, path, body);
      expect(e.status, `${op} ${path} ${JSON.stringify(body).slice(0, 60)}`).toBe(status);
    }
    // Empty segments reach the engine inside a rest parameter, and it refuses them.
    expect((await fails("read", "data/a//b")).status).toBe(400);
  });

  it("answers OpenBao's warnings for v1-style and root paths", async () => {
    const { call, fails } = kv();
    const r = await call("read", "foo/bar");
    expect(r?.status).toBe(404);
    expect(r?.warnings?.[0]).toContain("use 'bao kv get' for this operation");
    expect((await call("write", "foo", { a: 1 }))?.warnings?.[0]).toContain("'bao kv put'");
    expect((await call("list", "data/"))?.warnings?.[0]).toContain("'bao kv list'");
    expect(await call("read", "data")).toEqual({ status: 404, warnings: ["Non-listing operations on the root of a K/V v2 mount are not supported."] });
    expect((await call("read", "metadata"))?.status).toBe(404);
    expect((await fails("read", "detailed-metadata/x")).status).toBe(405);
  });
});

describe("kv v2: property — the versions map stays consistent", () => {
  type Op =
    | { t: "write"; cas?: boolean }
    | { t: "patch" }
    | { t: "deleteLatest" }
    | { t: "delete" | "undelete" | "destroy"; versions: number[] };

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ t: fc.constant("write" as const), cas: fc.boolean() }),
    fc.constant({ t: "patch" as const }),
    fc.constant({ t: "deleteLatest" as const }),
    fc.record({ t: fc.constantFrom("delete" as const, "undelete" as const, "destroy" as const), versions: fc.array(fc.integer({ min: -1, max: 12 }), { minLength: 1, maxLength: 4 }) }),
  );

  it("matches a model over random sequences of writes, deletes, undeletes and destroys", async () => {
    const { call, view } = kv();
    await call("write", "config", { max_versions: 3 });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 25 }), async (ops) => {
        const key = `prop/k${run++}`;
        const MAX = 3;
        // The model: current version, and per retained version its data and state.
        let current = 0;
        const model = new Map<number, { data: Record<string, unknown>; deleted: boolean; destroyed: boolean }>();
        const retain = (): void => {
          for (const n of [...model.keys()]) if (n <= current - MAX) model.delete(n);
        };
        for (const [i, op] of ops.entries()) {
          switch (op.t) {
            case "write": {
              const d = { step: i };
              await call("write", `data/${key}`, op.cas ? { data: d, options: { cas: current } } : { data: d });
              current += 1;
              model.set(current, { data: d, deleted: false, destroyed: false });
              retain();
              break;
            }
            case "patch": {
              const latest = model.get(current);
              if (!latest || latest.deleted || latest.destroyed) {
                await expect(call("patch", `data/${key}`, { data: { p: i } })).rejects.toMatchObject({ status: 404 });
                break;
              }
              await call("patch", `data/${key}`, { data: { p: i } });
              current += 1;
              model.set(current, { data: { ...latest.data, p: i }, deleted: false, destroyed: false });
              retain();
              break;
            }
            case "deleteLatest": {
              await call("delete", `data/${key}`);
              const latest = model.get(current);
              if (latest && !latest.destroyed) latest.deleted = true;
              break;
            }
            default: {
              await call("write", `${op.t}/${key}`, { versions: op.versions });
              for (const n of op.versions) {
                const v = model.get(n);
                if (!v || v.destroyed) continue;
                if (op.t === "delete") v.deleted = true;
                else if (op.t === "undelete") v.deleted = false;
                else v.destroyed = true;
              }
            }
          }

          if (current === 0) {
            await expect(call("read", `metadata/${key}`)).rejects.toMatchObject({ status: 404 });
            continue;
          }
          const meta = data(await call("read", `metadata/${key}`));
          expect(meta.current_version).toBe(current);
          expect(meta.oldest_version).toBe(current >= MAX ? current - MAX + 1 : 0);
          const versions = meta.versions as Record<string, { deletion_time: string; destroyed: boolean }>;
          expect(Object.keys(versions).map(Number)).toEqual([...model.keys()].sort((a, b) => a - b));
          for (const [n, v] of model) {
            expect(versions[String(n)].destroyed).toBe(v.destroyed);
            // A destroyed version keeps whatever deletion time it had; a live one has one iff deleted.
            if (!v.destroyed) expect(versions[String(n)].deletion_time !== "").toBe(v.deleted);
          }
          // Stored version data exists exactly for retained, non-destroyed versions.
          const stored = (await view.list(`versions/${key}/`)).map(Number).sort((a, b) => a - b);
          expect(stored).toEqual([...model].filter(([, v]) => !v.destroyed).map(([n]) => n).sort((a, b) => a - b));
          // Reads agree with the model.
          const latest = model.get(current)!;
          if (latest.deleted || latest.destroyed) {
            await expect(call("read", `data/${key}`)).rejects.toMatchObject({ status: 404, data: { data: null } });
          } else {
            expect(data(await call("read", `data/${key}`)).data).toEqual(latest.data);
          }
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe("kv v1", () => {
  it("stores, reads, lists and deletes the body as is", async () => {
    const { call, fails, raw, backend, view } = kv(1);
    const m = backend.resolve("app/db", "update");
    expect(await backend.exists({ data: {} } as unknown as Request, m, view)).toBe(false);
    expect(await call("write", "app/db", { user: "u", nested: { a: [1] }, limit: "not a number" })).toBeUndefined();
    expect(await backend.exists({ data: {} } as unknown as Request, m, view)).toBe(true);
    // lease_duration: the mount's default lease TTL when the secret has no ttl of its own (OpenBao's rule).
    expect(await call("read", "app/db")).toEqual({ data: { user: "u", nested: { a: [1] }, limit: "not a number" }, leaseDuration: 768 * 3600 });
    expect(await raw("entries/app/db")).toBe('{"user":"u","nested":{"a":[1]},"limit":"not a number"}');

    await call("write", "app/db", { user: "v" }); // update replaces
    expect(data(await call("read", "app/db"))).toEqual({ user: "v" });

    await call("write", "app/cache", { ttl: "1h", v: 1 });
    await call("write", "top", { v: 1 });
    expect((await call("read", "app/cache"))?.leaseDuration).toBe(3600);

    expect(data(await call("list", "")).keys).toEqual(["app/", "top"]);
    expect(data(await call("list", "app/")).keys).toEqual(["cache", "db"]);
    expect(data(await call("list", "app/", { after: "cache" })).keys).toEqual(["db"]);
    expect(data(await call("list", "app/", { limit: 1 })).keys).toEqual(["cache"]);
    expect(data(await call("scan", "")).keys).toEqual(["app/cache", "app/db", "top"]);
    expect((await fails("list", "nothing/")).status).toBe(404);

    expect(await call("delete", "app/db")).toBeUndefined();
    expect((await fails("read", "app/db")).status).toBe(404);
    expect(await call("delete", "app/db")).toBeUndefined();
  });

  it("rejects bad input with 4xx", async () => {
    const { fails } = kv(1);
    expect((await fails("write", "x", {})).message).toBe("missing data fields");
    expect((await fails("write", "a/../b", { v: 1 })).status).toBe(400);
    expect((await fails("write", "x/", { v: 1 })).status).toBe(400);
    expect((await fails("write", "x", { blob: "x".repeat(600 * 1024) })).status).toBe(413);
    expect((await fails("list", "", { limit: "lots" })).status).toBe(400);
    expect((await fails("read", "missing")).status).toBe(404);
  });
});
