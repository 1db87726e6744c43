/**
 * http-01 (RFC 8555 §8.3): GET http://<name>:<http01_port>/.well-known/acme-challenge/<token>, body equal to the
 * key authorization. Connects only to permitted addresses of the name, follows at most a few redirects and
 * only to the same name (on port 80, 443 or the configured port), reads at most MAX_BODY bytes.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import type { Identifier } from "../acme-store.js";
import { problem } from "../problem.js";
import type { AddressPolicy } from "./address-policy.js";
import type { AcmeResolver } from "./resolver.js";
import { firstAnswer, permittedAddresses } from "./targets.js";

const MAX_BODY = 8 * 1024;
const MAX_REDIRECTS = 3;

export interface HttpCheck {
  id: Identifier;
  token: string;
  keyAuthorization: string;
  port: number;
  resolver: AcmeResolver;
  policy: AddressPolicy;
  timeoutMs: number;
}

export async function checkHttp01(c: HttpCheck): Promise<void> {
  const addresses = await permittedAddresses(c.id, c.resolver, c.policy);
  let url = new URL(`http://${hostPart(c.id.value)}:${c.port}/.well-known/acme-challenge/${c.token}`);
  for (let hop = 0; ; hop++) {
    const res = await firstAnswer(addresses, (a) => fetchOnce(url, a, c));
    if (res.status >= 300 && res.status < 400 && res.location !== undefined) {
      if (hop >= MAX_REDIRECTS) throw problem("connection", "too many redirects");
      url = redirectTarget(url, res.location, c);
      continue;
    }
    if (res.status !== 200) throw problem("unauthorized", `the challenge URL answered HTTP ${res.status}`, 403);
    if (res.body.trim() !== c.keyAuthorization) throw problem("incorrectResponse", "the challenge URL's body is not the key authorization", 403);
    return;
  }
}

const hostPart = (v: string): string => (isIP(v) === 6 ? `[${v}]` : v);

function redirectTarget(from: URL, location: string, c: HttpCheck): URL {
  let to: URL;
  try {
    to = new URL(location, from);
  } catch {
    throw problem("connection", "the challenge URL redirected to an invalid URL");
  }
  const host = to.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = to.port === "" ? (to.protocol === "https:" ? 443 : 80) : Number(to.port);
  const okPort = to.protocol === "https:" ? port === 443 : to.protocol === "http:" && (port === 80 || port === c.port);
  if (host !== c.id.value.toLowerCase() || !okPort) throw problem("connection", "the challenge URL redirected off the identifier's host (only the same name on port 80 or 443 is followed)");
  return to;
}

interface Answer {
  status: number;
  location?: string;
  body: string;
}

function fetchOnce(url: URL, address: string, c: HttpCheck): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === "https:";
    const opts = {
      host: address,
      port: url.port === "" ? (https ? 443 : 80) : Number(url.port),
      path: url.pathname + url.search,
      method: "GET",
      headers: { Host: url.host, "User-Agent": "arca-acme-validator", Accept: "*/*", Connection: "close" },
      agent: false as const,
      timeout: c.timeoutMs,
      // RFC 8555 §8.3: a redirect to https is followed without checking the certificate.
      ...(https ? { servername: isIP(url.hostname) ? undefined : url.hostname, rejectUnauthorized: false } : {}),
    };
    const req = (https ? httpsRequest : httpRequest)(opts, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (d: Buffer) => {
        size += d.length;
        if (size > MAX_BODY) {
          req.destroy();
          reject(problem("incorrectResponse", `the challenge URL's body exceeds ${MAX_BODY} bytes`, 403));
          return;
        }
        chunks.push(d);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, location: typeof res.headers.location === "string" ? res.headers.location : undefined, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", () => reject(problem("connection", `connection to ${c.id.value} failed while reading`)));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => reject(problem("connection", `could not fetch the challenge from ${c.id.value}: ${(err as { code?: string }).code ?? err.message}`)));
    req.end();
  });
}
