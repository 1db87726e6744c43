// A pool of PKCS#11 sessions for one token: one operation in flight per session (a session holds the
// state of a single C_*Init/C_* pair, G6), lazily opened up to `max`, callers beyond that wait in FIFO order.
// The pool knows nothing about PKCS#11: `open`/`close` are injected, so the policy is unit-testable.

export interface PooledSession<S> {
  readonly handle: S;
  /** Connection generation the session belongs to; sessions of an older generation are closed, not reused. */
  readonly generation: number;
}

export interface SessionPoolOptions<S> {
  max: number;
  open(): S;
  close(handle: S): void;
}

export class SessionPoolClosedError extends Error {}

export class SessionPool<S> {
  private readonly idle: PooledSession<S>[] = [];
  private readonly waiters: Array<{ resolve(s: PooledSession<S>): void; reject(e: unknown): void }> = [];
  private total = 0;
  private generation = 0;
  private closed = false;

  constructor(private readonly opts: SessionPoolOptions<S>) {
    if (!Number.isInteger(opts.max) || opts.max < 1) throw new RangeError("session pool max must be a positive integer");
  }

  get size(): number {
    return this.total;
  }
  get idleCount(): number {
    return this.idle.length;
  }
  get waiting(): number {
    return this.waiters.length;
  }

  /** A session without waiting (idle, or newly opened below `max`), else undefined. Saves a tick on the hot path. */
  tryAcquire(): PooledSession<S> | undefined {
    if (this.closed) return undefined;
    const s = this.idle.pop();
    if (s) return s;
    if (this.total < this.opts.max) {
      const handle = this.opts.open();
      this.total++;
      return { handle, generation: this.generation };
    }
    return undefined;
  }

  /** Takes a session, opening one if below `max`, else waits for a release. */
  acquire(): Promise<PooledSession<S>> {
    if (this.closed) return Promise.reject(new SessionPoolClosedError("session pool closed"));
    const s = this.idle.pop();
    if (s) return Promise.resolve(s);
    if (this.total < this.opts.max) {
      try {
        const handle = this.opts.open();
        this.total++;
        return Promise.resolve({ handle, generation: this.generation });
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Returns a session. `broken` (or a stale generation) closes it; a waiter then gets a fresh one. */
  release(s: PooledSession<S>, broken = false): void {
    if (broken || s.generation !== this.generation || this.closed) {
      this.discard(s);
      this.serveWaiter();
      return;
    }
    const w = this.waiters.shift();
    if (w) w.resolve(s);
    else this.idle.push(s);
  }

  /** Adds a session opened outside the pool (the login session) to the current generation. */
  adopt(handle: S): void {
    this.total++;
    this.release({ handle, generation: this.generation });
  }

  /**
   * Drops every idle session and marks busy ones stale (closed when released). Used on reconnect: after a
   * device error every session handle is suspect.
   */
  reset(): void {
    this.generation++;
    for (const s of this.idle.splice(0)) this.discard(s);
  }

  /** Closes idle sessions and rejects waiters; busy sessions close when released. */
  close(): void {
    this.closed = true;
    this.reset();
    for (const w of this.waiters.splice(0)) w.reject(new SessionPoolClosedError("session pool closed"));
  }

  private discard(s: PooledSession<S>): void {
    this.total--;
    try {
      this.opts.close(s.handle);
    } catch {
      // The session may already be gone with its device; nothing else to release.
    }
  }

  private serveWaiter(): void {
    if (this.closed || this.waiters.length === 0 || this.total >= this.opts.max) return;
    const w = this.waiters.shift();
    if (!w) return;
    try {
      const handle = this.opts.open();
      this.total++;
      w.resolve({ handle, generation: this.generation });
    } catch (e) {
      w.reject(e);
    }
  }
}
