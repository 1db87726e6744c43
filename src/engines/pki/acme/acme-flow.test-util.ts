// Test support: challenge responders on loopback (http-01, tls-alpn-01), CSRs made by openssl, and the
// order steps a client takes.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTlsServer } from "node:tls";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import type { AcmeTestClient } from "../../../../test/acme-client.js";
import type { scratch } from "../pki-harness.test-util.js";

type Scratch = ReturnType<typeof scratch>;

/** An http-01 responder: token → key authorization; counts every request it gets. */
export async function http01Responder(): Promise<{ port: number; answers: Map<string, string>; hits: () => number; redirect: { to?: string }; close: () => Promise<void> }> {
  const answers = new Map<string, string>();
  let hits = 0;
  const redirect: { to?: string } = {};
  const server: Server = createHttpServer((req, res) => {
    hits++;
    if (redirect.to) {
      res.writeHead(302, { Location: redirect.to }).end();
      return;
    }
    const token = (req.url ?? "").replace("/.well-known/acme-challenge/", "");
    const a = answers.get(token);
    if (!a) res.writeHead(404).end();
    else res.writeHead(200, { "Content-Type": "text/plain" }).end(a);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as AddressInfo).port, answers, hits: () => hits, redirect, close: () => new Promise((r) => server.close(() => r())) };
}

/** A tls-alpn-01 responder presenting the RFC 8737 certificate for `name` (made by openssl). */
export async function tlsAlpnResponder(tmp: Scratch, name: string, keyAuthorization: string): Promise<{ port: number; close: () => Promise<void> }> {
  const hash = createHash("sha256").update(keyAuthorization).digest("hex");
  const key = tmp.path(`alpn-${name}.key`);
  const cert = tmp.path(`alpn-${name}.pem`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", `/CN=${name}`, "-addext", `subjectAltName=DNS:${name}`, "-addext", `1.3.6.1.5.5.7.1.31=critical,DER:0420${hash}`], { stdio: "ignore" });
  const server = createTlsServer({ key: readFileSync(key), cert: readFileSync(cert), ALPNProtocols: ["acme-tls/1"] }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

/** A CSR (base64url DER) for `names` (the first is the CN unless `cn` says otherwise; "" for none), and the key file. */
export function makeCsr(tmp: Scratch, names: string[], opts: { cn?: string } = {}): { csr: string; keyFile: string } {
  const base = `csr-${Math.random().toString(36).slice(2)}`;
  const keyFile = tmp.path(`${base}.key`);
  const out = tmp.path(`${base}.der`);
  const san = names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
  execFileSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyFile, "-outform", "DER", "-out", out, "-subj", opts.cn === "" ? "/O=Arca Test" : `/CN=${opts.cn ?? names[0]}`, "-addext", `subjectAltName=${san}`], { stdio: "ignore" });
  return { csr: readFileSync(out).toString("base64url"), keyFile };
}

export interface OrderView {
  status: string;
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: { type: string };
}
export interface AuthzView {
  status: string;
  identifier: { type: string; value: string };
  wildcard?: boolean;
  challenges: Array<{ type: string; url: string; token: string; status: string; error?: { type: string; detail: string } }>;
}

/** Polls a resource (POST-as-GET) until its status leaves `from`. */
export async function pollUntilNot<T extends { status: string }>(c: AcmeTestClient, url: string, from: string[], tries = 300): Promise<T> {
  for (let i = 0; ; i++) {
    const { body } = await c.json<T>(url);
    if (!from.includes(body.status) || i >= tries) return body;
    await new Promise((r) => setTimeout(r, 20));
  }
}
