// TLS verification of the daemon's client against a local HTTPS server whose throwaway self-signed
// certificate (made with the openssl CLI) doubles as the CA.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeHttpClient, UnsealerHttpError } from "./http-client.js";

describe("NodeHttpClient over TLS", () => {
  let dir: string;
  let server: Server;
  let url: string;
  let cert: Buffer;
  const bodies: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "arca-unsealer-tls-"));
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
      { stdio: "ignore" },
    );
    cert = readFileSync(join(dir, "cert.pem"));
    server = createServer({ key: readFileSync(join(dir, "key.pem")), cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        res.setHeader("Content-Type", "application/json");
        if (req.url === "/v1/sys/seal-status") {
          res.end(JSON.stringify({ initialized: true, sealed: true, t: 2, n: 3, progress: 0, nonce: "" }));
        } else if (req.url === "/v1/sys/unseal" && req.method === "PUT") {
          bodies.push(Buffer.concat(chunks).toString("utf8"));
          res.statusCode = 400;
          res.end(JSON.stringify({ errors: ["invalid key"] }));
        } else {
          res.statusCode = 503;
          res.end(JSON.stringify({ errors: ["Vault is sealed"] }));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it("verifies the server against the configured CA", async () => {
    const client = new NodeHttpClient({ ca: cert });
    expect(await client.sealStatus(url)).toEqual({ initialized: true, sealed: true, t: 2, n: 3, progress: 0, nonce: "" });
    const r = await client.unseal(url, Buffer.from('{"key":"00"}'));
    expect(r).toEqual({ ok: false, httpStatus: 400, errors: ["invalid key"] });
    expect(bodies).toEqual(['{"key":"00"}']);
    client.close();
  });

  it("refuses an unknown certificate unless verification is switched off", async () => {
    const strict = new NodeHttpClient();
    await expect(strict.sealStatus(url)).rejects.toThrow(/self[- ]signed|SELF_SIGNED/i);
    strict.close();
    const lax = new NodeHttpClient({ tlsSkipVerify: true });
    expect((await lax.sealStatus(url)).sealed).toBe(true);
    lax.close();
  });

  it("treats 5xx and garbage as a server that is down", async () => {
    const client = new NodeHttpClient({ ca: cert });
    await expect(client.sealStatus(`${url}/elsewhere`)).rejects.toBeInstanceOf(UnsealerHttpError);
    await expect(client.sealStatus("http://127.0.0.1:1")).rejects.toThrow(/ECONNREFUSED/);
    client.close();
  });
});
