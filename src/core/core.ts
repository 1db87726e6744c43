/**
 * The core: seal state, barrier, mount tables and the one request pipeline every wire format uses:
 *
 *   sealed? → route to mount → resolve token → existence check (create vs update) → ACL (+ sudo)
 *     → count token use → audit request → engine → audit response
 *
 * Subsystems live in their own modules; this file wires them and owns the lifecycle.
 */
import { randomUUID, timingSafeEqual } from "node:crypto";
import { Barrier } from "./barrier.js";
import { ArcaError, permissionDenied, sealedError, unsupportedPath } from "./errors.js";
import type { LogicalBackend } from "./framework/backend.js";
import type { PathMatch } from "./framework/path.js";
import type { Operation, Request, Response } from "./framework/request.js";
import { dataPrefix, loadTable, newMount, routePath, saveTable, type MountEntry, type MountTable } from "./mounts.js";
import { Router, type RouteMatch } from "./router.js";
import { TokenStore, type TokenEntry } from "./tokens/token-store.js";
import { StorageView } from "./view.js";
import { DeviceAuditBroker, type MountAuditKeys } from "./audit/audit-broker.js";
import { MAX_WRAP_TTL, ResponseWrapper } from "./wrapping.js";
import type { PolicyStore } from "./policy/policy-store.js";
import { SealManager } from "../seal/seal-manager.js";
import { RootGeneration } from "../seal/generate-root.js";
import { operatorShares } from "../seal/seal.js";
import type { AutoSeal, ConfiguredSeal } from "../seal/seal.js";
import type { Storage } from "../storage/storage.js";
import { zero } from "../crypto/aead.js";
import type { KeyManager } from "../hsm/key-manager.js";
import { addressInCidrs } from "./cidr.js";

/** Builds the backend for a mount. `core` gives system-level backends what they need. */
export type BackendFactory = (mount: MountEntry, core: Core) => LogicalBackend;

export interface CoreOptions {
  storage: Storage;
  engines: Map<string, BackendFactory>;
  policies: (barrierView: StorageView) => PolicyStore;
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

const WRITE_OPS = new Set<Operation>(["create", "update", "patch"]);

/** A request the pipeline let through to its engine. */
interface Admitted {
  route: RouteMatch;
  match: PathMatch;
  entry: TokenEntry | undefined;
}
export const DEFAULT_MAX_LEASE_TTL = 32 * 24 * 3600; // OpenBao's 768h

export class Core {
  readonly storage: Storage;
  readonly barrier: Barrier;
  readonly seal: SealManager;
  readonly tokens: TokenStore;
  readonly policies: PolicyStore;
  readonly router = new Router();
  readonly clusterName: string;
  clusterId = "";
  readonly defaultLeaseTtl: number;
  readonly maxLeaseTtl: number;
  readonly audit = new DeviceAuditBroker();
  readonly wrapper: ResponseWrapper;
  readonly keyManager: KeyManager | undefined;
  /** The root-token generation attempt (sys/generate-root/*), authorised by operator shares. */
  readonly rootGeneration: RootGeneration = new RootGeneration(this);
  private readonly engines: Map<string, BackendFactory>;
  private rootKey: Buffer | undefined;
  private mountEntries: MountEntry[] = [];
  private activeSince: Date | undefined;
  private readonly sealTiming: SealTiming;
  private retryTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private checkingSeals: Promise<void> | undefined;
  private shutDown = false;

  constructor(opts: CoreOptions) {
    this.storage = opts.storage;
    this.barrier = new Barrier(opts.storage);
    this.seal = new SealManager(opts.storage, opts.seals ?? opts.autoSeals ?? []);
    this.sealTiming = { ...DEFAULT_SEAL_TIMING, ...opts.sealTiming };
    this.tokens = new TokenStore(new StorageView(this.barrier, "sys/token/"));
    this.policies = opts.policies(new StorageView(this.barrier, "sys/policy/"));
    this.wrapper = new ResponseWrapper(this.barrier, this.tokens);
    // A revoked token's cubbyhole goes with it (OpenBao's cubbyhole destroyer).
    this.tokens.onRevoke(async (ids) => {
      const cubbyhole = this.router.get("cubbyhole/");
      if (!cubbyhole) return;
      for (const id of ids) await cubbyhole.storage.sub(`${id}/`).clear();
    });
    this.engines = opts.engines;
    this.keyManager = opts.keyManager;
    this.clusterName = opts.clusterName ?? `arca-cluster-${randomUUID().slice(0, 8)}`;
    this.defaultLeaseTtl = opts.defaultLeaseTtl ?? DEFAULT_MAX_LEASE_TTL;
    this.maxLeaseTtl = opts.maxLeaseTtl ?? DEFAULT_MAX_LEASE_TTL;
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
  async initialize(req: InitRequest, opts: { keepUnsealed?: boolean; rootTokenId?: string } = {}): Promise<InitResponse> {
    const { rootKey, keys, recoveryKeys, auto } = await this.seal.initialize(req);
    await this.barrier.initialize(rootKey);
    this.rootKey = rootKey;
    await this.postUnseal(true);
    const { token } = await this.tokens.create({
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
    await this.postUnseal(false);
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

  /** Stops background seal work, seals, and releases the seals' HSM sessions (server stop). */
  async shutdown(): Promise<void> {
    this.shutDown = true;
    this.clearRetry();
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = undefined;
    await this.checkingSeals?.catch(() => undefined);
    await this.sealNow();
  }

  private async postUnseal(firstTime: boolean): Promise<void> {
    const meta = await this.barrier.get("core/cluster");
    if (meta) this.clusterId = (JSON.parse(meta.toString()) as { id: string }).id;
    else {
      this.clusterId = randomUUID();
      await this.barrier.put("core/cluster", Buffer.from(JSON.stringify({ id: this.clusterId, name: this.clusterName })));
    }
    await this.tokens.setup();
    await this.policies.setup();
    this.mountEntries = [...(await loadTable(this.barrier, "secret")), ...(await loadTable(this.barrier, "auth"))];
    // Built-in mounts every server has; added on first unseal, and to older servers that predate one.
    const builtins = [
      newMount("secret", "sys/", "system", { description: "system endpoints used for control, policy and debugging", builtin: true }),
      newMount("secret", "cubbyhole/", "cubbyhole", { description: "per-token private secret storage", builtin: true }),
      newMount("auth", "token/", "token", { description: "token based credentials", builtin: true }),
    ].filter((m) => this.engines.has(m.type) && !this.mountEntries.some((e) => e.table === m.table && e.path === m.path));
    if (firstTime || builtins.length > 0) {
      this.mountEntries = [...builtins, ...this.mountEntries];
      await saveTable(this.barrier, "secret", this.mountEntries);
      await saveTable(this.barrier, "auth", this.mountEntries);
    }
    this.router.clear();
    for (const entry of this.mountEntries) this.router.add(this.instantiate(entry));
    await this.audit.setup(this.barrier, (accessor) => this.auditKeysOf(accessor));
    this.activeSince = new Date();
  }

  /** A mount's keys that audit devices record in plain text (tune audit_non_hmac_*_keys). */
  private auditKeysOf(accessor: string): MountAuditKeys {
    const m = this.mountEntries.find((e) => e.accessor === accessor);
    return { request: new Set(m?.config.auditNonHmacRequestKeys ?? []), response: new Set(m?.config.auditNonHmacResponseKeys ?? []) };
  }

  /** Seals (sys/seal). After a manual seal the server does not unseal itself: operators unseal it. */
  async sealNow(): Promise<void> {
    this.clearRetry();
    this.router.clear();
    await this.audit.teardown();
    this.tokens.teardown();
    this.policies.teardown();
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
    const { token } = await this.tokens.create({ policies: ["root"], path: "auth/token/root", displayName: "root" });
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

  // ---- mounts ------------------------------------------------------------------------------------

  private instantiate(entry: MountEntry): { entry: MountEntry; backend: LogicalBackend; storage: StorageView } {
    const factory = this.engines.get(entry.type);
    if (!factory) throw new ArcaError("invalid_request", `plugin not found in the catalog: ${entry.type}`);
    return { entry, backend: factory(entry, this), storage: new StorageView(this.barrier, dataPrefix(entry)) };
  }

  mounts(table: MountTable): MountEntry[] {
    return this.mountEntries.filter((m) => m.table === table);
  }

  hasEngine(type: string): boolean {
    return this.engines.has(type);
  }

  async mount(entry: MountEntry): Promise<void> {
    const route = routePath(entry);
    const clash = this.router.conflicts(route);
    if (clash) throw new ArcaError("invalid_request", `path is already in use at ${clash}`);
    const mounted = this.instantiate(entry);
    const next = [...this.mountEntries, entry];
    await saveTable(this.barrier, entry.table, next);
    this.mountEntries = next;
    this.router.add(mounted);
  }

  async unmount(table: MountTable, path: string): Promise<void> {
    const entry = this.mountEntries.find((m) => m.table === table && m.path === path);
    if (!entry) return;
    if (entry.builtin) throw new ArcaError("invalid_request", `cannot unmount "${routePath(entry)}"`);
    const next = this.mountEntries.filter((m) => m !== entry);
    await saveTable(this.barrier, table, next);
    this.mountEntries = next;
    const removed = this.router.remove(routePath(entry));
    await removed?.storage.clear();
  }

  async updateMount(entry: MountEntry): Promise<void> {
    this.mountEntries = this.mountEntries.map((m) => (m.uuid === entry.uuid ? entry : m));
    await saveTable(this.barrier, entry.table, this.mountEntries);
    const route = routePath(entry);
    const mounted = this.router.get(route);
    if (mounted) mounted.entry = entry;
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
      ...init,
    };
  }

  /**
   * Resolves a client token to a live entry, or undefined. A token bound to CIDR blocks is only valid
   * from an address inside them (and never where the caller's address is not known).
   */
  async resolveToken(token: string | undefined, remoteAddress?: string): Promise<TokenEntry | undefined> {
    if (this.sealed) throw sealedError();
    if (!token) return undefined;
    const entry = await this.tokens.lookup(token);
    if (!entry || entry.numUses < 0) return undefined;
    if (entry.boundCidrs && entry.boundCidrs.length > 0 && (remoteAddress === undefined || !addressInCidrs(remoteAddress, entry.boundCidrs))) return undefined;
    return entry;
  }

  /** The request pipeline. Every wire format calls this and nothing else to reach an engine. */
  async handleRequest(req: Request): Promise<Response | undefined> {
    if (this.sealed) throw sealedError();
    let admitted: Admitted;
    try {
      admitted = await this.admit(req);
    } catch (err) {
      // Refused requests are audited too, as OpenBao does: a denied attempt is what an auditor looks for.
      await this.audit.logRequest(req);
      await this.audit.logResponse(req, undefined, err);
      throw err;
    }
    const { route, match, entry } = admitted;

    await this.audit.logRequest(req);
    let resp: Response | undefined;
    try {
      resp = await route.backend.handle(req, match, route.storage);
      // X-Vault-Wrap-TTL: the caller gets a single-use token instead of the response.
      if (req.wrapTtl !== undefined && req.wrapTtl > 0 && resp && !resp.raw && !resp.wrapInfo && (resp.data != null || resp.auth)) {
        resp = await this.wrapper.wrap(resp, req.wrapTtl, req.path);
      }
    } catch (err) {
      await this.audit.logResponse(req, undefined, err);
      throw err;
    } finally {
      if (entry) await this.tokens.revokeIfUsedUp(entry);
    }
    await this.audit.logResponse(req, resp, undefined);
    return resp;
  }

  /** Everything before the engine: route, token, create-or-update, policy, use count. Throws to refuse. */
  private async admit(req: Request): Promise<Admitted> {
    // Checked before anything runs: a wrap that cannot happen must not follow an executed write.
    if (req.wrapTtl !== undefined && (!Number.isSafeInteger(req.wrapTtl) || req.wrapTtl < 0 || req.wrapTtl > MAX_WRAP_TTL)) {
      throw new ArcaError("invalid_request", "wrapping TTL is out of range");
    }
    if (WRITE_OPS.has(req.operation) && req.path.endsWith("/")) {
      throw new ArcaError("invalid_request", "cannot write to a path ending in '/'");
    }
    const route = this.router.match(req.path);
    if (!route) throw new ArcaError("not_found", `no handler for route "${req.path.slice(0, 256)}". route entry not found.`);
    req.mountPoint = route.mountPoint;
    req.mountPath = route.relPath;
    req.mountAccessor = route.entry.accessor;
    req.mountType = route.entry.type;

    const { backend, storage } = route;
    // POST/PUT arrive as "update"; the path's existence check turns them into "create" when new.
    const probeOp = req.operation === "update" ? "create" : req.operation;
    const match = backend.route(route.relPath);
    if (!match) throw unsupportedPath();
    if (!backend.supports(match, probeOp) && !backend.supports(match, req.operation)) {
      throw new ArcaError("unsupported_operation", "unsupported operation");
    }

    let entry: TokenEntry | undefined;
    if (!backend.isUnauthenticated(route.relPath)) {
      entry = await this.resolveToken(req.clientToken, req.remoteAddress);
      if (!entry) throw permissionDenied();
      req.caller = this.tokens.toCaller(entry);
      if (req.operation === "update" || req.operation === "create") {
        const exists = await backend.exists(req, match, storage);
        req.operation = exists === false ? "create" : "update";
        if (!backend.supports(match, req.operation)) throw new ArcaError("unsupported_operation", "unsupported operation");
      }
      await this.authorize(req, route, entry);
      if (!(await this.tokens.use(entry))) throw permissionDenied();
    } else if (req.clientToken) {
      // Unauthenticated paths still learn who is calling when a valid token is sent (e.g. login audit).
      entry = await this.resolveToken(req.clientToken, req.remoteAddress);
      if (entry) req.caller = this.tokens.toCaller(entry);
    }
    if (!backend.supports(match, req.operation)) throw new ArcaError("unsupported_operation", "unsupported operation");
    return { route, match, entry };
  }

  private async authorize(req: Request, route: RouteMatch, entry: TokenEntry): Promise<void> {
    const acl = await this.policies.aclFor(entry.policies);
    const result = acl.check({ path: req.path, operation: req.operation, data: req.data, wrapTtl: req.wrapTtl });
    if (!result.allowed) throw permissionDenied();
    if (route.backend.isRootPath(route.relPath) && !result.sudo) throw permissionDenied();
  }
}
