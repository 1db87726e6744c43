/**
 * Login throttling per (username, source address): after `maxAttempts` unsuccessful attempts inside
 * `windowMs`, further attempts are refused with 429 until the oldest of them leaves the window. An
 * attempt counts from the moment it starts (before the slow KDF), so a burst of parallel guesses cannot
 * all slip through while the first ones are still being hashed; a successful login clears the count.
 *
 * State is in memory and per mount: a restart or a seal forgets it, which is acceptable for throttling
 * (it never grants access). The number of tracked keys is bounded.
 */
import { ArcaError } from "../../core/errors.js";

export interface LimiterOptions {
  maxAttempts: number;
  windowMs: number;
  /** Upper bound on tracked (user, address) pairs. */
  maxKeys: number;
  now: () => number;
}

export const DEFAULT_LIMITS: LimiterOptions = { maxAttempts: 5, windowMs: 60_000, maxKeys: 10_000, now: () => Date.now() };

export class LoginLimiter {
  private readonly attempts = new Map<string, number[]>();
  private readonly opts: LimiterOptions;

  constructor(opts: Partial<LimiterOptions> = {}) {
    this.opts = { ...DEFAULT_LIMITS, ...opts };
  }

  private static key(username: string, address: string): string {
    return `${username}\0${address}`;
  }

  private recent(key: string, now: number): number[] {
    const list = (this.attempts.get(key) ?? []).filter((t) => t > now - this.opts.windowMs);
    if (list.length === 0) this.attempts.delete(key);
    else this.attempts.set(key, list);
    return list;
  }

  /**
   * Records the start of an attempt, or throws 429 when the pair is over its limit. Returns a function
   * to call when the attempt succeeded.
   */
  begin(username: string, address: string): () => void {
    const key = LoginLimiter.key(username, address);
    const now = this.opts.now();
    const list = this.recent(key, now);
    if (list.length >= this.opts.maxAttempts) {
      const retry = Math.max(1, Math.ceil((list[0] + this.opts.windowMs - now) / 1000));
      throw new ArcaError(
        "rate_limited",
        `too many failed login attempts for user "${username}" from this address; try again in ${retry}s`,
      );
    }
    this.makeRoom(now);
    list.push(now);
    this.attempts.set(key, list);
    return () => {
      this.attempts.delete(key);
    };
  }

  private makeRoom(now: number): void {
    if (this.attempts.size < this.opts.maxKeys) return;
    for (const key of [...this.attempts.keys()]) this.recent(key, now);
    // Still full: forget the pairs tracked longest (Map order is insertion order).
    for (const key of this.attempts.keys()) {
      if (this.attempts.size < this.opts.maxKeys) break;
      this.attempts.delete(key);
    }
  }

  get trackedPairs(): number {
    return this.attempts.size;
  }
}
