/**
 * What a path can declare for the next front doors, end to end through a real listener: a raw body of
 * declared media types (refused with 415 otherwise), typed response headers rendered by the wire format,
 * an audit identity for callers that carry no token, and a handler whose storage is one transaction.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initializedCore, type TestCore } from "../../test/core.js";
import { api, quietLogger } from "../../test/servers.js";
import type { BackendFactory } from "../core/core.js";
import { LogicalBackend } from "../core/framework/backend.js";
import { definePath } from "../core/framework/path.js";
import { DEFAULT_MAX_REQUEST_SIZE } from "../server/config.js";
import { startListener, type RunningListener } from "../server/listener.js";

const probe: BackendFactory = () =>
  new LogicalBackend({
    type: "declared",
    paths: [
      definePath({
        pattern: "jws",
        unauthenticated: true,
        rawBody: { mediaTypes: ["application/jose+json"] },
        operations: {
          update: async ({ req }) => {
            // As an ACME handler would after checking the JWS: the account is the caller on record.
            req.auditIdentity = { kind: "acme-account", id: "acct-7" };
            return {
              raw: { status: 201, contentType: "application/json", body: JSON.stringify({ got: req.body?.bytes.toString("utf8"), type: req.body?.mediaType }) },
            };
          },
        },
      }),
      definePath({
        pattern: "headers",
        unauthenticated: true,
        operations: {
          read: async () => ({
            raw: {
              status: 200,
              contentType: "application/problem+json",
              body: "{}",
              headers: { replayNonce: "nonce-1", location: "https://example.test/acct/1", link: ['<https://example.test/dir>;rel="index"', '<https://example.test/up>;rel="up"'], retryAfter: 30 },
            },
          }),
        },
      }),
      definePath({
        pattern: "txn/:name",
        fields: { fail: { type: "bool" } },
        operations: {
          update: {
            transaction: true,
            handler: async ({ params, fields, storage }) => {
              await storage.put(`first/${params.name}`, Buffer.from("1"));
              // A helper's own transaction joins the handler's.
              await storage.transaction(async (txn) => txn.put(`second/${params.name}`, Buffer.from("2")));
              if (fields.fail) throw new Error("failed after writing");
              return { data: { written: true } };
            },
          },
          read: async ({ params, storage }) => ({ data: { first: (await storage.get(`first/${params.name}`)) !== undefined, second: (await storage.get(`second/${params.name}`)) !== undefined } }),
        },
      }),
    ],
  });

let t: TestCore;
let l: RunningListener;
const dir = mkdtempSync(join(tmpdir(), "arca-declared-"));
const auditFile = join(dir, "audit.log");

beforeAll(async () => {
  t = await initializedCore({ declared: probe });
  l = await startListener(t.core, { type: "tcp", address: "127.0.0.1:0", tlsDisable: true, maxRequestSize: DEFAULT_MAX_REQUEST_SIZE }, quietLogger);
  await api(l.url, "POST", "sys/mounts/declared", { token: t.root, body: { type: "declared" } });
  await api(l.url, "PUT", "sys/audit/file", { token: t.root, body: { type: "file", options: { file_path: auditFile } } });
});
afterAll(async () => {
  await l.close();
  await t.storage.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("a raw body of declared media types", () => {
  it("reaches the handler as bytes, with its media type", async () => {
    const r = await api(l.url, "POST", "declared/jws", { body: '{"protected":"x"}', headers: { "Content-Type": "application/jose+json; charset=utf-8" } });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ got: '{"protected":"x"}', type: "application/jose+json" });
  });

  it("is refused with 415 when the path declares another type, or none", async () => {
    const other = await api(l.url, "POST", "declared/jws", { body: "MIIB", headers: { "Content-Type": "application/pkix-cert" } });
    expect(other.status).toBe(415);
    expect(other.body).toEqual({ errors: ["unsupported media type: application/pkix-cert"] });
    const none = await api(l.url, "POST", "declared/txn/a", { token: t.root, body: "bytes", headers: { "Content-Type": "application/octet-stream" } });
    expect(none.status).toBe(415);
  });
});

describe("declared response headers", () => {
  it("are rendered by the wire format, Link once per value", async () => {
    const res = await fetch(`${l.url}/v1/declared/headers`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("replay-nonce")).toBe("nonce-1");
    expect(res.headers.get("location")).toBe("https://example.test/acct/1");
    expect(res.headers.get("retry-after")).toBe("30");
    expect(res.headers.get("link")).toBe('<https://example.test/dir>;rel="index", <https://example.test/up>;rel="up"');
  });
});

describe("an audit identity set by the path", () => {
  it("names a caller without a token in the response's audit entry", async () => {
    await api(l.url, "POST", "declared/jws", { body: "{}", headers: { "Content-Type": "application/jose+json" } });
    const lines = readFileSync(auditFile, "utf8").trim().split("\n").map((x) => JSON.parse(x) as { type: string; auth?: Record<string, unknown>; request: { path: string } });
    // The last one: other tests (in any order) send refused requests to the same path before this one.
    const resp = lines.filter((e) => e.type === "response" && e.request.path === "declared/jws").at(-1);
    expect(resp?.auth).toMatchObject({ display_name: "acme-account-acct-7", identity: { kind: "acme-account", id: "acct-7" } });
  });
});

describe("a declared transaction", () => {
  it("commits the handler's writes together", async () => {
    expect((await api(l.url, "POST", "declared/txn/ok", { token: t.root, body: {} })).status).toBe(200);
    expect((await api(l.url, "GET", "declared/txn/ok", { token: t.root })).body?.data).toEqual({ first: true, second: true });
  });

  it("keeps none of them when the handler fails", async () => {
    expect((await api(l.url, "POST", "declared/txn/bad", { token: t.root, body: { fail: true } })).status).toBe(500);
    expect((await api(l.url, "GET", "declared/txn/bad", { token: t.root })).body?.data).toEqual({ first: false, second: false });
  });
});
