/**
 * Login throttling, two independent limits:
 *
 * - **User lockout** (OpenBao's, per user per mount, whatever the source address): after `threshold`
 *   failed attempts the user is locked for `duration`, and every attempt is refused at once with
 *   "permission denied" (even with the right password). The count is forgotten `counterReset` after the
 *   last failure, and on a successful login. Counting per (user, address) instead would let an attacker
 *   who rotates source addresses guess without limit.
 * - **Per source address**: at most `addressMaxAttempts` failed attempts inside `addressWindowMs` from
 *   one address, across all users (password spraying), then 429 until the oldest leaves the window.
 *
 * An attempt counts from the moment it starts (before the slow KDF), so a burst of parallel guesses cannot
 * all slip through while the first ones are still being hashed; a success takes its own attempt back.
 *
 * State is in memory and per mount: a restart or a seal forgets it, which is acceptable for throttling
 * (it never grants access). Both tables are bounded; locked users are the last to be forgotten.
 */
import { ArcaError, permissionDenied } from "../../common/errors.js";

export interface LockoutPolicy {
  threshold: number;
  durationMs: number;
  counterResetMs: number;
  disabled: boolean;
}

export interface LimiterOptions {
  addressMaxAttempts: number;
  addressWindowMs: number;
  /** Upper bound on tracked users, and separately on tracked addresses. */
  maxKeys: number;
  now: () => number;
}

export const DEFAULT_LIMITS: LimiterOptions = { addressMaxAttempts: 20, addressWindowMs: 60_000, maxKeys: 100_000, now: () => Date.now() };

interface UserState {
  failures: number;
  lastFailure: number;
  lockedUntil: number;
}

export class LoginLimiter {
  private readonly users = new Map<string, UserState>();
  private readonly addresses = new Map<string, number[]>();
  private readonly opts: LimiterOptions;

  constructor(opts: Partial<LimiterOptions> = {}) {
    this.opts = { ...DEFAULT_LIMITS, ...opts };
  }

  /**
   * Records the start of an attempt, or throws: 403 while the user is locked out, 429 while the address is
   * over its limit. Returns a function to call when the attempt succeeded.
   */
  begin(username: string, address: string, policy: LockoutPolicy): () => void {
    const now = this.opts.now();
    const recent = this.recentFrom(address, now);
    const user = policy.disabled ? undefined : this.userState(username, policy, now);
    if (user && user.lockedUntil > now) throw permissionDenied();
    if (recent.length >= this.opts.addressMaxAttempts) {
      const retry = Math.max(1, Math.ceil((recent[0] + this.opts.addressWindowMs - now) / 1000));
      throw new ArcaError("rate_limited", `too many failed login attempts from this address; try again in ${retry}s`);
    }

    this.makeRoomForAddress(now);
    recent.push(now);
    this.addresses.set(address, recent);
    if (user) {
      if (!this.users.has(username)) this.makeRoomForUser(now, policy);
      user.failures++;
      user.lastFailure = now;
      if (user.failures >= policy.threshold) user.lockedUntil = now + policy.durationMs;
      this.users.set(username, user);
    }
    return () => {
      this.users.delete(username);
      const list = this.addresses.get(address);
      const i = list?.indexOf(now) ?? -1;
      if (list && i !== -1) list.splice(i, 1);
      if (list?.length === 0) this.addresses.delete(address);
    };
  }

  /** The user's current state, with an expired lock or a stale count already forgotten. */
  private userState(username: string, policy: LockoutPolicy, now: number): UserState {
    const s = this.users.get(username);
    if (!s) return { failures: 0, lastFailure: 0, lockedUntil: 0 };
    if (s.lockedUntil > now) return s;
    if (s.lockedUntil !== 0 || now - s.lastFailure >= policy.counterResetMs) {
      this.users.delete(username);
      return { failures: 0, lastFailure: 0, lockedUntil: 0 };
    }
    return s;
  }

  private recentFrom(address: string, now: number): number[] {
    const list = (this.addresses.get(address) ?? []).filter((t) => t > now - this.opts.addressWindowMs);
    if (list.length === 0) this.addresses.delete(address);
    else this.addresses.set(address, list);
    return list;
  }

  /** Keeps the address table under `maxKeys`: addresses with no recent attempt first, then the oldest. */
  private makeRoomForAddress(now: number): void {
    if (this.addresses.size < this.opts.maxKeys) return;
    for (const key of [...this.addresses.keys()]) this.recentFrom(key, now);
    dropOldest(this.addresses, this.opts.maxKeys);
  }

  /**
   * Keeps the user table under `maxKeys`: forgotten counts first, then the oldest users that are not
   * locked, and locked ones only when nothing else is left (an attacker filling the table with fresh names
   * should not be able to unlock the user under attack).
   */
  private makeRoomForUser(now: number, policy: LockoutPolicy): void {
    if (this.users.size < this.opts.maxKeys) return;
    for (const [key, s] of [...this.users]) {
      if (s.lockedUntil <= now && (s.lockedUntil !== 0 || now - s.lastFailure >= policy.counterResetMs)) this.users.delete(key);
    }
    for (const [key, s] of this.users) {
      if (this.users.size < this.opts.maxKeys) return;
      if (s.lockedUntil <= now) this.users.delete(key);
    }
    dropOldest(this.users, this.opts.maxKeys);
  }

  /** Users and addresses tracked (tests). */
  get trackedKeys(): number {
    return this.users.size + this.addresses.size;
  }
}

/** Deletes the oldest entries (Map order is insertion order) until there is room for one more. */
function dropOldest(table: Map<string, unknown>, maxKeys: number): void {
  for (const key of table.keys()) {
    if (table.size < maxKeys) return;
    table.delete(key);
  }
}
