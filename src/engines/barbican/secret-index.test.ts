/**
 * Plain secret lists read one page of records through the creation index, not every record; lists the
 * index cannot answer exactly (filters, expirations, restrictive ACLs, deletes) still answer as a full scan.
 */
import { describe, expect, it, vi } from "vitest";
import { backendHarness } from "../../../test/backend-harness.js";
import { SqliteStorage } from "../../storage/sqlite.js";
import { createBarbicanBackendWith } from "./backend.js";

const idOf = (ref: string): string => ref.slice(ref.lastIndexOf("/") + 1);

describe("the secret creation index", () => {
  it("lists a page with a page of record reads, in creation order, with the right total", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const get = vi.spyOn(storage, "get");
    const h = backendHarness(createBarbicanBackendWith("ns-index"), { point: "barbican/", type: "barbican" }, storage);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await h.call("create", "secrets", { name: `s${i}`, payload: "x", payload_content_type: "text/plain" });
      ids.push(idOf((r?.data as { secret_ref: string }).secret_ref));
    }
    const list = async (q: Record<string, unknown>) => (await h.call("list", "secrets/", q))?.data as { secrets: Array<{ name: string; secret_ref: string }>; total: number };
    const recordReads = () => get.mock.calls.filter(([k]) => /\/secret\/[^/]+$/.test(k)).length;

    await list({}); // the project's first plain list builds the index (one scan)
    get.mockClear();
    const p = await list({ limit: "5", offset: "10" });
    expect(p.total).toBe(30);
    expect(p.secrets.map((s) => idOf(s.secret_ref))).toEqual(ids.slice(10, 15));
    expect(recordReads()).toBe(5);
    const desc = await list({ limit: "3", sort: "created:desc" });
    expect(desc.secrets.map((s) => s.name)).toEqual(["s29", "s28", "s27"]);

    // A deleted secret leaves the index; the total follows.
    await h.call("delete", `secrets/${ids[0]}`);
    expect((await list({ limit: "2" })).secrets.map((s) => s.name)).toEqual(["s1", "s2"]);
    expect((await list({})).total).toBe(29);

    // A restrictive ACL makes lists scan (and leave the secret out for a caller the ACL does not name).
    await h.call("update", `secrets/${ids[1]}/acl`, { read: { "project-access": false, users: ["someone"] } });
    get.mockClear();
    const scanned = await list({ limit: "2" });
    expect(scanned.total).toBe(28);
    expect(scanned.secrets.map((s) => s.name)).toEqual(["s2", "s3"]);
    expect(recordReads()).toBeGreaterThanOrEqual(29);
    // Filters scan too.
    expect((await list({ name: "s7" })).secrets.map((s) => s.name)).toEqual(["s7"]);
    // The ACL removed: plain lists use the index again.
    await h.call("delete", `secrets/${ids[1]}/acl`);
    get.mockClear();
    expect((await list({ limit: "2" })).total).toBe(29);
    expect(recordReads()).toBe(2);
    await storage.close();
  });

  it("is built by the first plain list over secrets stored without it", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const h = backendHarness(createBarbicanBackendWith("ns-index-old"), { point: "barbican/", type: "barbican" }, storage);
    for (let i = 0; i < 4; i++) await h.call("create", "secrets", { name: `o${i}`, payload: "x", payload_content_type: "text/plain" });
    // As if stored by a server without the index.
    expect((await h.dump("index/")).size).toBeGreaterThan(0);
    for (const k of (await h.dump("index/")).keys()) await h.view.delete(k);
    const list = async () => (await h.call("list", "secrets/", {}))?.data as { secrets: Array<{ name: string }>; total: number };
    expect((await list()).total).toBe(4);
    expect((await h.dump("index/")).has("index/secret-built")).toBe(true);
    expect((await list()).secrets.map((s) => s.name)).toEqual(["o0", "o1", "o2", "o3"]);
    await storage.close();
  });
});
