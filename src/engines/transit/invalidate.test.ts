/**
 * The transit engine's invalidate hook (another node wrote under the mount, see src/core/remote-changes.ts):
 * a key deleted elsewhere does not keep its parsed material in this node's memory.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backendHarness } from "../../../test/backend-harness.js";
import { createTransitBackendWith } from "./backend.js";
import { PolicyCache, policyKey } from "./key-store.js";

describe("transit invalidate", () => {
  const cache = new PolicyCache();
  let h: ReturnType<typeof backendHarness>;
  beforeEach(async () => {
    cache.clear();
    h = backendHarness(createTransitBackendWith({ cache }), { point: "transit/", type: "transit" });
    for (const name of ["gone", "kept"]) {
      await h.call("update", `keys/${name}`);
      await h.call("update", `encrypt/${name}`, { plaintext: Buffer.from("x").toString("base64") });
    }
  });
  afterEach(async () => {
    await h.close();
  });

  it("drops the parsed key whose record another node deleted, and only that one", async () => {
    expect(cache.size).toBe(2);
    await h.view.delete(policyKey("gone")); // the other node's deletion
    await h.backend.invalidate("config/keys"); // not a key: nothing dropped
    expect(cache.size).toBe(2);
    await h.backend.invalidate(policyKey("gone"));
    expect(cache.size).toBe(1);
    expect(await h.call("update", "encrypt/kept", { plaintext: "eA==" })).toBeDefined();
  });
});
