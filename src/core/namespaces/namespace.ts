/**
 * A namespace at run time: its own mount tables, router, token store and policies, all over one storage
 * prefix. The root namespace is the server itself (prefix ""); a child keeps everything below
 * `namespaces/<uuid>/`, either inside the server's barrier or, when sealable, behind its own barrier whose
 * keyring is wrapped by the tenant's HSM key (see namespace-seal.ts).
 *
 * Engines get the namespace their mount lives in; what is server-wide (lease bounds, key manager,
 * wrapping, audit) they reach through `ns.core`.
 */
import { ArcaError } from "../errors.js";
import type { LogicalBackend } from "../framework/backend.js";
import { ROOT_NAMESPACE, type NamespaceRef } from "../framework/request.js";
import { dataPrefix, loadTable, newMount, routePath, saveTable, type MountEntry, type MountTable } from "../mounts.js";
import { Router, type MountedBackend } from "../router.js";
import { TokenStore } from "../tokens/token-store.js";
import { PolicyStore } from "../policy/policy-store.js";
import { StorageView } from "../view.js";
import { ResponseWrapper } from "../wrapping.js";
import type { KeyValueStore } from "../../storage/storage.js";
import type { Core } from "../core.js";
import type { NamespaceEntry } from "./namespace-entry.js";
import type { NamespaceSeal } from "./namespace-seal.js";

export class Namespace {
  readonly router = new Router();
  readonly tokens: TokenStore;
  readonly policies: PolicyStore;
  readonly children = new Map<string, Namespace>();
  /** How requests, callers and audit entries name this namespace. */
  readonly ref: NamespaceRef;
  /** Response wrapping; wrapping tokens belong to the namespace the wrapped request ran in (as OpenBao's). */
  readonly wrapper: ResponseWrapper;
  private mountEntries: MountEntry[] = [];

  constructor(
    readonly core: Core,
    /** The stored entry (for the root namespace, a fixed one with id "root" and path ""). */
    public entry: NamespaceEntry,
    readonly parent: Namespace | undefined,
    /** Where this namespace's entries live: the server barrier (root), a view of it, or its own barrier. */
    readonly store: KeyValueStore,
    /** Set for sealable namespaces: their own barrier, opened by the tenant's HSM key. */
    readonly sealHandle?: NamespaceSeal,
  ) {
    this.ref = parent === undefined ? ROOT_NAMESPACE : Object.freeze({ id: entry.id, path: entry.path });
    this.tokens = new TokenStore(new StorageView(store, "sys/token/"), this.ref);
    this.policies = new PolicyStore(new StorageView(store, "sys/policy/"), core.limits);
    this.wrapper = new ResponseWrapper(store, this.tokens);
    // A revoked token's cubbyhole goes with it (OpenBao's cubbyhole destroyer).
    this.tokens.onRevoke(async (ids) => {
      const cubbyhole = this.router.get("cubbyhole/");
      if (!cubbyhole) return;
      for (const id of ids) await cubbyhole.storage.sub(`${id}/`).clear();
    });
  }

  get id(): string {
    return this.entry.id;
  }

  /** "" for root, otherwise the full path ending in "/" ("team-a/dev/"). */
  get path(): string {
    return this.entry.path;
  }

  /** The last segment of the path: the key in the parent's `children` ("dev"). */
  get name(): string {
    return this.parent ? this.entry.path.slice(this.parent.path.length, -1) : "";
  }

  /** Only sealable namespaces seal on their own; the others follow the server. */
  get sealed(): boolean {
    return this.sealHandle?.sealed ?? false;
  }

  get isRoot(): boolean {
    return this.parent === undefined;
  }

  /** True when `other` is this namespace or lies below it. */
  contains(other: Namespace): boolean {
    for (let n: Namespace | undefined = other; n; n = n.parent) if (n === this) return true;
    return false;
  }

  /** Every namespace below this one, parents before children. */
  descendants(): Namespace[] {
    const out: Namespace[] = [];
    const walk = (ns: Namespace): void => {
      for (const child of [...ns.children.values()].sort((a, b) => a.path.localeCompare(b.path))) {
        out.push(child);
        walk(child);
      }
    };
    walk(this);
    return out;
  }

  /**
   * Loads (or on first use creates) the mount tables, built-in mounts, token store and policies, and
   * builds the router. Called when the server (or, for a sealable namespace, the namespace) is unsealed.
   */
  async setup(): Promise<void> {
    await this.tokens.setup();
    await this.policies.setup();
    this.mountEntries = [...(await loadTable(this.store, "secret")), ...(await loadTable(this.store, "auth"))];
    // Built-in mounts every namespace has; added on first use, and to older stores that predate one.
    const builtins = [
      newMount("secret", "sys/", "system", { description: "system endpoints used for control, policy and debugging", builtin: true }),
      newMount("secret", "cubbyhole/", "cubbyhole", { description: "per-token private secret storage", builtin: true }),
      newMount("auth", "token/", "token", { description: "token based credentials", builtin: true }),
    ].filter((m) => this.core.hasEngine(m.type) && !this.mountEntries.some((e) => e.table === m.table && e.path === m.path));
    if (builtins.length > 0) {
      this.mountEntries = [...builtins, ...this.mountEntries];
      await saveTable(this.store, "secret", this.mountEntries);
      await saveTable(this.store, "auth", this.mountEntries);
    }
    this.router.clear();
    for (const entry of this.mountEntries) this.router.add(this.instantiate(entry));
  }

  /** Forgets everything held in memory (seal). */
  teardown(): void {
    this.router.clear();
    this.tokens.teardown();
    this.policies.teardown();
    this.mountEntries = [];
  }

  // ---- mounts ------------------------------------------------------------------------------------

  private instantiate(entry: MountEntry): MountedBackend {
    const backend: LogicalBackend = this.core.createBackend(entry, this);
    return { entry, backend, storage: new StorageView(this.store, dataPrefix(entry)) };
  }

  mounts(table: MountTable): MountEntry[] {
    return this.mountEntries.filter((m) => m.table === table);
  }

  /** The mount that holds `accessor` in this namespace (audit tuning, token env). */
  mountByAccessor(accessor: string): MountEntry | undefined {
    return this.mountEntries.find((e) => e.accessor === accessor);
  }

  async mount(entry: MountEntry): Promise<void> {
    const route = routePath(entry);
    const clash = this.router.conflicts(route);
    if (clash) throw new ArcaError("invalid_request", `path is already in use at ${clash}`);
    // A child namespace's name wins when requests are resolved, so a mount under it could never be reached.
    const first = route.slice(0, route.indexOf("/"));
    if (this.children.has(first)) throw new ArcaError("invalid_request", `path is already in use by the namespace ${this.path}${first}/`);
    const mounted = this.instantiate(entry);
    const next = [...this.mountEntries, entry];
    await saveTable(this.store, entry.table, next);
    this.mountEntries = next;
    this.router.add(mounted);
  }

  async unmount(table: MountTable, path: string): Promise<void> {
    const entry = this.mountEntries.find((m) => m.table === table && m.path === path);
    if (!entry) return;
    if (entry.builtin) throw new ArcaError("invalid_request", `cannot unmount "${routePath(entry)}"`);
    const next = this.mountEntries.filter((m) => m !== entry);
    await saveTable(this.store, table, next);
    this.mountEntries = next;
    const removed = this.router.remove(routePath(entry));
    await removed?.storage.clear();
  }

  async updateMount(entry: MountEntry): Promise<void> {
    this.mountEntries = this.mountEntries.map((m) => (m.uuid === entry.uuid ? entry : m));
    await saveTable(this.store, entry.table, this.mountEntries);
    const mounted = this.router.get(routePath(entry));
    if (mounted) mounted.entry = entry;
  }
}
