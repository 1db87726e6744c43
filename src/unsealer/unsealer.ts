// The unsealer daemon's core: one small state machine per watched server.
//
// Every interval each server is asked for sys/seal-status. When it is initialised and sealed, the daemon
// opens its shares in the HSM one at a time, posts each to sys/unseal and wipes it. Rules:
//  - One contribution per unseal attempt: after posting, the daemon remembers the attempt's nonce and
//    stays quiet while the server still shows that nonce with progress > 0 (other key holders finish it).
//    A new attempt (progress reset, server restarted, or sealed again after being unsealed) gets the
//    shares again.
//  - A server that refuses a share (4xx) is not asked again at once: it gets exponential backoff, like a
//    server that is down, up to backoffMax, and a clear error in the log.
//  - Servers are checked independently: a server that hangs until the request timeout does not delay
//    the others.
//  - Logs carry the server URL, its state and attempt counters, never a share, a request body or a PIN.
import type { Logger } from "../server/log.js";
import type { SealStatus, UnsealClient, UnsealResult } from "./http-client.js";
import type { ShareSource } from "./share-source.js";

export type ServerState = "unknown" | "unreachable" | "uninitialized" | "unsealed" | "sealed" | "waiting" | "rejected" | "hsm-error";

export interface ServerView {
  url: string;
  state: ServerState;
  /** Consecutive failures (unreachable, rejected, HSM error) driving the backoff. */
  failures: number;
  /** Epoch ms before which the server is not contacted again. */
  nextAttemptAt: number;
  /** Unseal attempts (rounds of posting) since the server was last seen unsealed. */
  unsealAttempts: number;
}

export interface UnsealerOptions {
  servers: readonly string[];
  client: UnsealClient;
  shares: ShareSource;
  logger: Logger;
  intervalMs: number;
  backoffMaxMs: number;
  now?: () => number;
}

interface Track extends ServerView {
  /** Nonce of the unseal attempt our shares joined; undefined when we have not contributed. */
  joinedNonce?: string;
}

export class Unsealer {
  private readonly tracks: Track[];
  private readonly inFlight = new Map<Track, Promise<void>>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: UnsealerOptions) {
    if (opts.servers.length === 0) throw new Error("the unsealer needs at least one server");
    if (opts.shares.count === 0) throw new Error("the unsealer needs at least one share");
    this.tracks = opts.servers.map((url) => ({ url, state: "unknown", failures: 0, nextAttemptAt: 0, unsealAttempts: 0 }));
    this.now = opts.now ?? Date.now;
  }

  /** Checks every server that is due (skipping backoff) and waits for all of them. */
  async tick(): Promise<void> {
    await Promise.all(this.tracks.map((t) => this.checkOnce(t)));
  }

  /** Starts polling: once now, then every interval. */
  start(): void {
    if (this.timer) return;
    this.opts.logger.info({ servers: this.tracks.map((t) => t.url), shares: this.opts.shares.count, interval_ms: this.opts.intervalMs }, "unsealer started");
    const pump = () => {
      for (const t of this.tracks) void this.checkOnce(t);
    };
    this.timer = setInterval(pump, this.opts.intervalMs);
    pump();
  }

  /** Stops polling and waits for the checks in progress (a share being posted is finished and wiped). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const wasRunning = this.timer !== undefined;
    this.timer = undefined;
    await Promise.all(this.inFlight.values());
    if (wasRunning) this.opts.logger.info({}, "unsealer stopped");
  }

  servers(): ServerView[] {
    return this.tracks.map(({ url, state, failures, nextAttemptAt, unsealAttempts }) => ({ url, state, failures, nextAttemptAt, unsealAttempts }));
  }

  private checkOnce(t: Track): Promise<void> {
    const busy = this.inFlight.get(t);
    if (busy) return busy;
    const p = this.check(t)
      .catch((err: unknown) => {
        // check() handles every expected failure; this is a bug guard so one server cannot stop the loop.
        this.opts.logger.error({ server: t.url, error: messageOf(err) }, "unexpected error while checking server");
      })
      .finally(() => this.inFlight.delete(t));
    this.inFlight.set(t, p);
    return p;
  }

  private async check(t: Track): Promise<void> {
    if (this.now() < t.nextAttemptAt) return;
    let status: SealStatus;
    try {
      status = await this.opts.client.sealStatus(t.url);
    } catch (err) {
      this.fail(t, "unreachable", "server unreachable", { error: messageOf(err) });
      return;
    }
    if (!status.initialized) {
      this.settle(t, "uninitialized", "server is not initialised: nothing to unseal");
      return;
    }
    if (!status.sealed) {
      this.settle(t, "unsealed", "server is unsealed");
      return;
    }
    if (t.joinedNonce !== undefined && status.progress > 0 && status.nonce === t.joinedNonce) {
      // Our shares are counted in this attempt; posting again would change nothing.
      this.recover(t);
      this.enter(t, "waiting", "debug", "still waiting for other key holders", { progress: status.progress, threshold: status.t });
      return;
    }
    await this.unseal(t, status);
  }

  private async unseal(t: Track, status: SealStatus): Promise<void> {
    const { client, shares, logger } = this.opts;
    t.unsealAttempts++;
    t.joinedNonce = undefined;
    this.enter(t, "sealed", "info", "server is sealed: posting unseal shares", {
      attempt: t.unsealAttempts,
      progress: status.progress,
      threshold: status.t,
      shares: shares.count,
    });
    let last = status;
    for (let i = 0; i < shares.count; i++) {
      let share: Buffer | undefined;
      let body: Buffer | undefined;
      let result: UnsealResult;
      try {
        try {
          share = await shares.reveal(i);
          body = unsealBody(share);
        } catch (err) {
          this.fail(t, "hsm-error", "cannot open the unseal share in the HSM", { share: i + 1, error: messageOf(err) });
          return;
        } finally {
          share?.fill(0);
        }
        try {
          result = await client.unseal(t.url, body);
        } catch (err) {
          this.fail(t, "unreachable", "unseal request failed", { share: i + 1, error: messageOf(err) });
          return;
        }
      } finally {
        body?.fill(0);
      }
      if (!result.ok) {
        this.fail(t, "rejected", "server rejected the unseal share: check that this share belongs to this server", {
          share: i + 1,
          http_status: result.httpStatus,
          errors: result.errors,
        });
        return;
      }
      last = result.status;
      if (!last.sealed) {
        logger.info({ server: t.url, state: "unsealed", attempt: t.unsealAttempts, share: i + 1 }, "server unsealed");
        t.state = "unsealed"; // already said above: settle() then logs only at debug
        this.settle(t, "unsealed", "server is unsealed");
        return;
      }
    }
    this.recover(t);
    t.joinedNonce = last.nonce;
    this.enter(t, "waiting", "info", "shares accepted; waiting for other key holders", { progress: last.progress, threshold: last.t });
  }

  /** A healthy answer: clears the backoff and the attempt's bookkeeping. */
  private settle(t: Track, state: "unsealed" | "uninitialized", msg: string): void {
    this.recover(t);
    t.joinedNonce = undefined;
    if (state === "unsealed") t.unsealAttempts = 0;
    this.enter(t, state, "info", msg, {});
  }

  private recover(t: Track): void {
    t.failures = 0;
    t.nextAttemptAt = 0;
  }

  private fail(t: Track, state: "unreachable" | "rejected" | "hsm-error", msg: string, fields: Record<string, unknown>): void {
    t.failures++;
    const delay = backoffDelay(this.opts.intervalMs, this.opts.backoffMaxMs, t.failures);
    t.nextAttemptAt = this.now() + delay;
    t.state = state;
    const level = state === "unreachable" ? "warn" : "error";
    this.opts.logger[level]({ server: t.url, state, attempt: t.failures, retry_in_ms: delay, ...fields }, msg);
  }

  /** Logs state changes at `level`; a repeated state only at debug, so a steady daemon stays quiet. */
  private enter(t: Track, state: ServerState, level: "debug" | "info", msg: string, fields: Record<string, unknown>): void {
    const changed = t.state !== state;
    t.state = state;
    this.opts.logger[changed ? level : "debug"]({ server: t.url, state, ...fields }, msg);
  }
}

/**
 * Delay before the next contact after `failures` consecutive failures: interval × 2^failures, capped.
 * The first failure already doubles the wait, so a refusing server sees at most one post per 2 intervals.
 */
export function backoffDelay(intervalMs: number, backoffMaxMs: number, failures: number): number {
  return Math.min(backoffMaxMs, intervalMs * 2 ** Math.min(failures, 30));
}

const HEX = Buffer.from("0123456789abcdef", "latin1");
const BODY_START = Buffer.from('{"key":"', "latin1");
const BODY_END = Buffer.from('"}', "latin1");

/**
 * `{"key":"<hex>"}` written straight into a fresh buffer: going through toString("hex") and
 * JSON.stringify would leave copies of the share in immutable strings no one can wipe.
 */
export function unsealBody(share: Buffer): Buffer {
  const out = Buffer.alloc(BODY_START.length + share.length * 2 + BODY_END.length);
  BODY_START.copy(out, 0);
  let o = BODY_START.length;
  for (const b of share) {
    out[o++] = HEX[b >> 4];
    out[o++] = HEX[b & 15];
  }
  BODY_END.copy(out, o);
  return out;
}

function messageOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 300);
}
