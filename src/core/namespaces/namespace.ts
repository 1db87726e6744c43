/**
 * A namespace at run time: its own mount tables, router, token store and policies, all over one storage
 * prefix. The root namespace is the server itself (prefix ""); a child keeps everything below
 * `namespaces/<uuid>/`, either inside the server's barrier or, when sealable, behind its own barrier whose
 * keyring is wrapped by the tenant's HSM key (see namespace-seal.ts).
 *
 * Engines never see a namespace: they get a SystemView (core.ts builds it). The server is reached through a
 * NamespaceHost, declared here and implemented by the core, so that this module does not import the core.
 *
 * Mount lifecycle: a backend is initialised once its mount is live (mounted, or rebuilt at setup) and
 * cleaned up when it goes (unmount, teardown at seal or delete).
 */
import { ArcaError } from "../../common/errors.js";
import type { LogicalBackend } from "../framework/backend.js";
import { ROOT_NAMESPACE, type NamespaceRef } from "../framework/request.js";
import { dataPrefix, loadTable, newMount, routePath, saveTable, type MountEntry, type MountTable } from "../mounts.js";
import { Router, type MountedBackend } from "../router.js";
import { TokenStore } from "../tokens/token-store.js";
import { PolicyStore } from "../policy/policy-store.js";
import { StorageView } from "../view.js";
import { ResponseWrapper } from "../wrapping.js";
import type { KeyValueStore } from "../../storage/storage.js";
import type { BackendLogger } from "../framework/system-view.js";
import type { NamespaceEntry } from "./namespace-entry.js";
import type { NamespaceSeal } from "./namespace-seal.js";
import type { InputLimits } from "../limits.js";

/** What a namespace needs of the server that holds it (the core implements it). */
export interface NamespaceHost {
  /** A loaded namespace by id: a token's parent may live in a parent namespace. */
  namespace(id: string): Namespace | undefined;
  hasEngine(type: string): boolean;
  /** Builds the backend of a mount of `ns` from the engine catalog. */
  createBackend(entry: MountEntry, ns: Namespace): LogicalBackend;
  /** Where lifecycle failures of mounts are reported. */
  readonly logger: BackendLogger;
  /** The server's input bounds (policy size, namespaces per parent). */
  readonly limits: Readonly<InputLimits>;
}

export const namespaceDeletedError = (): ArcaError => new ArcaError("invalid_request", "namespace not found or being deleted");

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
  /** Requests running in this namespace now (the delete waits for them). */
  private active = 0;
  private drained: (() => void) | undefined;
  /** Set by a delete: no request enters any more (for good once the delete went through). */
  private fencedByDelete = false;

  constructor(
    private readonly host: NamespaceHost,
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
    this.policies = new PolicyStore(new StorageView(store, "sys/policy/"), host.limits);
    this.wrapper = new ResponseWrapper(store, this.tokens);
    // A token's parent may be a parent namespace's token: its store is reached through the registry.
    this.tokens.linkStores((id) => {
      const ns = host.namespace(id);
      return ns && !ns.sealed ? ns.tokens : undefined;
    });
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

  /** Counts a request into this namespace; refused once a delete has fenced it. Pair with leave(). */
  enter(): void {
    if (this.fencedByDelete) throw namespaceDeletedError();
    this.active++;
  }

  leave(): void {
    this.active--;
    if (this.active === 0) this.drained?.();
  }

  get fenced(): boolean {
    return this.fencedByDelete;
  }

  /** Refuses new requests, then waits until the ones already running have finished. */
  async fenceAndDrain(): Promise<void> {
    if (this.fencedByDelete) throw namespaceDeletedError();
    this.fencedByDelete = true;
    if (this.active === 0) return;
    await new Promise<void>((resolve) => {
      this.drained = resolve;
    });
    this.drained = undefined;
  }

  /** Lets requests in again (a delete that was refused after fencing). */
  unfence(): void {
    this.fencedByDelete = false;
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
    ].filter((m) => this.host.hasEngine(m.type) && !this.mountEntries.some((e) => e.table === m.table && e.path === m.path));
    if (builtins.length > 0) {
      this.mountEntries = [...builtins, ...this.mountEntries];
      await saveTable(this.store, "secret", this.mountEntries);
      await saveTable(this.store, "auth", this.mountEntries);
    }
    this.router.clear();
    const mounted = this.mountEntries.map((entry) => this.instantiate(entry));
    for (const m of mounted) this.router.add(m);
    // One mount that fails to initialise must not keep the server (or the namespace) sealed: it is
    // reported and stays mounted, as OpenBao does at unseal.
    for (const m of mounted) {
      await m.backend.initialize({ storage: m.storage }).catch((err: unknown) => this.report(m.entry, err, "mount failed to initialize"));
    }
  }

  /**
   * Forgets everything held in memory (seal, delete): at once, so no request reaches a backend after
   * this returns; then each backend's cleanup, whose failures are reported and never thrown.
   */
  teardown(): Promise<void> {
    const mounted = this.router.all();
    this.router.clear();
    this.tokens.teardown();
    this.policies.teardown();
    this.mountEntries = [];
    return this.cleanUp(mounted);
  }

  private async cleanUp(mounted: MountedBackend[]): Promise<void> {
    for (const m of mounted) {
      await m.backend.cleanup().catch((err: unknown) => this.report(m.entry, err, "mount failed to clean up"));
    }
  }

  private report(entry: MountEntry, err: unknown, msg: string): void {
    this.host.logger.error({ namespace: this.path, mount: routePath(entry), type: entry.type, error: err instanceof Error ? err.message : String(err) }, msg);
  }

  // ---- mounts ------------------------------------------------------------------------------------

  private instantiate(entry: MountEntry): MountedBackend {
    const backend: LogicalBackend = this.host.createBackend(entry, this);
    return { entry, backend, storage: new StorageView(this.store, dataPrefix(entry)) };
  }

  mounts(table: MountTable): MountEntry[] {
    return this.mountEntries.filter((m) => m.table === table);
  }

  /** The mount that holds `accessor` in this namespace (audit tuning, token env). */
  mountByAccessor(accessor: string): MountEntry | undefined {
    return this.mountEntries.find((e) => e.accessor === accessor);
  }

  /** A mount by its uuid, which (unlike its path) never changes: key custody names mounts by it. */
  mountByUuid(uuid: string): MountEntry | undefined {
    return this.mountEntries.find((e) => e.uuid === uuid);
  }

  async mount(entry: MountEntry): Promise<void> {
    const route = routePath(entry);
    const clash = this.router.conflicts(route);
    if (clash) throw new ArcaError("invalid_request", `path is already in use at ${clash}`);
    // A child namespace's name wins when requests are resolved, so a mount under it could never be reached.
    const first = route.slice(0, route.indexOf("/"));
    if (this.children.has(first)) throw new ArcaError("invalid_request", `path is already in use by the namespace ${this.path}${first}/`);
    const mounted = this.instantiate(entry);
    // Initialised before the mount is recorded: a backend that cannot start leaves no mount behind.
    try {
      await mounted.backend.initialize({ storage: mounted.storage });
    } catch (err) {
      await this.cleanUp([mounted]);
      await mounted.storage.clear();
      throw err;
    }
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
    if (!removed) return;
    await this.cleanUp([removed]);
    await removed.storage.clear();
  }

  /**
   * Moves a mount to another path of this namespace (sys/remount). Its data is stored under its uuid, not
   * its path, so nothing is copied: the table records the new path and the router serves the same backend
   * there. The caller checks that the destination is allowed for the mount's table.
   */
  async moveMount(entry: MountEntry, toPath: string): Promise<MountEntry> {
    if (entry.builtin) throw new ArcaError("invalid_request", `cannot remount "${routePath(entry)}"`);
    const moved: MountEntry = { ...entry, path: toPath };
    this.checkFree(routePath(moved));
    const next = this.mountEntries.map((m) => (m.uuid === entry.uuid ? moved : m));
    await saveTable(this.store, entry.table, next);
    this.mountEntries = next;
    const mounted = this.router.remove(routePath(entry));
    if (mounted) {
      mounted.entry = moved;
      this.router.add(mounted);
    }
    return moved;
  }

  /** Refuses a route a mount or a child namespace already holds (OpenBao's remount wording). */
  checkFree(route: string): void {
    const clash = this.router.conflicts(route);
    if (clash) throw new ArcaError("invalid_request", `path already in use at "${clash}"`);
    const first = route.slice(0, route.indexOf("/"));
    if (this.children.has(first)) throw new ArcaError("invalid_request", `path is already in use by the namespace ${this.path}${first}/`);
  }

  /** The storage view holding a mount's data in this namespace (cross-namespace moves copy through it). */
  mountStorage(entry: MountEntry): StorageView {
    return new StorageView(this.store, dataPrefix(entry));
  }

  async updateMount(entry: MountEntry): Promise<void> {
    this.mountEntries = this.mountEntries.map((m) => (m.uuid === entry.uuid ? entry : m));
    await saveTable(this.store, entry.table, this.mountEntries);
    const mounted = this.router.get(routePath(entry));
    if (mounted) mounted.entry = entry;
  }
}
