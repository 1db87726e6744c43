/**
 * Without a valid token, a request to a path that is not unauthenticated gets one answer, 403
 * "permission denied", whether or not its namespace, mount, endpoint or operation exists: a caller with
 * no token must not be able to map namespaces and mounts by telling a 403 from a 404 ("namespace not
 * found", "no handler for route", "unsupported path") or a 405. Authenticated callers keep the precise
 * answers, and unauthenticated paths (logins, sys/wrapping/lookup) keep theirs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../test/servers.js";
import type { RunningServer } from "../server/server.js";

let s: RunningServer;
let root: string;
beforeAll(async () => {
  s = await devServer();
  root = s.rootToken!;
  expect((await api(s.url, "POST", "sys/namespaces/team", { token: root })).status).toBe(200);
  expect((await api(s.url, "POST", "team/sys/mounts/kv", { token: root, body: { type: "kv-v2" } })).status).toBe(204);
  expect((await api(s.url, "POST", "sys/auth/userpass", { token: root, body: { type: "userpass" } })).status).toBe(204);
});
afterAll(async () => s.stop());

/** [method, path, X-Vault-Namespace]: existing and missing namespaces, mounts, endpoints and operations. */
const PROBES: Array<[string, string, string | undefined]> = [
  ["GET", "secret/data/x", undefined], // exists
  ["GET", "team/kv/data/x", undefined], // namespace and mount exist
  ["GET", "kv/data/x", "team"],
  ["GET", "nope/kv/data/x", undefined], // no such namespace (read as a mount path)
  ["GET", "kv/data/x", "nope"], // no such namespace (header)
  ["GET", "nomount/x", undefined], // no such mount
  ["GET", "team/nomount/x", undefined],
  ["GET", "secret/no-such-endpoint", undefined], // mount exists, endpoint does not
  ["DELETE", "secret/config", undefined], // endpoint exists, operation does not
  ["GET", "team/sys/audit", undefined], // root-only endpoint in a namespace
  ["GET", "nope/sys/audit", undefined],
  ["GET", "kv/data/x?help=1", "team"], // help needs a token too
  ["GET", "kv/data/x?help=1", "nope"],
  ["GET", "nope/kv/data/x?help=1", undefined],
];

describe("requests without a valid token", () => {
  for (const token of [undefined, "hvs.notatokenatall000000000"]) {
    it(`all answer the same 403 (${token ? "invalid token" : "no token"})`, async () => {
      for (const [method, path, ns] of PROBES) {
        const r = await api(s.url, method, path, { token, headers: ns ? { "X-Vault-Namespace": ns } : {} });
        expect({ probe: `${method} ${ns ?? ""}:${path}`, status: r.status, body: r.body }).toEqual({
          probe: `${method} ${ns ?? ""}:${path}`,
          status: 403,
          body: { errors: ["permission denied"] },
        });
      }
    });
  }

  it("leave unauthenticated paths and authenticated callers their precise answers", async () => {
    expect((await api(s.url, "POST", "auth/userpass/login/bob", { body: { password: "x" } })).status).toBe(400);
    expect((await api(s.url, "POST", "sys/wrapping/lookup", { body: { token: "hvs.nothing" } })).status).toBe(400);
    expect((await api(s.url, "GET", "auth/userpass/login/bob")).status).toBe(405);
    expect((await api(s.url, "GET", "nomount/x", { token: root })).status).toBe(404);
    expect((await api(s.url, "GET", "kv/data/x", { token: root, headers: { "X-Vault-Namespace": "nope" } })).status).toBe(404);
    expect((await api(s.url, "DELETE", "secret/config", { token: root })).status).toBe(405);
    expect((await api(s.url, "GET", "team/sys/audit", { token: root })).status).toBe(400);
  });
});
