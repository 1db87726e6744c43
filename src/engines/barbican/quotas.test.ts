/**
 * Quotas are read once per mount, not on every create (most projects have none, and the storage read was
 * a miss each time); setting or deleting them through project-quota takes effect at once.
 */
import { describe, expect, it, vi } from "vitest";
import { backendHarness } from "../../../test/backend-harness.js";
import { SqliteStorage } from "../../storage/sqlite.js";
import { createBarbicanBackendWith } from "./backend.js";

describe("quota checks", () => {
  it("read config/quotas once for many creates, and follow project-quota writes", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const get = vi.spyOn(storage, "get");
    const h = backendHarness(createBarbicanBackendWith("ns-quota"), { point: "barbican/", type: "barbican" }, storage);
    const quotaReads = () => get.mock.calls.filter(([k]) => k.endsWith("config/quotas")).length;
    const create = () => h.call("create", "secrets", { payload: "x", payload_content_type: "text/plain" });
    for (let i = 0; i < 5; i++) expect((await create())?.status).toBe(201);
    expect(quotaReads()).toBeLessThanOrEqual(1);

    await h.call("update", "project-quota", { project_quotas: { secrets: 5 } });
    expect((await h.fails("create", "secrets", { payload: "x", payload_content_type: "text/plain" })).status).toBe(403);
    expect((await h.call("read", "quotas"))?.data).toMatchObject({ quotas: { secrets: 5 } });
    await h.call("delete", "project-quota");
    expect((await create())?.status).toBe(201);
    expect(quotaReads()).toBeLessThanOrEqual(1);
    await storage.close();
  });

  it("a quota set or deleted on another node (invalidate) applies here at once", async () => {
    const h = backendHarness(createBarbicanBackendWith("ns-quota-ha"), { point: "barbican/", type: "barbican" });
    const create = () => h.call("create", "secrets", { payload: "x", payload_content_type: "text/plain" });
    expect((await create())?.status).toBe(201); // this node has read "no quotas"
    await h.view.put("config/quotas", Buffer.from(JSON.stringify({ secrets: 1 }), "utf8")); // the other node's write
    await h.backend.invalidate("secrets/unrelated");
    expect((await create())?.status).toBe(201); // nothing dropped for another key
    await h.backend.invalidate("config/quotas");
    expect((await h.fails("create", "secrets", { payload: "x", payload_content_type: "text/plain" })).status).toBe(403);
    await h.view.delete("config/quotas");
    await h.backend.invalidate("config/quotas");
    expect((await create())?.status).toBe(201);
    await h.close();
  });
});
