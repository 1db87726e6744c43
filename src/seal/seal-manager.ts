/**
 * Init, unseal and seal health: produces the root key at initialisation and gets it back at unseal,
 * from operator shares (Shamir or recovery) or from any auto seal. It never stores the root key, the
 * unseal key or the recovery key in plaintext.
 *
 * Several seals at once: the root key is wrapped by every enabled seal; any one that unwraps its copy
 * unseals. A seal that failed (HSM away, key replaced) is reported, and its copy is written again once
 * it works (checkSeals). Seal migration follows OpenBao: when the configured seals no longer match the
 * stored ones (Shamir → auto, auto → Shamir, or a seal marked `disabled`), the server stays sealed with
 * `migration: true` until the operators unseal with the old key's shares and `migrate: true`; then
 * every enabled seal gets a copy, the old ones are removed, and unseal shares become recovery shares
 * (or the reverse). The operator key keeps its shares across the migration.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { AES256_KEY_BYTES, AuthenticationError, gcmOpen, gcmSeal, zero } from "../crypto/aead.js";
import { ArcaError } from "../common/errors.js";
import { combineShares, splitSecret } from "./shamir.js";
import {
  isAutoSealType,
  operatorShares,
  RECOVERY_PREFIX,
  SEAL_CONFIG_PATH,
  SEAL_PREFIX,
  SHAMIR,
  wrappedRecoveryKeyPath,
  wrappedRootKeyPath,
  type AutoSeal,
  type ConfiguredSeal,
  type SealConfig,
  type SealHealth,
} from "./seal.js";
import type { Storage } from "../storage/storage.js";

export interface InitParams {
  secretShares: number;
  secretThreshold: number;
  recoveryShares?: number;
  recoveryThreshold?: number;
}

export interface InitResult {
  rootKey: Buffer;
  /** Unseal-key shares (Shamir type). */
  keys: Buffer[];
  /** Recovery-key shares (auto seal type). */
  recoveryKeys: Buffer[];
  /** An auto seal holds the root key: the server may stay unsealed after init. */
  auto: boolean;
}

export type AutoUnsealOutcome = { rootKey: Buffer } | { rootKey?: undefined; retry: boolean; reason: string };

type AutoEntry = ConfiguredSeal & { auto: AutoSeal };

function validateShares(shares: number, threshold: number): void {
  if (shares < 1) throw new ArcaError("invalid_request", "shares must be at least one");
  if (threshold < 1) throw new ArcaError("invalid_request", "threshold must be at least one");
  if (shares > 1 && threshold === 1) throw new ArcaError("invalid_request", "threshold must be greater than one for multiple shares");
  if (shares > 255) throw new ArcaError("invalid_request", "shares must be less than 256");
  if (threshold > shares) throw new ArcaError("invalid_request", "threshold cannot be larger than shares");
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const IMPLICIT_SHAMIR: ConfiguredSeal = { name: SHAMIR, type: SHAMIR, disabled: false };

export class SealManager {
  private config: SealConfig | undefined;
  private pending: Buffer[] = [];
  private attemptNonce = "";
  private migrating = false;
  /** Last outcome per seal; `transient` when the failure only meant "its device is away". */
  private readonly health = new Map<string, { healthy: boolean; error?: string; transient?: boolean }>();
  private lastDeviceProbe = 0;
  private copies = new Set<string>();
  /** Why the last automatic unseal failed (shown while sealed). */
  private autoUnsealError: string | undefined;
  private readonly seals: ConfiguredSeal[];
  /** Seals whose copies were deleted because the configuration no longer has them (shown in warnings). */
  private readonly retiredNotes: string[] = [];

  /** `seals` as configured; none means one Shamir seal. Bare AutoSeals are taken as enabled seals. */
  constructor(
    private readonly storage: Storage,
    seals: ReadonlyArray<ConfiguredSeal | AutoSeal> = [],
  ) {
    this.seals = seals.map((s) => ("wrap" in s ? { name: s.name, type: s.type, disabled: false, auto: s } : s));
    const names = new Set<string>();
    for (const s of this.seals) {
      if (names.has(s.name)) throw new Error(`two seals are named "${s.name}"; give each a distinct name`);
      names.add(s.name);
    }
  }

  /** The seals that get a copy of the root key. */
  private enabledSeals(): ConfiguredSeal[] {
    const enabled = this.seals.filter((s) => !s.disabled);
    return enabled.length > 0 ? enabled : [IMPLICIT_SHAMIR];
  }

  private enabledAutos(): AutoEntry[] {
    return this.enabledSeals().filter((s): s is AutoEntry => s.auto !== undefined);
  }

  /** The HSM keys of every configured auto seal, disabled ones included: never usable through the API. */
  sealKeyUris(): string[] {
    return this.allAutos().flatMap((s) => [...(s.auto.keyUris ?? [])]);
  }

  /** Every configured auto seal, disabled ones included (they still unwrap during a migration). */
  private allAutos(): AutoEntry[] {
    return this.seals.filter((s): s is AutoEntry => s.auto !== undefined);
  }

  /** The type a new initialisation would get. */
  get type(): string {
    return this.config?.type ?? this.enabledAutos()[0]?.type ?? SHAMIR;
  }

  get hasAutoSeals(): boolean {
    return this.allAutos().length > 0;
  }

  async loadConfig(): Promise<SealConfig | undefined> {
    const raw = await this.storage.get(SEAL_CONFIG_PATH);
    this.config = raw ? (JSON.parse(raw.toString("utf8")) as SealConfig) : undefined;
    if (this.config) {
      this.copies = new Set((await this.storage.list(SEAL_PREFIX)).filter((n) => !n.endsWith("/")));
      this.migrating = this.migrationNeeded(this.config);
    } else {
      this.copies.clear();
      this.migrating = false;
    }
    return this.config;
  }

  private migrationNeeded(config: SealConfig): boolean {
    if (this.seals.some((s) => s.disabled && this.copies.has(s.name))) return true;
    const configuredAuto = this.enabledAutos().length > 0;
    return isAutoSealType(config) !== configuredAuto;
  }

  get sealConfig(): SealConfig | undefined {
    return this.config;
  }

  get migration(): boolean {
    return this.migrating;
  }

  get progress(): number {
    return this.pending.length;
  }

  get nonce(): string {
    return this.attemptNonce;
  }

  /** Per-seal health, for sys/seal-status and sys/health. */
  healthReport(): Array<SealHealth & { disabled: boolean }> {
    const seals = this.seals.length > 0 ? this.seals : [IMPLICIT_SHAMIR];
    return seals.map((s) => {
      const h = s.auto ? this.withDevice(s.auto, this.health.get(s.name)) : { healthy: true };
      return {
        name: s.name,
        type: s.type,
        disabled: s.disabled,
        healthy: h?.healthy ?? false,
        ...(h?.error !== undefined ? { error: h.error } : h === undefined && s.auto && !s.disabled ? { error: "not checked yet" } : {}),
        hasCopy: this.copies.has(s.name),
      };
    });
  }

  /**
   * Human-readable problems: unhealthy seals, why auto-unseal failed, a pending migration. Without
   * `detailed` the reasons are left out: HSM error text names tokens, keys and libraries, which
   * unauthenticated callers of seal-status must not learn (the log and authenticated callers get them).
   */
  warnings(sealed: boolean, detailed = true): string[] {
    const out: string[] = [];
    if (this.migrating) out.push("seal migration pending: unseal with the current shares and migrate=true");
    if (sealed && this.autoUnsealError) out.push(detailed ? `auto-unseal failed: ${this.autoUnsealError}` : "auto-unseal failed (the reason is in the server log)");
    out.push(...this.retiredNotes);
    for (const h of this.healthReport()) {
      if (h.disabled || h.healthy) continue;
      out.push(`seal "${h.name}" (${h.type}) is unhealthy${detailed ? `: ${h.error ?? "unknown error"}` : ""}`);
    }
    return out;
  }

  /**
   * A seal's last outcome, corrected by its device's live state: a device that is away makes the seal
   * unhealthy at once (not at the next periodic check), and one that is back clears a failure that only
   * meant "away".
   */
  private withDevice(auto: AutoSeal, h: { healthy: boolean; error?: string; transient?: boolean } | undefined): { healthy: boolean; error?: string } | undefined {
    const live = auto.deviceHealth?.();
    if (live?.up === false) return { healthy: false, error: live.error ?? "its device is unavailable" };
    if (live?.up === true && h && !h.healthy && h.transient) return { healthy: true };
    return h;
  }

  /**
   * Asks each auto seal's device whether it is still there (a cheap call, at most once a second), so
   * health reports notice a device that went away without traffic. Never throws.
   */
  async probeDevices(): Promise<void> {
    const now = Date.now();
    if (now - this.lastDeviceProbe < 1000) return;
    this.lastDeviceProbe = now;
    await Promise.all(this.allAutos().map(async (s) => s.auto.probeDevice?.().catch(() => undefined)));
  }

  private markHealthy(name: string): void {
    this.health.set(name, { healthy: true });
  }

  private markUnhealthy(name: string, err: unknown): void {
    const auto = this.seals.find((s) => s.name === name)?.auto;
    this.health.set(name, { healthy: false, error: describe(err), transient: auto?.isUnavailableError?.(err) ?? false });
  }

  /** Generates the root key (and the operator key), stores the root key wrapped by every enabled seal. */
  async initialize(p: InitParams): Promise<InitResult> {
    if (await this.storage.get(SEAL_CONFIG_PATH)) throw new ArcaError("invalid_request", "Vault is already initialized");
    const enabled = this.enabledSeals();
    const autos = this.enabledAutos();
    const withShamir = enabled.some((s) => !s.auto);
    const recoveryShares = p.recoveryShares ?? 0;
    const recoveryThreshold = p.recoveryThreshold ?? 0;
    let config: SealConfig;
    let shares: number;
    let threshold: number;
    if (autos.length > 0) {
      const type = autos[0].type;
      if (!withShamir && (p.secretShares !== 0 || p.secretThreshold !== 0)) {
        throw new ArcaError("invalid_request", `parameters secret_shares,secret_threshold not applicable to seal type ${type}`);
      }
      // Beside a Shamir seal the recovery key is that seal's unseal key, so either name of the shares is accepted.
      shares = recoveryShares !== 0 || !withShamir ? recoveryShares : p.secretShares;
      threshold = recoveryShares !== 0 || !withShamir ? recoveryThreshold : p.secretThreshold;
      // OpenBao ≥ 2.4: recovery_shares = 0 means no recovery key (only an auto seal can unseal).
      if (shares !== 0 || threshold !== 0 || withShamir) validateShares(shares, threshold);
      config = { type, secret_shares: 0, secret_threshold: 0, recovery_shares: shares, recovery_threshold: threshold };
    } else {
      if (recoveryShares !== 0 || recoveryThreshold !== 0) {
        throw new ArcaError("invalid_request", "parameters recovery_shares,recovery_threshold not applicable to seal type shamir");
      }
      shares = p.secretShares;
      threshold = p.secretThreshold;
      validateShares(shares, threshold);
      config = { type: SHAMIR, secret_shares: shares, secret_threshold: threshold };
    }
    const rootKey = randomBytes(AES256_KEY_BYTES);
    const operatorKey = shares > 0 ? randomBytes(AES256_KEY_BYTES) : undefined;
    try {
      const parts = operatorKey ? await splitSecret(operatorKey, shares, threshold) : [];
      const writes = await this.wrapAll(rootKey, operatorKey, enabled);
      await this.storage.transaction(async (txn) => {
        for (const [path, blob] of writes) await txn.put(path, blob);
        await txn.put(SEAL_CONFIG_PATH, Buffer.from(JSON.stringify(config)));
      });
      this.config = config;
      this.copies = new Set(enabled.map((s) => s.name));
      this.migrating = false;
      for (const s of autos) this.markHealthy(s.name);
      const auto = autos.length > 0;
      return { rootKey, keys: auto ? [] : parts, recoveryKeys: auto ? parts : [], auto };
    } catch (err) {
      zero(rootKey);
      throw err;
    } finally {
      zero(operatorKey);
    }
  }

  /** Wraps the root key (and the operator key, as recovery key) for each seal; checks each copy opens. */
  private async wrapAll(rootKey: Buffer, operatorKey: Buffer | undefined, seals: ConfiguredSeal[]): Promise<Map<string, Buffer>> {
    const writes = new Map<string, Buffer>();
    for (const s of seals) {
      const path = wrappedRootKeyPath(s.name);
      if (!s.auto) {
        if (!operatorKey) throw new ArcaError("invalid_request", "a Shamir seal needs key shares");
        writes.set(path, gcmSeal(operatorKey, rootKey, Buffer.from(path)));
        continue;
      }
      try {
        writes.set(path, await wrapChecked(s.auto, rootKey, path));
        if (operatorKey) {
          const rpath = wrappedRecoveryKeyPath(s.name);
          writes.set(rpath, await wrapChecked(s.auto, operatorKey, rpath));
        }
      } catch (err) {
        this.markUnhealthy(s.name, err);
        throw new ArcaError("unavailable", `seal "${s.name}" (${s.type}) failed: ${describe(err)}`, { cause: err });
      }
    }
    return writes;
  }

  /**
   * Tries every enabled auto seal (in parallel, so each one's health is known) and returns the root key
   * from the first that unwraps its copy. `retry` is false when retrying cannot help (wrong PIN, no auto
   * seal, migration pending).
   */
  async autoUnseal(): Promise<AutoUnsealOutcome> {
    const config = await this.loadConfig();
    if (!config) return { retry: false, reason: "not initialized" };
    if (this.migrating) return { retry: false, reason: "seal migration pending" };
    const candidates = this.enabledAutos();
    if (candidates.length === 0) return { retry: false, reason: "no auto seal configured" };
    const results = await Promise.allSettled(candidates.map((s) => this.unwrapRoot(s)));
    let rootKey: Buffer | undefined;
    const reasons: string[] = [];
    let retry = false;
    results.forEach((r, i) => {
      const s = candidates[i];
      if (r.status === "fulfilled") {
        this.markHealthy(s.name);
        if (rootKey) zero(r.value);
        else rootKey = r.value;
      } else {
        this.markUnhealthy(s.name, r.reason);
        reasons.push(`seal "${s.name}": ${describe(r.reason)}`);
        if (!(s.auto.isFinalError?.(r.reason) ?? false)) retry = true;
      }
    });
    if (rootKey) {
      this.autoUnsealError = undefined;
      return { rootKey };
    }
    const reason = reasons.join("; ") + (retry ? "" : " (not retried)");
    this.autoUnsealError = reason;
    return { retry, reason };
  }

  /** Records why an automatic unseal could not complete (e.g. the barrier refused the key). */
  noteAutoUnsealError(reason: string | undefined): void {
    this.autoUnsealError = reason;
  }

  private async unwrapRoot(s: AutoEntry): Promise<Buffer> {
    const path = wrappedRootKeyPath(s.name);
    const blob = await this.storage.get(path);
    if (!blob) throw new Error("holds no copy of the root key");
    return s.auto.unwrap(blob, Buffer.from(path));
  }

  /**
   * Adds one operator share (unseal or recovery). Returns the root key once the threshold is reached and
   * the combined key is verified; a wrong combination resets progress and is a 400. During a migration
   * (`migrate` required) the seals are switched over before the root key is returned.
   */
  async submitShare(share: Buffer, opts: { migrate?: boolean } = {}): Promise<Buffer | undefined> {
    const config = await this.loadConfig();
    if (!config) throw new ArcaError("invalid_request", "Vault is not initialized");
    if (this.migrating && !opts.migrate) throw new ArcaError("invalid_request", "seal migration is pending: unseal with migrate=true");
    if (!this.migrating && opts.migrate) throw new ArcaError("invalid_request", "migrate option provided but seal migration not in progress");
    const { threshold } = operatorShares(config);
    if (threshold === 0) throw new ArcaError("invalid_request", "no recovery key was generated at init: this server unseals only through its auto seal");
    if (this.pending.length === 0) this.attemptNonce = randomBytes(16).toString("hex");
    if (this.pending.some((s) => s.equals(share))) return undefined; // the same share twice counts once
    this.pending.push(Buffer.from(share));
    if (this.pending.length < threshold) return undefined;
    const shares = this.pending;
    this.pending = [];
    this.resetProgress();
    let operatorKey: Buffer | undefined;
    try {
      try {
        operatorKey = await combineShares(shares);
      } catch {
        // Malformed shares (duplicate x-coordinates, mixed lengths) are the caller's error.
        throw new AuthenticationError();
      }
      const rootKey = await this.rootKeyFromOperatorKey(operatorKey);
      if (this.migrating) {
        try {
          await this.migrate(rootKey, operatorKey, config);
        } catch (err) {
          zero(rootKey);
          throw err;
        }
      }
      return rootKey;
    } catch (err) {
      if (err instanceof AuthenticationError || err instanceof RangeError || err instanceof TypeError) {
        throw new ArcaError("invalid_request", "invalid key: the unseal keys given do not open this server");
      }
      throw err;
    } finally {
      zero(operatorKey, ...shares);
    }
  }

  /**
   * The root key the given operator shares (unseal or recovery) lead to, without unsealing or touching
   * unseal progress: for root generation, which must not trust a combine (wrong shares combine to garbage
   * silently) but only a key that opens the stored copy or equals the stored recovery key. Wrong shares
   * are a 400; the caller zeroes the returned key.
   */
  async rootKeyForShares(shares: Buffer[]): Promise<Buffer> {
    let operatorKey: Buffer | undefined;
    try {
      try {
        operatorKey = await combineShares(shares);
      } catch {
        throw new AuthenticationError();
      }
      return await this.rootKeyFromOperatorKey(operatorKey);
    } catch (err) {
      if (err instanceof AuthenticationError || err instanceof RangeError || err instanceof TypeError) {
        throw new ArcaError("invalid_request", "invalid key: the keys given are not this server's operator keys");
      }
      throw err;
    } finally {
      zero(operatorKey);
    }
  }

  /**
   * The root key for a combined operator key: a Shamir copy opens directly with it; otherwise the key must
   * equal the recovery key some auto seal unwraps, and an auto seal then gives the root key.
   */
  private async rootKeyFromOperatorKey(operatorKey: Buffer): Promise<Buffer> {
    const shamirPath = wrappedRootKeyPath(SHAMIR);
    const shamirCopy = await this.storage.get(shamirPath);
    if (shamirCopy) return gcmOpen(operatorKey, shamirCopy, Buffer.from(shamirPath)); // throws AuthenticationError
    const problems: string[] = [];
    for (const s of this.allAutos()) {
      const rpath = wrappedRecoveryKeyPath(s.name);
      const blob = await this.storage.get(rpath);
      if (!blob) continue;
      let recoveryKey: Buffer;
      try {
        recoveryKey = await s.auto.unwrap(blob, Buffer.from(rpath));
      } catch (err) {
        this.markUnhealthy(s.name, err);
        problems.push(`seal "${s.name}": ${describe(err)}`);
        continue;
      }
      const ok = recoveryKey.length === operatorKey.length && timingSafeEqual(recoveryKey, operatorKey);
      zero(recoveryKey);
      if (!ok) throw new AuthenticationError();
      for (const candidate of [s, ...this.allAutos().filter((x) => x !== s)]) {
        try {
          const rootKey = await this.unwrapRoot(candidate);
          this.markHealthy(candidate.name);
          return rootKey;
        } catch (err) {
          this.markUnhealthy(candidate.name, err);
          problems.push(`seal "${candidate.name}": ${describe(err)}`);
        }
      }
      break;
    }
    throw new ArcaError("unavailable", `no seal could open the stored keys${problems.length ? `: ${problems.join("; ")}` : ""}`);
  }

  /** Switches storage over to the enabled seals, atomically, keeping the operator key and its shares. */
  private async migrate(rootKey: Buffer, operatorKey: Buffer, old: SealConfig): Promise<void> {
    const enabled = this.enabledSeals();
    const autos = this.enabledAutos();
    const { shares, threshold } = operatorShares(old);
    const config: SealConfig =
      autos.length > 0
        ? { type: autos[0].type, secret_shares: 0, secret_threshold: 0, recovery_shares: shares, recovery_threshold: threshold }
        : { type: SHAMIR, secret_shares: shares, secret_threshold: threshold };
    const writes = await this.wrapAll(rootKey, operatorKey, enabled);
    const stale = [
      ...(await this.storage.list(SEAL_PREFIX)).filter((n) => !n.endsWith("/")).map((n) => SEAL_PREFIX + n),
      ...(await this.storage.list(RECOVERY_PREFIX)).map((n) => RECOVERY_PREFIX + n),
    ].filter((p) => !writes.has(p));
    await this.storage.transaction(async (txn) => {
      for (const p of stale) await txn.delete(p);
      for (const [path, blob] of writes) await txn.put(path, blob);
      await txn.put(SEAL_CONFIG_PATH, Buffer.from(JSON.stringify(config)));
    });
    this.config = config;
    this.copies = new Set(enabled.map((s) => s.name));
    this.migrating = false;
    for (const s of autos) this.markHealthy(s.name);
  }

  /**
   * With the server unsealed: checks every enabled auto seal's copy and writes it again where it is missing
   * or no longer opens while the seal itself works (a seal that came back, a new seal, a replaced key).
   * Seals that fail are reported; nothing is deleted.
   */
  async checkSeals(rootKey: Buffer): Promise<void> {
    if (!this.config || this.migrating) return;
    const autos = this.enabledAutos();
    let recoveryKey: Buffer | undefined;
    try {
      for (const s of autos) {
        const path = wrappedRootKeyPath(s.name);
        try {
          const blob = await this.storage.get(path);
          let ok = false;
          if (blob) {
            try {
              const back = await s.auto.unwrap(blob, Buffer.from(path));
              ok = back.length === rootKey.length && timingSafeEqual(back, rootKey);
              zero(back);
            } catch {
              // Either the HSM is away (the re-wrap below fails too) or this copy is unusable (it is replaced).
            }
          }
          if (!ok) {
            await this.storage.put(path, await wrapChecked(s.auto, rootKey, path));
            this.copies.add(s.name);
          }
          const rpath = wrappedRecoveryKeyPath(s.name);
          if (operatorShares(this.config).shares > 0 && !(await this.storage.get(rpath))) {
            recoveryKey ??= await this.anyRecoveryKey(autos);
            if (recoveryKey) await this.storage.put(rpath, await wrapChecked(s.auto, recoveryKey, rpath));
          }
          this.markHealthy(s.name);
        } catch (err) {
          this.markUnhealthy(s.name, err);
        }
      }
      await this.removeUnconfiguredCopies(autos);
    } finally {
      zero(recoveryKey);
    }
  }

  /**
   * A seal taken out of the configuration is retired as a disabled one would be: its copies of the root and
   * recovery keys are deleted, or a server given only that old seal would still unseal. Only once a seal
   * that stays has a working copy, so a configuration mistake cannot leave storage without one.
   */
  private async removeUnconfiguredCopies(autos: AutoEntry[]): Promise<void> {
    const configured = new Set([...this.seals, ...this.enabledSeals()].map((s) => s.name));
    const workingAuto = autos.some((s) => this.health.get(s.name)?.healthy === true);
    const workingShamir = this.enabledSeals().some((s) => !s.auto) && (await this.storage.get(wrappedRootKeyPath(SHAMIR))) !== undefined;
    if (!workingAuto && !workingShamir) return;
    const stored = [
      ...(await this.storage.list(SEAL_PREFIX)).filter((n) => !n.endsWith("/")),
      ...(await this.storage.list(RECOVERY_PREFIX)),
    ];
    const retired = [...new Set(stored.filter((n) => !configured.has(n)))];
    if (retired.length === 0) return;
    await this.storage.transaction(async (txn) => {
      for (const name of retired) {
        await txn.delete(wrappedRootKeyPath(name));
        await txn.delete(wrappedRecoveryKeyPath(name));
      }
    });
    for (const name of retired) {
      this.copies.delete(name);
      this.retiredNotes.push(`seal "${name}" is no longer configured: its copies of the root and recovery keys were deleted from storage`);
    }
  }

  private async anyRecoveryKey(autos: AutoEntry[]): Promise<Buffer | undefined> {
    for (const s of autos) {
      const rpath = wrappedRecoveryKeyPath(s.name);
      const blob = await this.storage.get(rpath);
      if (!blob) continue;
      try {
        return await s.auto.unwrap(blob, Buffer.from(rpath));
      } catch {
        continue;
      }
    }
    return undefined;
  }

  resetProgress(): void {
    zero(...this.pending);
    this.pending = [];
    this.attemptNonce = "";
  }

  async close(): Promise<void> {
    for (const s of this.allAutos()) if (s.auto.close) await s.auto.close();
  }
}

/** Wraps and checks that the seal opens what it just wrapped before that copy is trusted. */
async function wrapChecked(seal: AutoSeal, plaintext: Buffer, path: string): Promise<Buffer> {
  const aad = Buffer.from(path);
  const blob = await seal.wrap(plaintext, aad);
  const back = await seal.unwrap(blob, aad);
  const ok = back.length === plaintext.length && timingSafeEqual(back, plaintext);
  zero(back);
  if (!ok) throw new Error("the seal did not give back what it wrapped");
  return blob;
}
