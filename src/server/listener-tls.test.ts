/**
 * A real TLS listener built from OpenBao's listener settings: client certificates are required and
 * verified against tls_client_ca_file, and tls_min_version / tls_max_version / tls_cipher_suites bound
 * what a client can negotiate. Certificates are made with openssl per run.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request, type RequestOptions } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Request } from "../core/framework/request.js";
import { initializedCore, type TestCore } from "../../test/core.js";
import { quietLogger } from "../../test/servers.js";
import { DEFAULT_MAX_REQUEST_SIZE, type ListenerConfig } from "./config.js";
import { startListener, type RunningListener } from "./listener.js";

const dir = mkdtempSync(join(tmpdir(), "arca-listener-tls-"));
const f = (name: string): string => join(dir, name);
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

function openssl(args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
}

/** A CA, a server certificate for 127.0.0.1, a client certificate from the CA and one from a stranger CA. */
beforeAll(() => {
  for (const ca of ["ca", "stranger-ca"]) {
    openssl(["req", "-x509", ...EC, "-keyout", f(`${ca}.key`), "-out", f(`${ca}.pem`), "-subj", `/CN=${ca}`, "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
  }
  const issue = (name: string, ca: string, ext: string): void => {
    openssl(["req", "-new", ...EC, "-keyout", f(`${name}.key`), "-out", f(`${name}.csr`), "-subj", `/CN=${name}`]);
    openssl(["x509", "-req", "-in", f(`${name}.csr`), "-CA", f(`${ca}.pem`), "-CAkey", f(`${ca}.key`), "-CAcreateserial", "-out", f(`${name}.pem`), "-days", "2", "-extfile", f(ext)]);
  };
  writeFileSync(f("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  writeFileSync(f("client.ext"), "extendedKeyUsage=clientAuth\n");
  issue("server", "ca", "server.ext");
  issue("client", "ca", "client.ext");
  issue("stranger", "stranger-ca", "client.ext");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let t: TestCore | undefined;
let listener: RunningListener | undefined;
afterEach(async () => {
  await listener?.close();
  await t?.storage.close();
  listener = undefined;
  t = undefined;
});

async function listen(extra: Partial<ListenerConfig>): Promise<string> {
  t = await initializedCore();
  const cfg: ListenerConfig = { type: "tcp", address: "127.0.0.1:0", tlsDisable: false, tlsCertFile: f("server.pem"), tlsKeyFile: f("server.key"), maxRequestSize: DEFAULT_MAX_REQUEST_SIZE, ...extra };
  listener = await startListener(t.core, cfg, quietLogger);
  return listener.url;
}

/** GET sys/health; the HTTP status, or the error that ended the connection. */
function health(url: string, opts: RequestOptions = {}, path = "sys/health"): Promise<number | Error> {
  return new Promise((resolve) => {
    const req = request(`${url}/v1/${path}`, { ca: readFileSync(f("ca.pem")), agent: false, ...opts }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", resolve);
    req.end();
  });
}

const clientCert = (name: string): RequestOptions => ({ cert: readFileSync(f(`${name}.pem`)), key: readFileSync(f(`${name}.key`)) });

describe("TLS listener settings", () => {
  it("tls_require_and_verify_client_cert refuses a client without a certificate or with one from another CA", async () => {
    const url = await listen({ tlsRequireClientCert: true, tlsClientCaFile: f("ca.pem") });
    expect(await health(url)).toBeInstanceOf(Error);
    expect(await health(url, clientCert("stranger"))).toBeInstanceOf(Error);
    expect(await health(url, clientCert("client"))).toBe(200);
    // Also over TLS 1.2, where the certificate is checked before the handshake completes.
    expect(await health(url, { maxVersion: "TLSv1.2" })).toBeInstanceOf(Error);
    expect(await health(url, { maxVersion: "TLSv1.2", ...clientCert("client") })).toBe(200);
  });

  it("without the setting, a client needs no certificate", async () => {
    const url = await listen({});
    expect(await health(url)).toBe(200);
  });

  /** The connection facts of every request the core is handed while `run` runs. */
  async function seenConnections(run: () => Promise<unknown>): Promise<Request["connection"][]> {
    const spy = vi.spyOn(t?.core ?? ({} as never), "handleRequest");
    await run();
    const seen = spy.mock.calls.map(([req]: [Request, ...unknown[]]) => req.connection);
    spy.mockRestore();
    return seen;
  }

  it("asks for a client certificate without requiring one, and hands the unverified chain to the core", async () => {
    const url = await listen({});
    const der = (name: string) => new X509Certificate(readFileSync(f(`${name}.pem`))).raw;
    // A stranger's certificate is not refused by the handshake: judging it is the cert auth method's job.
    const seen = await seenConnections(async () => {
      expect(await health(url, clientCert("stranger"), "sys/mounts")).toBe(403);
      expect(await health(url, { maxVersion: "TLSv1.2", ...clientCert("client") }, "sys/mounts")).toBe(403);
      expect(await health(url, {}, "sys/mounts")).toBe(403);
    });
    expect(seen.map((c) => c?.peerCertificates[0])).toEqual([der("stranger"), der("client"), undefined]);
    expect(seen[2]).toEqual({ peerCertificates: [] });
  });

  it("tls_disable_client_certs: no certificate is asked for, so none reaches the core", async () => {
    const url = await listen({ tlsDisableClientCerts: true });
    const seen = await seenConnections(async () => expect(await health(url, clientCert("client"), "sys/mounts")).toBe(403));
    expect(seen).toEqual([{ peerCertificates: [] }]);
  });

  it("tls_min_version = tls13 refuses a TLS 1.2-only client", async () => {
    const url = await listen({ tlsMinVersion: "TLSv1.3" });
    const err = await health(url, { maxVersion: "TLSv1.2" });
    expect(err).toBeInstanceOf(Error);
    expect(await health(url)).toBe(200);
  });

  it("tls_max_version and tls_cipher_suites bound what can be negotiated", async () => {
    const url = await listen({ tlsMaxVersion: "TLSv1.2", tlsCiphers: "TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256" });
    expect(await health(url, { minVersion: "TLSv1.3" })).toBeInstanceOf(Error);
    expect(await health(url, { ciphers: "ECDHE-ECDSA-AES256-GCM-SHA384", maxVersion: "TLSv1.2" })).toBeInstanceOf(Error);
    expect(await health(url, { ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256", maxVersion: "TLSv1.2" })).toBe(200);
  });
});
