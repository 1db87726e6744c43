// PKCS#11 libraries, loaded and C_Initialize'd once per process per library path.
//
// Off the event loop — measured 2026-11-22 with `npx tsx bench/hsm.ts --workers` on the 2-vCPU VM, SoftHSM 2.6.1,
// 4 calls in flight, default UV_THREADPOOL_SIZE=4, other engineers' test runs sharing the box (load average
// 1.2 → 4.6 across runs, so read ranges, not points). ops/s, and event-loop delay p99 while the load ran:
//
//                              sync, 1 session      async threadpool,     2 worker_threads
//                              (blocks the loop)    4 sessions            (sync inside, postMessage)
//   ECDSA P-256 sign           8 000 – 9 800        9 500 – 9 550          5 500 – 9 500
//   RSA-2048 sign (RSA_PKCS)     750 –   840        1 080 – 1 570            805 – 1 160
//   AES-256-GCM 1 KiB enc     20 500 – 21 700       12 600 – 17 200         (not run)
//   event-loop delay p99       = the whole run      1.7 – 7.6 ms           1.6 – 4.3 ms
//
// pkcs11js's async variants (native call on the libuv threadpool, promise back) are as fast or faster than
// worker_threads at equal responsiveness: no structured clone of buffers and no postMessage hop per call, and
// the libuv pool already gives the parallelism two cores allow. So HSM calls go through C_*Async with one
// session per in-flight call; the session pool defaults to the threadpool size (more sessions than threads
// only queue inside libuv). The threadpool hop costs cheap ops (AES-GCM) ~25 % against a blocking sync call;
// that is the price of never stalling the event loop. Bookkeeping calls (C_*Init, C_FindObjects,
// C_GetAttributeValue, C_OpenSession, C_Login) stay synchronous: microseconds, and pkcs11js has no async form.
import { realpathSync } from "node:fs";
import pkcs11js from "pkcs11js";
import { CKR, ckrOf, HsmConfigError, HsmUnavailableError, mapPkcs11Error } from "./errors.js";

/**
 * The slice of pkcs11js the HSM code uses. Narrow on purpose (as smallstep's `P11`): tests can hand in a
 * fake to drive error mapping and retry policy, while every happy path runs against a real library.
 */
export type P11 = Pick<
  pkcs11js.PKCS11,
  | "C_Initialize"
  | "C_Finalize"
  | "C_GetInfo"
  | "C_GetSlotList"
  | "C_GetTokenInfo"
  | "C_GetMechanismList"
  | "C_OpenSession"
  | "C_CloseSession"
  | "C_Login"
  | "C_Logout"
  | "C_FindObjectsInit"
  | "C_FindObjects"
  | "C_FindObjectsFinal"
  | "C_GetAttributeValue"
  | "C_SetAttributeValue"
  | "C_CreateObject"
  | "C_DestroyObject"
  | "C_SignInit"
  | "C_SignAsync"
  | "C_EncryptInit"
  | "C_EncryptAsync"
  | "C_DecryptInit"
  | "C_DecryptAsync"
  | "C_GenerateKeyAsync"
  | "C_GenerateKeyPairAsync"
  | "C_WrapKeyAsync"
  | "C_UnwrapKeyAsync"
>;

export type Handle = Buffer;

export interface Pkcs11ModuleOptions {
  /** Factory for the binding (tests pass a fake). Default: pkcs11js loading `libPath`. */
  binding?: (libPath: string) => P11;
  /** Re-initialisation limits (first load of a library wins; tests shorten them). */
  reinit?: Partial<ReinitPolicy>;
}

/** pkcs11js constants are exported as numbers from the CJS module. */
export const pk = pkcs11js;

const CKF_TOKEN_INITIALIZED = 0x400;

export interface TokenSelector {
  /** CKA token label (trailing blanks ignored). */
  label?: string;
  /** Token serial number (trailing blanks ignored). */
  serial?: string;
}

export interface FoundToken {
  slot: Handle;
  label: string;
  serial: string;
  manufacturer: string;
  model: string;
}

/**
 * How often a library may be re-initialised (C_Finalize + C_Initialize) to find a token that came back, and how
 * long a re-initialisation waits for calls in flight to finish.
 */
export interface ReinitPolicy {
  /** Least time between two re-initialisations; doubled while they find nothing, reset by a connect (default 1000). */
  minIntervalMs: number;
  /** Cap of that interval (default 5000): a returning token is seen within about this long. */
  maxIntervalMs: number;
  /** Longest wait for calls in flight before giving up this time (default 5000). */
  drainTimeoutMs: number;
}

const DEFAULT_REINIT: ReinitPolicy = { minIntervalMs: 1000, maxIntervalMs: 5000, drainTimeoutMs: 5000 };

/** One loaded PKCS#11 library. Get it through `loadPkcs11Module`, never `new`, so C_Initialize runs once. */
export class Pkcs11Module {
  private initialized = false;
  private everInitialized = false;
  /** False when the library refused OS locking (CKR_CANT_LOCK): then only one call may be in flight. */
  threadSafe = true;
  /**
   * Bumped whenever the library is finalised. Sessions, logins and object handles of an older generation are
   * void, and their numbers may be handed out again: a token must never close or use them.
   */
  generation = 0;
  /** Calls in flight (async ones run on libuv threads: finalising under them is a use-after-free). */
  private inFlight = 0;
  /** Set while a re-initialisation waits for calls in flight to drain: new calls wait behind it. */
  private gate: Promise<void> | undefined;
  private onIdle: (() => void) | undefined;
  private reinitRunning: Promise<boolean> | undefined;
  private lastReinitAt = -Infinity;
  private reinitIntervalMs: number;
  readonly reinitPolicy: ReinitPolicy;
  /** Counts re-initialisations (tests, logs). */
  reinits = 0;

  constructor(
    readonly libPath: string,
    readonly p11: P11,
    reinit: Partial<ReinitPolicy> = {},
  ) {
    this.reinitPolicy = { ...DEFAULT_REINIT, ...reinit };
    this.reinitIntervalMs = this.reinitPolicy.minIntervalMs;
  }

  /**
   * C_Initialize with OS locking (calls arrive from several libuv threads). Idempotent. After a
   * re-initialisation a failure means the device is (still) away: HsmUnavailableError, so callers retry.
   */
  initialize(): void {
    if (this.initialized) return;
    try {
      this.p11.C_Initialize({ flags: pk.CKF_OS_LOCKING_OK });
    } catch (e) {
      const code = ckrOf(e);
      if (code === CKR.CRYPTOKI_ALREADY_INITIALIZED) {
        // Another binding in this process initialised the same library; its state is shared, which is fine.
      } else if (code === 0x0a /* CKR_CANT_LOCK */) {
        this.p11.C_Initialize();
        this.threadSafe = false;
      } else if (this.everInitialized) {
        const m = mapPkcs11Error(e, { fn: "C_Initialize" });
        throw new HsmUnavailableError(`C_Initialize of ${this.libPath} failed again after a reset (${m.message})`, { ckr: m.ckr, fn: "C_Initialize", cause: e });
      } else {
        throw mapPkcs11Error(e, { fn: "C_Initialize" });
      }
    }
    this.initialized = true;
    this.everInitialized = true;
  }

  /**
   * Counts a call in flight until `leave`. Returns a promise only while a re-initialisation drains the
   * library (the hot path stays synchronous).
   */
  enter(): Promise<void> | undefined {
    if (this.gate) return this.enterAfterGate();
    this.inFlight++;
    return undefined;
  }

  leave(): void {
    this.inFlight--;
    if (this.inFlight === 0) this.onIdle?.();
  }

  private async enterAfterGate(): Promise<void> {
    while (this.gate) await this.gate;
    this.inFlight++;
  }

  /**
   * C_Finalize + C_Initialize (lazily, at the next findToken), so the library looks for its tokens again: SoftHSM
   * reads its token directory only at C_Initialize, and some HSMs need it after the device came back. Every
   * token on this library loses its sessions and login (the generation changes) and reconnects.
   *
   * Only with no call in flight (new calls wait meanwhile, up to drainTimeoutMs), and at most once per
   * interval (backing off while re-initialisations find nothing). Returns whether it happened.
   */
  reinitialize(): Promise<boolean> {
    if (this.reinitRunning) return this.reinitRunning;
    if (Date.now() - this.lastReinitAt < this.reinitIntervalMs) return Promise.resolve(false);
    const run = this.drainThenReset().finally(() => {
      this.reinitRunning = undefined;
    });
    this.reinitRunning = run;
    return run;
  }

  /** A token connected: the next re-initialisation may come after the shortest interval again. */
  noteConnected(): void {
    this.reinitIntervalMs = this.reinitPolicy.minIntervalMs;
  }

  private async drainThenReset(): Promise<boolean> {
    if (this.inFlight === 0) {
      this.reset();
      return true;
    }
    let open!: () => void;
    this.gate = new Promise<void>((r) => (open = r));
    try {
      const drained = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), this.reinitPolicy.drainTimeoutMs);
        timer.unref();
        this.onIdle = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      if (drained) this.reset();
      return drained;
    } finally {
      this.onIdle = undefined;
      this.gate = undefined;
      open();
    }
  }

  private reset(): void {
    this.lastReinitAt = Date.now();
    this.reinitIntervalMs = Math.min(this.reinitPolicy.maxIntervalMs, this.reinitIntervalMs * 2);
    this.reinits++;
    this.finalize();
  }

  /**
   * Finds the token by label or serial — never by slot index or slot ID, which SoftHSM (and many HSMs) reassign
   * (G11). Slots whose token cannot be read are skipped: a removed token must not hide the others.
   */
  findToken(sel: TokenSelector): FoundToken {
    if (sel.label === undefined && sel.serial === undefined) throw new HsmConfigError("a token is selected by label or serial");
    this.initialize();
    let slots: Handle[];
    try {
      slots = this.p11.C_GetSlotList(true);
    } catch (e) {
      throw mapPkcs11Error(e, { fn: "C_GetSlotList" });
    }
    const matches: FoundToken[] = [];
    for (const slot of slots) {
      let info: pkcs11js.TokenInfo;
      try {
        info = this.p11.C_GetTokenInfo(slot);
      } catch {
        continue;
      }
      if ((info.flags & CKF_TOKEN_INITIALIZED) === 0) continue;
      const found: FoundToken = {
        slot,
        label: info.label.trimEnd(),
        serial: info.serialNumber.trimEnd(),
        manufacturer: info.manufacturerID.trimEnd(),
        model: info.model.trimEnd(),
      };
      if (sel.label !== undefined && found.label !== sel.label) continue;
      if (sel.serial !== undefined && found.serial !== sel.serial) continue;
      matches.push(found);
    }
    const what = describeSelector(sel);
    if (matches.length === 0) throw new HsmUnavailableError(`token ${what} not present in ${this.libPath}`);
    if (matches.length > 1) throw new HsmConfigError(`${matches.length} tokens match ${what}; select by serial`);
    return matches[0];
  }

  /** C_Finalize (process shutdown, or a reset; other holders of this library in the process lose it too). */
  finalize(): void {
    if (!this.initialized) return;
    this.initialized = false;
    this.generation++;
    try {
      this.p11.C_Finalize();
    } catch {
      // Already finalised or the device is gone: nothing more to release.
    }
  }
}

export function describeSelector(sel: TokenSelector): string {
  return sel.serial !== undefined ? `serial=${sel.serial}` : `label=${JSON.stringify(sel.label)}`;
}

const modules = new Map<string, Pkcs11Module>();

/**
 * The process-wide module for a library path. Keyed by the real path, so a symlink and its target share one
 * C_Initialize (SoftHSM's /usr/lib/softhsm/libsofthsm2.so is a symlink).
 */
export function loadPkcs11Module(libPath: string, opts: Pkcs11ModuleOptions = {}): Pkcs11Module {
  let key: string;
  try {
    key = realpathSync(libPath);
  } catch {
    throw new HsmConfigError(`PKCS#11 library not found: ${libPath}`);
  }
  const existing = modules.get(key);
  if (existing) return existing;
  let p11: P11;
  if (opts.binding) {
    p11 = opts.binding(key);
  } else {
    const lib = new pkcs11js.PKCS11();
    try {
      lib.load(key);
    } catch (e) {
      throw new HsmConfigError(`cannot load PKCS#11 library ${libPath}: ${e instanceof Error ? e.message : String(e)}`);
    }
    p11 = lib;
  }
  const mod = new Pkcs11Module(key, p11, opts.reinit);
  mod.initialize();
  modules.set(key, mod);
  return mod;
}

/** Forgets a module (tests with fake bindings). Does not C_Finalize: other holders may still use the library. */
export function unregisterPkcs11Module(libPath: string): void {
  for (const [k, m] of modules) if (k === libPath || m.libPath === libPath) modules.delete(k);
}
