import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../test/servers.js";
import type { RunningServer } from "../server/server.js";

describe("response wrapping", () => {
  let s: RunningServer;
  let root: string;
  beforeAll(async () => {
    s = await devServer();
    root = s.rootToken!;
  });
  afterAll(async () => s.stop());

  it("wraps any response behind a single-use token; unwrap works exactly once", async () => {
    await api(s.url, "POST", "secret/data/wrapped", { token: root, body: { data: { password: "hunter2" } } });
    const w = await api(s.url, "GET", "secret/data/wrapped", { token: root, headers: { "X-Vault-Wrap-TTL": "5m" } });
    expect(w.status).toBe(200);
    expect(w.body?.data).toBeNull();
    expect(JSON.stringify(w.body)).not.toContain("hunter2");
    const info = w.body?.wrap_info as { token: string; ttl: number; creation_path: string };
    expect(info).toMatchObject({ ttl: 300, creation_path: "secret/data/wrapped" });

    const lookup = await api(s.url, "POST", "sys/wrapping/lookup", { body: { token: info.token } });
    expect(lookup.body?.data).toMatchObject({ creation_path: "secret/data/wrapped", creation_ttl: 300 });

    const first = await api(s.url, "POST", "sys/wrapping/unwrap", { token: info.token });
    expect((first.body?.data as { data: unknown }).data).toEqual({ password: "hunter2" });
    const again = await api(s.url, "POST", "sys/wrapping/unwrap", { token: root, body: { token: info.token } });
    expect(again.status).toBe(400);
    // The wrapping token itself is gone too.
    expect((await api(s.url, "POST", "sys/wrapping/lookup", { body: { token: info.token } })).status).toBe(400);
  });

  it("wraps arbitrary data with sys/wrapping/wrap and moves it with rewrap", async () => {
    const w = await api(s.url, "POST", "sys/wrapping/wrap", { token: root, body: { k: "v" }, headers: { "X-Vault-Wrap-TTL": "60" } });
    const t1 = (w.body?.wrap_info as { token: string }).token;
    const re = await api(s.url, "POST", "sys/wrapping/rewrap", { token: root, body: { token: t1 } });
    const t2 = (re.body?.wrap_info as { token: string }).token;
    expect(t2).not.toBe(t1);
    expect((await api(s.url, "POST", "sys/wrapping/unwrap", { token: root, body: { token: t1 } })).status).toBe(400);
    const out = await api(s.url, "POST", "sys/wrapping/unwrap", { token: root, body: { token: t2 } });
    expect(out.body?.data).toEqual({ k: "v" });
    expect((await api(s.url, "POST", "sys/wrapping/wrap", { token: root, body: { k: "v" } })).status).toBe(400);
  });

  it("rewrap under concurrency yields exactly one live wrapping token", async () => {
    const w = await api(s.url, "POST", "sys/wrapping/wrap", { token: root, body: { once: "only" }, headers: { "X-Vault-Wrap-TTL": "60" } });
    const t1 = (w.body?.wrap_info as { token: string }).token;
    const attempts = await Promise.all(
      Array.from({ length: 12 }, () => api(s.url, "POST", "sys/wrapping/rewrap", { token: root, body: { token: t1 } })),
    );
    const fresh = attempts.filter((r) => r.status === 200).map((r) => (r.body?.wrap_info as { token: string }).token);
    expect(fresh).toHaveLength(1);
    expect(attempts.filter((r) => r.status !== 200).every((r) => r.status === 400)).toBe(true);
    const out = await api(s.url, "POST", "sys/wrapping/unwrap", { token: root, body: { token: fresh[0] } });
    expect(out.body?.data).toEqual({ once: "only" });
  });

  it("refuses out-of-range wrap TTLs before running the request", async () => {
    const r = await api(s.url, "POST", "secret/data/never", { token: root, body: { data: { a: 1 } }, headers: { "X-Vault-Wrap-TTL": "99999999999" } });
    expect(r.status).toBe(400);
    expect((await api(s.url, "GET", "secret/data/never", { token: root })).status).toBe(404);
  });
});
