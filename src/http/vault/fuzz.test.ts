/**
 * Bad input never yields a 500, a crash or a half-done write. Property tests (fast-check, seeded and
 * bounded) over raw HTTP, so paths, methods and headers reach the server byte for byte, unnormalised
 * by a client library: malformed and mis-shaped JSON, a wrong type for every declared field of every
 * route in our own OpenAPI document, odd paths, methods and headers, oversized bodies. Invariants:
 * status < 500; every status >= 400 carries the `{"errors": [...]}` envelope; the server keeps answering;
 * and a request that failed left no new key in storage.
 */
import { connect } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allStorageKeys, api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";

const SEED = 20261122;
const RUNS = 300;

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One request over a fresh socket: the request line and headers go out exactly as given. */
function raw(port: number, method: string, target: string, opts: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<RawReply> {
  const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body, "utf8");
  const headers: Record<string, string> = { Host: "127.0.0.1", Connection: "close", ...opts.headers };
  const framed = Object.keys(headers).some((h) => h.toLowerCase() === "content-length" || h.toLowerCase() === "transfer-encoding");
  if (body !== undefined && !framed) headers["Content-Length"] = String(body.length);
  const head = `${method} ${target} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("")}\r\n`;
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    sock.setTimeout(20_000, () => sock.destroy(new Error(`timeout: ${method} ${target.slice(0, 200)}`)));
    sock.on("data", (c: Buffer) => chunks.push(c));
    // The server may answer (413) and close before the whole body was sent: keep what was received.
    sock.on("error", (err: NodeJS.ErrnoException) => (chunks.length > 0 && (err.code === "ECONNRESET" || err.code === "EPIPE") ? sock.end() : reject(err)));
    sock.on("close", () => {
      const all = Buffer.concat(chunks);
      const sep = all.indexOf("\r\n\r\n");
      if (sep === -1) return reject(new Error(`no HTTP response to ${method} ${target.slice(0, 200)}: ${JSON.stringify(all.toString("latin1").slice(0, 200))}`));
      const lines = all.subarray(0, sep).toString("latin1").split("\r\n");
      const status = Number(lines[0].split(" ")[1]);
      const hdrs: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        hdrs[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      let rest = all.subarray(sep + 4);
      if (hdrs["transfer-encoding"]?.includes("chunked")) {
        const parts: Buffer[] = [];
        for (;;) {
          const eol = rest.indexOf("\r\n");
          const size = parseInt(rest.subarray(0, eol).toString("latin1"), 16);
          if (!(size > 0)) break;
          parts.push(rest.subarray(eol + 2, eol + 2 + size));
          rest = rest.subarray(eol + 2 + size + 2);
        }
        rest = Buffer.concat(parts);
      }
      resolve({ status, headers: hdrs, body: rest.toString("utf8") });
    });
    sock.write(head);
    if (body !== undefined) sock.write(body);
  });
}

/** Every key in storage, by walking the hierarchy (the seam lists one level at a time). */
/** The invariants every reply must hold; returns a message instead of throwing so fast-check can shrink. */
function violation(r: RawReply, method: string): string | undefined {
  if (!(r.status >= 100 && r.status < 500)) return `status ${r.status}: ${r.body.slice(0, 300)}`;
  if (r.status >= 400 && method !== "HEAD") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.body);
    } catch {
      return `status ${r.status} without a JSON body: ${JSON.stringify(r.body.slice(0, 200))}`;
    }
    const body = parsed as { errors?: unknown; request_id?: unknown; warnings?: unknown } | null;
    // OpenBao's RespondWithStatusCode: a whole response envelope under an error status (KV v2 answers
    // `GET secret/` like this: 404, data null, a warning explaining the versioned paths).
    const statusCoded = r.status === 404 && typeof body?.request_id === "string" && Array.isArray(body.warnings);
    const errors = body?.errors;
    if (!statusCoded && (!Array.isArray(errors) || !errors.every((e) => typeof e === "string"))) return `status ${r.status} without the errors envelope: ${r.body.slice(0, 300)}`;
  }
  return undefined;
}

// ---- routes and fields, from the server's own OpenAPI document ----------------------------------------

interface FieldTarget {
  /** Path template with the parameters filled in. */
  path: string;
  method: "POST" | "PATCH";
  field: string;
  schema: { type?: string; format?: string; items?: unknown };
}

interface OpenApiOperation {
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, FieldTarget["schema"]> } }> };
}

/**
 * Routes whose success has effects that would spoil the rest of the run (revoking the root token,
 * rotating the keyring hundreds of times, background tidy writing while we compare storage).
 */
const EXCLUDED = new Set(["/auth/token/revoke-self", "/sys/rotate", "/sys/rotate/keyring", "/auth/token/tidy"]);

function fillTemplate(template: string): string {
  // Fixed, harmless parameter values: mounts and policies created by a lucky valid body land under fuzz*.
  return template.slice(1).replace(/\{([^}]+)\}/g, (_m, name: string) => (name === "path" ? "fuzz/p" : `fuzz-${name.replace(/_/g, "-")}`));
}

function fieldTargets(doc: { paths: Record<string, Record<string, OpenApiOperation>> }): FieldTarget[] {
  const out: FieldTarget[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    if (EXCLUDED.has(template)) continue;
    for (const [method, key] of [
      ["POST", "post"],
      ["PATCH", "patch"],
    ] as const) {
      const content = item[key]?.requestBody?.content ?? {};
      for (const media of Object.values(content)) {
        for (const [field, schema] of Object.entries(media.schema.properties ?? {})) out.push({ path: fillTemplate(template), method, field, schema });
      }
    }
  }
  return out;
}

/** Values of the wrong type (or of the right type but absurd) for a declared schema. */
function wrongValue(schema: FieldTarget["schema"]): fc.Arbitrary<unknown> {
  const deep = fc.nat({ max: 200 }).map((n) => {
    let v: unknown = null;
    for (let i = 0; i < n; i++) v = i % 2 ? [v] : { a: v };
    return v;
  });
  const common = [fc.constant(null), fc.jsonValue({ maxDepth: 3 }), deep, fc.string({ unit: "binary", maxLength: 64 }), fc.constant("\u0000"), fc.constant("x".repeat(70_000))];
  const specific: fc.Arbitrary<unknown>[] =
    schema.type === "integer"
      ? [fc.constantFrom("abc", "1.5", 1.5, -1, "-1", 1e300, -1e300, "9".repeat(400), Number.MAX_SAFE_INTEGER + 2, true, [], {}, [1], "0x10", " 1", "")]
      : schema.type === "boolean"
        ? [fc.constantFrom("maybe", 2, -1, "tru", "", [], {}, [true], "TRUE ", 1.5)]
        : schema.format === "duration"
          ? [fc.constantFrom("5x", "-1h", "1e400h", "h", "", " ", "9".repeat(60) + "h", "P1D", -5, 1.5, 1e300, true, [], {}, "1h1", "--1s", "1.5.5s", "9223372036854775807s")]
          : schema.type === "array"
            ? [fc.constantFrom({}, 5, true, [1, [2]], [null], [{}], "", ",,,", [""], ["a".repeat(5000)])]
            : schema.type === "object"
              ? [fc.constantFrom("str", 5, true, [], [1], { a: { b: null } }, { a: [1, 2] }, { "": "" }, { __proto__: "x" }, { constructor: { prototype: 1 } })]
              : schema.type === "string"
                ? [fc.constantFrom(5, -1, 1.5, true, false, [], ["a"], {}, { a: 1 }, "", "../../etc", "a\u0000b", "%00")]
                : [];
  return fc.oneof(...specific, ...common);
}

// ---- the tests ---------------------------------------------------------------------------------------

describe("bad input never yields a 500, a crash or a stored key", () => {
  let s: RunningServer;
  let port: number;
  let root: string;
  let targets: FieldTarget[];

  beforeAll(async () => {
    s = await devServer();
    port = Number(new URL(s.url).port);
    root = s.rootToken!;
    // A KV v1 mount and a policy, so their routes are in the document and reachable.
    expect((await api(s.url, "POST", "sys/mounts/kv1", { token: root, body: { type: "kv", options: { version: "1" } } })).status).toBe(204);
    const spec = await api(s.url, "GET", "sys/internal/specs/openapi", { token: root });
    expect(spec.status).toBe(200);
    targets = fieldTargets(spec.body as { paths: Record<string, Record<string, OpenApiOperation>> });
    // Every engine family we serve must contribute fields, or the walk above silently tests nothing.
    for (const prefix of ["sys/policies/acl/", "sys/mounts/", "auth/token/create", "secret/data/", "secret/metadata/", "kv1/"]) {
      expect(targets.some((t) => t.path.startsWith(prefix)), prefix).toBe(true);
    }
  });
  afterAll(async () => s.stop());

  /** Sends one request and checks the invariants, including "nothing stored" when it failed. */
  async function check(method: string, target: string, opts: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<RawReply> {
    const before = new Set(await allStorageKeys(s.core.storage));
    const r = await raw(port, method, target, { ...opts, headers: { "X-Vault-Token": root, ...opts.headers } });
    const bad = violation(r, method);
    if (bad) throw new Error(`${method} ${target.slice(0, 200)} ${String(opts.body ?? "").slice(0, 300)} → ${bad}`);
    if (r.status >= 400) {
      const added = (await allStorageKeys(s.core.storage)).filter((k) => !before.has(k));
      if (added.length > 0) throw new Error(`${method} ${target.slice(0, 200)} failed with ${r.status} but stored ${added.join(", ")}`);
    }
    return r;
  }

  async function stillUp(): Promise<void> {
    const health = await api(s.url, "GET", "sys/health");
    expect(health.status).toBe(200);
    expect((await api(s.url, "GET", "auth/token/lookup-self", { token: root })).status).toBe(200);
  }

  const writeMethod = fc.constantFrom("POST", "PUT", "PATCH");
  const someRoute = (): fc.Arbitrary<string> => fc.constantFrom(...new Set(targets.map((t) => t.path)), "sys/init", "sys/unseal", "sys/capabilities-self", "kv1/fuzz/x");
  const headersFor = (method: string): Record<string, string> => ({ "Content-Type": method === "PATCH" ? "application/merge-patch+json" : "application/json" });

  it("survives malformed JSON and form bodies", async () => {
    const malformed = fc.oneof(
      fc.string({ unit: "binary", maxLength: 200 }).map((t) => `{${t}`),
      fc.string({ unit: "binary", maxLength: 200 }).map((t) => `[${t}`),
      fc.constantFrom('{"a":', '{"a":1,}', "{'a':1}", '{"a":NaN}', '{"a":1e99999}', '{"\\ud800":1}', '{"a":"\\u00"}', "[", "]", "{}}", '{"a":1}{"b":2}', "\uFEFF{}", "{\u0000}", "%", "a=%zz", "a&&=&", "=", "a=1&a=2&a=3", '"just a string"', "12", "true", "null"),
      fc.string({ unit: "binary", maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a).toString("latin1")),
    );
    await fc.assert(
      fc.asyncProperty(writeMethod, someRoute(), malformed, async (method, path, body) => {
        await check(method, `/v1/${path}`, { headers: headersFor(method), body });
      }),
      { seed: SEED, numRuns: RUNS },
    );
    await stillUp();
  });

  it("survives JSON of the wrong shape: arrays, scalars, nulls, huge strings, deep nesting", async () => {
    const shaped = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.dictionary(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }),
      fc.record({ data: fc.jsonValue({ maxDepth: 3 }), options: fc.jsonValue({ maxDepth: 2 }), type: fc.jsonValue({ maxDepth: 1 }), policy: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
      fc.constantFrom({ data: null }, { data: { a: null } }, { data: [] }, { data: "x".repeat(1 << 20) }, { ["k".repeat(100_000)]: 1 }, { __proto__: { polluted: true } }, { constructor: 1, toString: 2, hasOwnProperty: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(writeMethod, someRoute(), shaped, async (method, path, body) => {
        await check(method, `/v1/${path}`, { headers: headersFor(method), body: JSON.stringify(body) });
      }),
      { seed: SEED + 1, numRuns: RUNS },
    );
    // Raw text, because JSON.stringify would turn an own "__proto__" key into a prototype.
    await check("POST", "/v1/secret/data/fuzz/proto", { headers: headersFor("POST"), body: '{"data":{"__proto__":{"polluted":1}},"__proto__":{"isAdmin":true}}' });
    await check("POST", "/v1/kv1/fuzz/proto", { headers: headersFor("POST"), body: '{"__proto__":{"polluted":1}}' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await stillUp();
  });

  it("survives deep nesting at every depth", async () => {
    for (const depth of [100, 1_000, 10_000, 100_000, 1_000_000]) {
      const arrays = "[".repeat(depth) + "]".repeat(depth);
      const objects = '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
      for (const path of ["secret/data/fuzz/deep", "kv1/fuzz/deep", "sys/policies/acl/fuzz-deep", "auth/token/create"]) {
        await check("POST", `/v1/${path}`, { headers: headersFor("POST"), body: `{"data":${arrays}}` });
        await check("POST", `/v1/${path}`, { headers: headersFor("POST"), body: `{"data":${objects},"policy":${objects},"meta":${objects}}` });
        await check("POST", `/v1/${path}`, { headers: headersFor("POST"), body: objects });
      }
    }
    await stillUp();
  });

  it("gives every declared field of every route a wrong type without a 500 or a stored key", async () => {
    const byTarget = fc.constantFrom(...targets).chain((t) => fc.tuple(fc.constant(t), wrongValue(t.schema), fc.dictionary(fc.constantFrom(...new Set(targets.map((x) => x.field))), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })));
    await fc.assert(
      fc.asyncProperty(byTarget, async ([t, value, extra]) => {
        await check(t.method, `/v1/${t.path}`, { headers: headersFor(t.method), body: JSON.stringify({ ...extra, [t.field]: value }) });
      }),
      { seed: SEED + 2, numRuns: 500 },
    );
    // And each field once on its own with a plainly wrong type, so no declared field is left out by chance.
    for (const t of targets) {
      const wrong = t.schema.type === "string" ? { nested: [1, { a: null }] } : t.schema.type === "object" ? "not an object" : t.schema.type === "array" ? { not: "a list" } : "not-a-number-or-bool";
      await check(t.method, `/v1/${t.path}`, { headers: headersFor(t.method), body: JSON.stringify({ [t.field]: wrong }) });
    }
    await stillUp();
  });

  it("answers odd paths with a 4xx envelope or a normal reply", async () => {
    const segment = fc.oneof(
      fc.constantFrom("..", ".", "%2e%2e", "%2E%2E", "%2e", "%00", "a%00b", "%", "%zz", "%2f", "%2F..%2F", "%5c", "", "~", ";", "a;b=c", "%C0%AE", "%ff%fe", "%e2%80%ae", "%F0%9F%94%91", "%C3%A9", "*", "+", "a b".replace(" ", "%20"), "{path}", "?", "#"),
      fc.string({ unit: "grapheme", maxLength: 8 }).map((t) => encodeURIComponent(t)),
      // Long, but six of them stay under Node's 16 KiB header limit (beyond it, see the 431 test below).
      fc.nat({ max: 2500 }).map((n) => "a".repeat(n)),
    );
    const prefix = fc.constantFrom("", "secret/", "secret/data/", "secret/metadata/", "kv1/", "sys/", "sys/policy/", "sys/policies/acl/", "sys/mounts/", "sys/internal/ui/mounts/", "auth/token/lookup/", "auth/token/roles/", "cubbyhole/", "/", "//");
    const method = fc.constantFrom("GET", "LIST", "POST", "PUT", "PATCH", "HEAD", "OPTIONS");
    await fc.assert(
      fc.asyncProperty(method, prefix, fc.array(segment, { minLength: 1, maxLength: 6 }), fc.boolean(), fc.constantFrom("", "?list=true", "?list=maybe", "?help=1", "?scan=true&list=true", "?version=abc", "?%zz", "?a=%00"), async (m, p, segs, trailing, query) => {
        const path = `/v1/${p}${segs.join("/")}${trailing ? "/" : ""}${query}`;
        await check(m, path, m === "GET" || m === "LIST" || m === "HEAD" || m === "OPTIONS" ? {} : { headers: headersFor(m), body: '{"data":{"a":"b"},"type":"kv","policy":"path \\"x\\" { capabilities = [\\"read\\"] }"}' });
      }),
      { seed: SEED + 3, numRuns: 400 },
    );
    for (const path of ["/v1", "/v1/", "/v2/secret", "/", "/v1/%", "/v1/" + "a/".repeat(3000), "/v1/secret/data/" + "x".repeat(5000)]) {
      await check("GET", path);
      await check("POST", path, { headers: headersFor("POST"), body: "{}" });
    }
    // Traversal must not escape a mount: none of these may create the policy they point at.
    const policy = JSON.stringify({ policy: 'path "x" { capabilities = ["read"] }' });
    for (const path of ["/v1/secret/data/a/../../../sys/policy/fuzz-trav", "/v1/kv1/%2e%2e/sys/policy/fuzz-trav", "/v1/kv1/%2E%2E%2Fsys%2Fpolicy%2Ffuzz-trav", "/v1/sys/mounts/../policy/fuzz-trav", "/v1/kv1/..%2f..%2fsys/policy/fuzz-trav"]) {
      await check("POST", path, { headers: headersFor("POST"), body: policy });
    }
    expect((await api(s.url, "GET", "sys/policy/fuzz-trav", { token: root })).status).toBe(404);
    // Encoded or doubled slashes decode to the real path (as Go's mux does), so a non-root token meets the ACL there.
    const plain = (await api(s.url, "POST", "auth/token/create", { token: root, body: { policies: ["default"] } })).body?.auth as { client_token: string };
    for (const path of ["/v1//sys/seal", "/v1/sys%2fseal", "/v1/sys/%73eal"]) {
      expect((await check("PUT", path, { headers: { "X-Vault-Token": plain.client_token } })).status).toBe(403);
    }
    await stillUp();
  });

  it("refuses a request line beyond the header limit before any handler runs", async () => {
    // Node's HTTP parser answers these itself (431, no body; Go's net/http does the same with a text body).
    const r = await raw(port, "GET", "/v1/secret/data/" + "x".repeat(70_000), { headers: { "X-Vault-Token": root } });
    expect(r.status).toBe(431);
    // Raw (unencoded) non-ASCII bytes in the request target: refused by the parser as well.
    expect((await raw(port, "GET", "/v1/secret/data/\u00e9", { headers: { "X-Vault-Token": root } })).status).toBe(400);
    await stillUp();
  });

  it("answers odd methods and headers with a 4xx envelope or a normal reply", async () => {
    const header = fc.oneof(
      fc.record({ "X-Vault-Wrap-TTL": fc.constantFrom("abc", "-1", "-5m", "1e400", "", " ", "0", "99999999999999999999h", "1h1", "5 m", "9".repeat(100)) }),
      fc.record({ "Content-Type": fc.constantFrom("text/plain", "application/json", "application/merge-patch+json; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", ";;;", "application/merge-patch+json;", "APPLICATION/MERGE-PATCH+JSON") }),
      fc.record({ "X-Vault-Token": fc.constantFrom("", " ", "hvs.", "hvs." + "A".repeat(5000), "s.x", "%00", "root") }),
      fc.record({ Authorization: fc.constantFrom("Bearer", "Bearer ", "Bearer  x", "Basic Zm9vOmJhcg==", "bearer hvs.x") }),
      fc.record({ "X-Vault-Namespace": fc.constantFrom("ns1", "../", "root", "") }),
      fc.record({ "Content-Encoding": fc.constantFrom("gzip", "br", "identity") }),
    );
    const method = fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "LIST", "SCAN", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "PURGE", "MKCOL", "COPY");
    const path = fc.constantFrom("secret/data/fuzz/h", "secret/metadata/fuzz/h", "kv1/fuzz/h", "sys/policies/acl/fuzz-h", "sys/mounts/fuzz-h", "auth/token/create", "auth/token/lookup-self", "sys/health", "sys/seal-status", "sys/init", "sys/unseal", "sys/leader");
    await fc.assert(
      fc.asyncProperty(method, path, header, async (m, p, h) => {
        // A token header in the generated set replaces root: sys/seal & co. must then refuse, not seal.
        await check(m, `/v1/${p}`, { headers: h, body: m === "GET" || m === "HEAD" ? undefined : '{"data":{"a":"b"}}' });
      }),
      { seed: SEED + 4, numRuns: RUNS },
    );
    await stillUp();
  });

  it("refuses a PATCH without the merge-patch content type with 415 and stores nothing", async () => {
    // Its own mount: other properties fuzz secret/config (e.g. cas_required) in any order.
    await api(s.url, "POST", "sys/mounts/patch-kv", { token: root, body: { type: "kv-v2" } });
    const created = await check("POST", "/v1/patch-kv/data/fuzz/patched", { headers: headersFor("POST"), body: '{"data":{"a":"1"}}' });
    expect(created.status).toBe(200);
    for (const ct of [undefined, "application/json", "text/plain"]) {
      const r = await check("PATCH", "/v1/patch-kv/data/fuzz/patched", { headers: ct ? { "Content-Type": ct } : {}, body: '{"data":{"a":"2"}}' });
      expect(r.status).toBe(415);
    }
    const after = await api(s.url, "GET", "patch-kv/data/fuzz/patched", { token: root });
    expect(after.body, JSON.stringify(after.body)).toMatchObject({ data: { data: { a: "1" }, metadata: { version: 1 } } });
  });

  it("refuses bodies over the request limit with 413, declared or streamed", async () => {
    const limit = 32 * 1024 * 1024;
    const before = new Set(await allStorageKeys(s.core.storage));
    const big = Buffer.alloc(limit + 1024, 0x61);
    big.write('{"data":{"a":"', 0);
    // Declared: refused from the Content-Length alone.
    const declared = await raw(port, "POST", "/v1/secret/data/fuzz/big", { headers: { "X-Vault-Token": root, "Content-Type": "application/json" }, body: big });
    expect(declared.status).toBe(413);
    expect(violation(declared, "POST")).toBeUndefined();
    // Streamed: chunked, no length up front, so the limit must be enforced while reading.
    const chunked = Buffer.concat([Buffer.from(`${(limit + 1024).toString(16)}\r\n`), big, Buffer.from("\r\n0\r\n\r\n")]);
    const streamed = await raw(port, "PUT", "/v1/kv1/fuzz/big", { headers: { "X-Vault-Token": root, "Content-Type": "application/json", "Transfer-Encoding": "chunked" }, body: chunked });
    expect(streamed.status).toBe(413);
    expect(violation(streamed, "PUT")).toBeUndefined();
    // A lying Content-Length (bigger than the limit, tiny body) and one that is not a number.
    expect((await raw(port, "POST", "/v1/kv1/fuzz/big", { headers: { "X-Vault-Token": root, "Content-Length": String(limit * 4) }, body: "{}" })).status).toBe(413);
    expect((await raw(port, "POST", "/v1/kv1/fuzz/big", { headers: { "X-Vault-Token": root, "Content-Length": "abc" }, body: "{}" })).status).toBeLessThan(500);
    expect((await allStorageKeys(s.core.storage)).filter((k) => !before.has(k))).toEqual([]);
    await stillUp();
  });
});
