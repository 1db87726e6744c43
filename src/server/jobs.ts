/**
 * Background jobs of a running server: work nobody asks for over the API but that must happen on its own —
 * the expiration manager (expired tokens revoked with their subtrees, in every namespace) and each mounted
 * backend's `periodic` hook (transit's auto_rotate_period, for one). One scheduler per server; the server
 * starts it once listening and stops it before the core shuts down. The scheduler knows no engine: a
 * backend that has background work declares it as its periodic hook.
 *
 * Where: on the node that holds background work: every server without HA; with HA the one holding the
 * storage's lock (`isActive`).
 *
 * Rules: a run never overlaps the previous one (the next run is scheduled only when the last one ends, so a
 * slow HSM delays rotation instead of piling runs up); nothing runs while the core is sealed (storage is
 * unreadable then, and a sealed server must not touch keys); a mount's periodic hook runs inside its
 * namespace the way a request does; one failing hook or job does not keep the others from running;
 * failures are logged with the namespace and mount only, never material or tokens.
 *
 * Expired tokens: each token store keeps a time-ordered expiry index in storage (tokens/expiry-index.ts), so
 * a run reads only the tokens that are due, and tokens that expired while the server was down are revoked
 * by the first run after it starts. Between runs nothing expired is usable anyway: a lookup refuses a
 * token once it or any ancestor has expired. A namespace that is sealed on its own is skipped until unsealed.
 * This stays a core job rather than the token backend's periodic hook: it works on the namespace's token
 * store, which every auth method's logins fill, not on the token mount's storage.
 */
import type { Core } from "../core/core.js";
import type { Namespace } from "../core/namespaces/namespace.js";
import { routePath } from "../core/mounts.js";
import type { Logger } from "./log.js";
import { runSnapshotSchedule, type SnapshotSchedule } from "./scheduled-snapshots.js";

export const DEFAULT_JOB_INTERVAL_MS = 60_000;

export interface JobsOptions {
  /** Time between the end of one run and the start of the next (tests shorten it). */
  intervalMs?: number;
  /**
   * The clock the jobs judge "due" by. A seam rather than a test hook: rotation periods are at least an hour,
   * so a test that wants to see one happen moves this clock instead of waiting.
   */
  now?: () => Date;
  /** The config's `snapshots` block: scheduled storage snapshots. */
  snapshots?: SnapshotSchedule;
  /** HA: whether this server holds background work now (absent: always). */
  isActive?: () => boolean;
}

export interface JobScheduler {
  /** Runs every job once now (waiting for a run already under way first). */
  runOnce(): Promise<void>;
  /** Stops scheduling and waits for a run under way to finish. */
  stop(): Promise<void>;
}

/**
 * Runs `work` inside `ns` the way a request runs there, so a namespace delete waits for it (or it skips a
 * namespace being deleted) and no late write lands behind the delete's prefix clear.
 */
async function insideNamespace(ns: Namespace, work: () => Promise<void>): Promise<void> {
  if (ns.fenced) return;
  ns.enter();
  try {
    await work();
  } finally {
    ns.leave();
  }
}

/** Runs the periodic hook of every mounted backend that has one, in every open namespace. */
async function runPeriodicHooks(core: Core, now: Date, logger: Logger): Promise<void> {
  for (const ns of core.namespaces.open()) {
    if (core.sealed) return;
    await insideNamespace(ns, () => runPeriodicHooksIn(core, ns, now, logger));
  }
}

async function runPeriodicHooksIn(core: Core, ns: Namespace, now: Date, logger: Logger): Promise<void> {
  for (const { entry, backend, storage } of ns.router.all()) {
    if (core.sealed) return;
    if (!backend.hasPeriodic) continue;
    try {
      await backend.periodic({ storage, now });
    } catch (err) {
      // One mount's failure (its HSM away, say) must not keep the other mounts' work from running.
      if (core.sealed) return;
      logger.warn({ namespace: ns.path, mount: routePath(entry), type: entry.type, error: errorText(err) }, "periodic function failed");
    }
  }
}

/** Revokes the expired tokens (with their subtrees and cubbyholes) of every open namespace. */
async function revokeExpiredTokens(core: Core, now: Date, logger: Logger): Promise<void> {
  for (const ns of core.namespaces.open()) {
    await insideNamespace(ns, async () => {
      const revoked = await ns.tokens.revokeExpired(now.getTime());
      if (revoked > 0) logger.info({ namespace: ns.path, revoked }, "expired tokens revoked");
    });
  }
}

/** Error messages only: errors here come from storage, the HSM or engines, none of which put secrets in them. */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function startJobs(core: Core, logger: Logger, opts: JobsOptions = {}): JobScheduler {
  const interval = opts.intervalMs ?? DEFAULT_JOB_INTERVAL_MS;
  const now = opts.now ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const jobs: Array<{ name: string; run: (core: Core, now: Date, logger: Logger) => Promise<void> }> = [
    { name: "token-expiration", run: revokeExpiredTokens },
    { name: "mount-periodic", run: runPeriodicHooks },
  ];
  const snapshots = opts.snapshots;
  if (snapshots) jobs.push({ name: "storage-snapshot", run: async (c, at, log) => void (await runSnapshotSchedule(c, snapshots, at, log)) });

  const runAll = async (): Promise<void> => {
    if (opts.isActive && !opts.isActive()) return;
    // One job failing does not keep the others from running.
    for (const job of jobs) {
      if (core.sealed) return;
      try {
        await job.run(core, now(), logger);
      } catch (err) {
        // Sealing mid-run makes storage fail: that is expected, not worth a warning.
        if (core.sealed) logger.debug({}, "background jobs interrupted by seal");
        else logger.error({ job: job.name, error: errorText(err) }, "background job failed");
      }
    }
  };

  const runOnce = async (): Promise<void> => {
    while (running) await running;
    running = runAll().finally(() => {
      running = undefined;
    });
    await running;
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      void runOnce().finally(schedule);
    }, interval);
    // Jobs never keep the process alive on their own: stopping the listeners is what ends a server.
    timer.unref();
  };

  schedule();
  return {
    runOnce,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
