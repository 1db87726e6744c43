/**
 * The one request pipeline every wire format uses (Core.handleRequest runs it):
 *
 *   sealed? → route to mount → resolve token → existence check (create vs update) → ACL (+ sudo)
 *     → count token use → audit request → engine → audit response
 */
import { ArcaError, permissionDenied, sealedError, unsupportedOperation, unsupportedPath } from "../common/errors.js";
import type { HandlerContext, PathMatch } from "./framework/path.js";
import type { Fields } from "./framework/fields.js";
import type { Operation, Request, Response } from "./framework/request.js";
import type { RouteMatch } from "./router.js";
import type { TokenEntry } from "./tokens/token-entry.js";
import type { DeviceAuditBroker } from "./audit/audit-broker.js";
import { MAX_WRAP_TTL } from "./wrapping.js";
import type { Namespace } from "./namespaces/namespace.js";
import type { NamespaceRegistry } from "./namespaces/namespace-registry.js";
import type { ACL } from "./policy/acl.js";

const WRITE_OPS = new Set<Operation>(["create", "update", "patch"]);

/** A request the pipeline let through to its engine. */
interface Admitted {
  ns: Namespace;
  route: RouteMatch;
  match: PathMatch;
  /** The request's context in its backend: the existence check and the handler share it (one field parse). */
  ctx: HandlerContext<Fields>;
  token: ResolvedToken | undefined;
}

/** A live token and the namespace it belongs to. */
export interface ResolvedToken {
  entry: TokenEntry;
  ns: Namespace;
}

/**
 * Endpoints of the root namespace only (OpenBao's list): in a namespace they answer 400. The raw ones
 * (init, unseal, seal, ...) are refused by the HTTP layer before they get here.
 */
const ROOT_ONLY_SYS = /^sys\/(?:raw|generate-recovery-token|init|seal|step-down|unseal|health|rekey-recovery-key|rekey|storage|generate-root|generate-root-token|metrics|pprof|in-flight-req|audit|audit-hash|config|decode-token|host-info|loggers|monitor|quotas|replication|rotate|key-status|leader|internal\/counters|internal\/inspect|audit-checkpoint)(?:\/|$)/;

export const namespaceUnavailableError = (): ArcaError => new ArcaError("invalid_request", "operation unavailable in namespaces");

/** What the pipeline asks of the core (the core passes itself; this module does not import it). */
export interface PipelineCore {
  readonly sealed: boolean;
  readonly namespaces: NamespaceRegistry;
  readonly audit: DeviceAuditBroker;
  resolveToken(token: string | undefined, remoteAddress?: string): Promise<ResolvedToken | undefined>;
  aclIn(token: ResolvedToken, ns: Namespace): Promise<{ acl: ACL; prefix: string } | undefined>;
}

export class RequestPipeline {
  constructor(private readonly core: PipelineCore) {}

  /**
   * The request pipeline. Every wire format calls this and nothing else to reach an engine.
   * `namespaceHeader` is X-Vault-Namespace; with the path it decides the namespace the request runs in.
   */
  async handle(req: Request, namespaceHeader?: string): Promise<Response | undefined> {
    if (this.core.sealed) throw sealedError();
    let admitted: Admitted;
    try {
      admitted = await this.admit(req, namespaceHeader);
    } catch (err) {
      // Refused requests are audited too, as OpenBao does: a denied attempt is what an auditor looks for.
      await this.core.audit.logRequest(req);
      await this.core.audit.logResponse(req, undefined, err);
      throw err;
    }
    const { ns, route, match, ctx, token } = admitted;

    await this.core.audit.logRequest(req);
    let resp: Response | undefined;
    try {
      ns.enter();
    } catch (err) {
      await this.core.audit.logResponse(req, undefined, err);
      throw err;
    }
    try {
      resp = await route.backend.handle(req, match, route.storage, ctx);
      // X-Vault-Wrap-TTL: the caller gets a single-use token instead of the response.
      if (req.wrapTtl !== undefined && req.wrapTtl > 0 && resp && !resp.raw && !resp.wrapInfo && (resp.data != null || resp.auth)) {
        resp = await ns.wrapper.wrap(resp, req.wrapTtl, req.path);
      }
    } catch (err) {
      await this.core.audit.logResponse(req, undefined, err);
      throw err;
    } finally {
      try {
        if (token) await token.ns.tokens.revokeIfUsedUp(token.entry);
      } finally {
        ns.leave();
      }
    }
    await this.core.audit.logResponse(req, resp, undefined);
    if (resp?.afterAudit) {
      const after = resp.afterAudit;
      delete resp.afterAudit;
      await after();
    }
    return resp;
  }

  /** Everything before the engine: namespace, route, token, create-or-update, policy, use count. Throws to refuse. */
  private async admit(req: Request, namespaceHeader: string | undefined): Promise<Admitted> {
    // Checked before anything runs: a wrap that cannot happen must not follow an executed write.
    if (req.wrapTtl !== undefined && (!Number.isSafeInteger(req.wrapTtl) || req.wrapTtl < 0 || req.wrapTtl > MAX_WRAP_TTL)) {
      throw new ArcaError("invalid_request", "wrapping TTL is out of range");
    }
    if (WRITE_OPS.has(req.operation) && req.path.endsWith("/")) {
      throw new ArcaError("invalid_request", "cannot write to a path ending in '/'");
    }
    let located: Omit<Admitted, "token" | "ctx">;
    try {
      located = await this.locate(req, namespaceHeader);
    } catch (err) {
      throw await this.concealed(req, err);
    }
    const { ns, route, match } = located;
    const { backend, storage } = route;
    const ctx = backend.context(req, match, storage);
    const unauthenticated = backend.isUnauthenticated(route.relPath, match);
    // POST/PUT arrive as "update"; the path's existence check turns them into "create" when new.
    const probeOp = req.operation === "update" ? "create" : req.operation;
    if (!backend.supports(match, probeOp) && !backend.supports(match, req.operation)) {
      const err = unsupportedOperation();
      throw unauthenticated ? err : await this.concealed(req, err);
    }

    let token: ResolvedToken | undefined;
    if (!unauthenticated) {
      token = await this.core.resolveToken(req.clientToken, req.remoteAddress);
      // A token works in its own namespace and below it, never above or beside.
      if (!token || !token.ns.contains(ns)) throw permissionDenied();
      req.caller = token.ns.tokens.toCaller(token.entry);
      if (req.operation === "update" || req.operation === "create") {
        const exists = await backend.exists(req, match, storage, ctx);
        req.operation = exists === false ? "create" : "update";
        if (!backend.supports(match, req.operation)) throw new ArcaError("unsupported_operation", "unsupported operation");
      }
      await this.authorize(req, route, match, ns, token);
      if (!(await token.ns.tokens.use(token.entry))) throw permissionDenied();
    } else if (req.clientToken) {
      // Unauthenticated paths still learn who is calling when a valid token is sent (e.g. login audit).
      token = await this.core.resolveToken(req.clientToken, req.remoteAddress);
      if (token && token.ns.contains(ns)) req.caller = token.ns.tokens.toCaller(token.entry);
      else token = undefined;
    }
    if (!backend.supports(match, req.operation)) throw new ArcaError("unsupported_operation", "unsupported operation");
    return { ns, route, match, ctx, token };
  }

  /** The namespace, mount and endpoint of a request (sets the request's routing fields). Throws when any is missing. */
  private async locate(req: Request, namespaceHeader: string | undefined): Promise<Omit<Admitted, "token" | "ctx">> {
    const resolved = this.core.namespaces.resolve(namespaceHeader, req.path);
    const ns = resolved.ns;
    req.path = resolved.path;
    req.namespace = ns.ref;
    if (!ns.isRoot) {
      if (ROOT_ONLY_SYS.test(req.path)) throw namespaceUnavailableError();
      await this.core.namespaces.checkKeys(ns);
    }
    const route = ns.router.match(req.path);
    if (!route) throw new ArcaError("not_found", `no handler for route "${req.path.slice(0, 256)}". route entry not found.`);
    req.mountPoint = route.mountPoint;
    req.mountPath = route.relPath;
    req.mountAccessor = route.entry.accessor;
    req.mountType = route.entry.type;
    const match = route.backend.route(route.relPath);
    if (!match) throw unsupportedPath();
    return { ns, route, match };
  }

  /**
   * What a caller is told of a refusal made before its token was checked. Without a valid token it learns
   * nothing about what exists (namespaces, mounts, endpoints, operations): the same 403 as for a path that
   * exists. Sealed or locked namespaces (5xx) still say so: the client is to come back, not to authenticate.
   */
  private async concealed(req: Request, err: unknown): Promise<unknown> {
    if (err instanceof ArcaError && err.status < 500 && !(await this.core.resolveToken(req.clientToken, req.remoteAddress))) return permissionDenied();
    return err;
  }

  /**
   * Policies are the token's namespace's, over paths relative to it: a parent's policy grants a child's
   * paths as `child/secret/...` (OpenBao's rule). Sudo is decided here, once: a root path refuses without
   * it, and every handler reads the answer from `req.sudo`.
   */
  private async authorize(req: Request, route: RouteMatch, match: PathMatch, ns: Namespace, token: ResolvedToken): Promise<void> {
    const scoped = await this.core.aclIn(token, ns);
    if (!scoped) throw permissionDenied();
    const result = scoped.acl.check({ path: scoped.prefix + req.path, operation: req.operation, data: req.data, wrapTtl: req.wrapTtl });
    if (!result.allowed) throw permissionDenied();
    if (route.backend.isRootPath(route.relPath, match) && !result.sudo) throw permissionDenied();
    req.sudo = result.sudo;
  }
}
