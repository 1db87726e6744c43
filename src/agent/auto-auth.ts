// Vault Agent's auto_auth: log in with the configured method, keep the token while it is valid, log in
// again when it is about to expire (or the server says it is no longer valid), and write it to the sinks.
//
// Secrets read from files (secret ID, password) are never logged or put in an error. The AppRole secret ID
// file is removed after reading by default, as Vault Agent does: the ID is kept in memory for later logins.
import { readFile, unlink } from "node:fs/promises";
import { ArcaClient, isRecord, type ClientConfig } from "../cli/client.js";
import { writeFileAtomic } from "./atomic-file.js";
import type { AuthMethodConfig, AutoAuthConfig, VaultConfig } from "./config.js";

/** Login failed for a reason that names the configuration (unreadable file, refused credentials). */
export class AgentAuthError extends Error {
  override readonly name = "AgentAuthError";
}

/** Seconds of validity a token must have left to be used; less, and the agent logs in again first. */
const MIN_TOKEN_REMAINING_S = 30;
const REQUEST_TIMEOUT_MS = 30_000;

interface HeldToken {
  token: string;
  /** Epoch ms; undefined for a token without a TTL (root-like). */
  expiresAt?: number;
}

export function clientConfig(vault: VaultConfig, override: Partial<ClientConfig> = {}): ClientConfig {
  return {
    address: vault.address,
    ...(vault.namespace !== undefined ? { namespace: vault.namespace } : {}),
    ...(vault.caCert !== undefined ? { caCert: vault.caCert } : {}),
    ...(vault.clientCert !== undefined ? { clientCert: vault.clientCert } : {}),
    ...(vault.clientKey !== undefined ? { clientKey: vault.clientKey } : {}),
    skipVerify: vault.tlsSkipVerify,
    timeoutMs: REQUEST_TIMEOUT_MS,
    ...override,
  };
}

export class AutoAuth {
  private held?: HeldToken;
  private cachedSecretId?: string;
  private inflight?: Promise<string>;

  constructor(
    private readonly vault: VaultConfig,
    private readonly config: AutoAuthConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** A token valid for at least MIN_TOKEN_REMAINING_S more seconds (logging in when needed; single-flight). */
  async token(): Promise<string> {
    const h = this.held;
    if (h && (h.expiresAt === undefined || h.expiresAt - this.now() > MIN_TOKEN_REMAINING_S * 1000)) return h.token;
    this.inflight ??= this.login().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  /** The server refused the token (revoked, expired early): the next token() logs in again. */
  invalidate(): void {
    this.held = undefined;
  }

  private async login(): Promise<string> {
    const method = this.config.method;
    const { path, body } = await this.credentials(method);
    const client = new ArcaClient(clientConfig(this.vault, method.type === "cert" ? certOverride(method) : {}));
    const res = await client.raw("POST", path, { body });
    const auth = isRecord(res.body) && isRecord(res.body.auth) ? res.body.auth : undefined;
    if (res.status >= 400 || !auth || typeof auth.client_token !== "string" || auth.client_token === "") {
      const errors = isRecord(res.body) && Array.isArray(res.body.errors) ? res.body.errors.map(String).join("; ").slice(0, 300) : "";
      throw new AgentAuthError(`auto_auth: ${method.type} login at ${path} failed (HTTP ${res.status}${errors ? `: ${errors}` : ""})`);
    }
    const ttl = typeof auth.lease_duration === "number" ? auth.lease_duration : 0;
    this.held = { token: auth.client_token, ...(ttl > 0 ? { expiresAt: this.now() + ttl * 1000 } : {}) };
    for (const sink of this.config.sinks) await writeFileAtomic(sink.path, auth.client_token, sink.mode);
    return auth.client_token;
  }

  private async credentials(m: AuthMethodConfig): Promise<{ path: string; body: Record<string, string> }> {
    switch (m.type) {
      case "approle": {
        const roleId = await readSecretFile(m.roleIdFile, "role_id_file_path");
        return { path: `${m.mountPath}/login`, body: { role_id: roleId, ...(m.secretIdFile ? { secret_id: await this.secretId(m.secretIdFile, m.removeSecretIdFile) } : {}) } };
      }
      case "userpass": {
        const password = m.password ?? (await readSecretFile(m.passwordFile ?? "", "password_file_path"));
        return { path: `${m.mountPath}/login/${encodeURIComponent(m.username)}`, body: { password } };
      }
      case "cert":
        return { path: `${m.mountPath}/login`, body: m.name !== undefined ? { name: m.name } : {} };
    }
  }

  /** The secret ID from its file, or (once the file was consumed) the one read before. */
  private async secretId(path: string, remove: boolean): Promise<string> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT" && this.cachedSecretId !== undefined) return this.cachedSecretId;
      throw new AgentAuthError(`auto_auth: cannot read secret_id_file_path ${path} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    }
    const id = text.trim();
    if (id === "") throw new AgentAuthError(`auto_auth: secret_id_file_path ${path} is empty`);
    this.cachedSecretId = id;
    if (remove) await unlink(path).catch(() => undefined);
    return id;
  }
}

function certOverride(m: Extract<AuthMethodConfig, { type: "cert" }>): Partial<ClientConfig> {
  return {
    ...(m.clientCert !== undefined ? { clientCert: m.clientCert } : {}),
    ...(m.clientKey !== undefined ? { clientKey: m.clientKey } : {}),
    ...(m.caCert !== undefined ? { caCert: m.caCert } : {}),
  };
}

async function readSecretFile(path: string, setting: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new AgentAuthError(`auto_auth: cannot read ${setting} ${path} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const v = text.trim();
  if (v === "") throw new AgentAuthError(`auto_auth: ${setting} ${path} is empty`);
  return v;
}
