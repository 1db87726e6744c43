// Throwaway PostgreSQL clusters for tests and benches (Debian's postgresql package).
//
// One cluster per test file (start it in beforeAll, stop it in afterAll): initdb in a temp dir, a free
// loopback port, the unix socket in the temp dir, so nothing touches a system cluster. initdb refuses to
// run as root, so as root the cluster is created and run as the `postgres` user. Password auth over TCP
// (scram) so tests can check that a connection_url's password never reaches a log.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "./processes.js";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN_DIR = process.env.ARCA_TEST_PG_BIN ?? findBinDir();
const INITDB = join(BIN_DIR, "initdb");
const PG_CTL = join(BIN_DIR, "pg_ctl");

function findBinDir(): string {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return join(root, "15", "bin");
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  return join(root, versions[0] ?? "15", "bin");
}

/**
 * True when a cluster can be started. With CI=true missing binaries throw instead, so PostgreSQL tests
 * fail on CI rather than silently skip.
 */
export function postgresAvailable(): boolean {
  const ok = existsSync(INITDB) && existsSync(PG_CTL);
  if (!ok && process.env.CI === "true") {
    throw new Error(`PostgreSQL is required on CI: ${INITDB} or ${PG_CTL} missing (apt-get install postgresql)`);
  }
  return ok;
}

/** Message for `describe.skipIf` users. */
export const POSTGRES_SKIP_REASON = `PostgreSQL not installed (${INITDB}); PostgreSQL tests skipped`;

export interface PgCluster {
  /** Data directory of the cluster (replication: the standby's copy). */
  data: string;
  /** pg_ctl promote (a standby becomes a primary). */
  promote(): void;
  /** postgresql://arca:<password>@127.0.0.1:<port>/postgres */
  url: string;
  password: string;
  port: number;
  dir: string;
  /** A fresh database in this cluster; its URL. */
  createDatabase(name: string): string;
  /** Runs SQL with psql as the cluster's superuser; returns stdout. */
  psql(sql: string, database?: string): string;
  stop(): void;
}

export interface PgClusterOptions {
  /** fsync on (benches measuring durable writes); off by default to spare the shared test machine. */
  durable?: boolean;
  /** Start as a streaming-replication standby of this cluster (pg_basebackup -R), for DR drills. */
  standbyOf?: PgCluster;
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  return { uid, gid };
}

/** Runs a cluster binary, as `postgres` when we are root. */
function run(owner: { uid: number; gid: number } | undefined, file: string, args: string[]): string {
  const res = spawnSync(file, args, { encoding: "utf8", ...(owner ? { uid: owner.uid, gid: owner.gid } : {}), env: { ...process.env, LC_ALL: "C" } });
  if (res.status !== 0) throw new Error(`${file} ${args[0] ?? ""} failed: ${res.stderr || res.stdout}`);
  return res.stdout;
}

export async function startPgCluster(opts: PgClusterOptions = {}): Promise<PgCluster> {
  const owner = postgresUser();
  const dir = mkdtempSync(join(tmpdir(), "arca-pg-"));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  chmodSync(dir, 0o700);
  const data = join(dir, "data");
  // A standby is a copy of its primary: same users, same password.
  const password = opts.standbyOf?.password ?? randomBytes(12).toString("hex");
  const pwfile = join(dir, "pw");
  writeFileSync(pwfile, password, { mode: 0o600 });
  if (owner) chownSync(pwfile, owner.uid, owner.gid);
  const primary = opts.standbyOf;
  if (primary) {
    // A physical copy that follows the primary (standby.signal + primary_conninfo written by -R).
    const res = spawnSync(join(BIN_DIR, "pg_basebackup"), ["-h", "127.0.0.1", "-p", String(primary.port), "-U", "arca", "-D", data, "-R", "-X", "stream", "--no-sync"], {
      encoding: "utf8",
      ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
      env: { ...process.env, PGPASSWORD: primary.password, PGAPPNAME: "standby" },
    });
    if (res.status !== 0) throw new Error(`pg_basebackup failed: ${res.stderr}`);
  } else {
    run(owner, INITDB, ["-D", data, "-U", "arca", `--pwfile=${pwfile}`, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"]);
  }
  rmSync(pwfile);
  const port = await freePort();
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses=127.0.0.1",
    "-c max_connections=200",
    "-c shared_buffers=32MB",
    "-c wal_level=replica",
    ...(opts.durable ? [] : ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]),
  ].join(" ");
  run(owner, PG_CTL, ["start", "-D", data, "-w", "-t", "30", "-l", join(dir, "log"), "-o", settings]);
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    try {
      run(owner, PG_CTL, ["stop", "-D", data, "-m", "immediate", "-w"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  process.once("exit", stop);
  const psql = (sql: string, database = "postgres"): string => {
    const res = spawnSync(join(BIN_DIR, "psql"), ["-h", dir, "-p", String(port), "-U", "arca", "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", sql], {
      encoding: "utf8",
    });
    if (res.status !== 0) throw new Error(`psql failed: ${res.stderr}`);
    return res.stdout;
  };
  const urlFor = (database: string): string => `postgresql://arca:${password}@127.0.0.1:${port}/${database}`;
  return {
    url: urlFor("postgres"),
    password,
    port,
    dir,
    data,
    promote: () => void run(owner, PG_CTL, ["promote", "-D", data, "-w", "-t", "30"]),
    createDatabase: (name) => {
      psql(`CREATE DATABASE "${name}"`);
      return urlFor(name);
    },
    psql,
    stop,
  };
}
