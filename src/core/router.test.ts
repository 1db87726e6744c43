import { describe, expect, it } from "vitest";
import { Router, type MountedBackend } from "./router.js";
import { newMount, type MountTable } from "./mounts.js";

const mounted = (table: MountTable, path: string): MountedBackend => ({ entry: newMount(table, path, "kv"), backend: undefined as never, storage: undefined as never });

describe("router", () => {
  const r = new Router();
  for (const [t, p] of [["secret", "secret/"], ["secret", "pki/"], ["secret", "pki/int/"], ["auth", "token/"], ["auth", "approle/"]] as const) r.add(mounted(t, p));

  it.each([
    ["secret/data/x", "secret/", "data/x"],
    ["secret/", "secret/", ""],
    ["secret", "secret/", ""],
    ["pki/int/issue/web", "pki/int/", "issue/web"],
    ["pki/int", "pki/int/", ""],
    ["pki/intx/y", "pki/", "intx/y"],
    ["pki/ca", "pki/", "ca"],
    ["auth/token/create", "auth/token/", "create"],
    ["auth/approle/login", "auth/approle/", "login"],
  ])("routes %s to %s (rest %s)", (path, mountPoint, relPath) => {
    expect(r.match(path)).toMatchObject({ mountPoint, relPath });
  });

  it("finds nothing for unknown prefixes and partial segments", () => {
    expect(r.match("secretx/data")).toBeUndefined();
    expect(r.match("auth/tokenx/create")).toBeUndefined();
    expect(r.match("nothing")).toBeUndefined();
    expect(r.match("")).toBeUndefined();
  });

  it("forgets removed mounts", () => {
    const r2 = new Router();
    r2.add(mounted("secret", "a/b/"));
    expect(r2.match("a/b/c")?.mountPoint).toBe("a/b/");
    r2.remove("a/b/");
    expect(r2.match("a/b/c")).toBeUndefined();
  });
});
