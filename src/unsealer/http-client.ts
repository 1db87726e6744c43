// The two calls the daemon makes (GET sys/seal-status, PUT sys/unseal), over node:http/https rather
// than fetch: Node 20's fetch cannot take a private CA without importing undici, and the request body
// here is a Buffer we wipe after sending, never a string.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

export interface SealStatus {
  initialized: boolean;
  sealed: boolean;
  /** Threshold. */
  t: number;
  /** Number of shares. */
  n: number;
  progress: number;
  /** Identifies the current unseal attempt; empty when progress is 0. */
  nonce: string;
}

/** The server answered the unseal with a 4xx: the share (or the combination) was refused. */
export interface UnsealRejected {
  ok: false;
  httpStatus: number;
  errors: string[];
}

export type UnsealResult = { ok: true; status: SealStatus } | UnsealRejected;

export interface UnsealClient {
  /** Throws UnsealerHttpError when the server is unreachable or answers anything but 200. */
  sealStatus(server: string): Promise<SealStatus>;
  /**
   * Posts a prepared `{"key": "…"}` body. A 4xx is a result (rejected), not an exception; transport
   * errors and 5xx throw UnsealerHttpError (the server is treated as down).
   */
  unseal(server: string, body: Buffer): Promise<UnsealResult>;
}

export class UnsealerHttpError extends Error {
  override readonly name = "UnsealerHttpError";
  constructor(
    message: string,
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

export interface HttpClientOptions {
  /** PEM bundle of the CA(s) that issued the servers' certificates; when set it replaces Node's default trust store. */
  ca?: Buffer;
  /** Dev only: accept any certificate. */
  tlsSkipVerify?: boolean;
  /** Per-request timeout. */
  timeoutMs?: number;
}

const MAX_RESPONSE_BYTES = 1 << 20;

export class NodeHttpClient implements UnsealClient {
  private readonly agent: HttpsAgent;
  private readonly timeoutMs: number;

  constructor(opts: HttpClientOptions = {}) {
    // keepAlive off: one request per server per interval, and a restarted server must get a new connection.
    this.agent = new HttpsAgent({ keepAlive: false, ca: opts.ca, rejectUnauthorized: !opts.tlsSkipVerify });
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async sealStatus(server: string): Promise<SealStatus> {
    const { status, json } = await this.send(server, "GET", "/v1/sys/seal-status");
    if (status !== 200) throw new UnsealerHttpError(`seal-status answered HTTP ${status}${errorSuffix(json)}`, status);
    return toSealStatus(json);
  }

  async unseal(server: string, body: Buffer): Promise<UnsealResult> {
    const { status, json } = await this.send(server, "PUT", "/v1/sys/unseal", body);
    if (status === 200) return { ok: true, status: toSealStatus(json) };
    if (status >= 400 && status < 500) return { ok: false, httpStatus: status, errors: errorsOf(json) };
    throw new UnsealerHttpError(`unseal answered HTTP ${status}${errorSuffix(json)}`, status);
  }

  close(): void {
    this.agent.destroy();
  }

  private send(server: string, method: string, path: string, body?: Buffer): Promise<{ status: number; json: unknown }> {
    const url = new URL(server + path);
    const headers: Record<string, string | number> = { Accept: "application/json" };
    if (body) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = body.length;
    }
    return new Promise((resolve, reject) => {
      const onResponse = (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(new UnsealerHttpError("response too large"));
            return;
          }
          chunks.push(c);
        });
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
        res.on("error", reject);
      };
      const opts = { method, headers, timeout: this.timeoutMs };
      const req = url.protocol === "https:" ? httpsRequest(url, { ...opts, agent: this.agent }, onResponse) : httpRequest(url, opts, onResponse);
      req.on("timeout", () => req.destroy(new UnsealerHttpError(`no answer within ${this.timeoutMs} ms`)));
      // Only the error's message is kept: a transport error never carries the body, but its fields may
      // carry socket details nobody needs in a log.
      req.on("error", (err) => reject(err instanceof UnsealerHttpError ? err : new UnsealerHttpError(transportMessage(err))));
      req.end(body);
    });
  }
}

function transportMessage(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code ? `${code}: ${err.message}` : err.message;
}

function toSealStatus(json: unknown): SealStatus {
  if (typeof json !== "object" || json === null) throw new UnsealerHttpError("seal status is not a JSON object");
  const o = json as Record<string, unknown>;
  if (typeof o.sealed !== "boolean") throw new UnsealerHttpError("seal status has no boolean 'sealed'");
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  return {
    // Older servers omit `initialized` in the unseal answer; only an explicit false means uninitialised.
    initialized: o.initialized !== false,
    sealed: o.sealed,
    t: num(o.t),
    n: num(o.n),
    progress: num(o.progress),
    nonce: typeof o.nonce === "string" ? o.nonce : "",
  };
}

function errorsOf(json: unknown): string[] {
  if (typeof json !== "object" || json === null) return [];
  const errors = (json as Record<string, unknown>).errors;
  // Server messages are short fixed texts; capped anyway so a hostile server cannot flood the log.
  return Array.isArray(errors) ? errors.filter((e): e is string => typeof e === "string").map((e) => e.slice(0, 200)).slice(0, 5) : [];
}

function errorSuffix(json: unknown): string {
  const e = errorsOf(json);
  return e.length ? `: ${e.join("; ")}` : "";
}
