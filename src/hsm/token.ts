// One logged-in token: find by label/serial, log in once, a session pool, an object-handle cache, and the
// reconnect policy.
//
// - Login once per token: login state belongs to the application and token, not the session, and C_Logout
//   would log every session out; so there is no per-operation login/logout.
// - A PIN error is latched: the first CKR_PIN_* makes every later call fail with the same HsmPinError without
//   touching C_Login again (an HSM may wipe itself after a few wrong PINs). Logins are single-flight so
//   concurrent callers never race several wrong-PIN attempts either.
// - HsmUnavailableError drops every session and cached handle, bumps the connection generation, and retries
//   with exponential backoff (re-find the token, re-login). Non-idempotent calls (key generation) are not
//   re-run; the next call reconnects.
// - A token that cannot be found (or opened) asks its library for a re-initialisation (C_Finalize +
//   C_Initialize, rate-limited, only with no call in flight: see Pkcs11Module.reinitialize): SoftHSM sees a
//   token directory that came back only then. Every token on that library notices the new module generation
//   and reconnects; sessions of the old generation are abandoned, never closed (their numbers are reused).
// - Health: the token is "up" after a connect or call that worked and "down" once a call gives up with
//   HsmUnavailableError (or a wrong PIN). While down, a background loop probes with backoff (reconnecting,
//   re-initialising the library when needed), so the token comes back within seconds of the device without
//   waiting for traffic; listeners (seal health, metrics) read `health`.
// - A key that cannot be found triggers a token presence check first: SoftHSM reports a deleted token as
//   CKR_OBJECT_HANDLE_INVALID / "0 objects" rather than a device error, and "token gone" must not be reported
//   as "key gone".
import { availableParallelism } from "node:os";
import { observeHsmCall } from "./call-observer.js";
import { setTimeout as sleep } from "node:timers/promises";
import {
  HsmAmbiguousKeyError,
  HsmKeyNotFoundError,
  HsmPinError,
  HsmUnavailableError,
  isAlreadyLoggedIn,
  mapPkcs11Error,
  type MapContext,
} from "./errors.js";
import { KeyError } from "./key-errors.js";
import { describeSelector, pk, type FoundToken, type Handle, type P11, type Pkcs11Module, type TokenSelector } from "./module.js";
import { SessionPool, type PooledSession } from "./session-pool.js";

export interface ReconnectPolicy {
  /** Retries after the first failure (default 4). */
  attempts: number;
  /** First delay in ms, doubled each attempt (default 50). */
  baseDelayMs: number;
  /** Delay cap in ms (default 2000). */
  maxDelayMs: number;
  /** While down: first background probe after this many ms, doubled per failure (default 250). */
  recoverBaseMs: number;
  /** While down: cap of the probe delay (default 4000). */
  recoverMaxMs: number;
}

/** What health checks and metrics see of a token. */
export interface TokenHealth {
  /** "unknown" until the first connect attempt. */
  state: "unknown" | "up" | "down";
  /** Why it is down (function and CKR code only; never a PIN). */
  error?: string;
}

export interface HsmTokenOptions {
  module: Pkcs11Module;
  selector: TokenSelector;
  /** Returns the user PIN; called only when a login is needed, so the PIN is not kept in this object. */
  pin: () => string;
  /** Sessions (= operations in flight). Default: the libuv threadpool size, where the async calls run. */
  maxSessions?: number;
  reconnect?: Partial<ReconnectPolicy>;
}

/** How a key is looked up: class plus CKA_ID and/or CKA_LABEL (and key type when given). */
export interface ObjectQuery {
  cls: number;
  id?: Buffer;
  label?: string;
  keyType?: number;
}

/** A session handle and the module generation it was opened in (older ones are void, never closed). */
interface TokenSession {
  readonly handle: Handle;
  readonly moduleGeneration: number;
}

/** What an operation gets: the binding and a session that is its own until the promise settles. */
export interface SessionContext {
  readonly p11: P11;
  readonly session: Handle;
  /** Runs a binding call, mapping its failure to a typed HsmError. */
  call<T>(fn: string, body: () => T, ctx?: Omit<MapContext, "fn">): T;
  callAsync<T>(fn: string, body: () => Promise<T>, ctx?: Omit<MapContext, "fn">): Promise<T>;
}

export interface RunOptions {
  /** Re-run after a reconnect (default true). False for calls that must not happen twice (key generation). */
  idempotent?: boolean;
}

/**
 * Sessions in flight by default: the libuv threadpool size (pkcs11js async calls run there). A software
 * token (SoftHSM) computes on this machine's own cores, so it gets one core fewer than the machine has:
 * RSA-4096 signatures flat out must not starve the event loop (measured: sys/health p99 stays under
 * 20 ms with one core left free, and does not with every core busy signing). A hardware HSM computes
 * elsewhere and gets the whole pool. `max_sessions` in the config overrides both.
 */
function defaultSessions(libPath: string): number {
  const n = Number(process.env.UV_THREADPOOL_SIZE);
  const pool = Number.isInteger(n) && n > 0 ? Math.min(n, 64) : 4;
  if (/softhsm/i.test(libPath)) return Math.max(1, Math.min(pool, availableParallelism() - 1));
  return pool;
}

export class HsmToken {
  readonly module: Pkcs11Module;
  readonly selector: TokenSelector;
  private readonly pin: () => string;
  private readonly policy: ReconnectPolicy;
  private readonly pool: SessionPool<TokenSession>;
  private found: FoundToken | undefined;
  /** Module generation the current connection (login, sessions, handles) belongs to. */
  private moduleGeneration = -1;
  private healthState: TokenHealth = { state: "unknown" };
  private recoveryTimer: NodeJS.Timeout | undefined;
  private recoveryAttempt = 0;
  private connecting: Promise<void> | undefined;
  private pinError: HsmPinError | undefined;
  private readonly handles = new Map<string, Handle>();
  /** One context object per session, reused across operations (allocation-free hot path). */
  private readonly contexts = new WeakMap<TokenSession, Pkcs11SessionContext>();
  private closed = false;
  /** Counts (re)connections; exposed for tests and metrics. */
  connects = 0;
  /** Counts C_Login calls; exposed so tests can prove a wrong PIN is tried once. */
  loginAttempts = 0;
  /** Counts connection attempts (first connect and every reconnect try). */
  connectAttempts = 0;

  constructor(opts: HsmTokenOptions) {
    this.module = opts.module;
    this.selector = opts.selector;
    this.pin = opts.pin;
    this.policy = { attempts: 4, baseDelayMs: 50, maxDelayMs: 2000, recoverBaseMs: 250, recoverMaxMs: 4000, ...opts.reconnect };
    const max = opts.module.threadSafe ? (opts.maxSessions ?? defaultSessions(opts.module.libPath)) : 1;
    this.pool = new SessionPool<TokenSession>({
      max,
      open: () => ({ handle: this.openSession(), moduleGeneration: this.module.generation }),
      // A session of an older module generation died with C_Finalize; its number may now be another token's.
      close: (s) => {
        if (s.moduleGeneration === this.module.generation) this.module.p11.C_CloseSession(s.handle);
      },
    });
  }

  get p11(): P11 {
    return this.module.p11;
  }

  /** Token label and serial as the device reports them (after the first connect). */
  get info(): FoundToken | undefined {
    return this.found;
  }

  /** Up, down (and why) or not tried yet. */
  get health(): TokenHealth {
    return this.healthState;
  }

  /** Connects (find + login) now instead of on first use; surfaces a wrong PIN at start-up. */
  async connect(): Promise<void> {
    try {
      await this.ensureConnected();
    } catch (e) {
      this.noteFailure(e);
      throw e;
    }
    this.markUp();
  }

  /**
   * Checks the token is there now: connects when it is not connected, else asks the device for its token
   * info (a cheap call). Updates `health`; never throws. A token that is down reports so without a call:
   * its background loop owns reconnecting (so health checks and scrapes cannot drive library resets).
   */
  probe(): Promise<boolean> {
    if (this.healthState.state === "down") return Promise.resolve(false);
    return this.check();
  }

  private async check(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.ensureConnected();
      this.checkPresent();
      this.markUp();
      return true;
    } catch (e) {
      this.noteFailure(e);
      return false;
    }
  }

  /**
   * Runs `fn` with a session of its own. Unavailable-class failures reconnect with backoff and re-run `fn`
   * (unless `idempotent: false`); PIN errors are final.
   */
  async run<T>(fn: (ctx: SessionContext) => Promise<T>, opts: RunOptions = {}): Promise<T> {
    const started = process.hrtime.bigint();
    try {
      const result = await this.runWithRetry(fn, opts);
      observeHsmCall(this.found?.label ?? "", started, true);
      if (this.healthState.state !== "up") this.markUp();
      return result;
    } catch (err) {
      observeHsmCall(this.found?.label ?? "", started, false);
      this.noteFailure(err);
      throw err;
    }
  }

  private async runWithRetry<T>(fn: (ctx: SessionContext) => Promise<T>, opts: RunOptions): Promise<T> {
    const idempotent = opts.idempotent ?? true;
    for (let attempt = 0; ; attempt++) {
      try {
        // Hot path: no extra await once connected (a PIN error never sets `found`).
        if (!this.found || this.moduleGeneration !== this.module.generation) await this.ensureConnected();
        return await this.withSession(fn);
      } catch (e) {
        const err = e instanceof KeyError ? e : mapPkcs11Error(e, { fn: "PKCS#11 call" });
        if (!(err instanceof HsmUnavailableError) || this.closed) throw err;
        this.disconnect();
        if (!idempotent || attempt >= this.policy.attempts) throw err;
        await sleep(Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** attempt));
      }
    }
  }

  /**
   * Finds a key's handle (cached by query), runs `use` with it, and copes with keys that vanish: a stale
   * handle is dropped and the key looked up once more; if it is gone the token's presence is checked, so a
   * removed token becomes HsmUnavailableError and a deleted key HsmKeyNotFoundError.
   */
  async withKey<T>(ctx: SessionContext, q: ObjectQuery, keyName: string, use: (h: Handle) => Promise<T>): Promise<T> {
    const cacheKey = queryKey(q);
    const cached = this.handles.get(cacheKey);
    if (cached) {
      try {
        return await use(cached);
      } catch (e) {
        if (!(e instanceof HsmKeyNotFoundError)) throw e;
        this.handles.delete(cacheKey);
      }
    }
    const h = this.findOne(ctx, q, keyName);
    this.handles.set(cacheKey, h);
    try {
      return await use(h);
    } catch (e) {
      if (e instanceof HsmKeyNotFoundError) {
        this.handles.delete(cacheKey);
        this.checkPresent();
      }
      throw e;
    }
  }

  /** Looks up exactly one object (uncached). Not found → presence check, then HsmKeyNotFoundError. */
  findOne(ctx: SessionContext, q: ObjectQuery, keyName: string): Handle {
    const found = this.findAll(ctx, q, 2);
    if (found.length === 0) {
      this.checkPresent();
      throw new HsmKeyNotFoundError(`key ${keyName} not found on token ${describeSelector(this.selector)}`);
    }
    if (found.length > 1) throw new HsmAmbiguousKeyError(`key ${keyName} matches more than one object; reference it by id`);
    return found[0];
  }

  findAll(ctx: SessionContext, q: ObjectQuery, max = 100): Handle[] {
    const tpl: pkcs11Template = [{ type: pk.CKA_CLASS, value: q.cls }];
    if (q.id !== undefined) tpl.push({ type: pk.CKA_ID, value: q.id });
    if (q.label !== undefined) tpl.push({ type: pk.CKA_LABEL, value: q.label });
    if (q.keyType !== undefined) tpl.push({ type: pk.CKA_KEY_TYPE, value: q.keyType });
    ctx.call("C_FindObjectsInit", () => this.p11.C_FindObjectsInit(ctx.session, tpl));
    try {
      return ctx.call("C_FindObjects", () => this.p11.C_FindObjects(ctx.session, max));
    } finally {
      try {
        this.p11.C_FindObjectsFinal(ctx.session);
      } catch {
        // A failed Final leaves nothing to clean: the session is discarded if it is broken.
      }
    }
  }

  /**
   * Logs out and in again with the configured PIN (one synchronous step, so no other call of this process
   * runs in between), so a PIN changed on the token since our login is found now, not at the next reconnect.
   * A refused PIN sets the token's PIN error (never retried: a token may wipe itself after a few wrong PINs)
   * and disconnects, so every later call fails with it. Private object handles do not survive a logout: the
   * handle cache is dropped. Meant for customer-held tokens (HYOK sync), not a server's busy token.
   */
  async verifyLogin(): Promise<void> {
    await this.run(async (ctx) => {
      try {
        this.p11.C_Logout(ctx.session);
      } catch {
        // Not logged in (already out): the login below is the check either way.
      }
      this.handles.clear();
      try {
        this.loginAttempts++;
        this.p11.C_Login(ctx.session, pk.CKU_USER, this.pin());
      } catch (e) {
        if (isAlreadyLoggedIn(e)) return;
        const err = mapPkcs11Error(e, { fn: "C_Login" });
        if (err instanceof HsmPinError) {
          this.pinError = err;
          this.disconnect();
        }
        throw err;
      }
    });
  }

  /** Forgets a cached handle (after we destroy the object ourselves). */
  forget(q: ObjectQuery): void {
    this.handles.delete(queryKey(q));
  }

  /** Closes the sessions. Does not log out or finalize: other users of the library in this process stay logged in. */
  close(): void {
    this.closed = true;
    this.stopRecovery();
    this.pool.close();
    this.handles.clear();
  }

  /** Throws HsmUnavailableError unless the token is still in its slot and still the same token. */
  checkPresent(): void {
    const f = this.found;
    if (!f) throw new HsmUnavailableError(`token ${describeSelector(this.selector)} not connected`);
    let info: { label: string; serialNumber: string };
    try {
      info = this.p11.C_GetTokenInfo(f.slot);
    } catch (e) {
      const m = mapPkcs11Error(e, { fn: "C_GetTokenInfo" });
      throw m instanceof HsmUnavailableError || m instanceof HsmPinError
        ? m
        : new HsmUnavailableError(`token ${describeSelector(this.selector)} is gone (${m.message})`, { ckr: m.ckr, fn: "C_GetTokenInfo", cause: e });
    }
    if (info.serialNumber.trimEnd() !== f.serial || info.label.trimEnd() !== f.label) {
      throw new HsmUnavailableError(`token ${describeSelector(this.selector)} was replaced in its slot`);
    }
  }

  private async withSession<T>(fn: (ctx: SessionContext) => Promise<T>): Promise<T> {
    // Counted in flight from here, so the library is never finalised under a running call.
    const gate = this.module.enter();
    try {
      if (gate) {
        await gate;
        // The library may have been re-initialised meanwhile: this connection is then void.
        if (this.moduleGeneration !== this.module.generation) throw new HsmUnavailableError("the PKCS#11 library was re-initialised");
      }
      return await this.withPooledSession(fn);
    } finally {
      this.module.leave();
    }
  }

  private async withPooledSession<T>(fn: (ctx: SessionContext) => Promise<T>): Promise<T> {
    let s: PooledSession<TokenSession>;
    try {
      s = this.pool.tryAcquire() ?? (await this.pool.acquire());
    } catch (e) {
      throw mapPkcs11Error(e, { fn: "C_OpenSession" });
    }
    let broken = false;
    try {
      let ctx = this.contexts.get(s.handle);
      if (!ctx) {
        ctx = new Pkcs11SessionContext(this.p11, s.handle.handle);
        this.contexts.set(s.handle, ctx);
      }
      return await fn(ctx);
    } catch (e) {
      // A PKCS#11 failure of C_Sign/C_Encrypt/... ends the active operation (PKCS#11 §5.2), so the session is
      // reusable; a device-class error or a non-HSM exception (thrown between an Init and its call, which
      // would leave the operation active) retires the session instead.
      broken = !(e instanceof KeyError) || e instanceof HsmUnavailableError;
      throw e instanceof KeyError ? e : mapPkcs11Error(e, { fn: "PKCS#11 call" });
    } finally {
      if (broken) this.retire(s);
      else this.pool.release(s);
    }
  }

  /**
   * Closes a session that saw a failure, opening its replacement first: on most tokens closing the last
   * session logs the application out, and every later call would then be CKR_USER_NOT_LOGGED_IN.
   */
  private retire(s: PooledSession<TokenSession>): void {
    if (this.found && this.moduleGeneration === this.module.generation) {
      try {
        this.pool.adopt({ handle: this.openSession(), moduleGeneration: this.moduleGeneration });
      } catch {
        // No replacement (the device is going away): the next call reconnects.
      }
    }
    this.pool.release(s, true);
  }

  private ensureConnected(): Promise<void> {
    if (this.pinError) return Promise.reject(this.pinError);
    if (this.closed) return Promise.reject(new HsmUnavailableError("token closed"));
    // The library was re-initialised (by this token or another on it): login, sessions and handles are void.
    if (this.found && this.moduleGeneration !== this.module.generation) this.disconnect();
    if (this.found) return Promise.resolve();
    // Single flight: concurrent callers share one find + one C_Login.
    if (!this.connecting) {
      const p = Promise.resolve().then(() => this.connectNow());
      this.connecting = p;
      const clear = (): void => {
        if (this.connecting === p) this.connecting = undefined;
      };
      void p.then(clear, clear);
    }
    return this.connecting;
  }

  private async connectNow(): Promise<void> {
    this.connectAttempts++;
    let reset = false;
    try {
      this.connectOnce();
    } catch (e) {
      // Not found, or the device refuses sessions: the library may need to look again (SoftHSM re-reads its
      // token directory only at C_Initialize). Rate-limited and drained by the module.
      if (!(e instanceof HsmUnavailableError) || !(await this.module.reinitialize())) throw e;
      reset = true;
      this.connectOnce();
    }
    // Only a token that was missing resets the library's back-off: others merely reconnecting after a reset
    // must not keep it at its shortest while some token stays away.
    if (reset || this.healthState.state === "down") this.module.noteConnected();
  }

  private connectOnce(): void {
    const found = this.module.findToken(this.selector);
    const generation = this.module.generation;
    const session = this.rawOpen(found.slot);
    try {
      this.loginAttempts++;
      this.p11.C_Login(session, pk.CKU_USER, this.pin());
    } catch (e) {
      if (!isAlreadyLoggedIn(e)) {
        safeClose(this.p11, session);
        const err = mapPkcs11Error(e, { fn: "C_Login" });
        if (err instanceof HsmPinError) this.pinError = err;
        throw err;
      }
    }
    this.found = found;
    this.moduleGeneration = generation;
    this.connects++;
    // The login session goes back into the pool; keeping at least one session open keeps the login alive
    // (on most tokens closing the last session logs the application out).
    this.pool.reset();
    this.pool.adopt({ handle: session, moduleGeneration: generation });
  }

  private openSession(): Handle {
    const f = this.found;
    if (!f) throw new HsmUnavailableError(`token ${describeSelector(this.selector)} not connected`);
    return this.rawOpen(f.slot);
  }

  private rawOpen(slot: Handle): Handle {
    try {
      return this.p11.C_OpenSession(slot, pk.CKF_SERIAL_SESSION | pk.CKF_RW_SESSION);
    } catch (e) {
      throw mapPkcs11Error(e, { fn: "C_OpenSession" });
    }
  }

  private disconnect(): void {
    this.found = undefined;
    this.handles.clear();
    this.pool.reset();
  }

  private markUp(): void {
    if (this.healthState.state === "up") return;
    this.healthState = { state: "up" };
    this.stopRecovery();
  }

  /** Unavailable and PIN failures make the token down; anything else (a missing key, bad input) says nothing. */
  private noteFailure(e: unknown): void {
    if (!(e instanceof HsmUnavailableError) && !(e instanceof HsmPinError)) return;
    if (e instanceof HsmUnavailableError && this.found) this.disconnect();
    this.healthState = { state: "down", error: e.message };
    // A wrong PIN is final: probing would only repeat it.
    if (!this.pinError && !this.closed && !this.recoveryTimer) this.scheduleRecovery();
  }

  private scheduleRecovery(): void {
    const delay = Math.min(this.policy.recoverMaxMs, this.policy.recoverBaseMs * 2 ** Math.min(this.recoveryAttempt, 20));
    this.recoveryAttempt++;
    this.recoveryTimer = setTimeout(() => {
      void this.check().then((ok) => {
        this.recoveryTimer = undefined;
        if (!ok && !this.closed && !this.pinError && this.healthState.state === "down") this.scheduleRecovery();
      });
    }, delay);
    this.recoveryTimer.unref();
  }

  private stopRecovery(): void {
    if (this.recoveryTimer) clearTimeout(this.recoveryTimer);
    this.recoveryTimer = undefined;
    this.recoveryAttempt = 0;
  }
}

class Pkcs11SessionContext implements SessionContext {
  constructor(
    readonly p11: P11,
    readonly session: Handle,
  ) {}

  call<T>(fn: string, body: () => T, ctx?: Omit<MapContext, "fn">): T {
    try {
      return body();
    } catch (e) {
      throw mapPkcs11Error(e, { fn, ...ctx });
    }
  }

  async callAsync<T>(fn: string, body: () => Promise<T>, ctx?: Omit<MapContext, "fn">): Promise<T> {
    try {
      return await body();
    } catch (e) {
      throw mapPkcs11Error(e, { fn, ...ctx });
    }
  }
}

type pkcs11Template = Array<{ type: number; value?: number | boolean | string | Buffer }>;

function queryKey(q: ObjectQuery): string {
  return `${q.cls}|${q.keyType ?? ""}|${q.id?.toString("hex") ?? ""}|${q.label ?? ""}`;
}

function safeClose(p11: P11, session: Handle): void {
  try {
    p11.C_CloseSession(session);
  } catch {
    // Closing a session on a broken device may fail; the handle is abandoned either way.
  }
}
