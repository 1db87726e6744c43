/**
 * How an OpenStack front door (the Barbican API) turns an `X-Auth-Token` header into an Arca token: a
 * login at `auth/<mount>/login` through the core's normal pipeline (audit, namespace checks, the mount's
 * token rules), remembered per Keystone token so a client's burst of requests is one login, not one
 * Arca token per request.
 *
 * A remembered exchange is reused for at most `refreshMs` (and never past the Arca token's own expiry);
 * then the Keystone token is validated again, so a revoked Keystone token stops working within
 * refreshMs plus the mount's cache_ttl. The Arca token a refresh replaces is revoked (revoke-self). Keys
 * are the Keystone token's SHA-256, never the token.
 */
import type { Request, Response } from "../../core/framework/request.js";
import { ArcaError } from "../../common/errors.js";
import { tokenDigest } from "./validation-cache.js";

/** How long a replaced Arca token stays valid for requests that already hold it. */
const REPLACED_TOKEN_GRACE_MS = 30_000;

/** The part of the core an exchange uses (Core satisfies it). */
export interface LoginPipeline {
  newRequest(init: Partial<Request> & Pick<Request, "operation" | "path">): Request;
  handleRequest(req: Request, namespaceHeader?: string): Promise<Response | undefined>;
}

export interface KeystoneExchangeResult {
  /** The Arca token to put on the request (Request.clientToken). */
  clientToken: string;
  accessor: string;
  /** Absolute path of the namespace the token lives in ("" for root): the project's namespace. */
  namespace: string;
  policies: string[];
  /** user_id, user_name, project_id, project_name, roles (comma-separated), namespace. */
  metadata: Record<string, string>;
  /** Seconds the token is valid for from issue. */
  leaseDuration: number;
}

export interface ExchangeOptions {
  /** The keystone mount's path, e.g. "keystone/" (default). */
  mountPath?: string;
  /** Namespace path the mount lives in (default: root). */
  mountNamespace?: string;
  /** Reuse an exchange this long at most (default 60 s). */
  refreshMs?: number;
  /** Bound on remembered exchanges (default 10 000; the oldest goes first). */
  maxEntries?: number;
}

/** One login, no memory: `POST auth/<mount>/login {token}` through the pipeline. */
export async function exchangeKeystoneToken(core: LoginPipeline, token: string, remoteAddress: string, opts: ExchangeOptions = {}): Promise<KeystoneExchangeResult> {
  const mount = (opts.mountPath ?? "keystone/").replace(/^\/+/, "").replace(/\/*$/, "/");
  const req = core.newRequest({ operation: "update", path: `auth/${mount}login`, data: { token }, remoteAddress });
  const ns = opts.mountNamespace === undefined || opts.mountNamespace === "" ? undefined : opts.mountNamespace;
  const auth = (await core.handleRequest(req, ns))?.auth;
  if (!auth) throw new ArcaError("internal", "keystone login answered without a token");
  return {
    clientToken: auth.clientToken,
    accessor: auth.accessor,
    namespace: auth.metadata.namespace === undefined ? "" : joinNamespace(ns ?? "", auth.metadata.namespace),
    policies: auth.policies,
    metadata: auth.metadata,
    leaseDuration: auth.leaseDuration,
  };
}

function joinNamespace(parent: string, child: string): string {
  const parts = [parent, child].map((p) => p.replace(/^\/+|\/+$/g, "")).filter((p) => p !== "");
  return parts.length === 0 ? "" : `${parts.join("/")}/`;
}

/** Exchanges with memory: what a front door holds for its lifetime. */
export class KeystoneTokenExchange {
  private readonly entries = new Map<string, { result: KeystoneExchangeResult; refreshAt: number }>();
  private readonly refreshMs: number;
  private readonly maxEntries: number;

  constructor(
    private readonly core: LoginPipeline,
    private readonly opts: ExchangeOptions = {},
  ) {
    this.refreshMs = opts.refreshMs ?? 60_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
  }

  /** The Arca token for `keystoneToken`; a refusal is the login's error (403, 503 when Keystone is down). */
  async exchange(keystoneToken: string, remoteAddress: string): Promise<KeystoneExchangeResult> {
    const key = tokenDigest(keystoneToken);
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && now < hit.refreshAt) return hit.result;
    this.entries.delete(key);
    let result: KeystoneExchangeResult;
    try {
      result = await exchangeKeystoneToken(this.core, keystoneToken, remoteAddress, this.opts);
    } catch (err) {
      // Keystone now refuses the token (revoked, expired): the Arca token it stood behind goes too. When
      // Keystone is only unreachable, the old token is left to its own expiry.
      if (hit && err instanceof ArcaError && err.kind === "permission_denied") await this.revoke(hit.result);
      throw err;
    }
    // Requests already holding the replaced token may still be running: it is revoked after a grace period.
    if (hit) this.revokeLater(hit.result);
    // Refresh before the Arca token would expire under the caller (5 s early).
    const refreshAt = now + Math.min(this.refreshMs, Math.max(0, result.leaseDuration * 1000 - 5_000));
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.forget(oldest);
    }
    this.entries.set(key, { result, refreshAt });
    return result;
  }

  private revokeLater(r: KeystoneExchangeResult): void {
    setTimeout(() => void this.revoke(r), REPLACED_TOKEN_GRACE_MS).unref();
  }

  private forget(key: string): void {
    const e = this.entries.get(key);
    this.entries.delete(key);
    if (e) this.revokeLater(e.result);
  }

  /** Best effort: an Arca token nobody will present again is revoked rather than left to expire. */
  private async revoke(r: KeystoneExchangeResult): Promise<void> {
    try {
      const req = this.core.newRequest({ operation: "update", path: "auth/token/revoke-self", clientToken: r.clientToken });
      await this.core.handleRequest(req, r.namespace === "" ? undefined : r.namespace);
    } catch {
      // Already expired or revoked: nothing to do.
    }
  }
}
