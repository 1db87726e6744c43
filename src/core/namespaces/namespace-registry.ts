/**
 * Every namespace the server knows, as a tree under the root namespace, and what changes that tree:
 * create, metadata patch, delete, API lock, and the seal of sealable namespaces.
 *
 * Storage: a namespace's entry sits in its parent's store at `core/namespaces/<uuid>`, its data below
 * `namespaces/<uuid>/` of the parent's store. So a namespace, its children and everything they hold live
 * under one prefix (delete is one prefix clear), and the children of a sealable namespace are behind its
 * barrier too: sealing a tenant seals its whole subtree, and nothing of it (not even names) is readable.
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { LIMIT_SETTING } from "../limits.js";
import { ArcaError, notFound } from "../../common/errors.js";
import { getJson, putJson, StorageView } from "../view.js";
import { randomBase62 } from "../../common/ids.js";
import type { KeyValueStore } from "../../storage/storage.js";
import type { KeyIdentity, KeyManager } from "../../hsm/key-manager.js";
import type { KeyCustody } from "../key-custody/key-custody.js";
import { Namespace, namespaceDeletedError, type NamespaceHost } from "./namespace.js";
import { namespaceKeySourceOf } from "./namespace-key-source.js";
import { NamespaceSeal, namespaceSealedError, noHsmForSealableNamespaces, type SealDeps, type SealSpec } from "./namespace-seal.js";
import {
  checkNamespaceName,
  headerSegments,
  NAMESPACE_TABLE_PREFIX,
  namespaceSegments,
  namespaceStoragePrefix,
  ROOT_NAMESPACE_ID,
  type NamespaceEntry,
} from "./namespace-entry.js";

export const namespaceLockedError = (): ArcaError => new ArcaError("unavailable", "API access to this namespace has been locked by an administrator");

export interface ResolvedPath {
  ns: Namespace;
  /** The request path inside that namespace. */
  path: string;
}

export interface CreateNamespaceOptions {
  customMetadata?: Record<string, string>;
  /**
   * The tenant key (a PKCS#11 URI of an AES key, or a keychain L1 of a mount in the parent namespace): the
   * namespace gets its own barrier, sealed by that key.
   */
  seal?: SealSpec;
}

const hashOf = (s: string): Buffer => createHash("sha256").update(s).digest();

/** What the registry needs of the server: what a namespace needs, and the HSM keys sealable namespaces use. */
export interface RegistryHost extends NamespaceHost {
  readonly keyManager: KeyManager | undefined;
  readonly custody: KeyCustody | undefined;
}

export class NamespaceRegistry {
  readonly root: Namespace;
  private readonly byId = new Map<string, Namespace>();
  /** Paths being created right now: a second create of the same path must not race the first. */
  private readonly creating = new Set<string>();
  /** Unseals under way, so concurrent unseal calls share one (and set the namespace up once). */
  private readonly unsealing = new Map<Namespace, Promise<void>>();
  /** Keychain-sealed namespaces waiting for their L1 to come back, with the unsubscribe (watchForKeyReturn). */
  private readonly keyWatches = new Map<Namespace, () => void>();

  constructor(private readonly host: RegistryHost, rootStore: KeyValueStore) {
    const entry: NamespaceEntry = { uuid: ROOT_NAMESPACE_ID, id: ROOT_NAMESPACE_ID, path: "", parentUuid: undefined, customMetadata: {} };
    this.root = new Namespace(host, entry, undefined, rootStore);
    this.byId.set(ROOT_NAMESPACE_ID, this.root);
  }

  /** A loaded namespace by id ("root" for the root): the suffix of its tokens and accessors, `Request.namespace.id`. */
  get(id: string): Namespace | undefined {
    return this.byId.get(id);
  }

  /** The root and every namespace below it that is open (not sealed), parents first. */
  open(): Namespace[] {
    return [this.root, ...this.root.descendants()].filter((ns) => !ns.sealed);
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  /** After the server unseals: sets up the root namespace, then every namespace below it. */
  async setup(): Promise<void> {
    await this.root.setup();
    await this.loadChildren(this.root);
  }

  /** Forgets every namespace below the root and the root's state (server seal); resolves once mounts are cleaned up. */
  async teardown(): Promise<void> {
    const cleanups = this.root.descendants().map((ns) => this.forget(ns));
    this.root.children.clear();
    cleanups.push(this.root.teardown());
    await Promise.all(cleanups);
  }

  private async loadChildren(parent: Namespace): Promise<void> {
    for (const name of await parent.store.list(NAMESPACE_TABLE_PREFIX)) {
      const entry = await getJson<NamespaceEntry>(parent.store, NAMESPACE_TABLE_PREFIX + name);
      if (!entry) continue;
      const ns = this.instantiate(parent, entry);
      if (ns.sealHandle && !entry.seal?.sealedByOperator) {
        // A tenant whose key is away stays sealed with the reason in seal-status; the rest goes on.
        await ns.sealHandle.unseal().catch(() => undefined);
        if (ns.sealed) this.watchForKeyReturn(ns);
      }
      if (!ns.sealed) await this.openNamespace(ns);
    }
  }

  private instantiate(parent: Namespace, entry: NamespaceEntry): Namespace {
    const raw = childStorage(parent, entry.uuid);
    const sealHandle = entry.seal ? NamespaceSeal.existing(entry.uuid, raw, this.sealDeps(parent), entry.seal) : undefined;
    return this.register(new Namespace(this.host, entry, parent, sealHandle?.barrier ?? raw, sealHandle));
  }

  /** What a child's seal needs: the HSM, and the parent's mounts as they are at each use (a keychain L1). */
  private sealDeps(parent: Namespace): SealDeps {
    return { keyManager: this.host.keyManager, parentMount: (route) => parent.router.get(route) };
  }

  /** Makes a namespace findable: by name in its parent, by id for tokens and requests. */
  private register(ns: Namespace): Namespace {
    ns.parent?.children.set(ns.name, ns);
    this.byId.set(ns.id, ns);
    return ns;
  }

  /** Sets up an unsealed namespace and loads its children. */
  private async openNamespace(ns: Namespace): Promise<void> {
    await ns.setup();
    await this.loadChildren(ns);
  }

  /** Drops `ns` at once; the promise is its mounts' cleanup (which never rejects). */
  private forget(ns: Namespace): Promise<void> {
    this.unwatch(ns);
    const cleanup = ns.teardown();
    ns.sealHandle?.seal(ns.sealHandle.reason);
    this.byId.delete(ns.id);
    return cleanup;
  }

  // ---- resolution --------------------------------------------------------------------------------

  /**
   * OpenBao's resolution: the header (absolute, "root" = none) must name an existing namespace; then the
   * longest run of namespace names at the start of the path goes deeper. Requests into a sealed or
   * API-locked namespace (or below one) are refused here.
   */
  resolve(header: string | undefined, path: string): ResolvedPath {
    let ns = this.root;
    if (header) {
      for (const seg of headerSegments(header)) {
        this.checkEnterable(ns);
        const child = ns.children.get(seg);
        if (!child) throw notFound("namespace not found");
        ns = child;
      }
    }
    let rest = path;
    for (;;) {
      if (ns.children.size === 0) break;
      const slash = rest.indexOf("/");
      const seg = slash === -1 ? rest : rest.slice(0, slash);
      const child = ns.children.get(seg);
      if (!child) break;
      this.checkEnterable(ns);
      ns = child;
      rest = slash === -1 ? "" : rest.slice(slash + 1);
    }
    this.checkEnterable(ns);
    return { ns, path: rest };
  }

  /** A namespace by path relative to `from` (sys/namespaces/:path), undefined when missing. */
  find(from: Namespace, relPath: string): Namespace | undefined {
    let ns: Namespace | undefined = from;
    for (const seg of namespaceSegments(relPath)) {
      if (ns.sealed) throw namespaceSealedError(ns.sealHandle?.reason);
      ns = ns.children.get(seg);
      if (!ns) return undefined;
    }
    return ns;
  }

  private checkEnterable(ns: Namespace): void {
    if (ns.entry.lockHash !== undefined) throw namespaceLockedError();
    if (ns.sealed) throw namespaceSealedError(ns.sealHandle?.reason);
  }

  /**
   * Before a request runs in `ns`: every sealable namespace on the way must still have its tenant key.
   * A refusal seals that namespace (and so everything below it) and is the request's answer.
   */
  async checkKeys(ns: Namespace): Promise<void> {
    // Runs on every request into a namespace: a plain walk up, no allocation beyond the closure.
    for (let n: Namespace | undefined = ns; n; n = n.parent) {
      const at = n;
      if (at.sealHandle) {
        await at.sealHandle.check((reason) => {
          this.sealSubtree(at, reason);
          this.watchForKeyReturn(at);
        });
      }
    }
  }

  // ---- changes -----------------------------------------------------------------------------------

  async create(from: Namespace, relPath: string, opts: CreateNamespaceOptions): Promise<Namespace> {
    const segs = namespaceSegments(relPath);
    if (segs.length === 0) throw new ArcaError("invalid_request", "a namespace path is required");
    for (const s of segs) checkNamespaceName(s);
    const name = segs[segs.length - 1];
    const parent = this.find(from, segs.slice(0, -1).join("/"));
    if (!parent) throw new ArcaError("invalid_request", `parent namespace "${segs.slice(0, -1).join("/")}/" does not exist`);
    if (parent.sealed) throw namespaceSealedError(parent.sealHandle?.reason);
    if (parent.fenced) throw namespaceDeletedError();
    const path = `${parent.path}${name}/`;
    if (parent.children.has(name) || this.creating.has(path)) throw new ArcaError("invalid_request", `namespace "${path}" already exists`);
    // Each namespace costs ~43 KB of memory and its own stores: a quota per parent keeps one tenant from
    // exhausting the server for all (creations in flight count, so concurrent creates cannot overshoot).
    const max = this.host.limits.maxNamespacesPerParent;
    if (parent.children.size + this.creatingBelow(parent) >= max) {
      throw new ArcaError(
        "invalid_request",
        `namespace "${parent.path || "root"}" already has ${max} child namespaces, the limit (server config limits.${LIMIT_SETTING.maxNamespacesPerParent})`,
      );
    }
    // The namespace would shadow the mount: resolution takes the namespace first.
    const mount = parent.router.conflicts(`${name}/`);
    if (mount) throw new ArcaError("invalid_request", `namespace "${path}" would hide the mount at ${parent.path}${mount}`);
    this.creating.add(path);
    try {
      return await this.createIn(parent, path, opts);
    } finally {
      this.creating.delete(path);
    }
  }

  private creatingBelow(parent: Namespace): number {
    let n = 0;
    for (const p of this.creating) {
      if (p.startsWith(parent.path) && p.indexOf("/", parent.path.length) === p.length - 1) n++;
    }
    return n;
  }

  private async createIn(parent: Namespace, path: string, opts: CreateNamespaceOptions): Promise<Namespace> {
    const uuid = randomUUID();
    let id = randomBase62(6);
    while (this.byId.has(id)) id = randomBase62(6);
    const entry: NamespaceEntry = { uuid, id, path, parentUuid: parent.entry.uuid, customMetadata: { ...opts.customMetadata } };
    const raw = childStorage(parent, uuid);
    let sealHandle: NamespaceSeal | undefined;
    let claimedKey: KeyIdentity | undefined;
    try {
      if (opts.seal?.type === "pkcs11") {
        // The key becomes this namespace's for good (even after a delete: a backup still holds what it wrapped).
        if (!this.host.custody) throw noHsmForSealableNamespaces();
        const claim = await this.host.custody.claimNamespaceSealKey(parent, opts.seal.keyUri, uuid);
        if (claim.fresh) claimedKey = claim.identity;
      }
      // A keychain L1 needs no claim: it is named in a mount of this same parent namespace, whose operators
      // own it (the name reaches no other namespace's keychain), and the engine still decides each use.
      if (opts.seal) {
        sealHandle = await NamespaceSeal.create(uuid, raw, this.sealDeps(parent), opts.seal);
        entry.seal = sealHandle.entry;
      }
      const ns = new Namespace(this.host, entry, parent, sealHandle?.barrier ?? raw, sealHandle);
      await ns.setup();
      // The parent's delete fenced it meanwhile (it waits for this create only if the create runs inside it).
      if (parent.fenced) throw namespaceDeletedError();
      // The entry is written last: until it exists, nothing points at the data, and a failure cleans up.
      await putJson(parent.store, NAMESPACE_TABLE_PREFIX + uuid, entry);
      return this.register(ns);
    } catch (err) {
      sealHandle?.seal();
      await raw.clear();
      // Nothing was made with the key (if this create claimed it): it goes back to being a plain grant.
      if (claimedKey) await this.host.custody?.forgetOwner(claimedKey);
      throw err;
    }
  }

  async patchMetadata(ns: Namespace, changes: Record<string, string | null>): Promise<void> {
    const next = { ...ns.entry.customMetadata };
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) delete next[k];
      else next[k] = v;
    }
    await this.save(ns, { ...ns.entry, customMetadata: next });
  }

  async setMetadata(ns: Namespace, metadata: Record<string, string>): Promise<void> {
    await this.save(ns, { ...ns.entry, customMetadata: { ...metadata } });
  }

  private async save(ns: Namespace, entry: NamespaceEntry): Promise<void> {
    if (!ns.parent) throw new ArcaError("invalid_request", "the root namespace cannot be changed");
    await putJson(ns.parent.store, NAMESPACE_TABLE_PREFIX + entry.uuid, entry);
    ns.entry = entry;
  }

  /**
   * Deletes a namespace: its tokens, mounts, policies and data go with its storage prefix, in one
   * transaction, and then its entry. Namespaces with children must have them deleted first.
   */
  async delete(ns: Namespace): Promise<void> {
    const parent = ns.parent;
    if (!parent) throw new ArcaError("invalid_request", "the root namespace cannot be deleted");
    const hasChildren = (): boolean => ns.children.size > 0 || [...this.creating].some((p) => p.startsWith(ns.path));
    if (hasChildren()) throw new ArcaError("invalid_request", `cannot delete namespace "${ns.path}": it has child namespaces`);
    // Fence first: requests still writing into the namespace would leave data behind the prefix clear.
    await ns.fenceAndDrain();
    // A child may have been created while the requests drained (one of them may have been that create).
    if (hasChildren()) {
      ns.unfence();
      throw new ArcaError("invalid_request", `cannot delete namespace "${ns.path}": it has child namespaces`);
    }
    await this.forget(ns);
    parent.children.delete(ns.name);
    await childStorage(parent, ns.entry.uuid).clear();
    await parent.store.delete(NAMESPACE_TABLE_PREFIX + ns.entry.uuid);
  }

  /** Locks the API of `ns` (and everything below it); returns the unlock key. */
  async lock(ns: Namespace): Promise<string> {
    if (ns.entry.lockHash !== undefined) throw new ArcaError("invalid_request", "namespace is already locked");
    const key = randomBase62(24);
    await this.save(ns, { ...ns.entry, lockHash: hashOf(key).toString("hex") });
    return key;
  }

  /** Unlocks with the key `lock` returned; `force` (a root token) needs none. */
  async unlock(ns: Namespace, key: string | undefined, force: boolean): Promise<void> {
    const stored = ns.entry.lockHash;
    if (stored === undefined) throw new ArcaError("invalid_request", "namespace is not locked");
    if (!force) {
      const given = hashOf(key ?? "");
      if (!key || !timingSafeEqual(given, Buffer.from(stored, "hex"))) throw new ArcaError("invalid_request", "incorrect unlock key");
    }
    const next: NamespaceEntry = { ...ns.entry };
    delete next.lockHash;
    await this.save(ns, next);
  }

  // ---- sealable namespaces -----------------------------------------------------------------------

  /** Seals a sealable namespace and everything below it; it stays sealed across restarts. */
  async seal(ns: Namespace): Promise<void> {
    const handle = ns.sealHandle;
    if (!handle || !ns.entry.seal) throw new ArcaError("invalid_request", `namespace "${ns.path}" is not sealable`);
    // Recorded even when the key already sealed it: the operator's seal must outlive the key's return.
    if (!ns.entry.seal.sealedByOperator) await this.save(ns, { ...ns.entry, seal: { ...ns.entry.seal, sealedByOperator: true } });
    this.unwatch(ns);
    if (!ns.sealed) this.sealSubtree(ns, "sealed by an operator");
  }

  /** Unseals with the tenant key; on success the namespace and its children are back as they were. */
  unseal(ns: Namespace): Promise<void> {
    let running = this.unsealing.get(ns);
    if (!running) {
      running = this.unsealOnce(ns).finally(() => this.unsealing.delete(ns));
      this.unsealing.set(ns, running);
    }
    return running;
  }

  private async unsealOnce(ns: Namespace): Promise<void> {
    const handle = ns.sealHandle;
    if (!handle || !ns.entry.seal) throw new ArcaError("invalid_request", `namespace "${ns.path}" is not sealable`);
    if (!ns.sealed) return;
    await handle.unseal();
    this.unwatch(ns);
    try {
      await this.openNamespace(ns);
    } catch (err) {
      this.sealSubtree(ns, `unseal failed: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
    if (ns.entry.seal.sealedByOperator) {
      const seal = { ...ns.entry.seal };
      delete seal.sealedByOperator;
      await this.save(ns, { ...ns.entry, seal });
    }
  }

  /**
   * After its keychain L1 refused and sealed `ns`: unseal it as soon as the keychain says that L1 may be used
   * again (enable, a HYOK key back to ENABLED), as revoking it sealed it — no operator unseal needed. Never for
   * an operator's seal, which lasts until an explicit unseal; a failed unseal waits for the next return.
   */
  private watchForKeyReturn(ns: Namespace): void {
    const seal = ns.entry.seal;
    if (seal?.type !== "keychain" || seal.sealedByOperator || !ns.parent || this.keyWatches.has(ns)) return;
    const mounted = ns.parent.router.get(seal.mount);
    const unsubscribe = (mounted && namespaceKeySourceOf(mounted.backend))?.onKeyUsable?.(async (name) => {
      if (name !== seal.key) return;
      this.unwatch(ns);
      if (this.byId.get(ns.id) !== ns || !ns.sealed || ns.entry.seal?.sealedByOperator) return;
      await this.unseal(ns).catch(() => this.watchForKeyReturn(ns));
    });
    if (unsubscribe) this.keyWatches.set(ns, unsubscribe);
  }

  private unwatch(ns: Namespace): void {
    this.keyWatches.get(ns)?.();
    this.keyWatches.delete(ns);
  }

  private sealSubtree(ns: Namespace, reason: string): void {
    // Everything is dropped synchronously; the mounts' cleanups finish on their own (they never reject).
    const cleanups = ns.descendants().map((d) => this.forget(d));
    ns.children.clear();
    cleanups.push(ns.teardown());
    ns.sealHandle?.seal(reason);
    void Promise.all(cleanups);
  }
}


/** The part of the parent's store that holds a child namespace and everything below it. */
function childStorage(parent: Namespace, uuid: string): StorageView {
  return new StorageView(parent.store, namespaceStoragePrefix(uuid));
}
