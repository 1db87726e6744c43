/**
 * A server started from an HCL config file: TLS listener with the operator's certificate, SQLite at
 * the configured path, and the data surviving a restart.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseServerConfig } from "./config.js";
import { startServer } from "./server.js";
import { quietLogger } from "../../test/servers.js";

const dir = mkdtempSync(join(tmpdir(), "arca-tls-"));
const certFile = join(dir, "tls.crt");
const keyFile = join(dir, "tls.key");

beforeAll(() => {
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
    "-keyout", keyFile, "-out", certFile, "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ], { stdio: "ignore" });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function httpsJson(url: string, method: string, ca: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca, headers: { "Content-Type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe("server from a config file", () => {
  it("serves TLS with the configured certificate and keeps its data across restarts", async () => {
    const hcl = `
      storage "sqlite" { path = "${join(dir, "data", "arca.db")}" }
      listener "tcp" {
        address       = "127.0.0.1:0"
        tls_cert_file = "${certFile}"
        tls_key_file  = "${keyFile}"
      }
      cluster_name = "test-cluster"
    `;
    writeFileSync(join(dir, "arca.hcl"), hcl);
    const config = await parseServerConfig(hcl, "arca.hcl");
    const ca = execFileSync("cat", [certFile]).toString();
    let server = await startServer(config, { logger: quietLogger });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const init = await httpsJson(`${server.url}/v1/sys/init`, "PUT", ca, { secret_shares: 1, secret_threshold: 1 });
    expect(init.status).toBe(200);
    const key = (init.json.keys as string[])[0];
    const root = init.json.root_token as string;
    await httpsJson(`${server.url}/v1/sys/unseal`, "PUT", ca, { key });
    const status = await httpsJson(`${server.url}/v1/sys/seal-status`, "GET", ca);
    expect(status.json).toMatchObject({ sealed: false, cluster_name: "test-cluster" });
    await server.stop();

    server = await startServer(config, { logger: quietLogger });
    expect((await httpsJson(`${server.url}/v1/sys/seal-status`, "GET", ca)).json.sealed).toBe(true);
    await httpsJson(`${server.url}/v1/sys/unseal`, "PUT", ca, { key });
    const lookup = await new Promise<number>((resolve, reject) => {
      request(`${server.url}/v1/auth/token/lookup-self`, { ca, headers: { "X-Vault-Token": root } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on("error", reject)
        .end();
    });
    expect(lookup).toBe(200);
    // An untrusted client refuses the connection: the listener really is TLS with this certificate.
    await expect(httpsJson(`${server.url}/v1/sys/health`, "GET", "")).rejects.toThrow();
    await server.stop();
  });
});
