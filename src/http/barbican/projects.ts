/**
 * A Barbican project is an Arca namespace with a `barbican` engine mounted at `barbican/` and the role
 * policies (roles.ts) in its policy store. `ProjectDirectory` makes sure of both the first time a project
 * is used, and — in dev-mode noauth only — creates the namespace itself and issues the short-lived tokens
 * that stand for an `X-Project-Id`/`X-Roles`/`X-User-Id` caller, so even unauthenticated requests go
 * through the pipeline's token, policy and audit steps like any other.
 */
import { ArcaError } from "../../common/errors.js";
import type { Core } from "../../core/core.js";
import { newMount } from "../../core/mounts.js";
import type { Namespace } from "../../core/namespaces/namespace.js";
import { checkNamespaceName, headerSegments } from "../../core/namespaces/namespace-entry.js";
import { ROLE_POLICIES } from "./roles.js";

export const BARBICAN_MOUNT = "barbican/";

/** Noauth tokens live this long; a fresh one is issued when less than NOAUTH_RENEW_MS is left. */
const NOAUTH_TTL_S = 3600;
const NOAUTH_RENEW_MS = 5 * 60 * 1000;
/** Bound on cached noauth tokens (one per project, role set and user). */
const MAX_NOAUTH_TOKENS = 10_000;

export class ProjectDirectory {
  private readonly ready = new WeakSet<Namespace>();
  private readonly pending = new Map<string, Promise<Namespace>>();
  private readonly noauthTokens = new Map<string, { token: string; renewAt: number }>();

  constructor(private readonly core: Core) {}

  /** The namespace of project `project` (a namespace path), created on first use when `create` is set. */
  async byName(project: string, create: boolean): Promise<Namespace> {
    const segs = headerSegments(project);
    for (const s of segs) checkNamespaceName(s);
    const path = segs.join("/");
    const existing = this.find(segs);
    if (existing) return this.ensure(existing);
    if (!create) throw new ArcaError("not_found", "project not found");
    let p = this.pending.get(path);
    if (!p) {
      p = this.createProject(segs).finally(() => this.pending.delete(path));
      this.pending.set(path, p);
    }
    return this.ensure(await p);
  }

  private find(segs: string[]): Namespace | undefined {
    let ns: Namespace | undefined = this.core.root;
    for (const s of segs) ns = ns?.children.get(s);
    return ns;
  }

  private async createProject(segs: string[]): Promise<Namespace> {
    let ns = this.core.root;
    for (const s of segs) {
      ns = ns.children.get(s) ?? (await this.core.namespaces.create(ns, s, { customMetadata: { "barbican-project": "true" } }));
    }
    return ns;
  }

  /** Mounts the engine and writes the role policies in `ns` if that was not done yet. */
  async ensure(ns: Namespace): Promise<Namespace> {
    if (this.ready.has(ns)) return ns;
    if (!ns.router.get(BARBICAN_MOUNT)) {
      try {
        await ns.mount(newMount("secret", BARBICAN_MOUNT, "barbican", { description: "Barbican (OpenStack Key Manager) resources of this project" }));
      } catch (err) {
        // A concurrent first request mounted it meanwhile.
        if (!ns.router.get(BARBICAN_MOUNT)) throw err;
      }
    }
    for (const [name, text] of Object.entries(ROLE_POLICIES)) {
      if (!(await ns.policies.read(name))) await ns.policies.write(name, text, {}, { builtin: true });
    }
    this.ready.add(ns);
    return ns;
  }

  /** Dev-mode noauth: a token of `ns` holding `policies`, for user `user` (reused while it lives). */
  async noauthToken(ns: Namespace, policies: string[], user: string | null): Promise<string> {
    const key = `${ns.ref.id}\0${policies.join(",")}\0${user ?? ""}`;
    const cached = this.noauthTokens.get(key);
    if (cached && cached.renewAt > Date.now()) return cached.token;
    const { token } = await ns.tokens.create({
      policies,
      path: "barbican/noauth",
      displayName: "barbican-noauth",
      meta: user === null ? {} : { user_id: user },
      ttl: NOAUTH_TTL_S,
      renewable: false,
      noDefaultPolicy: true,
    });
    if (this.noauthTokens.size >= MAX_NOAUTH_TOKENS) this.noauthTokens.clear();
    this.noauthTokens.set(key, { token, renewAt: Date.now() + NOAUTH_TTL_S * 1000 - NOAUTH_RENEW_MS });
    return token;
  }

  /** Forgets a cached noauth token the pipeline refused (revoked, or its namespace went away). */
  forgetNoauthToken(token: string): void {
    for (const [k, v] of this.noauthTokens) if (v.token === token) this.noauthTokens.delete(k);
  }
}
