/**
 * A logical backend (secrets engine, auth method, or the system backend) is a list of declared paths
 * plus a few special path sets. The core routes a request to a mount, then asks the backend which
 * declared path matches; the backend never sees HTTP and never checks policy.
 *
 * Lifecycle (OpenBao's framework.Backend): `initialize` once the mount is live (mounted, or rebuilt at
 * unseal), `periodic` from the background scheduler on the node that holds background work, `invalidate`
 * when a storage key under the mount changed elsewhere (another node), `cleanup` when the mount goes away
 * (unmount, seal). Every hook is optional; a backend without one keeps nothing outside its storage.
 */
import { ArcaError, unsupportedOperation, unsupportedPath } from "../../common/errors.js";
import type { KeyValueStore } from "../../storage/storage.js";
import {
  buildContext,
  compilePath,
  compareSpecificity,
  joinedStorage,
  matchPath,
  splitPath,
  type CompiledPath,
  type PathMatch,
  type HandlerContext,
  type PathSpec,
  withStorage,
} from "./path.js";
import type { Fields } from "./fields.js";
import type { Operation, Request, Response } from "./request.js";

export interface BackendSpec {
  /** Mount type, e.g. "kv", "token", "system". */
  type: string;
  paths: PathSpec<Fields>[];
  /**
   * Paths that need `sudo` on top of the operation's capability (globs: trailing "*"). OpenBao's
   * PathsSpecial.Root; a declared path may instead say `sudo: true` itself.
   */
  rootPaths?: string[];
  /** Paths served without a token (login endpoints, CA fetches); or `unauthenticated: true` on the path. */
  unauthenticatedPaths?: string[];
  help?: string;
  /** After the mount is live: mounted, or rebuilt at unseal. A failure at mount refuses the mount. */
  initialize?: (ctx: LifecycleContext) => Promise<void>;
  /** Background work (key auto-rotation, tidying), run by the scheduler inside the mount's namespace. */
  periodic?: (ctx: PeriodicContext) => Promise<void>;
  /** A storage key under the mount (relative to it) changed elsewhere: drop whatever is cached of it. */
  invalidate?: (key: string) => Promise<void>;
  /** Unmount or seal: release what the backend holds in memory (caches, timers, handles). */
  cleanup?: () => Promise<void>;
  /**
   * An auth method's say on renewing a token it issued at login (OpenBao's framework `Renew` callback on
   * auth mounts): throw to refuse. Without it the token store renews on its own.
   */
  renewLogin?: (ctx: RenewLoginContext) => Promise<void>;
}

export interface RenewLoginContext extends LifecycleContext {
  /** The renewing request (its connection, say), not the login's. */
  req: Request;
  /** The token's metadata, as the login set it. */
  meta: Readonly<Record<string, string>>;
}

export interface LifecycleContext {
  /** The mount's storage. */
  storage: KeyValueStore;
}

export interface PeriodicContext extends LifecycleContext {
  /** The scheduler's clock: what "due" is judged by. */
  now: Date;
}

/**
 * OpenBao's special-path globs: a trailing `*` matches any suffix, a `+` segment exactly one segment
 * (`issuer/+/crl`). A trailing "/" on the request path (LIST) is ignored.
 */
function globMatch(patterns: string[], path: string): boolean {
  if (patterns.length === 0) return false;
  const trimmed = path.endsWith("/") ? path.slice(0, -1) : path;
  return patterns.some((p) => {
    if (!p.includes("+")) return p.endsWith("*") ? path.startsWith(p.slice(0, -1)) : p === path || p === trimmed;
    const pp = p.split("/");
    const parts = trimmed.split("/");
    for (let i = 0; i < pp.length; i++) {
      const seg = pp[i];
      if (i === pp.length - 1 && seg.endsWith("*")) return parts.length >= pp.length && (parts[i] ?? "").startsWith(seg.slice(0, -1));
      if (parts[i] === undefined || (seg === "+" ? parts[i] === "" : seg !== parts[i])) return false;
    }
    return parts.length === pp.length;
  });
}

export class LogicalBackend {
  readonly type: string;
  readonly paths: CompiledPath[];
  private readonly rootPaths: string[];
  private readonly unauthPaths: string[];
  readonly helpText: string;
  private readonly hooks: Pick<BackendSpec, "initialize" | "periodic" | "invalidate" | "cleanup" | "renewLogin">;

  constructor(spec: BackendSpec) {
    this.type = spec.type;
    this.paths = spec.paths.map(compilePath).sort(compareSpecificity);
    this.rootPaths = spec.rootPaths ?? [];
    this.unauthPaths = spec.unauthenticatedPaths ?? [];
    this.helpText = spec.help ?? "";
    this.hooks = { initialize: spec.initialize, periodic: spec.periodic, invalidate: spec.invalidate, cleanup: spec.cleanup, renewLogin: spec.renewLogin };
    assertUnambiguous(this.paths);
  }

  // ---- lifecycle (each a no-op when the backend declares no hook) -------------------------------------

  async initialize(ctx: LifecycleContext): Promise<void> {
    await this.hooks.initialize?.(ctx);
  }

  /** True when the scheduler has work to give this backend. */
  get hasPeriodic(): boolean {
    return this.hooks.periodic !== undefined;
  }

  async periodic(ctx: PeriodicContext): Promise<void> {
    await this.hooks.periodic?.(ctx);
  }

  async invalidate(key: string): Promise<void> {
    await this.hooks.invalidate?.(key);
  }

  async cleanup(): Promise<void> {
    await this.hooks.cleanup?.();
  }

  async renewLogin(ctx: RenewLoginContext): Promise<void> {
    await this.hooks.renewLogin?.(ctx);
  }

  route(path: string): PathMatch | undefined {
    const split = splitPath(path);
    for (const p of this.paths) {
      const params = matchPath(p, split);
      if (params) return { path: p, params };
    }
    return undefined;
  }

  /** Finds the declared path and operation or answers 404 / 405 as OpenBao does. */
  resolve(path: string, operation: Operation): PathMatch {
    const m = this.route(path);
    if (!m) throw unsupportedPath();
    if (!this.supports(m, operation)) throw unsupportedOperation();
    return m;
  }

  supports(m: PathMatch, operation: Operation): boolean {
    const ops = m.path.operations;
    // A path without a create handler treats create as update (as OpenBao does).
    return ops.has(operation) || (operation === "create" && ops.has("update"));
  }

  /** Whether `path` needs sudo: listed in rootPaths, or its declared path (`m`, when routed) says so. */
  isRootPath(path: string, m?: PathMatch): boolean {
    return m?.path.spec.sudo === true || globMatch(this.rootPaths, path);
  }

  /** Whether `path` is served without a token: listed, or its declared path (`m`, when routed) says so. */
  isUnauthenticated(path: string, m?: PathMatch): boolean {
    return m?.path.spec.unauthenticated === true || globMatch(this.unauthPaths, path);
  }

  /**
   * The request's entry into the backend: one context (and so one parse of the fields) shared by the
   * existence check and the handler.
   */
  context(req: Request, m: PathMatch, storage: KeyValueStore): HandlerContext<Fields> {
    return buildContext(req, m, storage);
  }

  /** Returns true/false from the path's existence check, or undefined when it has none. */
  async exists(req: Request, m: PathMatch, storage: KeyValueStore, ctx = this.context(req, m, storage)): Promise<boolean | undefined> {
    const check = m.path.spec.existenceCheck;
    if (!check) return undefined;
    return check(ctx);
  }

  async handle(req: Request, m: PathMatch, storage: KeyValueStore, ctx = this.context(req, m, storage)): Promise<Response | undefined> {
    const op = m.path.operations.get(req.operation) ?? (req.operation === "create" ? m.path.operations.get("update") : undefined);
    if (!op) throw unsupportedOperation();
    if (req.body !== undefined && !m.path.spec.rawBody?.mediaTypes.includes(req.body.mediaType)) {
      throw new ArcaError("unsupported_media_type", `unsupported media type: ${req.body.mediaType}`);
    }
    const resp = op.transaction
      ? await ctx.storage.transaction((txn) => op.handler(withStorage(ctx, joinedStorage(txn))))
      : await op.handler(ctx);
    // As OpenBao's framework: a caller whose fields were dropped is told so (a typo is not silent). Only
    // with a response to carry the warning, and only for paths that declare what they take.
    if (resp && !resp.raw) {
      const ignored = ignoredFields(m, req.data);
      if (ignored.length > 0) resp.warnings = [...(resp.warnings ?? []), `Endpoint ignored these unrecognized parameters: [${ignored.join(" ")}]`];
    }
    return resp;
  }
}

/** Request fields the matched path does not declare (sorted, as OpenBao lists them). */
function ignoredFields(m: PathMatch, data: Record<string, unknown>): string[] {
  const spec = m.path.spec;
  if (spec.takesArbitraryInput || spec.fields === undefined) return [];
  const declared = spec.fields;
  return Object.keys(data)
    .filter((k) => !Object.hasOwn(declared, k) && !Object.hasOwn(m.params, k))
    .sort();
}

function assertUnambiguous(paths: CompiledPath[]): void {
  for (let i = 0; i < paths.length; i++) {
    for (let j = i + 1; j < paths.length && compareSpecificity(paths[i], paths[j]) === 0; j++) {
      const a = paths[i];
      const b = paths[j];
      const sameLiterals = a.segments.every((s, k) => s.kind !== "literal" || s.value === b.segments[k].value);
      if (sameLiterals) throw new ArcaError("internal", `ambiguous paths: ${a.spec.pattern} and ${b.spec.pattern}`);
    }
  }
}
