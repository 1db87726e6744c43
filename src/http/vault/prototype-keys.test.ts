/**
 * Keys that name Object.prototype members (`__proto__`, `constructor`, `prototype`, …) are ordinary data:
 * stored, read back and audited (as HMACs) like any other key. Plain-object assignment treats
 * `out["__proto__"] = v` as the prototype setter, which silently drops the key (or swaps a prototype), so
 * a value could be stored and be missing from the audit entry. Property tests (fast-check, seeded) send the
 * JSON text byte for byte: JSON.stringify in the test would itself turn such keys into prototypes.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";

const SEED = 20261207;
const PROTO_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "plain"] as const;

/** A JSON object as an ordered list of entries, so no JS object (and no prototype setter) is ever involved. */
type Tree = string | Entry[];
type Entry = [string, Tree];

function toJson(t: Tree): string {
  if (typeof t === "string") return JSON.stringify(t);
  return `{${t.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(",")}}`;
}

/** The same object with every string replaced by "s": what survives audit hashing is the shape. */
function shapeOfText(text: string): string {
  return JSON.stringify(JSON.parse(text, (_k, v: unknown) => (typeof v === "string" ? "s" : v)));
}

function shapeOf(t: Tree): string {
  return typeof t === "string" ? '"s"' : `{${t.map(([k, v]) => `${JSON.stringify(k)}:${shapeOf(v)}`).join(",")}}`;
}

const tree: fc.Arbitrary<Entry[]> = fc.letrec<{ obj: Entry[]; value: Tree }>((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, fc.string({ maxLength: 8 }), tie("obj")),
  obj: fc.uniqueArray(fc.tuple(fc.constantFrom(...PROTO_KEYS), tie("value")), { minLength: 1, maxLength: 4, selector: (e) => e[0] }),
})).obj;

let s: RunningServer;
let root: string;
const dir = mkdtempSync(join(tmpdir(), "arca-proto-"));
const auditFile = join(dir, "audit.log");

beforeAll(async () => {
  s = await devServer();
  root = s.rootToken!;
  expect((await api(s.url, "PUT", "sys/audit/file", { token: root, body: { type: "file", options: { file_path: auditFile } } })).status).toBe(204);
  expect((await api(s.url, "POST", "sys/mounts/kv1", { token: root, body: { type: "kv", options: { version: "1" } } })).status).toBe(204);
});
afterAll(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The request entry's `data` (as JSON text) of the last write or read of `path`. */
function auditedRequestData(path: string, operation: "write" | "read"): string | undefined {
  const operations = operation === "write" ? ["create", "update"] : ["read"];
  const lines = readFileSync(auditFile, "utf8").trim().split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const entry = JSON.parse(lines[i]) as { type: string; request: { path: string; operation: string; data: unknown } };
    if (entry.type === "request" && entry.request.path === path && operations.includes(entry.request.operation)) return JSON.stringify(entry.request.data);
  }
  return undefined;
}

async function rawRead(path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${s.url}/v1/${path}`, { headers: { "X-Vault-Token": root } });
  expect(res.status).toBe(200);
  return JSON.parse(await res.text()) as Record<string, unknown>;
}

describe("prototype-named keys", () => {
  it("are stored, read back and audited (kv v1: the body is the data)", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(tree, async (obj) => {
        const path = `kv1/proto/${n++}`;
        const body = toJson(obj);
        const put = await api(s.url, "POST", path, { token: root, body });
        expect(put.status).toBe(204);
        expect(JSON.stringify((await rawRead(path)).data)).toBe(body);
        expect(shapeOfText(auditedRequestData(path, "write")!)).toBe(shapeOf(obj));
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  it("are stored, read back and audited (kv v2: nested under data)", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(tree, async (obj) => {
        const path = `secret/data/proto/${n++}`;
        const body = `{"data":${toJson(obj)}}`;
        expect((await api(s.url, "POST", path, { token: root, body })).status).toBe(200);
        expect(JSON.stringify(((await rawRead(path)).data as { data: unknown }).data)).toBe(toJson(obj));
        expect(shapeOfText(auditedRequestData(path, "write")!)).toBe(`{"data":${shapeOf(obj)}}`);
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  it("survive form-encoded bodies and query strings", async () => {
    const form = await fetch(`${s.url}/v1/kv1/proto/form`, {
      method: "POST",
      headers: { "X-Vault-Token": root, "Content-Type": "application/x-www-form-urlencoded" },
      body: "__proto__=p&constructor=c&prototype=q",
    });
    expect(form.status).toBe(204);
    expect(JSON.stringify((await rawRead("kv1/proto/form")).data)).toBe('{"__proto__":"p","constructor":"c","prototype":"q"}');
    expect(shapeOfText(auditedRequestData("kv1/proto/form", "write")!)).toBe('{"__proto__":"s","constructor":"s","prototype":"s"}');

    await rawRead("kv1/proto/form?__proto__=x&constructor=y");
    expect(shapeOfText(auditedRequestData("kv1/proto/form", "read")!)).toBe('{"__proto__":"s","constructor":"s"}');
  });
});
