import type { KeyValueTxn } from "./storage.js";

/** One caller's transaction body, waiting for the batch it will commit in. */
export interface GroupCommitJob {
  fn: (txn: KeyValueTxn) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** What one job's body did inside the batch: its value, or the error it threw (its savepoint rolled back). */
export interface JobOutcome {
  ok: boolean;
  value: unknown;
}

/**
 * Group commit shared by the SQL backends: writers queued during one turn of the event loop run one after
 * another in a single backend transaction (each in a savepoint of its own), so they share one commit.
 * The backend supplies only how a batch runs; the queue, its draining and the orderly close live here.
 */
export class GroupCommitQueue {
  private queue: GroupCommitJob[] = [];
  private draining = false;
  private closed = false;

  /** runBatch must settle every job of the batch (resolve or reject) and not throw. */
  constructor(private readonly runBatch: (batch: GroupCommitJob[]) => Promise<void>) {}

  enqueue<T>(fn: (txn: KeyValueTxn) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error("storage is closed"));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.draining) {
        this.draining = true;
        // Defer to the end of this turn so that concurrent writers share one commit.
        setImmediate(() => void this.drain());
      }
    });
  }

  /**
   * Refuses new work and waits until what was queued has committed or failed. Resolves false when it was
   * already closed, so the backend releases its resources only once.
   */
  async close(): Promise<boolean> {
    if (this.closed) return false;
    this.closed = true;
    while (this.draining || this.queue.length > 0) await new Promise((r) => setImmediate(r));
    return true;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      await this.runBatch(batch);
    }
    this.draining = false;
  }
}

/** After the commit: each job gets its own value or its own error. */
export function settleJobs(batch: GroupCommitJob[], outcomes: JobOutcome[]): void {
  batch.forEach((job, i) => {
    const o = outcomes[i];
    if (o.ok) job.resolve(o.value);
    else job.reject(o.value);
  });
}

/** Nothing of the batch is acknowledged: every job gets the same error. */
export function rejectJobs(batch: GroupCommitJob[], err: unknown): void {
  for (const job of batch) job.reject(err);
}

/**
 * Wraps a backend's transaction handle so that it refuses use once its job has ended (a body that kept the
 * handle must not write into a later job's savepoint).
 */
export function endableTxn(inner: KeyValueTxn): { txn: KeyValueTxn; end: () => void } {
  let open = true;
  const check = (): void => {
    if (!open) throw new Error("transaction already ended");
  };
  const txn: KeyValueTxn = {
    get: async (key) => {
      check();
      return inner.get(key);
    },
    list: async (prefix, opts) => {
      check();
      return inner.list(prefix, opts);
    },
    put: async (key, value) => {
      check();
      return inner.put(key, value);
    },
    delete: async (key) => {
      check();
      return inner.delete(key);
    },
  };
  return { txn, end: () => (open = false) };
}
