import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, ArcaClient, TransportError, type ClientConfig } from "./client.js";

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function config(address: string, extra: Partial<ClientConfig> = {}): ClientConfig {
  return { address, token: "hvs.SECRET-TOKEN", skipVerify: false, timeoutMs: 5000, ...extra };
}

function handler(seen: Seen[]) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      res.setHeader("Content-Type", "application/json");
      if (req.url?.startsWith("/v1/redirect")) {
        // 307 to the URL in ?to= (a standby sending the client to the active node, or a hostile server).
        res.statusCode = 307;
        res.setHeader("Location", new URL(req.url, "http://x").searchParams.get("to") ?? "/v1/redirect");
        res.end();
      } else if (req.url?.startsWith("/v1/denied")) {
        res.statusCode = 403;
        res.end(JSON.stringify({ errors: ["permission denied"] }));
      } else if (req.url?.startsWith("/v1/missing")) {
        res.statusCode = 404;
        res.end(JSON.stringify({ errors: [] }));
      } else if (req.url?.startsWith("/v1/empty")) {
        res.statusCode = 204;
        res.end();
      } else {
        res.end(JSON.stringify({ data: { keys: ["a", "b/"] } }));
      }
    });
  };
}

describe("ArcaClient over HTTP", () => {
  const seen: Seen[] = [];
  const server = http.createServer(handler(seen));
  let base = "";
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("sends the token, namespace and request marker, and lists with GET ?list=true", async () => {
    const client = new ArcaClient(config(base, { namespace: "team-a" }));
    const secret = await client.list("secret/metadata/app");
    expect(secret?.data?.keys).toEqual(["a", "b/"]);
    const req = seen.at(-1)!;
    expect(req.method).toBe("GET");
    expect(req.url).toBe("/v1/secret/metadata/app/?list=true");
    expect(req.headers["x-vault-token"]).toBe("hvs.SECRET-TOKEN");
    expect(req.headers["x-vault-namespace"]).toBe("team-a");
    expect(req.headers["x-vault-request"]).toBe("true");
  });

  it("omits the namespace for root-only endpoints and escapes path segments", async () => {
    const client = new ArcaClient(config(base, { namespace: "team-a" }));
    await client.request("GET", "sys/seal-status", { omitNamespace: true });
    expect(seen.at(-1)!.headers["x-vault-namespace"]).toBeUndefined();
    await client.read("secret/data/with space");
    expect(seen.at(-1)!.url).toBe("/v1/secret/data/with%20space");
  });

  it("sends JSON bodies with the requested content type", async () => {
    await new ArcaClient(config(base)).write("secret/data/x", { data: { a: "1" } }, "PATCH", "application/merge-patch+json");
    const req = seen.at(-1)!;
    expect(req.method).toBe("PATCH");
    expect(req.headers["content-type"]).toBe("application/merge-patch+json");
    expect(JSON.parse(req.body)).toEqual({ data: { a: "1" } });
  });

  it("reports API errors with status, method and URL but never the token", async () => {
    const err = await new ArcaClient(config(base)).read("denied/x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as Error).message).toBe(`permission denied (HTTP 403, GET ${base}/v1/denied/x)`);
    expect((err as Error).message).not.toContain("SECRET-TOKEN");
  });

  it("treats an empty 404 as no value and a 204 as no body", async () => {
    const client = new ArcaClient(config(base));
    expect(await client.read("missing/x")).toBeUndefined();
    expect(await client.delete("empty/x")).toBeUndefined();
  });

  it("follows a redirect on the same scheme, re-sending token and body, and stops a redirect loop", async () => {
    const client = new ArcaClient(config(base));
    const before = seen.length;
    await client.request("POST", "redirect", { query: { to: "/v1/moved/here" }, body: { data: { a: "1" } } });
    expect(seen.slice(before).map((r) => r.url)).toEqual(["/v1/redirect?to=%2Fv1%2Fmoved%2Fhere", "/v1/moved/here"]);
    const followed = seen.at(-1)!;
    expect(followed.headers["x-vault-token"]).toBe("hvs.SECRET-TOKEN");
    expect(JSON.parse(followed.body)).toEqual({ data: { a: "1" } });

    const loopStart = seen.length;
    const err = await client.read("redirect").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as Error).message).toMatch(/too many redirects/);
    expect(seen.length - loopStart).toBeLessThanOrEqual(4);
  });

  it("reports an unreachable server as a transport error", async () => {
    const err = await new ArcaClient(config("http://127.0.0.1:1")).read("x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as Error).message).toMatch(/^GET http:\/\/127\.0\.0\.1:1\/v1\/x: /);
  });
});

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!hasOpenssl())("ArcaClient over HTTPS", () => {
  const dir = mkdtempSync(join(tmpdir(), "arca-cli-tls-"));
  let server: https.Server;
  let base = "";
  beforeAll(async () => {
    // A self-signed certificate for 127.0.0.1, used both as the server cert and as the "custom CA".
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ], { stdio: "ignore" });
    server = https.createServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }, handler([]));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a redirect from https to plain http: the token and body never leave in clear text", async () => {
    const seenPlain: Seen[] = [];
    const plain = http.createServer(handler(seenPlain));
    await new Promise<void>((r) => plain.listen(0, "127.0.0.1", r));
    try {
      const target = `http://127.0.0.1:${(plain.address() as AddressInfo).port}/v1/stolen`;
      const client = new ArcaClient(config(base, { caCert: join(dir, "cert.pem") }));
      const err = await client.request("PUT", "redirect", { query: { to: target }, body: { password: "hunter2" } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransportError);
      expect((err as Error).message).toMatch(/redirect would cause protocol downgrade/);
      expect((err as Error).message).not.toContain("SECRET-TOKEN");
      expect(seenPlain).toEqual([]);
      // https to https is followed.
      expect(await client.request("GET", "redirect", { query: { to: `${base}/v1/x` } })).toMatchObject({ status: 200 });
    } finally {
      await new Promise<void>((r) => plain.close(() => r()));
    }
  });

  it("rejects an unknown CA, trusts ARCA_CACERT, and skips verification when asked", async () => {
    await expect(new ArcaClient(config(base)).read("x")).rejects.toBeInstanceOf(TransportError);
    expect(await new ArcaClient(config(base, { caCert: join(dir, "cert.pem") })).read("x")).toBeDefined();
    expect(await new ArcaClient(config(base, { skipVerify: true })).read("x")).toBeDefined();
  });
});
