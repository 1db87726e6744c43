/**
 * Versioned schema of the PostgreSQL backend. `<table>_schema` holds one row: the version applied. Each
 * step runs once, in order, inside one transaction with the table's migration lock held, so servers
 * starting together apply it once and a failed step leaves the previous version intact. Steps are only
 * ever appended: a released step is never edited.
 */
import type pg from "pg";
import { advisoryKey, quoteTable } from "./postgres-sql.js";

type Step = (t: string, table: string) => string;

const STEPS: readonly Step[] = [
  // 1: the key space. "C" collation: byte order, as SQLite and the list paging expect.
  (t) => `CREATE TABLE IF NOT EXISTS ${t} (key TEXT COLLATE "C" PRIMARY KEY, value BYTEA NOT NULL)`,
  // 2: the change feed of HA: one row per committed write batch, in commit order (postgres-change-feed.ts).
  (_t, table) => `CREATE TABLE IF NOT EXISTS ${quoteTable(`${table}_changes`)} (seq BIGSERIAL PRIMARY KEY, node TEXT NOT NULL, keys TEXT[] NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT now())`,
];

export const PG_SCHEMA_VERSION = STEPS.length;

export async function migrate(client: Pick<pg.PoolClient, "query">, table: string): Promise<void> {
  const t = quoteTable(table);
  const schema = quoteTable(`${table}_schema`);
  await client.query("BEGIN");
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${advisoryKey(table, "migrate")})`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${schema} (version INTEGER NOT NULL)`);
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${schema}`);
    let version = rows[0]?.version ?? 0;
    if (version > STEPS.length) {
      throw new Error(`table "${table}" has schema version ${version}, newer than this server's ${STEPS.length}: upgrade Arca`);
    }
    if (rows.length === 0) await client.query(`INSERT INTO ${schema} (version) VALUES (0)`);
    for (; version < STEPS.length; version++) await client.query(STEPS[version](t, table));
    await client.query(`UPDATE ${schema} SET version = $1`, [version]);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}
