/**
 * sys/seal, sys/step-down, sys/metrics and the classic root generation go through the one pipeline: a
 * refused call and an allowed one are both in the audit log (request and response), as in OpenBao, and a
 * seal's own response is on record before sealing tears the audit devices down.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";

interface AuditLine {
  type: "request" | "response";
  auth?: { policies?: string[] };
  request: { path: string; operation: string };
  response?: Record<string, unknown>;
  error?: string;
}

const dir = mkdtempSync(join(tmpdir(), "arca-sys-audit-"));
const file = join(dir, "audit.log");
let s: RunningServer;
let root: string;
let plain: string;

beforeAll(async () => {
  s = await devServer();
  root = s.rootToken!;
  expect((await api(s.url, "PUT", "sys/audit/file", { token: root, body: { type: "file", options: { file_path: file } } })).status).toBe(204);
  await api(s.url, "PUT", "sys/policies/acl/metrics-only", { token: root, body: { policy: 'path "sys/seal" { capabilities = ["update"] }' } });
  const created = await api(s.url, "POST", "auth/token/create", { token: root, body: { policies: ["metrics-only"] } });
  plain = (created.body?.auth as { client_token: string }).client_token;
});
afterAll(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

function entriesFor(path: string): AuditLine[] {
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as AuditLine)
    .filter((l) => l.request.path === path);
}

/** Whether the log holds a request and a response for `path`, refused (with the error) or allowed. */
function expectAudited(lines: AuditLine[], outcome: "refused" | "allowed", policy: string): void {
  const mine = lines.filter((l) => l.auth?.policies?.includes(policy) ?? outcome === "refused");
  expect(mine.some((l) => l.type === "request")).toBe(true);
  const responses = mine.filter((l) => l.type === "response");
  if (outcome === "refused") expect(responses.some((l) => l.error === "permission denied")).toBe(true);
  else expect(responses.some((l) => l.error === "")).toBe(true);
}

describe("sys endpoints that take a token are audited", () => {
  it("sys/metrics: refused without read, allowed for root", async () => {
    expect((await api(s.url, "GET", "sys/metrics", { token: plain })).status).toBe(403);
    const ok = await fetch(`${s.url}/v1/sys/metrics?format=prometheus`, { headers: { "X-Vault-Token": root } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toContain("text/plain");
    expect(await ok.text()).toContain("arca_requests_total");
    const lines = entriesFor("sys/metrics");
    expectAudited(lines, "refused", "metrics-only");
    expectAudited(lines, "allowed", "root");
  });

  it("sys/step-down: refused without sudo, allowed for root", async () => {
    expect((await api(s.url, "PUT", "sys/step-down", { token: plain })).status).toBe(403);
    expect((await api(s.url, "PUT", "sys/step-down", { token: root })).status).toBe(204);
    const lines = entriesFor("sys/step-down");
    expectAudited(lines, "refused", "metrics-only");
    expectAudited(lines, "allowed", "root");
  });

  it("sys/generate-root/attempt (no token needed) is audited", async () => {
    const read = await api(s.url, "GET", "sys/generate-root/attempt");
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ started: false });
    expect(entriesFor("sys/generate-root/attempt").filter((l) => l.type === "response")).toHaveLength(1);
    // The bare answer has nowhere to put a wrapping token: the header is ignored, as OpenBao's raw handler does.
    const wrapped = await api(s.url, "GET", "sys/generate-root/attempt", { headers: { "X-Vault-Wrap-TTL": "60" } });
    expect(wrapped.status).toBe(200);
    expect(wrapped.body).toMatchObject({ started: false });
  });

  it("sys/seal: a refusal without sudo, then root's seal with its response, are on record", async () => {
    // The policy grants update on sys/seal but not sudo: refused, and the server stays unsealed.
    expect((await api(s.url, "PUT", "sys/seal", { token: plain })).status).toBe(403);
    expect((await api(s.url, "PUT", "sys/seal")).status).toBe(403);
    expect((await api(s.url, "GET", "sys/seal-status")).body?.sealed).toBe(false);
    expect((await api(s.url, "PUT", "sys/seal", { token: root })).status).toBe(204);
    expect((await api(s.url, "GET", "sys/seal-status")).body?.sealed).toBe(true);
    // Sealed: nothing to seal, nothing to check (OpenBao answers 204 too).
    expect((await api(s.url, "PUT", "sys/seal")).status).toBe(204);
    const lines = entriesFor("sys/seal");
    expectAudited(lines, "refused", "metrics-only");
    expectAudited(lines, "allowed", "root");
    expect(lines.filter((l) => l.type === "response" && l.error === "permission denied")).toHaveLength(2);
    expect(lines.at(-1)).toMatchObject({ type: "response", error: "", auth: { policies: ["root"] } });
    await api(s.url, "PUT", "sys/unseal", { body: { key: s.unsealKey } });
    expect((await api(s.url, "GET", "sys/seal-status")).body?.sealed).toBe(false);
  });
});
