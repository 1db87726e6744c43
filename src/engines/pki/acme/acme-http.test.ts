/**
 * ACME over real HTTP (the OpenBao wire format): HEAD new-nonce, problem documents for hostile bodies of
 * every shape and content type on every resource (never a 5xx, nothing stored but nonce bookkeeping), and
 * the server still answering afterwards.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allStorageKeys, api, devServer } from "../../../../test/servers.js";
import type { RunningServer } from "../../../server/server.js";
import { AcmeTestClient, accountKey, type Transport } from "../../../../test/acme-client.js";

let s: RunningServer;

const fetchTransport: Transport = async (method, url, body, contentType) => {
  const r = await fetch(url, { method, body, headers: contentType ? { "Content-Type": contentType } : {} });
  const link = r.headers.get("link");
  return {
    status: r.status,
    headers: { replayNonce: r.headers.get("replay-nonce") ?? undefined, location: r.headers.get("location") ?? undefined, link: link ? link.split(", ") : undefined, contentType: r.headers.get("content-type") ?? undefined },
    body: await r.text(),
  };
};
let base: string;

beforeAll(async () => {
  s = await devServer();
  const root = s.rootToken!;
  expect((await api(s.url, "POST", "sys/mounts/pki", { token: root, body: { type: "pki" } })).status).toBe(204);
  expect((await api(s.url, "POST", "pki/root/generate/internal", { token: root, body: { common_name: "HTTP ACME Root", key_type: "ec", key_bits: 256 } })).status).toBe(200);
  await api(s.url, "POST", "pki/config/cluster", { token: root, body: { path: `${s.url}/v1/pki` } });
  await api(s.url, "POST", "pki/config/acme", { token: root, body: { enabled: true } });
  base = `${s.url}/v1/pki/acme`;
});
afterAll(async () => {
  await s.stop();
});

describe("ACME over HTTP", () => {
  it("answers HEAD new-nonce 200 with a Replay-Nonce and no body, without a token", async () => {
    const r = await fetch(`${base}/new-nonce`, { method: "HEAD" });
    expect(r.status).toBe(200);
    expect(r.headers.get("replay-nonce")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.headers.get("link")).toContain('rel="index"');
    const d = await fetch(`${base}/directory`);
    expect(((await d.json()) as { newNonce: string }).newNonce).toBe(`${base}/new-nonce`);
  });

  it("answers GET new-nonce 204 No Content with a fresh Replay-Nonce and Cache-Control: no-store (RFC 8555 §7.2)", async () => {
    const head = await fetch(`${base}/new-nonce`, { method: "HEAD" });
    const r = await fetch(`${base}/new-nonce`);
    expect(r.status).toBe(204);
    expect(await r.text()).toBe("");
    expect(r.headers.get("replay-nonce")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.headers.get("replay-nonce")).not.toBe(head.headers.get("replay-nonce"));
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.headers.get("link")).toContain('rel="index"');
  });

  it("answers hostile bodies on every resource with problem documents, never a 5xx, storing no account or order", async () => {
    const resources = ["new-account", "new-order", "key-change", "revoke-cert", "orders", "account/AAAAAAAAAAAAAAAAAAAAAA", "order/AAAAAAAAAAAAAAAAAAAAAA/finalize", "authorization/x", "challenge/AAAAAAAAAAAAAAAAAAAAAA/http-01"];
    const b64 = (v: unknown): string => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
    const header = fc.record({ alg: fc.constantFrom("ES256", "RS256", "none", "HS256", 7), nonce: fc.oneof(fc.string(), fc.constant("")), url: fc.oneof(fc.webUrl(), fc.constant(`${base}/new-account`)), jwk: fc.option(fc.oneof(fc.object(), fc.record({ kty: fc.constantFrom("EC", "RSA", "OKP", "oct"), crv: fc.string(), x: fc.string(), y: fc.string(), n: fc.string(), e: fc.string() }))), kid: fc.option(fc.string()) }, { requiredKeys: [] });
    const body = fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.record({ protected: fc.oneof(header.map(b64), fc.string()), payload: fc.oneof(fc.jsonValue().map(b64), fc.constant(""), fc.string()), signature: fc.string() }).map((v) => JSON.stringify(v)),
    );
    const type = fc.constantFrom("application/jose+json", "application/json", "application/octet-stream", "text/plain", "application/jose+json; charset=utf-8");
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...resources), body, type, async (res, b, t) => {
        const r = await fetch(`${base}/${res}`, { method: "POST", headers: { "Content-Type": t }, body: b });
        const text = await r.text();
        expect(r.status, text).toBeLessThan(500);
        if (t.startsWith("application/jose+json") || t === "application/octet-stream") expect(r.headers.get("content-type"), text).toBe("application/problem+json");
      }),
      { seed: 20261207, numRuns: 300 },
    );
    const stored = (await allStorageKeys(s.core.storage)).filter((k) => /\/acme\/(accounts|orders|authz|thumbprints)\//.test(k));
    expect(stored).toEqual([]);
    // The same scan sees an account once one is made.
    const c = await new AcmeTestClient(fetchTransport, `${base}/directory`, await accountKey()).init();
    expect((await c.register()).status).toBe(201);
    expect((await allStorageKeys(s.core.storage)).filter((k) => /\/acme\/accounts\//.test(k))).toHaveLength(1);
    expect((await fetch(`${s.url}/v1/sys/health`)).status).toBe(200);
  });
});
