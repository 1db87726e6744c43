/**
 * The wire-format seam, proven by a second front door: a toy format (`/toy/<path>`, token in
 * `X-Toy-Token`, its own success and error bodies) served by the same listener as the OpenBao API. The
 * toy only translates; token auth, ACL refusal and audit come from the shared pipeline.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer, quietLogger } from "../../test/servers.js";
import type { Core } from "../core/core.js";
import type { RunningServer } from "../server/server.js";
import { DEFAULT_MAX_REQUEST_SIZE } from "../server/config.js";
import { startListener, type RunningListener } from "../server/listener.js";
import type { WireFormat } from "./wire-format.js";

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

/** Everything a wire format has to do, and nothing more: no token checks, no policy, no audit. */
function toyFormat(core: Core): WireFormat {
  return {
    name: "toy",
    matches: (pathname) => pathname.startsWith("/toy/"),
    async translate(input) {
      const method = input.http.method ?? "GET";
      const body = method === "POST" ? (JSON.parse((await input.readBody()).toString("utf8") || "{}") as Record<string, unknown>) : {};
      const token = input.http.headers["x-toy-token"];
      const request = core.newRequest({
        operation: method === "POST" ? "update" : "read",
        path: decodeURIComponent(input.pathname.slice("/toy/".length)),
        data: body,
        clientToken: typeof token === "string" ? token : undefined,
        remoteAddress: input.http.socket.remoteAddress ?? "",
      });
      return { kind: "call", request, render: (res, resp) => sendJson(res, 200, { toy: resp?.data ?? null }) };
    },
    renderError: (res, _input, err) => sendJson(res, err.status, { toy_error: { code: err.kind, text: err.message } }),
  };
}

let s: RunningServer;
let root: string;
/** A token whose only policy reads secret/data/shared. */
let reader: string;
let toy: RunningListener;
const dir = mkdtempSync(join(tmpdir(), "arca-toy-"));
const auditFile = join(dir, "audit.log");

async function toyCall(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${toy.url}/toy/${path}`, {
    method,
    headers: token === undefined ? {} : { "X-Toy-Token": token },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const DENIED = { toy_error: { code: "permission_denied", text: "permission denied" } };

// Tests run shuffled: each makes its own requests; only this setup is shared.
beforeAll(async () => {
  s = await devServer();
  root = s.rootToken ?? "";
  toy = await startListener(s.core, { type: "tcp", address: "127.0.0.1:0", tlsDisable: true, maxRequestSize: DEFAULT_MAX_REQUEST_SIZE }, quietLogger, undefined, [toyFormat(s.core)]);
  await api(toy.url, "PUT", "sys/audit/file", { token: root, body: { type: "file", options: { file_path: auditFile } } });
  await api(toy.url, "PUT", "sys/policies/acl/toy-reader", { token: root, body: { policy: 'path "secret/data/shared" { capabilities = ["read"] }' } });
  reader = ((await api(toy.url, "POST", "auth/token/create", { token: root, body: { policies: ["toy-reader"] } })).body?.auth as { client_token: string }).client_token;
  await api(toy.url, "POST", "secret/data/shared", { token: root, body: { data: { colour: "green" } } });
});
afterAll(async () => {
  await toy.close();
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

type AuditLine = { type: string; auth?: { display_name: string }; request: { path: string; operation: string }; error?: string };
function auditLines(): AuditLine[] {
  return readFileSync(auditFile, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as AuditLine);
}

describe("a second wire format over the same pipeline", () => {
  it("serves token-authenticated requests in its own body, beside the OpenBao API on one listener", async () => {
    expect((await toyCall("POST", "secret/data/toy-written", root, { data: { n: 1 } })).status).toBe(200);
    expect((await api(toy.url, "GET", "secret/data/toy-written", { token: root })).body).toHaveProperty(["data", "data", "n"], 1);
    const read = await toyCall("GET", "secret/data/shared", reader);
    expect(read.status).toBe(200);
    expect(read.body).toHaveProperty(["toy", "data", "colour"], "green");
  });

  it("refuses by the caller's policy and without a token, in the toy's error body", async () => {
    expect(await toyCall("POST", "secret/data/shared", reader, { data: { colour: "red" } })).toEqual({ status: 403, body: DENIED });
    expect(await toyCall("GET", "secret/data/other", reader)).toEqual({ status: 403, body: DENIED });
    expect(await toyCall("GET", "secret/data/shared")).toEqual({ status: 403, body: DENIED });
    expect(await toyCall("GET", "secret/data/shared", "hvs.not-a-token")).toEqual({ status: 403, body: DENIED });
  });

  it("is audited by the pipeline: allowed and refused toy requests are on record, the token only as an HMAC", async () => {
    await toyCall("GET", "secret/data/shared", reader);
    await toyCall("GET", "secret/data/audited-refusal", reader);
    const responses = auditLines().filter((e) => e.type === "response");
    expect(responses.map((e) => [e.request.operation, e.request.path, e.error ?? "", e.auth?.display_name])).toEqual(
      expect.arrayContaining([
        ["read", "secret/data/shared", "", "token"],
        ["read", "secret/data/audited-refusal", "permission denied", "token"],
      ]),
    );
    expect(readFileSync(auditFile, "utf8")).not.toContain(reader);
  });

  it("leaves a crash inside the toy to the front door: a 500 in the toy's body, nothing of the cause", async () => {
    const res = await fetch(`${toy.url}/toy/secret/data/x`, { method: "POST", headers: { "X-Toy-Token": root }, body: "{not json" });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ toy_error: { code: "internal", text: "internal error" } });
  });
});
