/**
 * The change feed that keeps several servers' caches coherent over one PostgreSQL table (HA).
 *
 * Writing: every committed write batch of an HA server adds one row (seq, node, keys) to `<table>_changes`
 * inside its own transaction and NOTIFYs the table's channel with the seq; both take effect at commit, and
 * batches commit one at a time (the table's write lock), so seq order is commit order.
 *
 * Reading: each server LISTENs on a connection of its own. A notification (or a reconnect) makes it read
 * every row after the last seq it has seen, so nothing is lost while it was disconnected: that is the
 * catch-up. Its own rows are skipped (its caches were updated by the write itself). If the rows it missed
 * were pruned meanwhile, it reports "all": every cache must be dropped.
 */
import pg from "pg";
import { quoteTable } from "./postgres-sql.js";
import type { RemoteChangeListener } from "./storage.js";

/** Rows older than this are pruned; a server away longer drops all its caches when it returns. */
export const CHANGE_RETENTION_SECONDS = 600;

export function changesTable(table: string): string {
  return quoteTable(`${table}_changes`);
}

export function channelOf(table: string): string {
  return `arca_changes_${table}`.toLowerCase();
}

/** The SQL a write batch runs before COMMIT: record its keys and notify (both delivered at commit). */
export function recordChangeSql(table: string): string {
  return `WITH c AS (INSERT INTO ${changesTable(table)} (node, keys) VALUES ($1, $2) RETURNING seq) SELECT pg_notify('${channelOf(table)}', (SELECT seq FROM c)::text)`;
}

export function pruneChangesSql(table: string): string {
  return `DELETE FROM ${changesTable(table)} WHERE at < now() - interval '${CHANGE_RETENTION_SECONDS} seconds'`;
}

export interface ChangeFeedOptions {
  connectionUrl: string;
  table: string;
  node: string;
  onChange: RemoteChangeListener;
  onError?: (message: string) => void;
}

export class ChangeFeed {
  private client: pg.Client | undefined;
  private lastSeq = 0n;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoffMs = 50;
  private held = false;

  constructor(private readonly opts: ChangeFeedOptions) {}

  /** Starts listening; changes committed before this call are not reported. */
  async start(): Promise<void> {
    await this.connect(true);
  }

  /** The last seq read (tests and status). */
  get seq(): bigint {
    return this.lastSeq;
  }

  private async connect(first: boolean): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.connectionUrl });
    client.on("error", (err) => this.lost(client, err));
    client.on("end", () => this.lost(client));
    client.on("notification", () => this.read());
    await client.connect();
    await client.query(`LISTEN "${channelOf(this.opts.table)}"`);
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.backoffMs = 50;
    if (first) {
      // The sequence, not max(seq): the rows may all have been pruned, the numbering goes on.
      const { rows: named } = await client.query<{ name: string }>("SELECT pg_get_serial_sequence($1, 'seq') AS name", [changesTable(this.opts.table)]);
      const { rows } = await client.query<{ seq: string }>(`SELECT (CASE WHEN is_called THEN last_value ELSE 0 END)::text AS seq FROM ${named[0].name}`);
      this.lastSeq = BigInt(rows[0]?.seq ?? "0");
    } else {
      this.read();
    }
  }

  private lost(client: pg.Client, err?: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    if (this.closed) return;
    if (err) this.opts.onError?.(`change feed connection lost: ${err.message}`);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.held || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect(false).catch((err: unknown) => {
        this.opts.onError?.(`change feed reconnect failed: ${err instanceof Error ? err.message : String(err)}`);
        this.backoffMs = Math.min(this.backoffMs * 2, 2000);
        this.scheduleReconnect();
      });
    }, this.backoffMs);
    this.reconnectTimer.unref();
  }

  /** Reads every change after the last seen one (single flight: a notification meanwhile reads again). */
  private read(): void {
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readOnce()
      .catch((err: unknown) => this.opts.onError?.(`change feed read failed: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        this.reading = undefined;
        if (this.readAgain && !this.closed) {
          this.readAgain = false;
          this.read();
        }
      });
  }

  private async readOnce(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const t = changesTable(this.opts.table);
    const { rows } = await client.query<{ seq: string; node: string; keys: string[]; first: string | null }>(
      `SELECT seq::text AS seq, node, keys, (SELECT min(seq)::text FROM ${t}) AS first FROM ${t} WHERE seq > $1 ORDER BY seq`,
      [this.lastSeq.toString()],
    );
    if (rows.length === 0) return;
    const first = BigInt(rows[0].first ?? rows[0].seq);
    // Rows after lastSeq were pruned before we read them: what changed is unknown, so everything did.
    if (first > this.lastSeq + 1n) {
      this.lastSeq = BigInt(rows[rows.length - 1].seq);
      this.opts.onChange("all");
      return;
    }
    const keys: string[] = [];
    for (const row of rows) if (row.node !== this.opts.node) keys.push(...row.keys);
    this.lastSeq = BigInt(rows[rows.length - 1].seq);
    if (keys.length > 0) this.opts.onChange(keys);
  }

  /**
   * Cuts the listening connection as a network failure would, and holds the reconnect until the returned
   * function is called, so a test can commit while this server is certainly not listening.
   */
  dropConnectionForTest(): () => void {
    this.held = true;
    this.client?.connection.stream.destroy();
    return () => {
      this.held = false;
      this.scheduleReconnect();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.reading;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
