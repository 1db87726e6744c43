/**
 * Storage on PostgreSQL (the `pg` driver), for operators who already run it and its replication.
 *
 * Layout: one table (default `arca_kv_store`) of (key TEXT COLLATE "C" PRIMARY KEY, value BYTEA); the "C"
 * collation makes PostgreSQL order keys by their UTF-8 bytes, as SQLite does, so listing and paging agree
 * across backends. `<table>_schema` holds the schema version; migrations/ below run once each, under an
 * advisory lock so that servers starting together do not race.
 *
 * Reads outside transactions use a pool of up to `max_parallel` connections. Writes go through one batch
 * at a time, as in sqlite.ts: writers arriving in the same turn of the event loop share one PostgreSQL
 * transaction (each in its own SAVEPOINT, so one failing job rolls back alone) and one durable commit.
 * Every batch first takes a transaction-scoped advisory lock of the table, so read-modify-write
 * transactions stay serial even when several servers share the table.
 *
 * Values are barrier ciphertext (or sealed root-key material): PostgreSQL never sees a plaintext secret.
 * The connection URL may carry a password; it is never logged (redactConnectionUrl).
 */
import pg from "pg";
import { ArcaError } from "../common/errors.js";
import { listLevelAsync } from "./list-level.js";
import { endableTxn, GroupCommitQueue, rejectJobs, settleJobs, type GroupCommitJob, type JobOutcome } from "./group-commit.js";
import { randomUUID } from "node:crypto";
import { assertValidKey, type KeyValueTxn, type ListOptions, type RemoteChangeListener, type Storage, type StorageEntry } from "./storage.js";
import { ChangeFeed, pruneChangesSql, recordChangeSql } from "./postgres-change-feed.js";
import { migrate } from "./postgres-migrations.js";
import { advisoryKey, quoteTable } from "./postgres-sql.js";

export const DEFAULT_PG_TABLE = "arca_kv_store";
export const DEFAULT_PG_MAX_PARALLEL = 128;

export interface PostgresOptions {
  connectionUrl: string;
  table?: string;
  maxParallel?: number;
  /**
   * Several servers may share the table. Off: this server holds a session advisory lock for as long as it
   * runs and refuses to start beside another, because servers without HA do not see each other's writes.
   */
  haEnabled?: boolean;
  /** Reports connection errors of idle pooled connections (message only, never the URL). */
  onError?: (message: string) => void;
}

/** A connection URL fit for logs and errors: the password (and any query password) replaced. */
export function redactConnectionUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "redacted";
    for (const key of [...u.searchParams.keys()]) if (/pass/i.test(key)) u.searchParams.set(key, "redacted");
    return u.toString();
  } catch {
    return "(unparsable connection_url)";
  }
}

/** Entries read per query while streaming a snapshot. */
const SNAPSHOT_PAGE = 500;

type Queryable = Pick<pg.PoolClient, "query">;

/** Errors leave this module without the connection URL (the driver may quote host or user, never the password). */
function storageError(err: unknown, password: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`postgresql storage: ${password ? message.split(password).join("redacted") : message}`);
}

export class PostgresStorage implements Storage {
  readonly type = "postgresql";
  private readonly t: string;
  private readonly writes = new GroupCommitQueue((batch) => this.runBatch(batch));
  /** This server's name in the change feed (HA only). */
  readonly node = randomUUID();
  private feed: ChangeFeed | undefined;
  private readonly listeners = new Set<RemoteChangeListener>();
  private batches = 0;

  private constructor(
    private readonly pool: pg.Pool,
    readonly table: string,
    private readonly password: string,
    private readonly writeLockKey: string,
    private exclusive: pg.PoolClient | undefined,
    private readonly haEnabled: boolean,
  ) {
    this.t = quoteTable(table);
  }

  /** Connects, creates or migrates the schema, and (without HA) claims the table for this server. */
  static async open(opts: PostgresOptions): Promise<PostgresStorage> {
    const table = opts.table ?? DEFAULT_PG_TABLE;
    quoteTable(table);
    let password = "";
    try {
      password = decodeURIComponent(new URL(opts.connectionUrl).password);
    } catch {
      // pg parses forms URL does not (e.g. a unix socket host); the message redaction then has nothing to hide.
    }
    const pool = new pg.Pool({ connectionString: opts.connectionUrl, max: opts.maxParallel ?? DEFAULT_PG_MAX_PARALLEL });
    pool.on("error", (err) => opts.onError?.(storageError(err, password).message));
    // A connection that dies while checked out emits "error" on its client, which nobody else listens to:
    // unhandled, it would end the process. The query under way rejects on its own; this only reports.
    pool.on("connect", (client) => client.on("error", (err) => opts.onError?.(storageError(err, password).message)));
    let exclusive: pg.PoolClient | undefined;
    try {
      const client = await pool.connect();
      try {
        await migrate(client, table);
      } finally {
        client.release();
      }
      if (!opts.haEnabled) {
        exclusive = await pool.connect();
        const { rows } = await exclusive.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [advisoryKey(table, "single-node")]);
        if (!rows[0]?.ok) {
          throw new Error(`another Arca server uses table "${table}"; servers sharing a table need ha_enabled = "true"`);
        }
      }
    } catch (err) {
      exclusive?.release(true);
      await pool.end().catch(() => undefined);
      throw storageError(err, password);
    }
    const storage = new PostgresStorage(pool, table, password, advisoryKey(table, "write"), exclusive, opts.haEnabled ?? false);
    if (opts.haEnabled) {
      storage.feed = new ChangeFeed({
        connectionUrl: opts.connectionUrl,
        table,
        node: storage.node,
        onChange: (keys) => storage.notify(keys),
        onError: (message) => opts.onError?.(storageError(new Error(message), password).message),
      });
      try {
        await storage.feed.start();
      } catch (err) {
        await storage.close();
        throw storageError(err, password);
      }
    }
    return storage;
  }

  /** Listeners of other servers' commits; only HA storage has a change feed to call them. */
  watchRemoteChanges(listener: RemoteChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(keys: readonly string[] | "all"): void {
    for (const l of this.listeners) l(keys);
  }

  /** The change feed's position (tests). */
  get feedSeq(): bigint {
    return this.feed?.seq ?? 0n;
  }

  /** Cuts the change feed's connection, as a network failure would; reconnects when the result is called (tests). */
  dropFeedConnectionForTest(): () => void {
    return this.feed?.dropConnectionForTest() ?? (() => undefined);
  }

  private range(q: Queryable, start: string, end: string | undefined, limit: number): Promise<string[]> {
    const sql =
      end === undefined
        ? `SELECT key FROM ${this.t} WHERE key >= $1 ORDER BY key LIMIT $2`
        : `SELECT key FROM ${this.t} WHERE key >= $1 AND key < $3 ORDER BY key LIMIT $2`;
    const params = end === undefined ? [start, limit] : [start, limit, end];
    return q.query<{ key: string }>(sql, params).then((r) => r.rows.map((row) => row.key));
  }

  private async getWith(q: Queryable, key: string): Promise<Buffer | undefined> {
    assertValidKey(key);
    const { rows } = await q.query<{ value: Buffer }>(`SELECT value FROM ${this.t} WHERE key = $1`, [key]);
    return rows[0]?.value;
  }

  private listWith(q: Queryable, prefix: string, opts: ListOptions): Promise<string[]> {
    return listLevelAsync((start, end, limit) => this.range(q, start, end, limit), prefix, opts);
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await this.getWith(this.pool, key);
    } catch (err) {
      throw err instanceof ArcaError ? err : storageError(err, this.password);
    }
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<string[]> {
    try {
      return await this.listWith(this.pool, prefix, opts);
    } catch (err) {
      throw storageError(err, this.password);
    }
  }

  /** One REPEATABLE READ transaction on a connection of its own, read in pages. */
  async *entries(): AsyncIterable<StorageEntry> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw storageError(err, this.password);
    }
    let broken = false;
    let inTransaction = false;
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      inTransaction = true;
      let after: string | undefined;
      for (;;) {
        const { rows } =
          after === undefined
            ? await client.query<StorageEntry>(`SELECT key, value FROM ${this.t} ORDER BY key LIMIT ${SNAPSHOT_PAGE}`)
            : await client.query<StorageEntry>(`SELECT key, value FROM ${this.t} WHERE key > $1 ORDER BY key LIMIT ${SNAPSHOT_PAGE}`, [after]);
        yield* rows;
        if (rows.length < SNAPSHOT_PAGE) break;
        after = rows[rows.length - 1].key;
      }
      await client.query("COMMIT");
      inTransaction = false;
    } catch (err) {
      broken = true;
      throw storageError(err, this.password);
    } finally {
      // Also reached when the consumer stops early: the read transaction is ended before reuse.
      if (inTransaction && !broken) await client.query("ROLLBACK").catch(() => undefined);
      client.release(broken);
    }
  }

  async put(key: string, value: Buffer): Promise<void> {
    assertValidKey(key);
    return this.transaction(async (txn) => txn.put(key, value));
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    return this.transaction(async (txn) => txn.delete(key));
  }

  transaction<T>(fn: (txn: KeyValueTxn) => Promise<T>): Promise<T> {
    return this.writes.enqueue(fn);
  }

  private makeTxn(client: pg.PoolClient, written: Set<string>): { txn: KeyValueTxn; end: () => void } {
    return endableTxn({
      get: async (key) => this.getWith(client, key),
      list: async (prefix, opts = {}) => this.listWith(client, prefix, opts),
      put: async (key, value) => {
        assertValidKey(key);
        await client.query(`INSERT INTO ${this.t} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [key, value]);
        written.add(key);
      },
      delete: async (key) => {
        assertValidKey(key);
        await client.query(`DELETE FROM ${this.t} WHERE key = $1`, [key]);
        written.add(key);
      },
    });
  }

  private async runBatch(batch: GroupCommitJob[]): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      rejectJobs(batch, storageError(err, this.password));
      return;
    }
    let broken = false;
    try {
      const outcomes: JobOutcome[] = [];
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${this.writeLockKey})`);
      const changed = new Set<string>();
      for (const job of batch) {
        const written = new Set<string>();
        const { txn, end } = this.makeTxn(client, written);
        await client.query("SAVEPOINT job");
        try {
          const value = await job.fn(txn);
          await client.query("RELEASE SAVEPOINT job");
          for (const key of written) changed.add(key);
          outcomes.push({ ok: true, value });
        } catch (err) {
          await client.query("ROLLBACK TO SAVEPOINT job");
          await client.query("RELEASE SAVEPOINT job");
          outcomes.push({ ok: false, value: err });
        } finally {
          end();
        }
      }
      if (this.haEnabled && changed.size > 0) {
        // Part of the same transaction: other servers hear of the keys exactly when they commit.
        await client.query(recordChangeSql(this.table), [this.node, [...changed]]);
        if (++this.batches % 1000 === 0) await client.query(pruneChangesSql(this.table));
      }
      await client.query("COMMIT");
      settleJobs(batch, outcomes);
    } catch (err) {
      // The connection failed or the commit did: nothing of the batch is acknowledged.
      broken = true;
      await client.query("ROLLBACK").catch(() => undefined);
      rejectJobs(batch, storageError(err, this.password));
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (!(await this.writes.close())) return;
    await this.feed?.close();
    this.listeners.clear();
    this.exclusive?.release(true);
    this.exclusive = undefined;
    await this.pool.end();
  }
}
