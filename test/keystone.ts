// A real OpenStack Keystone (Debian's python3-keystone) for the keystone auth method's tests: a throwaway
// keystone.conf with SQLite and fernet tokens in a temp dir, db_sync / fernet_setup / credential_setup /
// bootstrap, then keystone-wsgi-public (wsgiref) on a free loopback port. Starting it takes tens of seconds
// on a busy machine, so a test file starts one in beforeAll and shares it.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { freePort } from "./processes.js";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const MANAGE = "keystone-manage";
const SERVE = "keystone-wsgi-public";

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? "").split(":").some((dir) => {
    try {
      return statSync(join(dir, cmd)).isFile();
    } catch {
      return false;
    }
  });
}

/**
 * True when Keystone can be started here. With CI=true a missing Keystone throws instead, so the
 * keystone tests fail on CI rather than silently skip.
 */
export function keystoneAvailable(): boolean {
  const ok = onPath(MANAGE) && onPath(SERVE);
  if (!ok && process.env.CI === "true") throw new Error(`Keystone is required on CI: ${MANAGE} / ${SERVE} missing (apt-get install python3-keystone)`);
  return ok;
}

export const KEYSTONE_SKIP_REASON = `Keystone not installed (${MANAGE} / ${SERVE}); keystone tests skipped (apt-get install python3-keystone)`;

export const KEYSTONE_ADMIN = { user: "admin", password: "admin-test-pw", project: "admin" };

export interface KeystoneToken {
  token: string;
  expiresAt: string;
}

export interface RunningKeystone {
  /** The v3 endpoint, e.g. http://127.0.0.1:PORT/v3. */
  url: string;
  /** A project-scoped admin token for the REST calls below. */
  adminToken: string;
  createProject(name: string): Promise<string>;
  /**
   * The ID of a role `bootstrap` made (admin, member, reader). Creating roles over the API fails on
   * SQLite here ("database is locked": role creation uses a second connection inside its transaction).
   */
  roleId(name: string): Promise<string>;
  /** A user with `roles` on `projectId`; returns the user ID. */
  createUser(name: string, password: string, projectId: string, roleIds: string[]): Promise<string>;
  /** A token for the user, scoped to `projectId` or unscoped. */
  issueToken(user: string, password: string, projectId?: string): Promise<KeystoneToken>;
  revoke(token: string): Promise<void>;
  stop(): Promise<void>;
}

async function keystoneCall(url: string, method: string, path: string, token: string | undefined, body?: unknown, extra: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown>; subjectToken: string | null }> {
  const headers: Record<string, string> = { "Content-Type": "application/json", ...extra };
  if (token !== undefined) headers["X-Auth-Token"] = token;
  const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`keystone ${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  const json = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  return { status: res.status, json, subjectToken: res.headers.get("x-subject-token") };
}

function idOf(json: Record<string, unknown>, kind: string): string {
  return (json[kind] as { id: string }).id;
}

export async function startKeystone(): Promise<RunningKeystone> {
  const dir = mkdtempSync(join(tmpdir(), "arca-keystone-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/v3`;
  const conf = join(dir, "keystone.conf");
  writeFileSync(
    conf,
    [
      "[DEFAULT]",
      "use_stderr = true",
      "[database]",
      `connection = sqlite:///${join(dir, "keystone.db")}`,
      "[token]",
      "provider = fernet",
      "expiration = 3600",
      "[fernet_tokens]",
      `key_repository = ${join(dir, "fernet-keys")}`,
      "[fernet_receipts]",
      `key_repository = ${join(dir, "fernet-receipts")}`,
      "[credential]",
      `key_repository = ${join(dir, "credential-keys")}`,
      "[cache]",
      "enabled = false",
      "",
    ].join("\n"),
  );
  const me = userInfo();
  const owner = ["--keystone-user", me.username, "--keystone-group", String(me.gid)];
  const manage = (args: string[]) => run(MANAGE, ["--config-file", conf, ...args], { cwd: dir, maxBuffer: 16 << 20 });
  let server: ChildProcess | undefined;
  let log = "";
  const stop = async (): Promise<void> => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server?.once("exit", r));
      server.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (server.exitCode === null) server.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await manage(["db_sync"]);
    // Keystone's API opens a second connection inside some write transactions (users, roles); in
    // SQLite's default rollback journal the first commit then waits on the second's read lock until
    // "database is locked". WAL lets readers and one writer overlap; the mode is stored in the file.
    await run("/usr/bin/python3", ["-c", "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA journal_mode=WAL')", join(dir, "keystone.db")]);
    await manage(["fernet_setup", ...owner]);
    await manage(["credential_setup", ...owner]);
    await manage(["bootstrap", "--bootstrap-password", KEYSTONE_ADMIN.password, "--bootstrap-region-id", "RegionOne", "--bootstrap-public-url", url]);

    server = spawn(SERVE, ["--host", "127.0.0.1", "--port", String(port)], { cwd: dir, env: { ...process.env, OS_KEYSTONE_CONFIG_FILES: conf }, stdio: ["ignore", "pipe", "pipe"] });
    const keep = (c: Buffer) => (log = (log + c.toString("utf8")).slice(-4000));
    server.stdout?.on("data", keep);
    server.stderr?.on("data", keep);
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`keystone exited (${server.exitCode}): ${log}`);
      try {
        if ((await fetch(url)).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`keystone did not answer on ${url}: ${log}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const issueToken = async (user: string, password: string, projectId?: string): Promise<KeystoneToken> => {
    const auth: Record<string, unknown> = { identity: { methods: ["password"], password: { user: { name: user, domain: { id: "default" }, password } } } };
    if (projectId !== undefined) auth.scope = { project: { id: projectId } };
    const r = await keystoneCall(url, "POST", "/auth/tokens?nocatalog", undefined, { auth });
    return { token: r.subjectToken ?? "", expiresAt: (r.json.token as { expires_at: string }).expires_at };
  };
  const adminAuth = { identity: { methods: ["password"], password: { user: { name: KEYSTONE_ADMIN.user, domain: { id: "default" }, password: KEYSTONE_ADMIN.password } } }, scope: { project: { name: KEYSTONE_ADMIN.project, domain: { id: "default" } } } };
  const adminToken = (await keystoneCall(url, "POST", "/auth/tokens?nocatalog", undefined, { auth: adminAuth })).subjectToken ?? "";
  const admin = async (method: string, path: string, body?: unknown, extra?: Record<string, string>) => {
    try {
      return await keystoneCall(url, method, path, adminToken, body, extra);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nkeystone log:\n${log.slice(-2000)}`, { cause: err });
    }
  };

  return {
    url,
    adminToken,
    createProject: async (name) => idOf((await admin("POST", "/projects", { project: { name, domain_id: "default" } })).json, "project"),
    roleId: async (name) => {
      const roles = (await admin("GET", `/roles?name=${encodeURIComponent(name)}`)).json.roles as { id: string }[];
      if (roles.length !== 1) throw new Error(`keystone has no role ${name}`);
      return roles[0].id;
    },
    createUser: async (name, password, projectId, roleIds) => {
      const userId = idOf((await admin("POST", "/users", { user: { name, password, domain_id: "default" } })).json, "user");
      for (const r of roleIds) await admin("PUT", `/projects/${projectId}/users/${userId}/roles/${r}`);
      return userId;
    },
    issueToken,
    revoke: async (token) => {
      await admin("DELETE", "/auth/tokens", undefined, { "X-Subject-Token": token });
    },
    stop,
  };
}
