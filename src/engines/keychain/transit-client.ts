/**
 * A minimal client for a customer's Transit (OpenBao, Vault or Arca): encrypt and decrypt with a named key,
 * nothing else. Every request goes through the outbound guard (common/outbound-guard.ts) to the address it
 * checked, redirects are refused rather than followed, answers are size-capped and time-limited, and the token
 * appears in no error or log line (errors carry the HTTP status or the socket error code only).
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { connectTargets, type OutboundPolicy } from "../../common/outbound-guard.js";

/** Why a Transit call failed: access withdrawn (forbidden / key gone) or the service did not answer usefully. */
export type TransitFailure = "forbidden" | "not_found" | "unreachable" | "bad_response";

export class TransitCallError extends Error {
  constructor(
    readonly failure: TransitFailure,
    message: string,
  ) {
    super(message);
    this.name = "TransitCallError";
  }
}

export interface TransitConnection {
  address: string;
  token: string;
  mount: string;
  namespace?: string;
  /** PEM CA certificate(s) to trust instead of the system store. */
  caCert?: string;
  policy: OutboundPolicy;
  /** Per request (default 10 s). */
  timeoutMs?: number;
}

/** Answers are a few hundred bytes; anything this large is not Transit. */
const MAX_RESPONSE_BYTES = 256 * 1024;

export class TransitClient {
  constructor(private readonly conn: TransitConnection) {}

  async encrypt(key: string, plaintext: Buffer): Promise<string> {
    const data = await this.post(`encrypt/${encodeURIComponent(key)}`, { plaintext: plaintext.toString("base64") });
    if (typeof data.ciphertext !== "string") throw new TransitCallError("bad_response", "Transit answered without a ciphertext");
    return data.ciphertext;
  }

  async decrypt(key: string, ciphertext: string): Promise<Buffer> {
    const data = await this.post(`decrypt/${encodeURIComponent(key)}`, { ciphertext });
    if (typeof data.plaintext !== "string") throw new TransitCallError("bad_response", "Transit answered without a plaintext");
    return Buffer.from(data.plaintext, "base64");
  }

  private async post(path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const url = new URL(this.conn.address);
    const targets = await connectTargets(url, "address", this.conn.policy).catch((err: unknown) => {
      throw new TransitCallError("unreachable", err instanceof Error ? err.message : "address refused");
    });
    const base = url.pathname.replace(/\/+$/, "");
    const mount = this.conn.mount.replace(/^\/+|\/+$/g, "");
    const payload = Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {
      "X-Vault-Token": this.conn.token,
      "Content-Type": "application/json",
      "Content-Length": payload.length,
    };
    if (this.conn.namespace) headers["X-Vault-Namespace"] = this.conn.namespace;
    // Connect only to the addresses the guard checked, whatever the name resolves to by now (DNS rebinding).
    const lookup: LookupFunction = (_host, opts, cb) => {
      if (opts.all) (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, targets);
      else cb(null, targets[0].address, targets[0].family);
    };
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    const options: RequestOptions & { ca?: string; servername?: string } = {
      method: "POST",
      hostname,
      port: url.port || undefined,
      path: `${base}/v1/${mount}/${path}`,
      headers,
      lookup,
      agent: false,
      timeout: this.conn.timeoutMs ?? 10_000,
    };
    if (this.conn.caCert) options.ca = this.conn.caCert;
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const res = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const req = send(options, (r: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        r.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy();
            reject(new TransitCallError("bad_response", "Transit's answer is too large"));
          } else chunks.push(c);
        });
        r.on("end", () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks) }));
        r.on("error", () => reject(new TransitCallError("unreachable", "the connection to Transit broke")));
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (e: NodeJS.ErrnoException) => reject(new TransitCallError("unreachable", `Transit is unreachable (${e.code ?? e.message})`)));
      req.end(payload);
    });
    return interpret(res.status, res.body);
  }
}

function interpret(status: number, body: Buffer): Record<string, unknown> {
  if (status >= 300 && status < 400) throw new TransitCallError("bad_response", `Transit answered with a redirect (${status}), which is not followed`);
  let parsed: { data?: unknown; errors?: unknown } | undefined;
  try {
    parsed = JSON.parse(body.toString("utf8")) as { data?: unknown; errors?: unknown };
  } catch {
    parsed = undefined;
  }
  if (status === 403 || status === 401) throw new TransitCallError("forbidden", `Transit refused the request (${status}): token revoked or not allowed`);
  if (status === 404) throw new TransitCallError("not_found", "Transit has no such key or mount (404)");
  if (status === 400) {
    // Transit answers 400 "encryption key not found" for a deleted key; other 400s are the request's fault.
    const text = Array.isArray(parsed?.errors) ? parsed.errors.join(" ") : "";
    if (/not found/i.test(text)) throw new TransitCallError("not_found", "Transit has no such key (400)");
    throw new TransitCallError("bad_response", "Transit refused the request (400)");
  }
  if (status !== 200 || typeof parsed?.data !== "object" || parsed.data === null) {
    throw new TransitCallError(status >= 500 ? "unreachable" : "bad_response", `Transit answered ${status}`);
  }
  return parsed.data as Record<string, unknown>;
}
