/**
 * `arca server -workers N`: one primary process forks N workers (node:cluster), each a full server on the
 * same storage. The workers share the listening sockets; the primary hands connections out round-robin.
 *
 * Each worker has its own caches, so the storage must tell every worker what the others commit: that is
 * PostgreSQL with ha_enabled (change feed, one background-work holder through the advisory lock). SQLite
 * is refused: it has no change feed, so a worker would serve what it cached after another worker changed
 * it (a stale policy, a rotated keyring it never loaded) and both would run background work.
 *
 * Unsealing must reach every worker, and a request reaches only one: a Shamir unseal key would unseal one
 * worker of N. So -workers needs an auto seal (a `seal` block), with which each worker unseals itself.
 *
 * The primary holds no keys and opens no storage; it restarts a worker that dies (with back-off) and, on
 * SIGTERM or SIGINT, stops the workers gracefully (each closes its listeners and gives up the lock).
 */
import cluster, { type Worker } from "node:cluster";
import type { ServerConfig } from "./config.js";
import type { Logger } from "./log.js";

/** First restart delay after a crash; doubled per crash in a row, up to RESTART_MAX_MS. */
const RESTART_BASE_MS = 500;
const RESTART_MAX_MS = 30_000;
/** A worker that ran this long before dying starts the back-off again from the base. */
const HEALTHY_RUN_MS = 30_000;
/** Workers still running this long after SIGTERM are killed. */
const STOP_GRACE_MS = 30_000;

/** Why this config cannot run N workers, or undefined when it can. */
export function workersRefusal(config: ServerConfig, workers: number): string | undefined {
  if (workers <= 1) return undefined;
  const s = config.storage;
  if (s.type !== "postgresql" || !s.haEnabled) {
    return (
      "-workers needs storage \"postgresql\" with ha_enabled = \"true\": every worker caches what it reads, and only " +
      "a storage that tells each worker what the others commit keeps them coherent (SQLite has no change feed: " +
      "a worker would keep serving a policy, token or keyring another worker changed)"
    );
  }
  if (!config.seals.some((seal) => !seal.disabled)) {
    return "-workers needs an auto seal (a seal block): a Shamir unseal key reaches only the one worker its request lands on, and the others would stay sealed";
  }
  return undefined;
}

/** Parses the -workers flag: a whole number from 1 to 64 (more than the cores helps nothing). */
export function parseWorkers(value: string | undefined): number | string {
  if (value === undefined) return 1;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 64) return `-workers: expected a whole number from 1 to 64, got ${JSON.stringify(value)}`;
  return Number(value);
}

export interface Primary {
  /** Resolves when every worker has exited after stop(). */
  stop(): Promise<void>;
}

/**
 * Runs in the primary process: forks the workers (they run the same command line and, being cluster
 * workers, start a server) and keeps N of them running until stop().
 */
export function startPrimary(workers: number, logger: Logger): Primary {
  let stopping = false;
  let crashesInARow = 0;
  const startedAt = new Map<Worker, number>();
  const fork = (): void => {
    const w = cluster.fork();
    startedAt.set(w, Date.now());
    w.on("exit", (code, signal) => {
      const ranMs = Date.now() - (startedAt.get(w) ?? Date.now());
      startedAt.delete(w);
      if (stopping) return;
      crashesInARow = ranMs >= HEALTHY_RUN_MS ? 1 : crashesInARow + 1;
      const delay = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** (crashesInARow - 1));
      logger.warn({ worker: w.id, pid: w.process.pid, code, signal, restartInMs: delay }, "worker exited; restarting");
      setTimeout(() => {
        if (!stopping) fork();
      }, delay);
    });
  };
  for (let i = 0; i < workers; i++) fork();
  logger.info({ workers }, "started workers");
  return {
    stop: async () => {
      stopping = true;
      const running = [...startedAt.keys()];
      const exited = running.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once("exit", () => resolve()))));
      for (const w of running) w.process.kill("SIGTERM");
      const grace = setTimeout(() => {
        for (const w of running) if (!w.isDead()) w.process.kill("SIGKILL");
      }, STOP_GRACE_MS);
      await Promise.all(exited);
      clearTimeout(grace);
    },
  };
}
