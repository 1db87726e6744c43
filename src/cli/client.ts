/**
 * A small client for the OpenBao/Vault HTTP API, built on node:http/https because fetch cannot take a
 * custom CA or skip verification without an extra dependency.
 */
import { readFileSync, readdirSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { join } from "node:path";

export const DEFAULT_ADDRESS = "http://127.0.0.1:8200";

export interface ClientConfig {
  address: string;
  token?: string;
  namespace?: string;
  /** PEM bundle path (ARCA_CACERT / -ca-cert). */
  caCert?: string;
  /** Directory of PEM files (ARCA_CAPATH / -ca-path). */
  caPath?: string;
  clientCert?: string;
  clientKey?: string;
  tlsServerName?: string;
  skipVerify: boolean;
  timeoutMs: number;
}

/** The success envelope (reference §1.3); every field optional because sys endpoints vary. */
export interface Secret {
  request_id?: string;
  lease_id?: string;
  lease_duration?: number;
  renewable?: boolean;
  data?: Record<string, unknown> | null;
  warnings?: string[] | null;
  auth?: SecretAuth | null;
  wrap_info?: Record<string, unknown> | null;
}

export interface SecretAuth {
  client_token?: string;
  accessor?: string;
  policies?: string[] | null;
  token_policies?: string[] | null;
  identity_policies?: string[] | null;
  metadata?: Record<string, string> | null;
  lease_duration?: number;
  renewable?: boolean;
  [key: string]: unknown;
}

export interface ApiResponse {
  status: number;
  /** Parsed JSON body; undefined for 204 or an empty body. */
  body: unknown;
}

/** A response with status >= 400. The message carries the status and URL but never the token. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly url: string,
    readonly errors: string[],
    readonly body: unknown,
  ) {
    const first = errors.find((e) => e.trim() !== "")?.replace(/\s*\n\s*/g, " ");
    super(`${first ?? http.STATUS_CODES[status] ?? "request failed"} (HTTP ${status}, ${method} ${url})`);
  }
}

/** The server could not be reached or answered something that is not the API. */
export class TransportError extends Error {}

export interface RequestOptions {
  query?: Record<string, string | string[] | undefined>;
  body?: unknown;
  contentType?: string;
  /** Root-only endpoints (init, unseal, seal-status, seal) reject a namespace header with 400. */
  omitNamespace?: boolean;
  /** Overrides the configured token (login verifies a token before storing it). */
  token?: string;
  /** A binary body sent as is (storage snapshots), instead of `body` as JSON. */
  bytes?: Buffer;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function asSecret(body: unknown): Secret {
  return isRecord(body) ? body : {};
}

function errorsOf(body: unknown): string[] {
  if (isRecord(body) && Array.isArray(body.errors)) return body.errors.map((e) => String(e));
  return [];
}

/** Escapes each segment but keeps the `/` separators, as the Go client does. */
export function encodePath(path: string): string {
  return path.replace(/^\/+/, "").split("/").map(encodeURIComponent).join("/");
}

function readCas(config: ClientConfig): Buffer[] | undefined {
  const cas: Buffer[] = [];
  if (config.caCert) cas.push(readFileSync(config.caCert));
  if (config.caPath) {
    for (const f of readdirSync(config.caPath).sort()) {
      if (/\.(pem|crt)$/i.test(f)) cas.push(readFileSync(join(config.caPath, f)));
    }
  }
  return cas.length > 0 ? cas : undefined;
}

/** Redirects followed per request (an HA standby sends the client to the active node: one hop). */
const MAX_REDIRECTS = 3;

export class ArcaClient {
  private agent?: https.Agent;

  constructor(readonly config: ClientConfig) {}

  private httpsAgent(): https.Agent {
    this.agent ??= new https.Agent({
      ca: readCas(this.config),
      cert: this.config.clientCert ? readFileSync(this.config.clientCert) : undefined,
      key: this.config.clientKey ? readFileSync(this.config.clientKey) : undefined,
      servername: this.config.tlsServerName,
      rejectUnauthorized: !this.config.skipVerify,
    });
    return this.agent;
  }

  url(path: string, query?: RequestOptions["query"]): URL {
    const base = this.config.address.replace(/\/+$/, "");
    const url = new URL(`${base}/v1/${encodePath(path)}`);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, one);
    }
    return url;
  }

  /** Any status; throws only on transport failure. */
  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse> {
    const res = await this.rawBytes(method, path, opts);
    return { status: res.status, body: parseBody(res.bytes.toString("utf8"), res.status) };
  }

  /** A binary answer (storage snapshots); an error status throws ApiError with the server's message. */
  async download(path: string, opts: RequestOptions = {}): Promise<Buffer> {
    const res = await this.rawBytes("GET", path, opts);
    if (res.status >= 400) {
      const body = parseBody(res.bytes.toString("utf8"), res.status);
      throw new ApiError(res.status, "GET", this.url(path, opts.query).toString(), errorsOf(body), body);
    }
    return res.bytes;
  }

  private async rawBytes(method: string, path: string, opts: RequestOptions): Promise<{ status: number; bytes: Buffer }> {
    const headers: Record<string, string> = { "X-Vault-Request": "true" };
    const token = opts.token ?? this.config.token;
    if (token) headers["X-Vault-Token"] = token;
    if (this.config.namespace && !opts.omitNamespace) headers["X-Vault-Namespace"] = this.config.namespace;
    let payload: Buffer | undefined;
    if (opts.bytes !== undefined) {
      payload = opts.bytes;
      headers["Content-Type"] = opts.contentType ?? "application/octet-stream";
      headers["Content-Length"] = String(payload.length);
    } else if (opts.body !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.body), "utf8");
      headers["Content-Type"] = opts.contentType ?? "application/json";
      headers["Content-Length"] = String(payload.length);
    }
    let url = this.url(path, opts.query);
    for (let hop = 0; ; hop++) {
      const res = await this.send(method, url, headers, payload);
      // The Go client follows 307s re-sending the body (standby → active); do the same.
      if ((res.status === 307 || res.status === 308) && res.location) {
        if (hop >= MAX_REDIRECTS) throw new TransportError(`${method} ${url.toString()}: too many redirects (followed ${MAX_REDIRECTS})`);
        url = redirectTarget(url, res.location);
        continue;
      }
      return { status: res.status, bytes: res.bytes };
    }
  }

  /** Throws ApiError for status >= 400. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse> {
    const res = await this.raw(method, path, opts);
    if (res.status >= 400) throw new ApiError(res.status, method, this.url(path, opts.query).toString(), errorsOf(res.body), res.body);
    return res;
  }

  /**
   * GET that returns undefined for a 404 without data, like the Go client's Logical().Read: a missing
   * secret is not an error to the caller. A 404 that carries data (a deleted KV version) is returned.
   */
  async read(path: string, query?: RequestOptions["query"]): Promise<Secret | undefined> {
    const res = await this.raw("GET", path, { query });
    if (res.status === 404) {
      const body = asSecret(res.body);
      if ((body.data && Object.keys(body.data).length > 0) || (body.warnings && body.warnings.length > 0)) return body;
      return undefined;
    }
    if (res.status >= 400) throw new ApiError(res.status, "GET", this.url(path, query).toString(), errorsOf(res.body), res.body);
    return asSecret(res.body);
  }

  /** LIST as `GET ?list=true`; undefined when there are no keys (the server answers 404). */
  async list(path: string): Promise<Secret | undefined> {
    const dir = path.endsWith("/") ? path : `${path}/`;
    return this.read(dir, { list: "true" });
  }

  async write(path: string, body: unknown, method = "PUT", contentType?: string): Promise<Secret | undefined> {
    const res = await this.request(method, path, { body, contentType });
    return res.body === undefined ? undefined : asSecret(res.body);
  }

  async delete(path: string, query?: RequestOptions["query"]): Promise<Secret | undefined> {
    const res = await this.request("DELETE", path, { query });
    return res.body === undefined ? undefined : asSecret(res.body);
  }

  private send(method: string, url: URL, headers: Record<string, string>, payload?: Buffer): Promise<{ status: number; bytes: Buffer; location?: string }> {
    const isHttps = url.protocol === "https:";
    if (!isHttps && url.protocol !== "http:") return Promise.reject(new TransportError(`unsupported address scheme "${url.protocol}" (use http:// or https://)`));
    const mod = isHttps ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: isHttps ? this.httpsAgent() : undefined, timeout: this.config.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks), location: res.headers.location }),
        );
        res.on("error", (err) => reject(new TransportError(`${method} ${url.toString()}: ${err.message}`)));
      });
      req.on("timeout", () => req.destroy(new Error(`timed out after ${this.config.timeoutMs} ms`)));
      req.on("error", (err) => reject(new TransportError(`${method} ${url.toString()}: ${err.message}`)));
      req.end(payload);
    });
  }
}

/**
 * Where a redirect leads. The token and body are re-sent there, so a redirect from https to anything else
 * is refused (the OpenBao client's rule and message): it would put them on the wire in clear text.
 */
function redirectTarget(from: URL, location: string): URL {
  let to: URL;
  try {
    to = new URL(location, from);
  } catch {
    throw new TransportError(`${from.toString()}: the server redirected to an invalid location`);
  }
  if (from.protocol === "https:" && to.protocol !== "https:") {
    throw new TransportError(`${from.toString()}: redirect would cause protocol downgrade (to ${to.protocol}//${to.host})`);
  }
  return to;
}

function parseBody(text: string, status: number): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Raw endpoints (PKI PEM, CRL) answer non-JSON: keep the text as a value so `read` can print it,
    // and a proxy's HTML error page becomes a one-line error.
    if (status >= 400) return { errors: [text.trim().split(/\r?\n/, 1)[0].slice(0, 200)] };
    return { data: { value: text } };
  }
}
