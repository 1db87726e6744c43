// A transit key's live versions are bounded (limits.max_transit_key_versions): every rotation rewrites
// the whole key entry, so unbounded rotation makes each one slower for the whole server.
import { afterEach, describe, expect, it } from "vitest";
import { createTransitBackendWith } from "./backend.js";
import { backendHarness } from "../../../test/backend-harness.js";
import { api, quietLogger } from "../../../test/servers.js";
import { startDevServer } from "../../server/server.js";

const open: ReturnType<typeof backendHarness>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

describe("transit: live key versions", () => {
  it("refuses a rotation beyond the limit with a 400 that says how to make room, and trimming makes room", async () => {
    const h = backendHarness(createTransitBackendWith({ maxKeyVersions: 3 }), { point: "transit/", type: "transit" });
    open.push(h);
    await h.call("write", "keys/k");
    await h.call("write", "keys/k/rotate");
    await h.call("write", "keys/k/rotate");
    const err = await h.fails("write", "keys/k/rotate");
    expect(err.status).toBe(400);
    expect(err.message).toBe(
      "key has 3 live versions, the limit (server config limits.max_transit_key_versions); trim old versions with keys/k/trim (min_available_version) first",
    );
    await h.call("write", "keys/k/config", { min_decryption_version: 2 });
    await h.call("write", "keys/k/trim", { min_available_version: 2 });
    await expect(h.call("write", "keys/k/rotate")).resolves.toBeDefined();
  });

  it("takes the limit from the server config", async () => {
    const s = await startDevServer({ listenAddress: "127.0.0.1:0", logger: quietLogger, limits: { maxTransitKeyVersions: 2 } });
    try {
      const token = s.rootToken;
      expect((await api(s.url, "POST", "sys/mounts/transit", { token, body: { type: "transit" } })).status).toBe(204);
      await api(s.url, "POST", "transit/keys/k", { token });
      expect((await api(s.url, "POST", "transit/keys/k/rotate", { token })).status).toBe(200);
      const refused = await api(s.url, "POST", "transit/keys/k/rotate", { token });
      expect(refused.status).toBe(400);
      expect(refused.body?.errors).toEqual([expect.stringMatching(/key has 2 live versions/)]);
    } finally {
      await s.stop();
    }
  });
});
