/** A real Arca server on a TLS listener (loopback, ephemeral port), initialised and unsealed, for cert login tests. */
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { quietLogger, testServerConfig } from "../../../test/servers.js";
import { startServer, type RunningServer } from "../../server/server.js";
import type { TestCert, TestPki } from "./test-pki.test-util.js";

export interface TlsServer extends RunningServer {
  root: string;
  /** The CA the server certificate chains to (clients pass it as their CA). */
  ca: TestCert;
}

export async function startTlsServer(pki: TestPki, ca: TestCert): Promise<TlsServer> {
  const cert = pki.make("tls-server", { subject: "/CN=localhost", issuer: ca, ext: ["subjectAltName=IP:127.0.0.1,DNS:localhost", "extendedKeyUsage=serverAuth"] });
  const dir = mkdtempSync(join(tmpdir(), "arca-cert-server-"));
  const config = testServerConfig({ type: "sqlite", path: join(dir, "arca.db") }, { tlsDisable: false, tlsCertFile: cert.pemPath, tlsKeyFile: cert.keyPath });
  let root = "";
  const server = await startServer(config, {
    logger: quietLogger,
    afterCore: async (core) => {
      root = (await core.initialize({ secretShares: 1, secretThreshold: 1 }, { keepUnsealed: true })).rootToken;
    },
  });
  return {
    ...server,
    root,
    ca,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One API call over TLS, optionally presenting a client certificate; status and parsed body. */
export function tlsApi(s: TlsServer, method: string, path: string, opts: { token?: string; body?: unknown; client?: TestCert } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${s.url}/v1/${path}`,
      {
        method,
        ca: s.ca.pem,
        agent: false,
        headers: { "content-type": "application/json", ...(opts.token ? { "x-vault-token": opts.token } : {}) },
        ...(opts.client ? { cert: opts.client.pem, key: opts.client.keyPem } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) });
        });
      },
    );
    req.on("error", reject);
    req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
  });
}
