// The isolation matrix: for every route family, tokens of namespace A, of its child, of its parent (with
// and without a grant on A), of a sibling and of the root try A's resources, addressed by header, by
// path and by both. Only the granted ones may succeed; every refusal is a 403 that carries no data.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";

let server: RunningServer;
let root: string;
const P = `iso${randomUUID().slice(0, 6)}`;
const A = `${P}/a`;

const ALL = '["create", "read", "update", "patch", "delete", "list", "sudo"]';

function call(method: string, path: string, token: string, ns?: string, body?: unknown) {
  return api(server.url, method, path, { token, body, headers: ns !== undefined ? { "X-Vault-Namespace": ns } : {} });
}

async function ok(method: string, path: string, ns: string, body?: unknown): Promise<Record<string, unknown> | undefined> {
  const r = await call(method, path, root, ns, body);
  expect(r.status, `${method} ${ns}:${path} ${JSON.stringify(r.body)}`).toBeLessThan(300);
  return r.body;
}

async function tokenIn(ns: string, policy: string): Promise<string> {
  const name = `p${randomUUID().slice(0, 6)}`;
  await ok("PUT", `sys/policies/acl/${name}`, ns, { policy });
  const body = await ok("POST", "auth/token/create", ns, { policies: [name], no_default_policy: true });
  return (body?.auth as { client_token: string }).client_token;
}

/** A's resources, one or more per route family: [family, method, path, body]. */
const RESOURCES: Array<[string, string, string, unknown]> = [
  ["sys", "GET", "sys/mounts", undefined],
  ["sys", "GET", "sys/policies/acl/a-admin", undefined],
  ["sys", "LIST", "sys/namespaces", undefined],
  ["sys", "PUT", "sys/policies/acl/probe", { policy: 'path "x" { capabilities = ["read"] }' }],
  ["auth", "GET", "auth/approle/role/r", undefined],
  ["auth", "GET", "auth/approle/role/r/role-id", undefined],
  ["auth", "POST", "auth/token/create", { policies: ["default"] }],
  ["kv", "GET", "secret/data/s", undefined],
  ["kv", "POST", "secret/data/written", { data: { v: "1" } }],
  ["kv", "LIST", "secret/metadata/", undefined],
  ["transit", "POST", "transit/encrypt/k", { plaintext: Buffer.from("hello").toString("base64") }],
  ["transit", "GET", "transit/keys/k", undefined],
  ["pki", "GET", "pki/roles/r", undefined],
  ["pki", "POST", "pki/issue/r", { common_name: "svc.example.com", ttl: "1h" }],
  ["cubbyhole", "LIST", "cubbyhole/", undefined],
];

beforeAll(async () => {
  server = await devServer();
  root = server.rootToken ?? "";
  await ok("POST", `sys/namespaces/${P}`, "", {});
  await ok("POST", "sys/namespaces/a", P, {});
  await ok("POST", "sys/namespaces/c", A, {});
  await ok("POST", "sys/namespaces/s", P, {});
  // The same mounts in P as in A, so a leak through relative paths would show.
  for (const ns of [P, A]) {
    await ok("POST", "sys/mounts/secret", ns, { type: "kv", options: { version: "2" } });
    await ok("POST", "secret/data/s", ns, { data: { owner: ns } });
    await ok("POST", "sys/mounts/transit", ns, { type: "transit" });
    await ok("POST", "transit/keys/k", ns, {});
    await ok("POST", "sys/mounts/pki", ns, { type: "pki" });
    await ok("POST", "pki/root/generate/internal", ns, { common_name: `${ns} CA`, key_type: "ec", key_bits: 256 });
    await ok("POST", "pki/roles/r", ns, { allow_any_name: true, key_type: "ec", key_bits: 256, max_ttl: "24h" });
    await ok("POST", "sys/auth/approle", ns, { type: "approle" });
    await ok("POST", "auth/approle/role/r", ns, { token_policies: ["default"] });
    await ok("PUT", "sys/policies/acl/a-admin", ns, { policy: `path "*" { capabilities = ${ALL} }` });
  }
});
afterAll(async () => {
  await server.stop();
});

describe("namespace isolation matrix", () => {
  it("only A's own token, a parent token granted A/..., and root reach A's resources; zero leaks", async () => {
    const everything = `path "*" { capabilities = ${ALL} }`;
    const parentOwnPaths = ["sys/*", "auth/*", "secret/*", "transit/*", "pki/*", "cubbyhole/*"].map((p) => `path "${p}" { capabilities = ${ALL} }`).join("\n");
    const tokens: Array<{ who: string; token: string; allowed: boolean }> = [
      { who: "A", token: await tokenIn(A, everything), allowed: true },
      { who: "child of A", token: await tokenIn(`${A}/c`, everything), allowed: false },
      { who: "parent without grant", token: await tokenIn(P, parentOwnPaths), allowed: false },
      { who: "parent granted a/*", token: await tokenIn(P, `path "a/*" { capabilities = ${ALL} }`), allowed: true },
      { who: "sibling", token: await tokenIn(`${P}/s`, everything), allowed: false },
      { who: "root", token: root, allowed: true },
    ];
    // Three ways to address A: header, path prefix, header of the parent plus the rest in the path.
    const addressings: Array<[string, (path: string) => [string | undefined, string]]> = [
      ["header", (path) => [A, path]],
      ["path", (path) => [undefined, `${A}/${path}`]],
      ["header+path", (path) => [P, `a/${path}`]],
    ];
    const failures: string[] = [];
    let checked = 0;
    for (const { who, token, allowed } of tokens) {
      for (const [family, method, path, body] of RESOURCES) {
        for (const [how, address] of addressings) {
          const [ns, fullPath] = address(path);
          const r = await call(method, fullPath, token, ns, body);
          checked++;
          const label = `${who} ${how} ${family} ${method} ${path} → ${r.status}`;
          if (allowed) {
            if (r.status >= 300 && !(method === "LIST" && r.status === 404)) failures.push(`${label} (should succeed) ${JSON.stringify(r.body)}`);
          } else if (r.status !== 403 || r.body?.data !== undefined || r.body?.auth !== undefined) {
            failures.push(`${label} (should be 403 without data) ${JSON.stringify(r.body).slice(0, 200)}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBe(tokens.length * RESOURCES.length * 3);
  });

  it("each namespace answers with its own data at the same relative path", async () => {
    const inP = await ok("GET", "secret/data/s", P);
    const inA = await ok("GET", "secret/data/s", A);
    expect((inP?.data as { data: unknown }).data).toEqual({ owner: P });
    expect((inA?.data as { data: unknown }).data).toEqual({ owner: A });
    // A ciphertext made in A does not decrypt with P's key of the same name.
    const ct = ((await ok("POST", "transit/encrypt/k", A, { plaintext: Buffer.from("x").toString("base64") }))?.data as { ciphertext: string }).ciphertext;
    const r = await call("POST", "transit/decrypt/k", root, P, { ciphertext: ct });
    expect(r.status).toBe(400);
  });

  it("a token cannot be moved into another namespace by rewriting its suffix", async () => {
    const tokA = await tokenIn(A, `path "*" { capabilities = ${ALL} }`);
    const sibling = await ok("GET", `sys/namespaces/${P}/s`, "");
    const forged = tokA.replace(/\.[^.]+$/, `.${String((sibling?.data as { id: string }).id)}`);
    expect((await call("GET", "sys/mounts", forged, `${P}/s`)).status).toBe(403);
    expect((await call("GET", "secret/data/s", forged, A)).status).toBe(403);
  });
});
