/**
 * The two Keystone v3 calls the keystone auth method makes: getting a service token (password auth, or
 * an operator-supplied token used as is) and validating a user's token with it
 * (`GET /v3/auth/tokens?nocatalog`, X-Auth-Token: service token, X-Subject-Token: user token).
 *
 * Over node:http/https rather than fetch, as src/unsealer/http-client.ts does: Node 20's fetch cannot
 * take a private CA (`ca_cert`) without importing undici. Every request has a timeout and a response
 * size cap, so a Keystone that hangs or floods answers a clear 503 rather than holding the login open.
 * No token (service or user) ever appears in an error message.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { ArcaError } from "../../common/errors.js";

/** Who the method is to Keystone when it asks whether a user's token is valid. */
export type ServiceCredentials =
  | { kind: "password"; username: string; password: string; userDomain: string; projectName: string; projectDomain: string }
  | { kind: "token"; token: string };

export interface KeystoneConnection {
  /** The v3 identity endpoint, e.g. https://keystone.example:5000/v3 (no trailing slash). */
  url: string;
  /** PEM bundle replacing Node's default trust store for an https URL. */
  caCert?: string;
  timeoutMs: number;
  credentials: ServiceCredentials;
}

/** What Keystone says about a valid token; `project` is absent for unscoped (and domain-scoped) tokens. */
export interface KeystoneToken {
  userId: string;
  userName: string;
  project?: { id: string; name: string };
  roles: string[];
  /** Epoch milliseconds. */
  expiresAt: number;
}

const MAX_RESPONSE_BYTES = 1 << 20;
/** A service token is replaced this long before Keystone would expire it. */
const SERVICE_TOKEN_MARGIN_MS = 60_000;

const unavailable = (why: string): ArcaError => new ArcaError("unavailable", `keystone is unavailable: ${why}`);

interface HttpAnswer {
  status: number;
  headers: IncomingMessage["headers"];
  json: unknown;
}

export class KeystoneClient {
  private readonly agent: HttpsAgent | undefined;
  private service: { token: string; renewAt: number } | undefined;
  private pendingService: Promise<string> | undefined;

  constructor(private readonly conn: KeystoneConnection) {
    this.agent = conn.url.startsWith("https:") ? new HttpsAgent({ keepAlive: true, ca: conn.caCert }) : undefined;
  }

  close(): void {
    this.agent?.destroy();
  }

  /**
   * The token's identity and scope, or undefined when Keystone says it is not a valid token (unknown,
   * expired, revoked, forged). Throws 503 when Keystone cannot be asked, 502 when it refuses the
   * service credentials.
   */
  async validate(subjectToken: string): Promise<KeystoneToken | undefined> {
    let answer = await this.validateWith(await this.serviceToken(), subjectToken);
    if (answer.status === 401 && this.conn.credentials.kind === "password") {
      // The cached service token may have been revoked or expired early: one fresh try.
      this.service = undefined;
      answer = await this.validateWith(await this.serviceToken(), subjectToken);
    }
    if (answer.status === 200) return parseToken(answer.json);
    // 404: not a valid token. 400: Keystone could not even parse it (a forged or mangled token).
    if (answer.status === 404 || answer.status === 400) return undefined;
    if (answer.status === 401 || answer.status === 403) {
      throw new ArcaError("upstream", `keystone refused the service credentials (HTTP ${answer.status}); check the mount's config`);
    }
    throw unavailable(`token validation answered HTTP ${answer.status}`);
  }

  private validateWith(serviceToken: string, subjectToken: string): Promise<HttpAnswer> {
    return this.send("GET", "/auth/tokens?nocatalog", { "X-Auth-Token": serviceToken, "X-Subject-Token": subjectToken });
  }

  private async serviceToken(): Promise<string> {
    const creds = this.conn.credentials;
    if (creds.kind === "token") return creds.token;
    if (this.service && Date.now() < this.service.renewAt) return this.service.token;
    // Concurrent logins share one service login.
    this.pendingService ??= this.passwordLogin(creds).finally(() => (this.pendingService = undefined));
    return this.pendingService;
  }

  private async passwordLogin(creds: Extract<ServiceCredentials, { kind: "password" }>): Promise<string> {
    const body = {
      auth: {
        identity: { methods: ["password"], password: { user: { name: creds.username, domain: { name: creds.userDomain }, password: creds.password } } },
        scope: { project: { name: creds.projectName, domain: { name: creds.projectDomain } } },
      },
    };
    const answer = await this.send("POST", "/auth/tokens?nocatalog", {}, Buffer.from(JSON.stringify(body)));
    if (answer.status === 401 || answer.status === 403 || answer.status === 404) {
      throw new ArcaError("upstream", `keystone refused the service credentials (HTTP ${answer.status}); check the mount's config`);
    }
    if (answer.status !== 201 && answer.status !== 200) throw unavailable(`service login answered HTTP ${answer.status}`);
    const token = answer.headers["x-subject-token"];
    if (typeof token !== "string" || token === "") throw unavailable("service login answered without a token");
    const expiresAt = parseToken(answer.json)?.expiresAt ?? Date.now() + 5 * 60_000;
    this.service = { token, renewAt: Math.max(Date.now(), expiresAt - SERVICE_TOKEN_MARGIN_MS) };
    return token;
  }

  private send(method: string, path: string, extra: Record<string, string>, body?: Buffer): Promise<HttpAnswer> {
    const url = new URL(this.conn.url + path);
    const headers: Record<string, string | number> = { Accept: "application/json", ...extra };
    if (body) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = body.length;
    }
    const timeoutMs = this.conn.timeoutMs;
    return new Promise((resolve, reject) => {
      const onResponse = (res: IncomingMessage): void => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(unavailable("answer too large"));
            return;
          }
          chunks.push(c);
        });
        res.on("end", () => {
          let json: unknown;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
        });
        res.on("error", () => reject(unavailable("connection broke mid-answer")));
      };
      const opts = { method, headers, timeout: timeoutMs };
      const req = url.protocol === "https:" ? httpsRequest(url, { ...opts, agent: this.agent }, onResponse) : httpRequest(url, opts, onResponse);
      req.on("timeout", () => req.destroy(unavailable(`no answer within ${timeoutMs} ms`)));
      // Only the error code: a transport error carries socket details, never a header, but keep it short.
      req.on("error", (err) => reject(err instanceof ArcaError ? err : unavailable((err as NodeJS.ErrnoException).code ?? "connection failed")));
      req.end(body);
    });
  }
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** The fields of a `{"token": {...}}` body this method uses; undefined when the body is not one. */
export function parseToken(json: unknown): KeystoneToken | undefined {
  const token = obj(obj(json)?.token);
  if (!token) return undefined;
  const user = obj(token.user);
  const expires = Date.parse(str(token.expires_at) ?? "");
  const userId = str(user?.id);
  if (!user || userId === undefined || Number.isNaN(expires)) return undefined;
  const project = obj(token.project);
  const projectId = str(project?.id);
  const roles = Array.isArray(token.roles) ? token.roles.map((r) => str(obj(r)?.name)).filter((n): n is string => n !== undefined) : [];
  return {
    userId,
    userName: str(user.name) ?? "",
    project: projectId === undefined ? undefined : { id: projectId, name: str(project?.name) ?? "" },
    roles,
    expiresAt: expires,
  };
}
