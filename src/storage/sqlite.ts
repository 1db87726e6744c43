/**
 * Embedded storage on SQLite (better-sqlite3), WAL mode, synchronous=FULL: a write is on disk before
 * it is acknowledged.
 *
 * Two connections: reads outside transactions use `reader`, so they never see another request's
 * uncommitted writes; all writes go through `writer`, one batch at a time. Writers that arrive in the
 * same turn of the event loop are committed together (group commit): each runs inside its own SAVEPOINT,
 * so one failing job rolls back alone, and all of them pay for a single fsync.
 */
import Database from "better-sqlite3";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { levelScan, prefixEnd } from "./list-level.js";
import { endableTxn, GroupCommitQueue, rejectJobs, settleJobs, type GroupCommitJob, type JobOutcome } from "./group-commit.js";
import {
  assertValidKey,
  collapseToLevel,
  type KeyValueTxn,
  type ListOptions,
  type Storage,
  type StorageEntry,
} from "./storage.js";

interface Statements {
  get: Database.Statement<[string], { value: Buffer }>;
  range: Database.Statement<[string, string], { key: string }>;
  rangeOpen: Database.Statement<[string], { key: string }>;
  put: Database.Statement<[string, Buffer]>;
  del: Database.Statement<[string]>;
}

function prepare(db: Database.Database): Statements {
  return {
    get: db.prepare<[string], { value: Buffer }>("SELECT value FROM kv WHERE key = ?"),
    range: db.prepare<[string, string], { key: string }>("SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key"),
    rangeOpen: db.prepare<[string], { key: string }>("SELECT key FROM kv WHERE key >= ? ORDER BY key"),
    put: db.prepare<[string, Buffer]>("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
    del: db.prepare<[string]>("DELETE FROM kv WHERE key = ?"),
  };
}

/**
 * One level of listing without walking whole sub-trees: scan keys in order and, on meeting a
 * sub-folder, seek past it.
 */
function listLevel(st: Statements, prefix: string, opts: ListOptions): string[] {
  const scan = levelScan(prefix, opts);
  const { end, limit } = scan;
  let start = scan.start;
  const out: string[] = [];
  for (;;) {
    let seekTo: string | undefined;
    const rows = end === undefined ? st.rangeOpen.iterate(start) : st.range.iterate(start, end);
    for (const row of rows) {
      const [name] = collapseToLevel(prefix, [row.key]);
      if (name === undefined) continue;
      out.push(name);
      if (out.length >= limit) {
        rows.return?.();
        return out;
      }
      if (name.endsWith("/")) {
        seekTo = prefix + prefixEnd(name);
        rows.return?.();
        break;
      }
    }
    if (seekTo === undefined) return out;
    start = seekTo;
  }
}

/**
 * Creates `path` owner-only (0600) or tightens it to that: the data directory may already exist with a
 * looser mode, and the process umask (often 022) would otherwise leave the files world-readable.
 */
function makePrivate(path: string): void {
  closeSync(openSync(path, "a", 0o600));
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
}

/** Entries read per query while streaming a snapshot. */
const SNAPSHOT_PAGE = 500;

export interface SqliteOptions {
  path: string;
}

export class SqliteStorage implements Storage {
  readonly type = "sqlite";
  private readonly writer: Database.Database;
  private readonly reader: Database.Database;
  private readonly w: Statements;
  private readonly r: Statements;
  private readonly writes = new GroupCommitQueue((batch) => this.runBatch(batch));
  private readonly path: string;

  constructor(opts: SqliteOptions) {
    this.path = opts.path;
    if (opts.path !== ":memory:") {
      mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
      makePrivate(opts.path);
    }
    this.writer = new Database(opts.path);
    this.writer.pragma("journal_mode = WAL");
    // SQLite creates -wal and -shm with the database file's mode; ones left over are tightened too.
    if (opts.path !== ":memory:") for (const f of [`${opts.path}-wal`, `${opts.path}-shm`]) if (existsSync(f)) makePrivate(f);
    this.writer.pragma("synchronous = FULL");
    this.writer.pragma("busy_timeout = 5000");
    this.writer.exec("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID");
    // ":memory:" (tests only) has one connection: its readers can see a transaction in progress.
    this.reader = opts.path === ":memory:" ? this.writer : new Database(opts.path, { readonly: true });
    this.reader.pragma("busy_timeout = 5000");
    this.w = prepare(this.writer);
    this.r = this.reader === this.writer ? this.w : prepare(this.reader);
  }

  async get(key: string): Promise<Buffer | undefined> {
    assertValidKey(key);
    return this.r.get.get(key)?.value;
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<string[]> {
    return listLevel(this.r, prefix, opts);
  }

  /**
   * A connection of its own holds the read transaction, so the shared reader keeps seeing new commits
   * while a long snapshot streams. (":memory:" has one connection: its entries are read in one go.)
   */
  async *entries(): AsyncIterable<StorageEntry> {
    if (this.path === ":memory:") {
      yield* this.reader.prepare<[], StorageEntry>("SELECT key, value FROM kv ORDER BY key").all();
      return;
    }
    const db = new Database(this.path, { readonly: true });
    try {
      db.pragma("busy_timeout = 5000");
      const page = db.prepare<[string], StorageEntry>(`SELECT key, value FROM kv WHERE key > ? ORDER BY key LIMIT ${SNAPSHOT_PAGE}`);
      db.exec("BEGIN");
      let after = "";
      for (;;) {
        const rows = page.all(after);
        yield* rows;
        if (rows.length < SNAPSHOT_PAGE) break;
        after = rows[rows.length - 1].key;
      }
      db.exec("COMMIT");
    } finally {
      db.close();
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

  private makeTxn(): { txn: KeyValueTxn; end: () => void } {
    const st = this.w;
    return endableTxn({
      get: async (key) => {
        assertValidKey(key);
        return st.get.get(key)?.value;
      },
      list: async (prefix, opts = {}) => listLevel(st, prefix, opts),
      put: async (key, value) => {
        assertValidKey(key);
        st.put.run(key, value);
      },
      delete: async (key) => {
        assertValidKey(key);
        st.del.run(key);
      },
    });
  }

  private async runBatch(batch: GroupCommitJob[]): Promise<void> {
    const outcomes: JobOutcome[] = [];
    try {
      this.writer.exec("BEGIN IMMEDIATE");
    } catch (err) {
      rejectJobs(batch, err);
      return;
    }
    for (const job of batch) {
      const { txn, end } = this.makeTxn();
      this.writer.exec("SAVEPOINT job");
      try {
        const value = await job.fn(txn);
        this.writer.exec("RELEASE job");
        outcomes.push({ ok: true, value });
      } catch (err) {
        this.writer.exec("ROLLBACK TO job");
        this.writer.exec("RELEASE job");
        outcomes.push({ ok: false, value: err });
      } finally {
        end();
      }
    }
    try {
      this.writer.exec("COMMIT");
    } catch (err) {
      if (this.writer.inTransaction) this.writer.exec("ROLLBACK");
      rejectJobs(batch, err);
      return;
    }
    settleJobs(batch, outcomes);
  }

  async close(): Promise<void> {
    if (!(await this.writes.close())) return;
    if (this.reader !== this.writer) this.reader.close();
    this.writer.close();
  }
}
