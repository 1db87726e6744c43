/**
 * HA leadership on PostgreSQL: which server holds background work. Every server polls a session advisory
 * lock of the table on a connection of its own; the one that gets it holds it until that connection ends,
 * which a crash (kill -9) ends at once, so another takes over at its next poll (POLL_MS). Every server
 * also records itself in the HA table (node, api_addr, last echo, whether active) for sys/leader and
 * sys/ha-status.
 */
import pg from "pg";
import { advisoryKey, quoteTable } from "./postgres-sql.js";

export const DEFAULT_HA_TABLE = "arca_ha_locks";
const POLL_MS = 1000;
/** After a step-down the node leaves the lock to the others this long (OpenBao waits 10 s too). */
const STEP_DOWN_HOLD_OFF_MS = 10_000;
/** NOTIFY channel on which any node asks the holder to step down; the payload is the lock key. */
const STEP_DOWN_CHANNEL = "arca_step_down";
/** A node not heard from for this long is left out of the node list. */
const STALE_SECONDS = 15;

export interface HaNode {
  node: string;
  apiAddr: string;
  active: boolean;
  lastEcho: Date;
}

export interface LeadershipOptions {
  connectionUrl: string;
  table: string;
  haTable?: string;
  node: string;
  apiAddr: string;
  onChange?: (active: boolean) => void;
  onError?: (message: string) => void;
  pollMs?: number;
}

export class PostgresLeadership {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  private activeFlag = false;
  private since: Date | undefined;
  private nodesSeen: HaNode[] = [];
  private holdOffUntil = 0;
  private readonly lockKey: string;
  private readonly ha: string;

  constructor(private readonly opts: LeadershipOptions) {
    this.lockKey = advisoryKey(opts.table, "active");
    this.ha = quoteTable(opts.haTable ?? DEFAULT_HA_TABLE, "ha_table");
  }

  get active(): boolean {
    return this.activeFlag;
  }

  get activeSince(): Date | undefined {
    return this.since;
  }

  /** The nodes heard from recently, the active one included (as of the last poll). */
  get nodes(): readonly HaNode[] {
    return this.nodesSeen;
  }

  get leader(): HaNode | undefined {
    return this.nodesSeen.find((n) => n.active);
  }

  /** Polls once now (so a single server is active when start resolves), then every POLL_MS. */
  async start(): Promise<void> {
    await this.poll();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll().finally(() => {
        this.polling = undefined;
        this.schedule();
      });
    }, this.opts.pollMs ?? POLL_MS);
    this.timer.unref();
  }

  private setActive(active: boolean): void {
    if (active === this.activeFlag) return;
    this.activeFlag = active;
    this.since = active ? new Date() : undefined;
    this.opts.onChange?.(active);
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.opts.connectionUrl });
    client.on("error", () => undefined); // reported by the next poll's failure
    client.on("notification", (n) => {
      if (n.channel === STEP_DOWN_CHANNEL && n.payload === this.lockKey) void this.releaseLock((c) => c === client);
    });
    await client.connect();
    await client.query(`LISTEN ${STEP_DOWN_CHANNEL}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${this.ha} (lock_key TEXT NOT NULL, node TEXT NOT NULL, api_addr TEXT NOT NULL, active BOOLEAN NOT NULL, last_echo TIMESTAMPTZ NOT NULL, PRIMARY KEY (lock_key, node))`,
    );
    return client;
  }

  private async poll(): Promise<void> {
    try {
      this.client ??= await this.connect();
      const c = this.client;
      if (!this.activeFlag && Date.now() >= this.holdOffUntil) {
        const { rows } = await c.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [this.lockKey]);
        if (rows[0]?.ok) this.setActive(true);
      }
      await c.query(
        `INSERT INTO ${this.ha} (lock_key, node, api_addr, active, last_echo) VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (lock_key, node) DO UPDATE SET api_addr = excluded.api_addr, active = excluded.active, last_echo = now()`,
        [this.opts.table, this.opts.node, this.opts.apiAddr, this.activeFlag],
      );
      const { rows } = await c.query<{ node: string; api_addr: string; active: boolean; last_echo: Date }>(
        `SELECT node, api_addr, active, last_echo FROM ${this.ha} WHERE lock_key = $1 AND last_echo > now() - interval '${STALE_SECONDS} seconds' ORDER BY node`,
        [this.opts.table],
      );
      const me = this.opts.node;
      // A crashed active node's row still says active: when this node holds the lock, it alone is.
      this.nodesSeen = rows.map((r) => ({ node: r.node, apiAddr: r.api_addr, active: this.activeFlag ? r.node === me : r.node !== me && r.active, lastEcho: r.last_echo }));
      await c.query(`DELETE FROM ${this.ha} WHERE lock_key = $1 AND last_echo < now() - interval '1 hour'`, [this.opts.table]);
    } catch (err) {
      // Without the connection the lock is gone too: another server may already hold it.
      this.opts.onError?.(`HA lock: ${err instanceof Error ? err.message : String(err)}`);
      const c = this.client;
      this.client = undefined;
      await c?.end().catch(() => undefined);
      this.setActive(false);
    }
  }

  /**
   * sys/step-down: the holder releases the lock and leaves it to the others for a while; any other node
   * asks the holder through NOTIFY (it may be a worker process next door or a server on another machine).
   */
  async stepDown(): Promise<void> {
    if (this.activeFlag) {
      await this.releaseLock((c) => c === this.client);
      return;
    }
    const c = (this.client ??= await this.connect());
    await c.query("SELECT pg_notify($1, $2)", [STEP_DOWN_CHANNEL, this.lockKey]);
  }

  /** Unlocks on the connection that holds the lock (the check skips a connection replaced since). */
  private async releaseLock(isCurrent: (c: pg.Client | undefined) => boolean): Promise<void> {
    const c = this.client;
    if (!this.activeFlag || !c || !isCurrent(c)) return;
    this.holdOffUntil = Date.now() + STEP_DOWN_HOLD_OFF_MS;
    this.setActive(false);
    try {
      await c.query("SELECT pg_advisory_unlock($1)", [this.lockKey]);
    } catch (err) {
      // The connection is gone, and the lock with it.
      this.opts.onError?.(`HA step-down: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Gives the lock up (server stop). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
    const c = this.client;
    this.client = undefined;
    if (c) {
      await c.query(`DELETE FROM ${this.ha} WHERE lock_key = $1 AND node = $2`, [this.opts.table, this.opts.node]).catch(() => undefined);
      await c.end().catch(() => undefined);
    }
    this.setActive(false);
  }
}
