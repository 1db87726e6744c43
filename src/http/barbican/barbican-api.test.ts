/**
 * The Barbican API on a dev server, checked against the answers recorded from real Barbican 15
 * (/work/shared/reference/barbican-wire.md): status codes, error bodies, Location headers, paging; and that
 * it runs through Arca's pipeline (roles as ACL policies, audit, token auth, projects kept apart).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import { barbican, idOf } from "../../../test/barbican.js";
import type { RunningServer } from "../../server/server.js";

let s: RunningServer;
let root: string;
const dir = mkdtempSync(join(tmpdir(), "arca-barbican-"));
const auditFile = join(dir, "audit.log");

beforeAll(async () => {
  s = await devServer();
  root = s.rootToken ?? "";
  await api(s.url, "PUT", "sys/audit/file", { token: root, body: { type: "file", options: { file_path: auditFile } } });
});
afterAll(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

const err = (code: number, title: string, description: string) => ({ code, title, description });

async function createSecret(project: string, body: Record<string, unknown>): Promise<string> {
  const r = await barbican(s.url, "POST", "/v1/secrets", { project, body });
  expect(r.status).toBe(201);
  return (r.json as { secret_ref: string }).secret_ref;
}

describe("version discovery", () => {
  it("answers / with 300 and the v1 entry, /v1 with 200", async () => {
    const root300 = await barbican(s.url, "GET", "/", { headers: { Accept: "application/json" } });
    expect(root300.status).toBe(300);
    expect(root300.json).toEqual({
      versions: {
        values: [
          {
            id: "v1",
            status: "stable",
            links: [
              { rel: "self", href: `${s.url}/barbican/v1/` },
              { rel: "describedby", type: "text/html", href: "https://docs.openstack.org/" },
            ],
            "media-types": [{ base: "application/json", type: "application/vnd.openstack.key-manager-v1+json" }],
          },
        ],
      },
    });
    expect((await barbican(s.url, "GET", "/v1")).json).toMatchObject({ code: "400 Bad Request", title: "Bad Request" });
    const v1 = await barbican(s.url, "GET", "/v1", { project: "p-versions" });
    expect(v1.status).toBe(200);
    expect(v1.json).toHaveProperty(["version", "id"], "v1");
    expect(v1.headers.get("openstack-api-version")).toBe("key-manager 1.0");
  });
});

describe("secrets", () => {
  it("stores a text secret in one step: 201, Location = secret_ref, Python's JSON spacing, metadata in Barbican's key order", async () => {
    const r = await barbican(s.url, "POST", "/v1/secrets", { project: "p-one", body: { name: "s1", payload: "hello", payload_content_type: "text/plain", secret_type: "opaque" } });
    expect(r.status).toBe(201);
    const ref = (r.json as { secret_ref: string }).secret_ref;
    expect(ref).toMatch(new RegExp(`^${s.url}/barbican/v1/secrets/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`));
    expect(r.headers.get("location")).toBe(ref);
    expect(r.text).toBe(`{"secret_ref": "${ref}"}`);
    expect(r.headers.get("x-openstack-request-id")).toMatch(/^req-[0-9a-f-]{36}$/);
    const meta = await barbican(s.url, "GET", `/v1/secrets/${idOf(ref)}`, { project: "p-one", headers: { Accept: "application/json" } });
    expect(meta.status).toBe(200);
    expect(Object.keys(meta.json ?? {})).toEqual(["created", "updated", "status", "name", "secret_type", "expiration", "algorithm", "bit_length", "mode", "creator_id", "content_types", "secret_ref"]);
    expect(meta.json).toMatchObject({ status: "ACTIVE", name: "s1", secret_type: "opaque", content_types: { default: "text/plain" }, creator_id: null, secret_ref: ref });
    expect(meta.json?.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/);
  });

  it("negotiates the payload: text/plain, octet-stream (also without Accept), legacy GET, 406 for JSON", async () => {
    const ref = await createSecret("p-accept", { payload: "hello", payload_content_type: "text/plain" });
    const id = idOf(ref);
    const text = await barbican(s.url, "GET", `/v1/secrets/${id}/payload`, { project: "p-accept", headers: { Accept: "text/plain" } });
    expect([text.status, text.headers.get("content-type"), text.text]).toEqual([200, "text/plain; charset=UTF-8", "hello"]);
    const none = await barbican(s.url, "GET", `/v1/secrets/${id}/payload`, { project: "p-accept" });
    expect([none.status, none.headers.get("content-type"), none.text]).toEqual([200, "application/octet-stream", "hello"]);
    const legacy = await barbican(s.url, "GET", `/v1/secrets/${id}`, { project: "p-accept", headers: { Accept: "text/plain" } });
    expect([legacy.status, legacy.text]).toEqual([200, "hello"]);
    const json = await barbican(s.url, "GET", `/v1/secrets/${id}/payload`, { project: "p-accept", headers: { Accept: "application/json" } });
    expect([json.status, json.json]).toEqual([406, err(406, "Not Acceptable", "Secret payload retrieval issue seen - Wrong payload content-type.")]);
  });

  it("round-trips binary payloads sent base64 and keeps algorithm, bit_length, mode and expiration (without the Z)", async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const ref = await createSecret("p-binary", {
      name: "key",
      payload: bytes.toString("base64"),
      payload_content_type: "application/octet-stream",
      payload_content_encoding: "base64",
      secret_type: "symmetric",
      algorithm: "aes",
      bit_length: 256,
      mode: "cbc",
      expiration: "2099-01-01T00:00:00Z",
    });
    const got = await barbican(s.url, "GET", `/v1/secrets/${idOf(ref)}/payload`, { project: "p-binary", headers: { Accept: "application/octet-stream" } });
    expect(got.bytes.equals(bytes)).toBe(true);
    const meta = await barbican(s.url, "GET", `/v1/secrets/${idOf(ref)}`, { project: "p-binary" });
    expect(meta.json).toMatchObject({ secret_type: "symmetric", algorithm: "aes", bit_length: 256, mode: "cbc", expiration: "2099-01-01T00:00:00", content_types: { default: "application/octet-stream" } });
  });

  it("two-step upload: metadata first (no content_types, payload 404), then PUT 204, a second PUT 409", async () => {
    const ref = await createSecret("p-two", { name: "two-step", secret_type: "opaque" });
    const id = idOf(ref);
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}`, { project: "p-two" })).json).not.toHaveProperty("content_types");
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}/payload`, { project: "p-two", headers: { Accept: "text/plain" } })).json).toEqual(err(404, "Not Found", "Not Found. Sorry but your secret has no payload."));
    const put = await barbican(s.url, "PUT", `/v1/secrets/${id}`, { project: "p-two", headers: { "Content-Type": "text/plain" }, body: "second-step" });
    expect([put.status, put.headers.get("content-length"), put.headers.get("content-type")]).toEqual([204, "0", null]);
    const again = await barbican(s.url, "PUT", `/v1/secrets/${id}`, { project: "p-two", headers: { "Content-Type": "text/plain" }, body: "again" });
    expect([again.status, again.json]).toEqual([409, err(409, "Conflict", "Secret already has data, cannot modify it.")]);
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}/payload`, { project: "p-two", headers: { Accept: "text/plain" } })).text).toBe("second-step");
    const b64 = await createSecret("p-two", { name: "b64" });
    const put64 = await barbican(s.url, "PUT", `/v1/secrets/${idOf(b64)}`, { project: "p-two", headers: { "Content-Type": "application/octet-stream", "Content-Encoding": "base64" }, body: Buffer.from([0, 1, 2, 255]).toString("base64") });
    expect(put64.status).toBe(204);
    expect((await barbican(s.url, "GET", `/v1/secrets/${idOf(b64)}/payload`, { project: "p-two" })).bytes).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it("lists in insertion order with limit/offset, total, previous/next refs, and filters by name", async () => {
    const refs: string[] = [];
    for (let i = 0; i < 5; i++) refs.push(await createSecret("p-list", { name: i === 3 ? "needle" : `s${i}`, payload: "x", payload_content_type: "text/plain" }));
    const pageTwo = await barbican(s.url, "GET", "/v1/secrets?limit=2&offset=2", { project: "p-list" });
    expect(pageTwo.json?.total).toBe(5);
    expect((pageTwo.json?.secrets as Array<{ secret_ref: string }>).map((x) => x.secret_ref)).toEqual(refs.slice(2, 4));
    expect(pageTwo.json?.previous).toBe(`${s.url}/barbican/v1/secrets?limit=2&offset=0`);
    expect(pageTwo.json?.next).toBe(`${s.url}/barbican/v1/secrets?limit=2&offset=4`);
    expect(Object.keys(pageTwo.json ?? {})).toEqual(["secrets", "previous", "next", "total"]);
    const all = await barbican(s.url, "GET", "/v1/secrets/", { project: "p-list" });
    expect(all.json).not.toHaveProperty("next");
    expect(all.json).not.toHaveProperty("previous");
    const named = await barbican(s.url, "GET", "/v1/secrets?name=needle", { project: "p-list" });
    expect([named.json?.total, (named.json?.secrets as Array<{ secret_ref: string }>)[0].secret_ref]).toEqual([1, refs[3]]);
    expect((await barbican(s.url, "GET", "/v1/secrets?limit=1000", { project: "p-list-empty" })).json).toEqual({ secrets: [], total: 0 });
  });

  it("deletes: 204 with Content-Length 0, then 404 'Secret not found.' for GET and a second DELETE", async () => {
    const id = idOf(await createSecret("p-del", { payload: "x", payload_content_type: "text/plain" }));
    const del = await barbican(s.url, "DELETE", `/v1/secrets/${id}`, { project: "p-del" });
    expect([del.status, del.headers.get("content-length")]).toEqual([204, "0"]);
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}`, { project: "p-del" })).json).toEqual(err(404, "Not Found", "Secret not found."));
    expect((await barbican(s.url, "DELETE", `/v1/secrets/${id}`, { project: "p-del" })).status).toBe(404);
  });

  it("user metadata: PUT all (201 metadata_ref), POST one (201 + Location), GET/PUT/DELETE one key", async () => {
    const ref = await createSecret("p-meta", { payload: "x", payload_content_type: "text/plain" });
    const id = idOf(ref);
    const put = await barbican(s.url, "PUT", `/v1/secrets/${id}/metadata`, { project: "p-meta", body: { metadata: { env: "test", owner: "team" } } });
    expect([put.status, put.json]).toEqual([201, { metadata_ref: `${ref}/metadata` }]);
    const post = await barbican(s.url, "POST", `/v1/secrets/${id}/metadata`, { project: "p-meta", body: { key: "extra", value: "1" } });
    expect([post.status, post.json, post.headers.get("location")]).toEqual([201, { key: "extra", value: "1" }, `${ref}/metadata/extra`]);
    expect((await barbican(s.url, "POST", `/v1/secrets/${id}/metadata`, { project: "p-meta", body: { key: "extra", value: "2" } })).status).toBe(409);
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}/metadata`, { project: "p-meta" })).json).toEqual({ metadata: { env: "test", owner: "team", extra: "1" } });
    expect((await barbican(s.url, "PUT", `/v1/secrets/${id}/metadata/env`, { project: "p-meta", body: { key: "env", value: "prod" } })).json).toEqual({ key: "env", value: "prod" });
    expect((await barbican(s.url, "DELETE", `/v1/secrets/${id}/metadata/owner`, { project: "p-meta" })).status).toBe(204);
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}/metadata/owner`, { project: "p-meta" })).status).toBe(404);
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}/metadata`, { project: "p-meta" })).json).toEqual({ metadata: { env: "prod", extra: "1" } });
  });

  it("secret consumers (microversion 1.1): register, list, remove", async () => {
    const id = idOf(await createSecret("p-cons", { payload: "x", payload_content_type: "text/plain" }));
    const h = { "OpenStack-API-Version": "key-manager 1.1" };
    const add = await barbican(s.url, "POST", `/v1/secrets/${id}/consumers`, { project: "p-cons", headers: h, body: { service: "image", resource_type: "image", resource_id: "img-1" } });
    expect([add.status, add.headers.get("openstack-api-version")]).toEqual([200, "key-manager 1.1"]);
    const list = await barbican(s.url, "GET", `/v1/secrets/${id}/consumers`, { project: "p-cons", headers: h });
    expect(list.json).toMatchObject({ consumers: [{ service: "image", resource_type: "image", resource_id: "img-1" }], total: 1 });
    const del = await barbican(s.url, "DELETE", `/v1/secrets/${id}/consumers`, { project: "p-cons", headers: h, body: { service: "image", resource_type: "image", resource_id: "img-1" } });
    expect(del.status).toBe(200);
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}/consumers`, { project: "p-cons", headers: h })).json).toEqual({ consumers: [], total: 0 });
  });
});

describe("containers, orders, quotas, secret stores", () => {
  it("makes a generic container of the project's secrets, and refuses one naming a missing secret", async () => {
    const a = await createSecret("p-cont", { payload: "a", payload_content_type: "text/plain" });
    const r = await barbican(s.url, "POST", "/v1/containers", { project: "p-cont", body: { name: "c1", type: "generic", secret_refs: [{ name: "first", secret_ref: a }] } });
    expect(r.status).toBe(201);
    const ref = (r.json as { container_ref: string }).container_ref;
    expect(r.headers.get("location")).toBe(ref);
    const got = await barbican(s.url, "GET", `/v1/containers/${idOf(ref)}`, { project: "p-cont" });
    expect(Object.keys(got.json ?? {})).toEqual(["created", "updated", "status", "name", "type", "creator_id", "secret_refs", "consumers", "container_ref"]);
    expect(got.json?.secret_refs).toEqual([{ name: "first", secret_ref: a }]);
    const missing = await barbican(s.url, "POST", "/v1/containers", { project: "p-cont", body: { type: "generic", secret_refs: [{ name: "x", secret_ref: `${s.url}/barbican/v1/secrets/00000000-0000-4000-8000-000000000000` }] } });
    expect(missing.status).toBe(404);
    const badRsa = await barbican(s.url, "POST", "/v1/containers", { project: "p-cont", body: { type: "rsa", secret_refs: [{ name: "first", secret_ref: a }] } });
    expect(badRsa.status).toBe(400);
    expect((await barbican(s.url, "GET", "/v1/containers", { project: "p-cont" })).json?.total).toBe(1);
  });

  it("adds a secret to a generic container and takes it out (containers/{id}/secrets); rsa containers stay as made", async () => {
    const p = "p-cont-secrets";
    const a = await createSecret(p, { payload: "a", payload_content_type: "text/plain" });
    const b = await createSecret(p, { payload: "b", payload_content_type: "text/plain" });
    const c = (await barbican(s.url, "POST", "/v1/containers", { project: p, body: { name: "box", type: "generic", secret_refs: [{ name: "a", secret_ref: a }] } })).json?.container_ref as string;
    const path = `/v1/containers/${idOf(c)}/secrets`;
    const added = await barbican(s.url, "POST", path, { project: p, body: { name: "b", secret_ref: b } });
    expect([added.status, added.json, added.headers.get("location")]).toEqual([201, { container_ref: c }, c]);
    const secretsOf = async () => (await barbican(s.url, "GET", `/v1/containers/${idOf(c)}`, { project: p })).json?.secret_refs;
    expect(await secretsOf()).toEqual([{ name: "a", secret_ref: a }, { name: "b", secret_ref: b }]);
    // The same secret under another name is fine; the same name and secret again is a conflict.
    expect((await barbican(s.url, "POST", path, { project: p, body: { name: "b2", secret_ref: b } })).status).toBe(201);
    const dup = await barbican(s.url, "POST", path, { project: p, body: { name: "b", secret_ref: b } });
    expect([dup.status, dup.json?.description]).toEqual([409, "Conflict. A secret with that name and ID is already stored in this container. The same secret can exist in a container as long as the name is unique."]);
    const unknown = `${s.url}/barbican/v1/secrets/00000000-0000-4000-8000-000000000000`;
    expect((await barbican(s.url, "POST", path, { project: p, body: { name: "x", secret_ref: unknown } })).json).toEqual(err(404, "Not Found", "Secret provided doesn't exist."));
    const other = await createSecret("p-cont-other", { payload: "o", payload_content_type: "text/plain" });
    expect((await barbican(s.url, "POST", path, { project: p, body: { name: "o", secret_ref: other } })).status).toBe(404);
    expect((await barbican(s.url, "POST", path, { project: p, body: { name: "x" } })).status).toBe(400);
    expect((await barbican(s.url, "POST", path, { project: p, headers: { "X-Roles": "observer" }, body: { name: "c", secret_ref: a } })).status).toBe(403);

    const removed = await barbican(s.url, "DELETE", path, { project: p, body: { name: "b", secret_ref: b } });
    expect([removed.status, removed.text]).toEqual([204, ""]);
    expect(await secretsOf()).toEqual([{ name: "a", secret_ref: a }, { name: "b2", secret_ref: b }]);
    expect((await barbican(s.url, "DELETE", path, { project: p, body: { name: "b", secret_ref: b } })).json).toEqual(err(404, "Not Found", "Secret provided is not in the container"));
    // The secret itself stays.
    expect((await barbican(s.url, "GET", `/v1/secrets/${idOf(b)}/payload`, { project: p, headers: { Accept: "text/plain" } })).text).toBe("b");
    expect((await barbican(s.url, "GET", path, { project: p })).status).toBe(405);

    const priv = await createSecret(p, { payload: "k", payload_content_type: "text/plain", secret_type: "private" });
    const rsa = (await barbican(s.url, "POST", "/v1/containers", { project: p, body: { type: "rsa", secret_refs: [{ name: "private_key", secret_ref: priv }] } })).json?.container_ref as string;
    expect((await barbican(s.url, "POST", `/v1/containers/${idOf(rsa)}/secrets`, { project: p, body: { name: "public_key", secret_ref: a } })).json).toEqual(err(400, "Bad Request", "Only 'generic' containers can be modified."));
  });

  it("runs a key order synchronously: 202 + Location, ACTIVE, a 32-byte AES key; refuses AES-100", async () => {
    const r = await barbican(s.url, "POST", "/v1/orders", { project: "p-order", body: { type: "key", meta: { name: "k1", algorithm: "aes", bit_length: 256, mode: "cbc", payload_content_type: "application/octet-stream" } } });
    expect(r.status).toBe(202);
    const ref = (r.json as { order_ref: string }).order_ref;
    expect(r.headers.get("location")).toBe(ref);
    const order = await barbican(s.url, "GET", `/v1/orders/${idOf(ref)}`, { project: "p-order" });
    expect(order.json).toMatchObject({ status: "ACTIVE", type: "key", sub_status: "Unknown", sub_status_message: "Unknown", meta: { name: "k1", expiration: null } });
    const key = await barbican(s.url, "GET", `/v1/secrets/${idOf(order.json?.secret_ref as string)}/payload`, { project: "p-order" });
    expect(key.bytes.length).toBe(32);
    const bad = await barbican(s.url, "POST", "/v1/orders", { project: "p-order", body: { type: "key", meta: { algorithm: "aes", bit_length: 100, mode: "cbc" } } });
    expect([bad.status, bad.json]).toEqual([400, err(400, "Bad Request", "Provided field value is not supported")]);
  });

  it("answers quotas (-1: unlimited) and enforces a project quota set for it", async () => {
    expect((await barbican(s.url, "GET", "/v1/quotas", { project: "p-quota" })).json).toEqual({ quotas: { secrets: -1, orders: -1, containers: -1, consumers: -1, cas: -1 } });
    expect((await barbican(s.url, "PUT", "/v1/project-quotas/p-quota", { project: "p-quota", body: { project_quotas: { secrets: 1 } } })).status).toBe(204);
    expect((await barbican(s.url, "GET", "/v1/project-quotas/p-quota", { project: "p-quota" })).json).toEqual({ project_quotas: { secrets: 1 } });
    await createSecret("p-quota", { payload: "x", payload_content_type: "text/plain" });
    expect((await barbican(s.url, "POST", "/v1/secrets", { project: "p-quota", body: { payload: "y", payload_content_type: "text/plain" } })).status).toBe(403);
  });

  it("lists one secret store, the global default", async () => {
    const r = await barbican(s.url, "GET", "/v1/secret-stores", { project: "p-stores" });
    expect(r.json).toMatchObject({ secret_stores: [{ global_default: true, status: "ACTIVE" }], total: 1 });
  });
});

describe("bad input: Barbican's 4xx, nothing stored", () => {
  const cases: Array<[string, { body: unknown; headers?: Record<string, string> }, number, string]> = [
    ["payload without type", { body: { name: "bad", payload: "hello" } }, 400, "Provided object does not match schema 'Secret': If 'payload' is supplied, 'payload_content_type' must also be supplied.. Invalid property: 'payload_content_type'"],
    ["malformed JSON", { body: "{not json" }, 400, "Malformed JSON"],
    ["wrong content type", { body: "hello", headers: { "Content-Type": "text/plain" } }, 415, "Unexpected content type. Expected content types are: ['application/json']"],
    ["unsupported payload type", { body: { payload: "hello", payload_content_type: "application/xml" } }, 400, "Provided object does not match schema 'Secret': payload_content_type is not one of ['text/plain', 'text/plain;charset=utf-8', 'text/plain; charset=utf-8', 'application/octet-stream', 'application/pkcs8']. Invalid property: 'payload_content_type'"],
    ["invalid base64", { body: { payload: "!!!notbase64", payload_content_type: "application/octet-stream", payload_content_encoding: "base64" } }, 400, "Provided object does not match schema 'Secret': Invalid payload for payload_content_encoding. Invalid property: 'payload'"],
    ["empty payload", { body: { payload: "", payload_content_type: "text/plain" } }, 400, "Provided object does not match schema 'Secret': If 'payload' specified, must be non empty. Invalid property: 'payload'"],
    ["past expiration", { body: { payload: "x", payload_content_type: "text/plain", expiration: "2000-01-01T00:00:00Z" } }, 400, "Provided object does not match schema 'Secret': 'expiration' is before current time. Invalid property: 'expiration'"],
    ["unknown secret_type", { body: { payload: "x", payload_content_type: "text/plain", secret_type: "weird" } }, 400, "Provided object does not match schema 'Secret': 'weird' is not one of ['symmetric', 'passphrase', 'private', 'public', 'certificate', 'opaque']. Invalid property: 'secret_type'"],
    ["payload over 20000 bytes", { body: { payload: "A".repeat(20001), payload_content_type: "text/plain" } }, 413, "Provided information too large to process"],
    ["body over 25000 bytes", { body: { name: "n", payload: "x", payload_content_type: "text/plain", pad: "B".repeat(25000) } }, 413, "Provided information too large to process"],
    ["name of the wrong type", { body: { name: 12, payload: "x", payload_content_type: "text/plain" } }, 400, "Provided object does not match schema 'Secret': 12 is not of type 'string', 'null'. Invalid property: 'name'"],
    ["a JSON array", { body: "[1,2]" }, 400, "Malformed JSON"],
    ["JSON nested 12000 deep", { body: `${"[".repeat(12000)}${"]".repeat(12000)}` }, 400, "Malformed JSON"],
    ["a payload that is an object", { body: { payload: { a: 1 }, payload_content_type: "text/plain" } }, 400, "Provided object does not match schema 'Secret': {\"a\":1} is not of type 'string'. Invalid property: 'payload'"],
    ["bit_length as a string", { body: { payload: "x", payload_content_type: "text/plain", bit_length: "256" } }, 400, "Provided object does not match schema 'Secret': '256' is not a valid bit length. Invalid property: 'bit_length'"],
    ["a name of 256 characters", { body: { name: "n".repeat(256), payload: "x", payload_content_type: "text/plain" } }, 400, "Provided object does not match schema 'Secret': 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn…' is too long. Invalid property: 'name'"],
  ];
  it.each(cases)("%s", async (_name, req, status, description) => {
    const project = `p-bad-${status}-${description.length}`;
    const r = await barbican(s.url, "POST", "/v1/secrets", { project, ...req });
    expect([r.status, r.json]).toEqual([status, err(status, { 400: "Bad Request", 413: "Request Entity Too Large", 415: "Unsupported Media Type" }[status] ?? "", description)]);
    expect((await barbican(s.url, "GET", "/v1/secrets", { project })).json).toEqual({ secrets: [], total: 0 });
  });

  it("keeps answering after hostile input (invalid UTF-8, odd methods, odd paths)", async () => {
    const raw = await fetch(`${s.url}/barbican/v1/secrets`, { method: "POST", headers: { "X-Project-Id": "p-hostile", "Content-Type": "application/json" }, body: new Blob([new Uint8Array([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])]) });
    expect(raw.status).toBe(400);
    for (const path of ["/v1/secrets/%00", "/v1/secrets/..%2f..%2fsys", "/v1/secrets/x/metadata/..", `/v1/${"a/".repeat(500)}`]) {
      expect((await barbican(s.url, "GET", path, { project: "p-hostile" })).status).toBe(404);
    }
    expect((await barbican(s.url, "OPTIONS", "/v1/secrets", { project: "p-hostile" })).status).toBe(405);
    expect((await barbican(s.url, "POST", "/v1/secrets", { project: "bad project!", body: { payload: "x", payload_content_type: "text/plain" } })).status).toBe(400);
    const started = Date.now();
    expect((await barbican(s.url, "GET", "/v1/secrets", { project: "p-hostile" })).json).toEqual({ secrets: [], total: 0 });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("stores unicode names as sent; refuses unknown ids, malformed ids, wrong methods and unknown resources", async () => {
    const ref = await createSecret("p-edge", { name: "schlüssel-🔑-鍵", payload: "x", payload_content_type: "text/plain" });
    expect((await barbican(s.url, "GET", `/v1/secrets/${idOf(ref)}`, { project: "p-edge" })).json?.name).toBe("schlüssel-🔑-鍵");
    for (const id of ["00000000-0000-0000-0000-000000000000", "not-a-uuid"]) {
      expect((await barbican(s.url, "GET", `/v1/secrets/${id}`, { project: "p-edge" })).json).toEqual(err(404, "Not Found", "Not Found. Provided secret id is invalid."));
    }
    const patch = await barbican(s.url, "PATCH", "/v1/secrets", { project: "p-edge", body: {} });
    expect([patch.status, patch.headers.get("allow"), patch.json]).toEqual([405, "GET, POST", err(405, "Method Not Allowed", "")]);
    expect((await barbican(s.url, "GET", "/v1/nothing", { project: "p-edge" })).json).toEqual(err(404, "Not Found", ""));
    const missing = await barbican(s.url, "GET", "/v1/secrets");
    expect([missing.status, missing.json?.title]).toEqual([400, "Bad Request"]);
    expect(missing.text).toContain("Missing X-Project-Id");
  });
});

describe("the pipeline: roles, projects, tokens, audit", () => {
  it("keeps projects apart: another project's secret is 403 (Barbican's answer), its list is empty", async () => {
    const id = idOf(await createSecret("p-alice", { payload: "alice's", payload_content_type: "text/plain" }));
    for (const roles of [undefined, "admin", "creator"]) {
      const r = await barbican(s.url, "GET", `/v1/secrets/${id}`, { project: "p-mallory", headers: roles ? { "X-Roles": roles } : {} });
      expect([r.status, r.json]).toEqual([403, err(403, "Forbidden", "Secret retrieval attempt not allowed - please review your user/project privileges")]);
      expect((await barbican(s.url, "GET", `/v1/secrets/${id}/payload`, { project: "p-mallory", headers: roles ? { "X-Roles": roles } : {} })).status).toBe(403);
      expect((await barbican(s.url, "DELETE", `/v1/secrets/${id}`, { project: "p-mallory", headers: roles ? { "X-Roles": roles } : {} })).status).toBe(403);
    }
    expect((await barbican(s.url, "GET", "/v1/secrets", { project: "p-mallory" })).json).toEqual({ secrets: [], total: 0 });
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}/payload`, { project: "p-alice", headers: { Accept: "text/plain" } })).text).toBe("alice's");
  });

  it("maps Barbican's roles to ACL policies: observer reads but cannot create, audit sees metadata but no payload, creator sets creator_id", async () => {
    const id = idOf(await createSecret("p-roles", { payload: "x", payload_content_type: "text/plain" }));
    const observer = { "X-Roles": "observer" };
    const create = await barbican(s.url, "POST", "/v1/secrets", { project: "p-roles", headers: observer, body: { name: "x", payload: "y", payload_content_type: "text/plain" } });
    expect([create.status, create.json]).toEqual([403, err(403, "Forbidden", "Secret creation attempt not allowed - please review your user/project privileges")]);
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}/payload`, { project: "p-roles", headers: observer })).status).toBe(200);
    expect((await barbican(s.url, "DELETE", `/v1/secrets/${id}`, { project: "p-roles", headers: observer })).status).toBe(403);
    const audit = { "X-Roles": "audit" };
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}`, { project: "p-roles", headers: audit })).status).toBe(200);
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}/payload`, { project: "p-roles", headers: audit })).status).toBe(403);
    const mine = await barbican(s.url, "POST", "/v1/secrets", { project: "p-roles", headers: { "X-Roles": "creator", "X-User-Id": "u1" }, body: { name: "by-u1", payload: "x", payload_content_type: "text/plain" } });
    expect(mine.status).toBe(201);
    expect((await barbican(s.url, "GET", `/v1/secrets/${idOf((mine.json as { secret_ref: string }).secret_ref)}`, { project: "p-roles" })).json?.creator_id).toBe("u1");
    expect((await barbican(s.url, "GET", "/v1/secrets", { project: "p-roles", headers: { "X-Roles": "nobody" } })).status).toBe(403);
  });

  it("restricts reads by a secret's ACL (project-access false): listed users, the creator and admins only", async () => {
    const ref = await createSecret("p-acl", { payload: "x", payload_content_type: "text/plain" });
    const id = idOf(ref);
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}/acl`, { project: "p-acl" })).json).toEqual({ read: { "project-access": true } });
    const put = await barbican(s.url, "PUT", `/v1/secrets/${id}/acl`, { project: "p-acl", body: { read: { users: ["u-ok"], "project-access": false } } });
    expect([put.status, put.json]).toEqual([200, { acl_ref: `${ref}/acl` }]);
    const as = (user: string) => ({ "X-Roles": "observer", "X-User-Id": user });
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}/payload`, { project: "p-acl", headers: as("u-ok") })).status).toBe(200);
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}/payload`, { project: "p-acl", headers: as("u-other") })).status).toBe(403);
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}/payload`, { project: "p-acl" })).status).toBe(200);
    expect((await barbican(s.url, "DELETE", `/v1/secrets/${id}/acl`, { project: "p-acl" })).status).toBe(204);
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}/payload`, { project: "p-acl", headers: as("u-other") })).status).toBe(200);
  });

  it("takes an Arca token as X-Auth-Token: the project is the token's namespace, its policy decides", async () => {
    await api(s.url, "POST", "sys/namespaces/tenant-a", { token: root });
    const nsHeaders = { "X-Vault-Namespace": "tenant-a" };
    // The role policies are written into the namespace with its first Barbican request; here by a root token.
    expect((await barbican(s.url, "GET", "/v1/secrets", { token: root, project: "tenant-a" })).status).toBe(200);
    const member = ((await api(s.url, "POST", "auth/token/create", { token: root, headers: nsHeaders, body: { policies: ["barbican-creator"], meta: { user_id: "member-1" } } })).body?.auth as { client_token: string }).client_token;
    const observer = ((await api(s.url, "POST", "auth/token/create", { token: root, headers: nsHeaders, body: { policies: ["barbican-observer"] } })).body?.auth as { client_token: string }).client_token;
    const created = await barbican(s.url, "POST", "/v1/secrets", { token: member, body: { name: "via-token", payload: "t", payload_content_type: "text/plain" } });
    expect(created.status).toBe(201);
    const id = idOf((created.json as { secret_ref: string }).secret_ref);
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}`, { token: member })).json?.creator_id).toBe("member-1");
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}/payload`, { token: observer })).text).toBe("t");
    expect((await barbican(s.url, "POST", "/v1/secrets", { token: observer, body: { payload: "t", payload_content_type: "text/plain" } })).status).toBe(403);
    expect((await barbican(s.url, "GET", "/v1/secrets", { token: "hvs.not-a-token" })).status).toBe(403);
    // Another project's (noauth) view does not see it.
    expect((await barbican(s.url, "GET", `/v1/secrets/${id}`, { project: "p-other" })).status).toBe(403);
  });

  it("audits Barbican requests like any other: allowed and refused ones are on record, with no payload in clear", async () => {
    await createSecret("p-audited", { payload: "audit-me-not", payload_content_type: "text/plain" });
    await barbican(s.url, "POST", "/v1/secrets", { project: "p-audited", headers: { "X-Roles": "observer" }, body: { payload: "refused-payload", payload_content_type: "text/plain" } });
    const lines = readFileSync(auditFile, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string; request: { path: string; operation: string; namespace?: { path: string } }; error?: string });
    const responses = lines.filter((l) => l.type === "response" && l.request.namespace?.path === "p-audited/");
    expect(responses.map((l) => [l.request.operation, l.request.path, l.error ?? ""])).toEqual(
      expect.arrayContaining([
        ["create", "barbican/secrets", ""],
        ["create", "barbican/secrets", "permission denied"],
      ]),
    );
    const log = readFileSync(auditFile, "utf8");
    expect(log).not.toContain("audit-me-not");
    expect(log).not.toContain("refused-payload");
  });
});
