/**
 * sys/host-info and sys/internal/counters/* over HTTP: OpenBao's field names, root namespace only, and
 * behind the ACL like any other sys path.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";

let s: RunningServer;
let root: string;

beforeAll(async () => {
  s = await devServer();
  root = s.rootToken!;
});
afterAll(async () => s.stop());

const data = async (path: string, token = root): Promise<Record<string, unknown>> => {
  const r = await api(s.url, "GET", path, { token });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body?.data as Record<string, unknown>;
};

describe("sys/host-info", () => {
  it("answers gopsutil's field names for cpu, cpu_times, disk, host and memory", async () => {
    const d = await data("sys/host-info");
    expect(Object.keys(d).sort()).toEqual(["cpu", "cpu_times", "disk", "host", "memory", "timestamp"]);
    const cpu = (d.cpu as Array<Record<string, unknown>>)[0];
    expect(cpu).toMatchObject({ cpu: 0, modelName: expect.any(String), mhz: expect.any(Number) });
    expect((d.cpu_times as Array<Record<string, unknown>>)[0]).toMatchObject({ cpu: "cpu0", user: expect.any(Number), idle: expect.any(Number) });
    expect((d.disk as Array<Record<string, unknown>>)[0]).toMatchObject({ path: "/", total: expect.any(Number), usedPercent: expect.any(Number), inodesTotal: expect.any(Number) });
    expect(d.host).toMatchObject({ hostname: expect.any(String), uptime: expect.any(Number), bootTime: expect.any(Number), os: "linux", kernelVersion: expect.any(String) });
    expect((d.memory as { total: number }).total).toBeGreaterThan(0);
    expect(Date.parse(d.timestamp as string)).not.toBeNaN();
  });
});

describe("sys/internal/counters", () => {
  it("tokens counts stored service tokens, entities is 0, requests and activity have Vault's shapes", async () => {
    const before = ((await data("sys/internal/counters/tokens")).counters as { service_tokens: { total: number } }).service_tokens.total;
    await api(s.url, "POST", "auth/token/create", { token: root, body: { policies: ["default"] } });
    expect(await data("sys/internal/counters/tokens")).toEqual({ counters: { service_tokens: { total: before + 1 } } });
    expect(await data("sys/internal/counters/entities")).toEqual({ counters: { entities: { total: 0 } } });
    const requests = (await data("sys/internal/counters/requests")).counters as Array<{ start_time: string; total: number }>;
    expect(requests).toHaveLength(1);
    expect(requests[0].start_time).toMatch(/^\d{4}-\d\d-01T00:00:00Z$/);
    expect(requests[0].total).toBeGreaterThan(0);
    const activity = await data("sys/internal/counters/activity");
    expect(activity.total).toEqual({ clients: before + 1, entity_clients: 0, non_entity_clients: before + 1, distinct_entities: 0, non_entity_tokens: before + 1 });
    expect(activity.by_namespace).toEqual(expect.arrayContaining([expect.objectContaining({ namespace_id: "root", namespace_path: "", counts: activity.total })]));
  });

  it("needs read on the path, and answers in the root namespace only", async () => {
    const created = await api(s.url, "POST", "auth/token/create", { token: root, body: { policies: ["default"] } });
    const plain = (created.body?.auth as { client_token: string }).client_token;
    for (const p of ["sys/host-info", "sys/internal/counters/tokens", "sys/internal/counters/activity"]) {
      expect((await api(s.url, "GET", p, { token: plain })).status).toBe(403);
    }
    await api(s.url, "POST", "sys/namespaces/cnt", { token: root });
    const inNs = await api(s.url, "GET", "sys/internal/counters/tokens", { token: root, headers: { "X-Vault-Namespace": "cnt" } });
    expect(inNs.status).toBe(400);
    expect(inNs.body?.errors).toEqual(["operation unavailable in namespaces"]);
  });
});
