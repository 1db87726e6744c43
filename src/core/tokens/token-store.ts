/**
 * The token store. Tokens look like OpenBao's (`hvs.` + 24 base62) and are never stored: entries are
 * keyed by HMAC-SHA256(per-cluster salt, token). Layout below the store's view (barrier `sys/token/`):
 *
 *   salt                      32 random bytes
 *   batch-key                 32 random bytes: AES-256 key of this namespace's batch tokens (batch-token-keeper.ts)
 *   id/<hash>                 TokenEntry (JSON)
 *   accessor/<hash>           { id: <token hash>, accessor? }   (accessors are hashed too; `accessor`
 *                             is kept so LIST auth/token/accessors needs no entry read; older rows lack it)
 *   parent/<parent hash>/<child hash>                  revocation tree
 *   expire/<minute>/<hash>    expiry index, time-ordered (see expiry-index.ts)
 *   expire-index              marker: the index covers every token (written once, after a backfill)
 *   roles/<name>              TokenRole (JSON)
 *
 * Resolved entries are cached in memory; every write goes through this class, which drops the cache
 * entry (a later HA node will also drop it on a storage invalidation for the same key).
 *
 * Expiry: a token is valid only while it and every ancestor are unexpired. Lookups check the whole
 * parent chain (cached entries, so a few map reads), which refuses a child the moment its parent expires
 * even though nothing has revoked it yet; the expiration job (`revokeExpired`, run by the server's
 * scheduler) then revokes each expired token with its subtree, and its cubbyhole through the revoke hooks.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { ArcaError } from "../../common/errors.js";
import { randomBase62 } from "../../common/ids.js";
import { getJson, putJson } from "../view.js";
import { EXPIRY_PREFIX, dueBuckets, expiryKey } from "./expiry-index.js";
import { ROOT_NAMESPACE, type Caller, type NamespaceRef } from "../framework/request.js";
import type { KeyValueStore, KeyValueTxn } from "../../storage/storage.js";
import type { CreateTokenParams, TidyResult, TokenEntry, TokenRole } from "./token-entry.js";
import { BATCH_TOKEN_PREFIX } from "./batch-token.js";
import { BatchTokenKeeper } from "./batch-token-keeper.js";

export const TOKEN_PREFIX = "hvs.";
const CACHE_LIMIT = 100_000;
/** The earlier of two expiry times, where 0 means "never". */
function earliest(a: number, b: number): number {
  return a === 0 ? b : b === 0 ? a : Math.min(a, b);
}

/** Live tokens whose salted hash is remembered (see `lookup`). */
const HASH_MEMO_LIMIT = 10_000;
/** Marks a store whose expiry index covers every token (older stores are backfilled once at setup). */
const EXPIRY_INDEX_MARKER = "expire-index";
/** Parent chains deeper than this are not followed further (they cannot occur; it bounds a corrupt store). */
const MAX_CHAIN_DEPTH = 1000;

export class TokenStore {
  private salt: Buffer | undefined;
  private readonly batch: BatchTokenKeeper;
  private readonly cache = new Map<string, TokenEntry>();
  /**
   * token → its salted hash, for tokens that resolved to an entry. An HMAC costs ~10-15 µs in a loaded
   * server (cold OpenSSL caches), a large share of a small request. It is a pure function of the token
   * and the salt, so the memo changes no decision; it is dropped with the salt (setup, seal).
   */
  private readonly hashMemo = new Map<string, string>();
  private readonly revokeHooks: Array<(ids: string[]) => Promise<void>> = [];
  /** The open token store of another namespace, by id (see `linkStores`). */
  private otherStore: (namespaceId: string) => TokenStore | undefined = () => undefined;

  /** ".<namespace id>" in a namespace: tokens and accessors say where they belong, as OpenBao's do. */
  private readonly suffix: string;

  constructor(
    private readonly store: KeyValueStore,
    readonly namespace: NamespaceRef = ROOT_NAMESPACE,
  ) {
    this.suffix = namespace.id === ROOT_NAMESPACE.id ? "" : `.${namespace.id}`;
    this.batch = new BatchTokenKeeper(namespace.id, this.suffix, HASH_MEMO_LIMIT);
  }

  /** Loads (or creates) the salt. Called after unseal. */
  async setup(): Promise<void> {
    let salt = await this.store.get("salt");
    if (!salt) {
      salt = randomBytes(32);
      await this.store.put("salt", salt);
    }
    this.salt = salt;
    await this.batch.setup(this.store);
    this.cache.clear();
    this.hashMemo.clear();
    await this.backfillExpiryIndex();
  }

  /**
   * Indexes the expiring tokens of a store written before the expiry index existed. Runs once: a full
   * read of the tokens, then the marker, so that later setups cost one read.
   */
  private async backfillExpiryIndex(): Promise<void> {
    if (await this.store.get(EXPIRY_INDEX_MARKER)) return;
    for (const id of await this.listAll("id/")) {
      const entry = await getJson<TokenEntry>(this.store, `id/${id}`);
      const key = entry ? expiryKey(entry) : undefined;
      if (key) await this.store.put(key, Buffer.alloc(0));
    }
    await this.store.put(EXPIRY_INDEX_MARKER, Buffer.from("1"));
  }

  /**
   * How this store reaches the stores of other namespaces, where a parent token may live. The resolver
   * answers undefined for a namespace that is unknown or sealed.
   */
  linkStores(resolve: (namespaceId: string) => TokenStore | undefined): void {
    this.otherStore = resolve;
  }

  /** Another server changed token entries (HA): resolved entries are read again. */
  dropCached(): void {
    this.cache.clear();
  }

  teardown(): void {
    this.salt?.fill(0);
    this.salt = undefined;
    this.batch.teardown();
    this.cache.clear();
    this.hashMemo.clear();
  }

  hash(value: string): string {
    if (!this.salt) throw new ArcaError("sealed", "Vault is sealed");
    return createHmac("sha256", this.salt).update(value).digest("hex");
  }

  async create(p: CreateTokenParams): Promise<{ token: string; entry: TokenEntry }> {
    if (p.id !== undefined) {
      if (p.id.includes(".") || p.id === "" || p.id.length > 256) throw new ArcaError("invalid_request", "custom token ID cannot contain \".\"");
    }
    if (p.type === "batch") return this.createBatch(p);
    const token = (p.id ?? TOKEN_PREFIX + randomBase62(24)) + this.suffix;
    const now = Date.now();
    const ttl = this.leaseTtl(p, now);
    const entry: TokenEntry = {
      id: this.hash(token),
      accessor: randomBase62(24) + this.suffix,
      ...this.entryFields(p, now, ttl),
      renewable: ttl > 0 && (p.renewable ?? true),
      type: "service",
    };
    await this.store.transaction(async (txn) => {
      if (await txn.get(`id/${entry.id}`)) throw new ArcaError("invalid_request", "cannot create a token with a duplicate ID");
      await putJson(txn, `id/${entry.id}`, entry);
      await putJson(txn, `accessor/${this.hash(entry.accessor)}`, { id: entry.id, accessor: entry.accessor });
      if (entry.parent) await txn.put(`parent/${entry.parent}/${entry.id}`, Buffer.alloc(0));
      const expiry = expiryKey(entry);
      if (expiry) await txn.put(expiry, Buffer.alloc(0));
    });
    return { token, entry };
  }

  /**
   * A batch token: nothing is stored, the token carries its entry sealed (batch-token.ts). It always
   * expires, has no accessor and is never renewable; the creator has refused what a batch token cannot
   * carry (num_uses, period, explicit max TTL, root).
   */
  private createBatch(p: CreateTokenParams): { token: string; entry: TokenEntry } {
    const now = Date.now();
    const ttl = this.leaseTtl(p, now);
    if (ttl === 0) throw new ArcaError("invalid_request", "batch tokens must have a TTL");
    const entry: TokenEntry = { id: "", accessor: "", ...this.entryFields(p, now, ttl), numUses: 0, explicitMaxTtl: 0, period: 0, renewable: false, type: "batch" };
    const token = this.batch.issue(entry, (t) => this.hash(t));
    return { token, entry };
  }

  /** The TTL a new token gets: its period or ttl, bounded by its explicit max, the max and its parent. */
  private leaseTtl(p: CreateTokenParams, now: number): number {
    let ttl = p.period && p.period > 0 ? p.period : (p.ttl ?? 0);
    if (p.explicitMaxTtl && p.explicitMaxTtl > 0 && (ttl === 0 || ttl > p.explicitMaxTtl)) ttl = p.explicitMaxTtl;
    if (p.maxTtl && p.maxTtl > 0 && (ttl === 0 || ttl > p.maxTtl) && !(p.policies.includes("root") && !p.parent)) ttl = p.maxTtl;
    // A child token never outlives its parent.
    if (p.parent && !p.orphan && p.parent.expireTime > 0) {
      const left = Math.floor((p.parent.expireTime - now) / 1000);
      if (ttl === 0 || ttl > left) ttl = Math.max(left, 1);
    }
    return ttl;
  }

  /** The fields a new entry takes from its parameters, whatever its type. */
  private entryFields(p: CreateTokenParams, now: number, ttl: number): Omit<TokenEntry, "id" | "accessor" | "renewable" | "type"> {
    return {
      parent: p.parent && !p.orphan ? p.parent.id : "",
      ...(p.parent && !p.orphan && p.parentNamespace && p.parentNamespace !== this.namespace.id ? { parentNamespace: p.parentNamespace } : {}),
      policies: [...new Set(p.policies)].sort(),
      path: p.path,
      meta: p.meta ?? {},
      displayName: p.displayName ?? "token",
      numUses: p.numUses ?? 0,
      creationTime: Math.floor(now / 1000),
      ttl,
      creationTtl: ttl,
      explicitMaxTtl: p.explicitMaxTtl ?? 0,
      period: p.period ?? 0,
      expireTime: ttl > 0 ? now + ttl * 1000 : 0,
      issueTime: now,
      entityId: "",
      noDefaultPolicy: p.noDefaultPolicy ?? false,
      ...(p.boundCidrs && p.boundCidrs.length > 0 ? { boundCidrs: [...p.boundCidrs] } : {}),
      ...(p.role ? { role: p.role } : {}),
    };
  }

  /** Resolves a client token to its live entry (undefined when unknown, expired or used up). */
  async lookup(token: string): Promise<TokenEntry | undefined> {
    if (!token) return undefined;
    if (token.startsWith(BATCH_TOKEN_PREFIX)) return this.lookupBatch(token);
    if (token.length > 512) return undefined;
    const memo = this.hashMemo.get(token);
    if (memo !== undefined) {
      if (!this.salt) throw new ArcaError("sealed", "Vault is sealed");
      return this.lookupById(memo);
    }
    const salt = this.salt;
    const id = this.hash(token);
    const entry = await this.lookupById(id);
    // Only tokens that resolved are remembered (unknown ones cannot fill the memo), and only under the
    // salt they were hashed with (not if the store was torn down or set up again meanwhile).
    if (entry && this.salt === salt) {
      if (this.hashMemo.size >= HASH_MEMO_LIMIT) this.hashMemo.clear();
      this.hashMemo.set(token, id);
    }
    return entry;
  }

  /**
   * The live entry behind a token hash: undefined when unknown, or when it or any ancestor has expired.
   * An expired token found here is revoked with its subtree at once (the expiration job would do it on
   * its next run; doing it now costs the same and frees the rows earlier).
   */
  async lookupById(id: string): Promise<TokenEntry | undefined> {
    const entry = await this.read(id);
    if (!entry) {
      const batch = this.batch.remembered(id);
      return batch ? this.liveBatch(batch) : undefined;
    }
    const chain = await this.inspectChain(entry, Date.now());
    if (chain.revoke) await this.revokeTree(chain.revoke);
    return chain.live ? entry : undefined;
  }

  /** A batch token of this namespace while it is genuine, unexpired and its parent (if any) is live. */
  private async lookupBatch(token: string): Promise<TokenEntry | undefined> {
    const entry = this.batch.open(token, (t) => this.hash(t));
    return entry ? this.liveBatch(entry) : undefined;
  }

  /** A batch entry while it is unexpired and its parent (if any) is live; remembered by id for `lookupById`. */
  private async liveBatch(entry: TokenEntry): Promise<TokenEntry | undefined> {
    if (entry.expireTime <= Date.now()) {
      this.batch.forget(entry.id);
      return undefined;
    }
    if (entry.parent) {
      const store = entry.parentNamespace !== undefined && entry.parentNamespace !== this.namespace.id ? this.otherStore(entry.parentNamespace) : this;
      if (!store || !(await store.lookupById(entry.parent))) {
        this.batch.forget(entry.id);
        return undefined;
      }
    }
    this.batch.remember(entry);
    return entry;
  }

  /** A stored entry, through the cache; no validity check. */
  private async read(id: string): Promise<TokenEntry | undefined> {
    let entry = this.cache.get(id);
    if (!entry) {
      entry = await getJson<TokenEntry>(this.store, `id/${id}`);
      if (!entry) return undefined;
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(id, entry);
    }
    return entry;
  }

  /**
   * Whether `entry` and every ancestor are live at `now`, and what to revoke when not: the topmost token
   * of this store in the chain that is dead (revoking it takes the most of what is dead in one go).
   *
   * A parent in this store that is missing ends the chain: a revocation deletes children with their
   * parent in one transaction, so that means an interrupted revocation, which tidy turns into an orphan
   * as OpenBao's tidy does. A parent in another namespace's store is different: revoking it never reaches
   * children here, so a missing one was revoked and takes the chain below it along. When that store is
   * sealed, the chain is refused but nothing is revoked (the parent may well be alive).
   */
  private async inspectChain(entry: TokenEntry, now: number): Promise<{ live: boolean; revoke?: string }> {
    let revoke: string | undefined;
    let cur: TokenEntry = entry;
    for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
      if (cur.expireTime > 0 && cur.expireTime <= now) revoke = cur.id;
      if (!cur.parent) break;
      if (cur.parentNamespace !== undefined && cur.parentNamespace !== this.namespace.id) {
        const store = this.otherStore(cur.parentNamespace);
        if (!store) return { live: false, ...(revoke ? { revoke } : {}) };
        // The other store checks (and cleans up) the rest of the chain itself.
        if (!(await store.lookupById(cur.parent))) revoke = cur.id;
        break;
      }
      const parent = await this.read(cur.parent);
      if (!parent) break;
      cur = parent;
    }
    return revoke ? { live: false, revoke } : { live: true };
  }

  /**
   * The earliest expiry (Unix ms) among `entry`'s ancestors, 0 when none of them expires. A child
   * renewed past it would only be refused then, so renewal caps at it (creation caps at the parent's).
   */
  async ancestorsExpiry(entry: TokenEntry, depth = 0): Promise<number> {
    if (!entry.parent || depth >= MAX_CHAIN_DEPTH) return 0;
    const store = entry.parentNamespace !== undefined && entry.parentNamespace !== this.namespace.id ? this.otherStore(entry.parentNamespace) : this;
    const parent = store ? await store.read(entry.parent) : undefined;
    return parent && store ? earliest(parent.expireTime, await store.ancestorsExpiry(parent, depth + 1)) : 0;
  }

  async lookupByAccessor(accessor: string): Promise<TokenEntry | undefined> {
    if (!accessor || accessor.length > 256) return undefined;
    const idx = await getJson<{ id: string }>(this.store, `accessor/${this.hash(accessor)}`);
    return idx ? this.lookupById(idx.id) : undefined;
  }

  /** Checks that `token` is the one behind `entry`, in constant time. */
  matches(token: string, entry: TokenEntry): boolean {
    const a = Buffer.from(this.hash(token), "hex");
    const b = Buffer.from(entry.id, "hex");
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /**
   * Counts one use of a limited-use token. Returns false when no use was left. A token whose last use
   * this was is revoked once the request is done (see `revokeIfUsedUp`).
   */
  async use(entry: TokenEntry): Promise<boolean> {
    if (entry.numUses === 0) return true;
    return this.store.transaction(async (txn) => {
      const cur = await getJson<TokenEntry>(txn, `id/${entry.id}`);
      if (!cur || cur.numUses <= 0) return false;
      cur.numUses -= 1;
      await putJson(txn, `id/${entry.id}`, cur);
      this.cache.delete(entry.id);
      entry.numUses = cur.numUses;
      // -1 marks "used up": the entry stays only until the current request finishes.
      if (cur.numUses === 0) {
        cur.numUses = -1;
        await putJson(txn, `id/${entry.id}`, cur);
        entry.numUses = -1;
      }
      return true;
    });
  }

  async revokeIfUsedUp(entry: TokenEntry): Promise<void> {
    if (entry.numUses === -1) await this.revokeTree(entry.id);
  }

  /** Writes a changed entry; when its expiry moved, its expiry index row moves with it. */
  async update(entry: TokenEntry): Promise<void> {
    await this.store.transaction(async (txn) => {
      const before = await getJson<TokenEntry>(txn, `id/${entry.id}`);
      // Revoked meanwhile: writing it back would resurrect it without its index rows.
      if (!before) return;
      await putJson(txn, `id/${entry.id}`, entry);
      const oldKey = expiryKey(before);
      const newKey = expiryKey(entry);
      if (oldKey !== newKey) {
        if (oldKey) await txn.delete(oldKey);
        if (newKey) await txn.put(newKey, Buffer.alloc(0));
      }
    });
    this.cache.delete(entry.id);
  }

  /** Revokes a token and, recursively, every child it created. */
  async revokeTree(id: string): Promise<void> {
    const revoked: string[] = [];
    await this.store.transaction(async (txn) => this.revokeIn(txn, id, true, revoked));
    await this.afterRevoke(revoked);
  }

  /** Revokes a token alone; its children become orphans. */
  async revokeOrphan(id: string): Promise<void> {
    const revoked: string[] = [];
    await this.store.transaction(async (txn) => this.revokeIn(txn, id, false, revoked));
    await this.afterRevoke(revoked);
  }

  /** Called with the ids of revoked tokens once the revocation is committed (e.g. to empty cubbyholes). */
  onRevoke(hook: (ids: string[]) => Promise<void>): void {
    this.revokeHooks.push(hook);
  }

  private async afterRevoke(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    // A revoked token is not kept in memory any longer than it must be.
    if (this.hashMemo.size > 0) {
      const gone = new Set(ids);
      for (const [token, id] of this.hashMemo) if (gone.has(id)) this.hashMemo.delete(token);
    }
    for (const hook of this.revokeHooks) await hook(ids);
  }

  private async revokeIn(txn: KeyValueTxn, id: string, recursive: boolean, revoked: string[]): Promise<void> {
    revoked.push(id);
    const entry = await getJson<TokenEntry>(txn, `id/${id}`);
    const children = await txn.list(`parent/${id}/`);
    for (const child of children) {
      await txn.delete(`parent/${id}/${child}`);
      if (recursive) await this.revokeIn(txn, child, true, revoked);
      else {
        const c = await getJson<TokenEntry>(txn, `id/${child}`);
        if (c) {
          c.parent = "";
          await putJson(txn, `id/${child}`, c);
          this.cache.delete(child);
        }
      }
    }
    if (entry) {
      await txn.delete(`accessor/${this.hash(entry.accessor)}`);
      if (entry.parent) await txn.delete(`parent/${entry.parent}/${id}`);
      const expiry = expiryKey(entry);
      if (expiry) await txn.delete(expiry);
    }
    await txn.delete(`id/${id}`);
    this.cache.delete(id);
  }

  /**
   * Extends a token's lease by `increment` seconds (or its period / creation TTL), bounded by its
   * explicit max TTL and `maxTtl`. Returns the new TTL in seconds.
   */
  async renew(entry: TokenEntry, increment: number, maxTtl = 0): Promise<number> {
    if (!entry.renewable || entry.expireTime === 0) throw new ArcaError("invalid_request", "lease is not renewable");
    const now = Date.now();
    let ttl = entry.period > 0 ? entry.period : increment > 0 ? increment : entry.creationTtl;
    if (maxTtl > 0 && ttl > maxTtl) ttl = maxTtl;
    if (entry.explicitMaxTtl > 0) {
      const hardEnd = entry.creationTime * 1000 + entry.explicitMaxTtl * 1000;
      ttl = Math.min(ttl, Math.floor((hardEnd - now) / 1000));
    }
    if (ttl <= 0) throw new ArcaError("invalid_request", "past the max TTL, cannot renew");
    entry.ttl = ttl;
    entry.expireTime = now + ttl * 1000;
    entry.issueTime = now;
    await this.update(entry);
    return ttl;
  }

  /**
   * Sets a new lease of `ttl` seconds from now, as OpenBao's expiration manager does on renewal: the
   * issue time stays the creation time (explicit max TTLs count from it); the renewal time is recorded.
   * The caller has already bounded `ttl`.
   */
  async extendLease(entry: TokenEntry, ttl: number): Promise<void> {
    const now = Date.now();
    entry.ttl = ttl;
    entry.expireTime = now + ttl * 1000;
    entry.lastRenewalTime = now;
    await this.update(entry);
  }

  /**
   * Accessors of all stored tokens (for LIST auth/token/accessors). Index rows whose token is gone are
   * reported as `dangling` (tidy removes them).
   */
  async listAccessors(): Promise<{ accessors: string[]; dangling: number }> {
    const accessors: string[] = [];
    let dangling = 0;
    for (const key of await this.listAll("accessor/")) {
      const idx = await getJson<{ id: string; accessor?: string }>(this.store, `accessor/${key}`);
      if (!idx?.id) {
        dangling++;
        continue;
      }
      const accessor = idx.accessor ?? (await getJson<TokenEntry>(this.store, `id/${idx.id}`))?.accessor;
      if (accessor) accessors.push(accessor);
      else dangling++;
    }
    return { accessors, dangling };
  }

  // ---- roles ----------------------------------------------------------------------------------

  async readRole(name: string): Promise<TokenRole | undefined> {
    return getJson<TokenRole>(this.store, `roles/${name}`);
  }

  async writeRole(role: TokenRole): Promise<void> {
    await putJson(this.store, `roles/${role.name}`, role);
  }

  async deleteRole(name: string): Promise<void> {
    await this.store.delete(`roles/${name}`);
  }

  async listRoles(): Promise<string[]> {
    return this.listAll("roles/");
  }

  /**
   * Removes index rows left behind by interrupted revocations (OpenBao's token tidy): parent rows whose
   * parent or child is gone (a child whose parent is gone becomes an orphan, it is not revoked), accessor
   * rows without a token, and expired tokens nobody looked up since they expired.
   */
  async tidy(): Promise<TidyResult> {
    const result: TidyResult = { parentEntries: 0, orphaned: 0, accessorEntries: 0, expired: 0 };
    for (const parentDir of await this.listAll("parent/")) {
      const parentId = parentDir.replace(/\/$/, "");
      const parentExists = (await this.store.get(`id/${parentId}`)) !== undefined;
      for (const childId of await this.listAll(`parent/${parentDir}`)) {
        await this.store.transaction(async (txn) => {
          const child = await getJson<TokenEntry>(txn, `id/${childId}`);
          if (child && parentExists) return;
          // The parent lives in another namespace's store; lookups check it there.
          if (child?.parentNamespace !== undefined) return;
          if (child && child.parent === parentId) {
            child.parent = "";
            await putJson(txn, `id/${childId}`, child);
            this.cache.delete(childId);
            result.orphaned++;
          }
          await txn.delete(`parent/${parentId}/${childId}`);
          result.parentEntries++;
        });
      }
    }
    for (const key of await this.listAll("accessor/")) {
      const idx = await getJson<{ id: string }>(this.store, `accessor/${key}`);
      if (idx?.id && (await this.store.get(`id/${idx.id}`)) !== undefined) continue;
      await this.store.delete(`accessor/${key}`);
      result.accessorEntries++;
    }
    const now = Date.now();
    for (const id of await this.listAll("id/")) {
      const entry = await getJson<TokenEntry>(this.store, `id/${id}`);
      if (entry && entry.expireTime > 0 && entry.expireTime <= now) {
        await this.revokeTree(id);
        result.expired++;
      }
    }
    return result;
  }

  /**
   * The expiration manager's run: revokes every token that has expired at `now` (Unix ms), each with its
   * subtree, reading only the index buckets that are due. Index rows whose token is gone or now expires
   * later (a renewal that raced this run) are dropped. Returns how many tokens were revoked (subtrees
   * counted as one).
   */
  async revokeExpired(now: number): Promise<number> {
    let revoked = 0;
    for await (const bucket of dueBuckets(this.store, now)) {
      for (const id of await this.listAll(`${EXPIRY_PREFIX}${bucket}/`)) {
        const key = `${EXPIRY_PREFIX}${bucket}/${id}`;
        const ids: string[] = [];
        // Decided inside the transaction: a renewal committed since the listing wins.
        await this.store.transaction(async (txn) => {
          const entry = await getJson<TokenEntry>(txn, `id/${id}`);
          if (!entry || expiryKey(entry) !== key) await txn.delete(key);
          else if (entry.expireTime <= now) await this.revokeIn(txn, id, true, ids);
        });
        if (ids.length > 0) revoked++;
        await this.afterRevoke(ids);
      }
    }
    return revoked;
  }

  /** Every key directly below `prefix`, read page by page. */
  private async listAll(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.store.list(prefix, { after, limit: 1000 });
      out.push(...page);
      if (page.length < 1000) return out;
      after = page[page.length - 1];
    }
  }

  /** Number of stored tokens. */
  async countTokens(): Promise<number> {
    let n = 0;
    let after: string | undefined;
    for (;;) {
      const page = await this.store.list("id/", { after, limit: 1000 });
      n += page.length;
      if (page.length < 1000) return n;
      after = page[page.length - 1];
    }
  }

  toCaller(entry: TokenEntry): Caller {
    return {
      namespace: this.namespace,
      accessor: entry.accessor,
      tokenEntryId: entry.id,
      policies: entry.policies,
      displayName: entry.displayName,
      entityId: entry.entityId,
      metadata: entry.meta,
      tokenType: entry.type,
      expireTime: entry.expireTime > 0 ? new Date(entry.expireTime) : undefined,
    };
  }

  /** Seconds left, 0 for non-expiring tokens. */
  static ttlLeft(entry: TokenEntry): number {
    return entry.expireTime === 0 ? 0 : Math.max(0, Math.floor((entry.expireTime - Date.now()) / 1000));
  }
}
