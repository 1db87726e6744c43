import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../test/servers.js";
import type { RunningServer } from "./server.js";
import type { MetricsSummary } from "./metrics-summary.js";

describe("sys/metrics", () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await devServer();
  });
  afterAll(async () => s.stop());

  it("serves Prometheus text with request counts and latency by mount and operation", async () => {
    await api(s.url, "POST", "secret/data/m", { token: s.rootToken, body: { data: { v: 1 } } });
    await api(s.url, "GET", "secret/data/m", { token: s.rootToken });
    const res = await fetch(`${s.url}/v1/sys/metrics?format=prometheus`, { headers: { "X-Vault-Token": s.rootToken! } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toMatch(/arca_requests_total\{mount="secret\/",operation="read",status="200"\} \d+/);
    expect(text).toMatch(/arca_request_duration_seconds_bucket\{le="0.005",mount="secret\/",operation="create"\}/);
    expect(text).toMatch(/arca_sealed 0/);
    expect(text).toMatch(/arca_tokens \d+/);
    expect(text).not.toContain(s.rootToken!);
  });

  it("needs a token allowed to read sys/metrics", async () => {
    expect((await api(s.url, "GET", "sys/metrics?format=prometheus")).status).toBe(403);
    const child = await api(s.url, "POST", "auth/token/create", { token: s.rootToken, body: { policies: ["default"] } });
    const t = (child.body?.auth as { client_token: string }).client_token;
    expect((await api(s.url, "GET", "sys/metrics", { token: t })).status).toBe(403);
    expect((await api(s.url, "GET", "sys/metrics", { token: s.rootToken })).status).toBe(200);
  });

  it("answers without format in go-metrics' JSON shape, as OpenBao does", async () => {
    await api(s.url, "POST", "secret/data/m", { token: s.rootToken, body: { data: { v: 1 } } });
    await api(s.url, "GET", "secret/data/m", { token: s.rootToken });
    const res = await fetch(`${s.url}/v1/sys/metrics`, { headers: { "X-Vault-Token": s.rootToken! } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    const body = (await res.json()) as MetricsSummary;
    expect(Object.keys(body).sort()).toEqual(["Counters", "Gauges", "Points", "Samples", "Timestamp"]);
    expect(body.Timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/);
    expect(body.Gauges).toContainEqual({ Name: "arca_sealed", Value: 0, Labels: {} });
    const reads = body.Counters.find((c) => c.Name === "arca_requests_total" && c.Labels.mount === "secret/" && c.Labels.operation === "read" && c.Labels.status === "200");
    expect(reads?.Count).toBeGreaterThanOrEqual(1);
    expect(Object.keys(reads!).sort()).toEqual(["Count", "Labels", "Max", "Mean", "Min", "Name", "Rate", "Stddev", "Sum"]);
    const latency = body.Samples.find((x) => x.Name === "arca_request_duration_seconds" && x.Labels.mount === "secret/" && x.Labels.operation === "read");
    expect(latency?.Count).toBeGreaterThanOrEqual(1);
    expect(latency!.Labels).not.toHaveProperty("le");
    expect(latency!.Mean).toBeCloseTo(latency!.Sum / latency!.Count);
    expect(latency!.Max).toBeGreaterThanOrEqual(latency!.Min);
  });
});
