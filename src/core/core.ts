/**
 * The core: seal state, barrier, mount tables, and the entry to the one request pipeline every wire format
 * uses (request-pipeline.ts).
 *
 * Subsystems live in their own modules; this file wires them and owns the lifecycle.
 */
import { DEFAULT_INPUT_LIMITS, type InputLimits } from "./limits.js";
import { randomUUID, timingSafeEqual } from "node:crypto";
import { Barrier } from "./barrier.js";
import { ArcaError, sealedError } from "../common/errors.js";
import type { LogicalBackend } from "./framework/backend.js";
import { ROOT_NAMESPACE, type Caller, type Request, type Response } from "./framework/request.js";
import type { MountEntry } from "./mounts.js";
import { DeviceAuditBroker, type MountAuditKeys } from "./audit/audit-broker.js";
import { Namespace } from "./namespaces/namespace.js";
import { NamespaceRegistry } from "./namespaces/namespace-registry.js";
import { accessorNamespaceId, tokenNamespaceId } from "./namespaces/namespace-entry.js";
import { SealManager } from "../seal/seal-manager.js";
import { RootGeneration } from "./generate-root.js";
import { operatorShares } from "../seal/seal.js";
import type { AutoSeal, ConfiguredSeal } from "../seal/seal.js";
import type { Storage } from "../storage/storage.js";
import type { HaState } from "./ha-state.js";
import { zero } from "../crypto/aead.js";
import type { KeyManager } from "../hsm/key-manager.js";
import { KeyCustody } from "./key-custody/key-custody.js";
import { addressInCidrs } from "./cidr.js";
import type { ACL } from "./policy/acl.js";
import { effectiveLeaseBounds, silentLogger, type BackendLogger, type LeaseBounds, type SystemView } from "./framework/system-view.js";
import { mountView } from "./mount-view.js";
import { RequestPipeline, type ResolvedToken } from "./request-pipeline.js";

// Moved to the pipeline's module; exported here still for the modules that import them from the core.
export { namespaceUnavailableError, type ResolvedToken } from "./request-pipeline.js";

/** Builds an engine's backend for a mount; the engine sees the server only through `view`. */
export type BackendFactory = (mount: MountEntry, view: SystemView) => LogicalBackend;

/**
 * Builds one of the core's own backends (sys/, auth/token/). They are the server's control plane — mount
 * tables, policies, namespaces, every token — so they get the namespace and the core, not a SystemView.
 */
export type CoreBackendFactory = (mount: MountEntry, ns: Namespace, core: Core) => LogicalBackend;

export interface CoreOptions {
  storage: Storage;
  /** The engine catalog: mount type → factory. */
  engines: Map<string, BackendFactory>;
  /** The core's own backends by mount type ("system", "token"). */
  coreBackends?: Map<string, CoreBackendFactory>;
  /** Where engines and mount lifecycle failures log (nothing logged without it). */
  logger?: BackendLogger;
  autoSeals?: AutoSeal[];
  /** The configured seals (auto, Shamir, disabled ones during a migration); overrides autoSeals. */
  seals?: ConfiguredSeal[];
  /** Auto-unseal retry and seal health-check timing. */
  sealTiming?: Partial<SealTiming>;
  clusterName?: string;
  /** Keys in the declared HSMs (or the software stand-in in dev), for engines that keep keys there. */
  keyManager?: KeyManager;
  /** System-wide lease bounds in seconds. */
  defaultLeaseTtl?: number;
  maxLeaseTtl?: number;
  /** Per-caller input bounds (server config `limits`); unset ones take their defaults. */
  limits?: Partial<InputLimits>;
}

/** What sys/metrics serves: the server's metrics registry. */
export interface MetricsSource {
  prometheusText(): Promise<string>;
  json(): Promise<unknown>;
}

export interface InitRequest {
  secretShares: number;
  secretThreshold: number;
  recoveryShares?: number;
  recoveryThreshold?: number;
}

export interface InitResponse {
  keys: Buffer[];
  /** Recovery-key shares (auto seals). */
  recoveryKeys: Buffer[];
  rootToken: string;
}

export interface SealTiming {
  /** First auto-unseal retry delay, doubled per attempt. */
  retryBaseMs: number;
  /** Cap of the retry delay. */
  retryMaxMs: number;
  /** How often the seals are checked (and copies re-written) while unsealed. */
  healthIntervalMs: number;
}

const DEFAULT_SEAL_TIMING: SealTiming = { retryBaseMs: 1000, retryMaxMs: 30_000, healthIntervalMs: 60_000 };

export const DEFAULT_MAX_LEASE_TTL = 32 * 24 * 3600; // OpenBao's 768h

export class Core {
  readonly storage: Storage;
  readonly barrier: Barrier;
  readonly seal: SealManager;
  /** The namespace tree; `root` is the server's own mounts, tokens and policies. */
  readonly namespaces: NamespaceRegistry;
  readonly clusterName: string;
  clusterId = "";
  /** Set by the server when several servers share the storage (HA). */
  ha: HaState | undefined;
  /** A reloadFromStorage under way. */
  private reloading: Promise<void> | undefined;
  /** An initialize under way (reloads wait for it). */
  private initializing: Promise<unknown> | undefined;
  readonly defaultLeaseTtl: number;
  readonly maxLeaseTtl: number;
  readonly limits: Readonly<InputLimits>;
  readonly audit = new DeviceAuditBroker();
  readonly keyManager: KeyManager | undefined;
  /** Who may use which HSM key; engines get keys only through it (keysFor). */
  readonly custody: KeyCustody | undefined;
  /** What sys/metrics serves; set by the server once its registry exists (none: sys/metrics answers 404). */
  metrics: MetricsSource | undefined;
  /** The root-token generation attempt (sys/generate-root/*), authorised by operator shares. */
  readonly rootGeneration: RootGeneration = new RootGeneration(this);
  private readonly engines: Map<string, BackendFactory>;
  private readonly coreBackends: Map<string, CoreBackendFactory>;
  private readonly logger: BackendLogger;
  private rootKey: Buffer | undefined;
  private activeSince: Date | undefined;
  private readonly sealTiming: SealTiming;
  private retryTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private checkingSeals: Promise<void> | undefined;
  private shutDown = false;
  private readonly pipeline = new RequestPipeline(this);

  constructor(opts: CoreOptions) {
    // First: the namespace registry below builds the root namespace, which reads the limits.
    this.limits = Object.freeze({ ...DEFAULT_INPUT_LIMITS, ...opts.limits });
    this.storage = opts.storage;
    this.barrier = new Barrier(opts.storage);
    this.seal = new SealManager(opts.storage, opts.seals ?? opts.autoSeals ?? []);
    this.sealTiming = { ...DEFAULT_SEAL_TIMING, ...opts.sealTiming };
    this.engines = opts.engines;
    this.coreBackends = opts.coreBackends ?? new Map<string, CoreBackendFactory>();
    this.logger = opts.logger ?? silentLogger;
    this.keyManager = opts.keyManager;
    this.custody = opts.keyManager ? new KeyCustody(opts.keyManager, () => this.barrier) : undefined;
    // What namespaces may ask of the core, and nothing more (namespaces/ does not import this module).
    this.namespaces = new NamespaceRegistry(
      {
        namespace: (id) => this.namespaces.get(id),
        hasEngine: (type) => this.hasEngine(type),
        createBackend: (entry, ns) => this.createBackend(entry, ns),
        logger: this.logger,
        keyManager: this.keyManager,
        custody: this.custody,
        limits: this.limits,
      },
      this.barrier,
    );
    this.clusterName = opts.clusterName ?? `arca-cluster-${randomUUID().slice(0, 8)}`;
    this.defaultLeaseTtl = opts.defaultLeaseTtl ?? DEFAULT_MAX_LEASE_TTL;
    this.maxLeaseTtl = opts.maxLeaseTtl ?? DEFAULT_MAX_LEASE_TTL;
  }

  /** The root namespace: the server's own mounts, tokens and policies. */
  get root(): Namespace {
    return this.namespaces.root;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  get sealed(): boolean {
    return this.barrier.sealed;
  }

  async isInitialized(): Promise<boolean> {
    // Once initialised, always initialised: health checks must not cost a storage read each.
    if (this.seal.sealConfig !== undefined) return true;
    return (await this.seal.loadConfig()) !== undefined;
  }

  get activeTime(): Date | undefined {
    return this.activeSince;
  }

  /**
   * Initialises a new server: root key, unseal (Shamir) or recovery (auto seal) shares and a root token.
   * With Shamir the server is left sealed, as OpenBao does (`keepUnsealed` is for dev mode); with an auto
   * seal it stays unsealed, as OpenBao's unseal-with-stored-keys right after init.
   */
  initialize(req: InitRequest, opts: { keepUnsealed?: boolean; rootTokenId?: string } = {}): Promise<InitResponse> {
    // HA: a reload started by another server's writes (it unseals when our root token lands) must not seal
    // this server in the middle of its own init; reloads wait for it (see reloadFromStorage).
    const run = this.initializeNow(req, opts);
    const tracked: Promise<unknown> = run.catch(() => undefined).finally(() => {
      if (this.initializing === tracked) this.initializing = undefined;
    });
    this.initializing = tracked;
    return run;
  }

  private async initializeNow(req: InitRequest, opts: { keepUnsealed?: boolean; rootTokenId?: string }): Promise<InitResponse> {
    const { rootKey, keys, recoveryKeys, auto } = await this.seal.initialize(req);
    await this.barrier.initialize(rootKey);
    this.rootKey = rootKey;
    await this.postUnseal();
    const { token } = await this.root.tokens.create({
      policies: ["root"],
      path: "auth/token/root",
      displayName: "root",
      id: opts.rootTokenId,
    });
    if (!auto && !opts.keepUnsealed) await this.sealNow();
    if (auto) this.startSealHealthChecks();
    return { keys, recoveryKeys, rootToken: token };
  }

  /**
   * Adds an unseal share (a recovery share with an auto seal); returns true once unsealed. `migrate` is
   * OpenBao's flag for a seal migration: the shares then belong to the old seal.
   */
  async submitUnsealShare(share: Buffer, opts: { migrate?: boolean } = {}): Promise<boolean> {
    if (!this.sealed) return true;
    const rootKey = await this.seal.submitShare(share, opts);
    if (!rootKey) return false;
    await this.unsealWithRootKey(rootKey);
    return true;
  }

  private async unsealWithRootKey(rootKey: Buffer): Promise<void> {
    try {
      await this.barrier.unseal(rootKey);
    } catch (err) {
      zero(rootKey);
      throw new ArcaError("invalid_request", "invalid key", { cause: err });
    }
    this.rootKey = rootKey;
    this.clearRetry();
    await this.postUnseal();
    // Re-write copies missing from seals that work (a seal added, or back after a loss).
    await this.checkSeals();
  }

  /**
   * Start-up with auto seals: unseal with no human. When no seal can (HSM away), stay sealed, say why in
   * seal-status, and retry with exponential backoff until one can; a wrong PIN is final. Resolves after
   * the first attempt.
   */
  async startAutoUnseal(): Promise<void> {
    this.shutDown = false;
    if (!this.seal.hasAutoSeals) return;
    await this.autoUnsealAttempt(0);
    this.startSealHealthChecks();
  }

  /**
   * Another server on the same storage initialised it (or changed the seal): a sealed server with an auto
   * seal tries again now instead of staying sealed until restarted.
   */
  async retryAutoUnseal(): Promise<void> {
    if (!this.seal.hasAutoSeals || !this.sealed || this.shutDown) return;
    this.clearRetry();
    await this.autoUnsealAttempt(0);
  }

  private async autoUnsealAttempt(attempt: number): Promise<void> {
    this.retryTimer = undefined;
    if (this.shutDown || !this.sealed) return;
    try {
      const out = await this.seal.autoUnseal();
      if (!this.sealed) {
        zero(out.rootKey);
        return;
      }
      if (out.rootKey) {
        try {
          await this.unsealWithRootKey(out.rootKey);
        } catch (err) {
          // The barrier refused what a seal returned: a copy for another server. Retrying will not help.
          this.seal.noteAutoUnsealError(`the root key from the seal does not open the barrier (${err instanceof Error ? err.message : String(err)})`);
        }
        return;
      }
      if (!out.retry) return;
    } catch (err) {
      this.seal.noteAutoUnsealError(err instanceof Error ? err.message : String(err));
    }
    if (this.shutDown) return;
    const delay = Math.min(this.sealTiming.retryMaxMs, this.sealTiming.retryBaseMs * 2 ** Math.min(attempt, 30));
    this.retryTimer = setTimeout(() => void this.autoUnsealAttempt(attempt + 1), delay);
    this.retryTimer.unref();
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private startSealHealthChecks(): void {
    if (this.healthTimer || !this.seal.hasAutoSeals || this.sealTiming.healthIntervalMs <= 0) return;
    this.healthTimer = setInterval(() => void this.checkSeals(), this.sealTiming.healthIntervalMs);
    this.healthTimer.unref();
  }

  /** Checks every auto seal and re-writes copies where needed (while unsealed; single flight). */
  checkSeals(): Promise<void> {
    if (this.checkingSeals) return this.checkingSeals;
    if (!this.rootKey || this.sealed) return Promise.resolve();
    // A private copy: sys/seal zeroes this.rootKey, and a zeroed key must never be wrapped over a good copy.
    const rootKey = Buffer.from(this.rootKey);
    this.checkingSeals = this.seal.checkSeals(rootKey).finally(() => {
      zero(rootKey);
      this.checkingSeals = undefined;
    });
    return this.checkingSeals;
  }

  /**
   * HA: another server changed what unsealing loads (keyring, mount tables, namespaces, audit devices).
   * Load it all again as an unseal would, with the root key this server holds; sealed, nothing to do.
   */
  async reloadFromStorage(): Promise<void> {
    // One reload at a time: two overlapping ones would seal and set up the namespaces twice at once, and the
    // first to finish would let requests in while the second still has the server sealed (503s).
    const previous = Promise.all([this.reloading, this.initializing]);
    const reload = previous.catch(() => undefined).then(async () => {
      if (!this.rootKey) return;
      const rootKey = Buffer.from(this.rootKey);
      await this.sealNow();
      await this.unsealWithRootKey(rootKey);
    });
    const tracked: Promise<void> = reload.finally(() => {
      if (this.reloading === tracked) this.reloading = undefined;
    });
    this.reloading = tracked;
    await reload;
  }

  /** Stops background seal work, seals, and releases the seals' HSM sessions (server stop). */
  async shutdown(): Promise<void> {
    this.shutDown = true;
    this.clearRetry();
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = undefined;
    await this.checkingSeals?.catch(() => undefined);
    await this.sealNow();
  }

  private async postUnseal(): Promise<void> {
    const meta = await this.barrier.get("core/cluster");
    if (meta) this.clusterId = (JSON.parse(meta.toString()) as { id: string }).id;
    else {
      this.clusterId = randomUUID();
      await this.barrier.put("core/cluster", Buffer.from(JSON.stringify({ id: this.clusterId, name: this.clusterName })));
    }
    // Before any namespace or engine can ask for a key: the seal keys are reserved first.
    await this.custody?.reserveSealKeys(this.seal.sealKeyUris());
    await this.namespaces.setup();
    const custody = this.custody;
    await this.audit.setup(
      this.barrier,
      (req) => this.auditKeysOf(req),
      // Checkpoints are signed in the HSM when there is one; an HSM that is away leaves them unsigned.
      async () => (custody ? custody.systemSigner("audit-checkpoint").catch(() => undefined) : undefined),
    );
    this.activeSince = new Date();
  }

  /** A mount's keys that audit devices record in plain text (tune audit_non_hmac_*_keys). */
  private auditKeysOf(req: Pick<Request, "namespace" | "mountAccessor">): MountAuditKeys {
    const m = this.namespaces.get(req.namespace.id)?.mountByAccessor(req.mountAccessor);
    return { request: new Set(m?.config.auditNonHmacRequestKeys ?? []), response: new Set(m?.config.auditNonHmacResponseKeys ?? []) };
  }

  /** Seals (sys/seal). After a manual seal the server does not unseal itself: operators unseal it. */
  async sealNow(): Promise<void> {
    this.clearRetry();
    await this.audit.teardown();
    await this.namespaces.teardown();
    this.custody?.reset();
    this.barrier.seal();
    this.seal.resetProgress();
    this.rootGeneration.cancel();
    zero(this.rootKey);
    this.rootKey = undefined;
    this.activeSince = undefined;
  }

  /** Shares an operator must present for root generation: the unseal or the recovery threshold. */
  operatorThreshold(): number | undefined {
    const config = this.seal.sealConfig;
    return config ? operatorShares(config).threshold : undefined;
  }

  /** Checks operator shares against the stored key material and the live root key; does not unseal. */
  async verifyOperatorShares(shares: Buffer[]): Promise<void> {
    if (!this.rootKey) throw sealedError();
    const rootKey = await this.seal.rootKeyForShares(shares);
    try {
      const live = this.rootKey; // sealed meanwhile?
      if (!live) throw sealedError();
      // A copy left from another server (storage restored elsewhere) must not authorise a token here.
      if (rootKey.length !== live.length || !timingSafeEqual(rootKey, live)) {
        throw new ArcaError("invalid_request", "invalid key: the keys given do not open this server");
      }
    } finally {
      zero(rootKey);
    }
  }

  /** A new root token, as at init (root generation). */
  async createRootToken(): Promise<string> {
    if (this.sealed) throw sealedError();
    const { token } = await this.root.tokens.create({ policies: ["root"], path: "auth/token/root", displayName: "root" });
    return token;
  }

  /** Rotates the barrier keyring (sys/rotate). */
  async rotateKeyring(): Promise<ReturnType<Barrier["keyStatus"]>> {
    if (!this.rootKey) throw sealedError();
    return this.barrier.rotate(this.rootKey);
  }

  async setKeyringRotationConfig(config: Parameters<Barrier["setRotationConfig"]>[1]): Promise<void> {
    if (!this.rootKey) throw sealedError();
    await this.barrier.setRotationConfig(this.rootKey, config);
  }

  // ---- engines ------------------------------------------------------------------------------------

  /** A backend for a mount in `ns` (namespaces call this when they build their routers). */
  createBackend(entry: MountEntry, ns: Namespace): LogicalBackend {
    const own = this.coreBackends.get(entry.type);
    if (own) return own(entry, ns, this);
    const factory = this.engines.get(entry.type);
    if (!factory) throw new ArcaError("invalid_request", `plugin not found in the catalog: ${entry.type}`);
    const view = mountView({
      ns,
      entry,
      keyManager: this.keysFor(entry, ns),
      serverLeaseBounds: { max: this.maxLeaseTtl, def: this.defaultLeaseTtl },
      logger: this.logger,
      limits: this.limits,
      descendant: (relPath) => this.namespaces.find(ns, relPath),
    });
    return factory(entry, view);
  }

  /** The server-wide lease bounds, then a mount's tune over them (core backends; engines ask their view). */
  leaseBoundsOf(ns: Namespace, mount: MountEntry): LeaseBounds {
    return effectiveLeaseBounds(ns.mountByUuid(mount.uuid) ?? mount, { max: this.maxLeaseTtl, def: this.defaultLeaseTtl });
  }

  /** The key manager a mount's engine may use: HSM keys it created or was granted, nothing else. */
  keysFor(mount: MountEntry, ns: Namespace): KeyManager | undefined {
    return this.custody?.forMount(ns, mount);
  }

  hasEngine(type: string): boolean {
    return this.engines.has(type) || this.coreBackends.has(type);
  }

  // ---- the request pipeline ----------------------------------------------------------------------

  newRequest(init: Partial<Request> & Pick<Request, "operation" | "path">): Request {
    return {
      id: randomUUID(),
      data: {},
      clientToken: undefined,
      caller: undefined,
      remoteAddress: "",
      wrapTtl: undefined,
      mountPoint: "",
      mountPath: "",
      mountAccessor: "",
      mountType: "",
      namespace: ROOT_NAMESPACE,
      ...init,
    };
  }

  /**
   * Resolves a client token to a live entry and its namespace (from the token's id suffix), or undefined.
   * A token bound to CIDR blocks is only valid from an address inside them (and never where the caller's
   * address is not known).
   */
  async resolveToken(token: string | undefined, remoteAddress?: string): Promise<ResolvedToken | undefined> {
    if (this.sealed) throw sealedError();
    if (!token) return undefined;
    const ns = this.namespaces.get(tokenNamespaceId(token));
    if (!ns || ns.sealed) return undefined;
    const entry = await ns.tokens.lookup(token);
    if (!entry || entry.numUses < 0) return undefined;
    if (entry.boundCidrs && entry.boundCidrs.length > 0 && (remoteAddress === undefined || !addressInCidrs(remoteAddress, entry.boundCidrs))) return undefined;
    return { entry, ns };
  }

  /** The namespace whose token store holds the token behind `accessor` (by its suffix). */
  namespaceOfAccessor(accessor: string): Namespace | undefined {
    const ns = this.namespaces.get(accessorNamespaceId(accessor));
    return ns && !ns.sealed ? ns : undefined;
  }

  /** The caller's live token and its namespace (for handlers that look the caller's token up again). */
  async resolveCaller(caller: Caller | undefined): Promise<ResolvedToken | undefined> {
    if (!caller) return undefined;
    const ns = this.namespaces.get(caller.namespace.id);
    if (!ns || ns.sealed) return undefined;
    const entry = await ns.tokens.lookupById(caller.tokenEntryId);
    return entry ? { entry, ns } : undefined;
  }

  /**
   * What a token may do in namespace `ns`: its policies (from its own namespace) and the prefix that turns
   * a path of `ns` into a path of the token's namespace. Undefined when the token cannot act in `ns`.
   */
  async aclIn(token: ResolvedToken, ns: Namespace): Promise<{ acl: ACL; prefix: string } | undefined> {
    if (!token.ns.contains(ns)) return undefined;
    // A batch token is valid in its own namespace only (its key and id bind it there; so does this).
    if (token.entry.type === "batch" && token.ns !== ns) return undefined;
    return { acl: await token.ns.policies.aclFor(token.entry.policies), prefix: ns.path.slice(token.ns.path.length) };
  }

  /**
   * The request pipeline. Every wire format calls this and nothing else to reach an engine.
   * `namespaceHeader` is X-Vault-Namespace; with the path it decides the namespace the request runs in.
   */
  async handleRequest(req: Request, namespaceHeader?: string): Promise<Response | undefined> {
    // A reload (HA) seals and unseals in place: requests arriving meanwhile wait for it, not fail.
    if (this.reloading) await this.reloading.catch(() => undefined);
    return this.pipeline.handle(req, namespaceHeader);
  }
}
