import { describe, expect, it } from "vitest";
import { kvPath, kvTargetFrom } from "./kv-command.js";

const v2 = { data: { path: "secret/", type: "kv", options: { version: "2" } } };
const v1 = { data: { path: "kv/", type: "kv", options: null } };

describe("kv path resolution", () => {
  it("splits MOUNT/PATH using the mount the server reports", () => {
    const t = kvTargetFrom("secret/app/db", undefined, v2);
    expect(t).toEqual({ mount: "secret/", version: 2, rel: "app/db" });
    expect(kvPath(t, "data")).toBe("secret/data/app/db");
    expect(kvPath(t, "metadata")).toBe("secret/metadata/app/db");
    expect(kvTargetFrom("secret", undefined, v2).rel).toBe("");
    expect(kvTargetFrom("/secret/", undefined, v2).rel).toBe("");
  });

  it("uses -mount as the mount and the argument as the path", () => {
    const t = kvTargetFrom("app/db", "secret", v2);
    expect(kvPath(t, "destroy")).toBe("secret/destroy/app/db");
  });

  it("uses plain paths on v1 mounts and when the server cannot say", () => {
    expect(kvPath(kvTargetFrom("kv/a", undefined, v1), "data")).toBe("kv/a");
    expect(kvPath(kvTargetFrom("kv/a", undefined, undefined), "data")).toBe("kv/a");
    expect(kvPath(kvTargetFrom("a", "kv", undefined), "data")).toBe("kv/a");
  });
});
