// A batch runs inside one request; it must not hold the event loop that every tenant shares.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";

describe("transit batches", () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await devServer();
    expect((await api(s.url, "POST", "sys/mounts/transit", { token: s.rootToken, body: { type: "transit" } })).status).toBe(204);
    expect((await api(s.url, "POST", "transit/keys/rsa", { token: s.rootToken, body: { type: "rsa-2048" } })).status).toBeLessThan(300);
  });
  afterAll(() => s.stop());

  it("answers health promptly while a large RSA signing batch runs", async () => {
    // ~1 ms of CPU per item: before batches yielded, every other request waited for all of it.
    // Liveness, not speed: the bound is generous.
    const batch_input = Array.from({ length: 2000 }, (_, i) => ({ input: Buffer.from(`m${i}`).toString("base64") }));
    let done = false;
    const sign = api(s.url, "POST", "transit/sign/rsa", { token: s.rootToken, body: { batch_input } }).finally(() => (done = true));
    let slowest = 0;
    let probes = 0;
    while (!done) {
      const t0 = performance.now();
      expect((await api(s.url, "GET", "sys/health")).status).toBe(200);
      slowest = Math.max(slowest, performance.now() - t0);
      probes++;
      await new Promise((r) => setTimeout(r, 20));
    }
    const res = await sign;
    expect(res.status).toBe(200);
    expect(((res.body?.data as { batch_results: unknown[] }).batch_results).length).toBe(2000);
    expect(probes).toBeGreaterThan(1);
    expect(slowest).toBeLessThan(500);
  });
});
