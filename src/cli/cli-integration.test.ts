/**
 * The CLI against a real dev server: a few commands as a real `node bin/arca` subprocess (needs
 * `npm run build`), the rest in-process through `run` with captured output to keep the suite quick.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../server/server.js";
import { devServer, freshServer } from "../../test/servers.js";
import type { CliIo } from "./io.js";
import { run } from "./main.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const built = existsSync(join(root, "dist", "cli", "main.js"));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/arca` asynchronously: a sync spawn would block the in-process server. */
function arcaProcess(args: string[], env: Record<string, string>, stdin = ""): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, "bin", "arca"), ...args], {
      env: { PATH: process.env.PATH ?? "", HOME: env.HOME ?? tmpdir(), ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** Runs the CLI in-process with a private environment, scripted stdin and captured output. */
async function arca(args: string[], env: Record<string, string>, stdin = ""): Promise<Result> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    env,
    homeDir: env.HOME ?? tmpdir(),
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    stdoutIsTty: false,
    stdinIsTty: false,
    readStdin: async () => stdin,
    readSecretLine: async () => stdin.split("\n")[0],
  };
  const code = await run(args, io);
  return { code, stdout, stderr };
}

describe("arca CLI against a dev server", () => {
  let server: RunningServer;
  let env: Record<string, string>;
  let home: string;

  beforeAll(async () => {
    server = await devServer();
    home = mkdtempSync(join(tmpdir(), "arca-cli-home-"));
    env = { ARCA_ADDR: server.url, ARCA_TOKEN: server.rootToken ?? "", HOME: home };
  });
  afterAll(async () => {
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  });

  describe.skipIf(!built)("as a subprocess (bin/arca → dist/)", () => {
    it("status exits 0 on an unsealed server and prints the table", async () => {
      const r = await arcaProcess(["status"], env);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Key\s+Value\n---\s+-----\n/);
      expect(r.stdout).toMatch(/Sealed\s+false/);
    });

    it("round-trips a KV v2 secret: put from stdin JSON, get -field, get -format=json", async () => {
      const put = await arcaProcess(["kv", "put", "secret/app/db", "-"], env, '{"user":"admin","password":"s3cr3t"}');
      expect(put.code).toBe(0);
      expect(put.stdout).toContain("secret/data/app/db");
      expect(put.stdout).toMatch(/version\s+1/);
      const field = await arcaProcess(["kv", "get", "-field=password", "secret/app/db"], env);
      expect(field).toEqual({ code: 0, stdout: "s3cr3t", stderr: "" });
      const json = await arcaProcess(["kv", "get", "-format=json", "-mount=secret", "app/db"], env);
      expect(JSON.parse(json.stdout).data.data).toEqual({ user: "admin", password: "s3cr3t" });
    });

    it("exits 2 with one line naming status, method and URL (and not the token) on API errors", async () => {
      const r = await arcaProcess(["read", "sys/policies/acl/root"], { ...env, ARCA_TOKEN: "hvs.not-a-real-token" });
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^Error: .*\(HTTP 403, GET http:\/\/127\.0\.0\.1:\d+\/v1\/sys\/policies\/acl\/root\)\n$/);
      expect(r.stderr).not.toContain("not-a-real-token");
    });

    it("exits 1 on usage errors", async () => {
      const r = await arcaProcess(["kv", "get", "-nope", "secret/x"], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe("Error: flag provided but not defined: -nope\n");
    });
  });

  it("kv: patch, versions, delete/undelete/destroy, metadata, list", async () => {
    expect((await arca(["kv", "put", "secret/k", "a=1", "b=2"], env)).code).toBe(0);
    expect((await arca(["kv", "patch", "secret/k", "b=3"], env)).stdout).toMatch(/version\s+2/);
    expect((await arca(["kv", "get", "-field=b", "secret/k"], env)).stdout).toBe("3");
    expect((await arca(["kv", "get", "-version=1", "-field=b", "secret/k"], env)).stdout).toBe("2");
    const cas = await arca(["kv", "put", "-cas=1", "secret/k", "a=x"], env);
    expect(cas.code).toBe(2);
    expect(cas.stderr).toContain("check-and-set");

    expect((await arca(["kv", "delete", "secret/k"], env)).stdout).toBe("Success! Data deleted (if it existed) at: secret/data/k\n");
    const deleted = await arca(["kv", "get", "secret/k"], env);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).not.toContain("=== Data");
    expect((await arca(["kv", "undelete", "-versions=2", "secret/k"], env)).code).toBe(0);
    expect((await arca(["kv", "get", "-field=a", "secret/k"], env)).stdout).toBe("1");
    expect((await arca(["kv", "destroy", "-versions=1", "secret/k"], env)).code).toBe(0);
    expect((await arca(["kv", "undelete", "secret/k"], env)).code).toBe(1);

    expect((await arca(["kv", "metadata", "put", "-max-versions=4", "-custom-metadata=owner=ops", "secret/k"], env)).code).toBe(0);
    const meta = await arca(["kv", "metadata", "get", "secret/k"], env);
    expect(meta.stdout).toMatch(/max_versions\s+4/);
    expect(meta.stdout).toMatch(/custom_metadata\s+map\[owner:ops\]/);
    expect(meta.stdout).toMatch(/Version 1 =+\n[\s\S]*destroyed\s+true/);

    const list = await arca(["kv", "list", "secret/"], env);
    expect(list.stdout).toMatch(/^Keys\n----\n/);
    expect(list.stdout.split("\n")).toContain("k");
    expect((await arca(["kv", "metadata", "delete", "secret/k"], env)).code).toBe(0);
    const gone = await arca(["kv", "get", "secret/k"], env);
    expect(gone).toMatchObject({ code: 2, stderr: "No value found at secret/data/k\n" });
  });

  it("secrets: enable a KV v1 mount, use it through kv, tune, list, disable", async () => {
    expect((await arca(["secrets", "enable", "-path=old", "-description=legacy", "kv"], env)).stdout).toBe("Success! Enabled the kv secrets engine at: old/\n");
    expect((await arca(["kv", "put", "old/x", "v=1"], env)).stdout).toBe("Success! Data written to: old/x\n");
    expect((await arca(["kv", "get", "-field=v", "old/x"], env)).stdout).toBe("1");
    expect((await arca(["kv", "patch", "old/x", "v=2"], env)).code).toBe(1);
    expect((await arca(["secrets", "tune", "-max-lease-ttl=2h", "old"], env)).code).toBe(0);
    const tuned = await arca(["read", "sys/mounts/old/tune"], env);
    expect(tuned.stdout).toMatch(/max_lease_ttl\s+2h/);
    const list = await arca(["secrets", "list"], env);
    expect(list.stdout).toMatch(/^Path\s+Type\s+Accessor\s+Description\n----/);
    expect(list.stdout).toMatch(/old\/\s+kv\s+\S+\s+legacy/);
    expect((await arca(["secrets", "enable", "-path=new", "kv-v2"], env)).code).toBe(0);
    expect((await arca(["kv", "put", "new/y", "a=b"], env)).stdout).toContain("new/data/y");
    expect((await arca(["secrets", "disable", "old"], env)).stdout).toBe("Success! Disabled the secrets engine (if it existed) at: old/\n");
    expect((await arca(["secrets", "list", "-format=json"], env)).stdout).not.toContain('"old/"');
    const auth = await arca(["auth", "list"], env);
    expect(auth.stdout).toMatch(/token\/\s+token/);
  });

  it("namespace: create/lookup/list/patch/lock/unlock/delete, and -namespace / ARCA_NAMESPACE / VAULT_NAMESPACE", async () => {
    const ns = `clins${Math.random().toString(36).slice(2, 8)}`;
    const created = await arca(["namespace", "create", "-custom-metadata=team=a", "-format=json", ns], env);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ data: { path: `${ns}/`, custom_metadata: { team: "a" } } });
    expect((await arca(["namespace", "create", "-namespace", ns, "child"], env)).code).toBe(0);
    expect((await arca(["namespace", "list"], env)).stdout).toContain(`${ns}/`);
    expect((await arca(["namespace", "list", `-namespace=${ns}`], env)).stdout).toBe("Keys\n----\nchild/\n");
    expect((await arca(["namespace", "list", "-recursive"], { ...env, ARCA_NAMESPACE: ns })).stdout).toBe("Keys\n----\nchild/\n");
    expect((await arca(["namespace", "lookup", ns], env)).stdout).toMatch(/custom_metadata\s+map\[team:a\]/);
    const patched = await arca(["namespace", "patch", "-custom-metadata=env=dev", "-remove-custom-metadata=team", "-format=json", ns], env);
    expect(JSON.parse(patched.stdout)).toMatchObject({ data: { custom_metadata: { env: "dev" } } });

    // Commands act inside the namespace named by the flag or the environment.
    expect((await arca(["secrets", "enable", "-path=kv", "kv"], { ...env, VAULT_NAMESPACE: `${ns}/child` })).code).toBe(0);
    expect((await arca(["write", "kv/x", "v=1"], { ...env, VAULT_NAMESPACE: `${ns}/child` })).code).toBe(0);
    expect((await arca(["read", "-field=v", `-namespace=${ns}`, "child/kv/x"], env)).stdout).toBe("1");
    expect((await arca(["read", "kv/x"], env)).code).toBe(2);

    const key = (await arca(["namespace", "lock", `${ns}/child`], env)).stdout.trim();
    expect(key).toMatch(/^[0-9A-Za-z]{24}$/);
    const locked = await arca(["read", `-namespace=${ns}/child`, "kv/x"], env);
    expect(locked.code).toBe(2);
    expect(locked.stderr).toContain("locked");
    expect((await arca(["namespace", "unlock", `-unlock-key=${key}`, `${ns}/child`], env)).stdout).toBe("Success! Namespace unlocked\n");
    expect((await arca(["namespace", "delete", `${ns}/child`], env)).stdout).toBe(`Success! Namespace deleted at: ${ns}/child/\n`);
    expect((await arca(["namespace", "delete", ns], env)).code).toBe(0);
    expect((await arca(["namespace", "lookup", ns], env)).code).not.toBe(0);
    expect((await arca(["namespace", "seal", `${ns}x`], env)).code).toBe(2);
  });

  it("policy and token: write/read/list, create/lookup/renew/revoke", async () => {
    const file = join(home, "reader.hcl");
    writeFileSync(file, 'path "secret/data/*" { capabilities = ["read"] }\n');
    expect((await arca(["policy", "write", "reader", file], env)).stdout).toBe("Success! Uploaded policy: reader\n");
    expect((await arca(["policy", "write", "other", "-"], env, 'path "x" { capabilities = ["read"] }')).code).toBe(0);
    expect((await arca(["policy", "read", "reader"], env)).stdout).toContain('path "secret/data/*"');
    expect((await arca(["policy", "list"], env)).stdout.split("\n")).toEqual(expect.arrayContaining(["default", "other", "reader", "root"]));
    expect((await arca(["policy", "delete", "other"], env)).code).toBe(0);

    const created = await arca(["token", "create", "-policy=reader", "-ttl=1h", "-metadata=team=a", "-format=json"], env);
    const auth = JSON.parse(created.stdout).auth;
    expect(auth.policies).toEqual(["default", "reader"]);
    expect(auth.lease_duration).toBe(3600);
    const token: string = auth.client_token;

    const lookup = await arca(["token", "lookup", token], env);
    expect(lookup.stdout).toMatch(/policies\s+\[default reader\]/);
    expect(lookup.stdout).toMatch(/meta\s+map\[team:a\]/);
    expect((await arca(["token", "lookup", "-accessor", auth.accessor], env)).stdout).toContain(auth.accessor);
    expect((await arca(["token", "lookup", "-field=display_name"], { ...env, ARCA_TOKEN: token })).stdout).toBe("token");
    const renewed = await arca(["token", "renew", "-increment=30m", token], env);
    expect(renewed.stdout).toMatch(/token_duration\s+30m/);
    expect((await arca(["token", "capabilities", "secret/data/foo"], { ...env, ARCA_TOKEN: token })).stdout).toBe("read\n");
    expect((await arca(["token", "revoke", token], env)).stdout).toBe("Success! Revoked token (if it existed)\n");
    expect((await arca(["token", "lookup", token], env)).code).toBe(2);
    expect((await arca(["token", "revoke"], env)).code).toBe(1);

    const orphan = await arca(
      ["token", "create", "-orphan", "-policy=default", "-period=1h", "-num-uses=3", "-renewable=false", "-display-name=ci", "-explicit-max-ttl=2h", "-field=token"],
      env,
    );
    expect(orphan.code).toBe(0);
    const info = JSON.parse((await arca(["token", "lookup", "-format=json", orphan.stdout], env)).stdout).data;
    expect(info).toMatchObject({ orphan: true, num_uses: 3, renewable: false, display_name: "token-ci", explicit_max_ttl: 7200, period: 3600 });
    expect((await arca(["token", "revoke", "-self"], { ...env, ARCA_TOKEN: orphan.stdout })).code).toBe(0);
  });

  it("login verifies the token, stores it 0600 in ARCA_TOKEN_FILE, and later commands use it", async () => {
    const tokenFile = join(home, "tok");
    const noEnvToken = { ARCA_ADDR: env.ARCA_ADDR, HOME: home, ARCA_TOKEN_FILE: tokenFile };
    const bad = await arca(["login", "hvs.wrong"], noEnvToken);
    expect(bad.code).toBe(2);
    expect(existsSync(tokenFile)).toBe(false);
    const ok = await arca(["login"], noEnvToken, `${server.rootToken}\n`);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/token_policies\s+\["root"\]/);
    expect(readFileSync(tokenFile, "utf8")).toBe(server.rootToken);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect((await arca(["read", "-field=policy", "sys/policies/acl/default"], noEnvToken)).code).toBe(0);
    const dflt = await arca(["login", "-no-print", server.rootToken ?? ""], { ...noEnvToken, ARCA_TOKEN_FILE: "", HOME: home });
    expect(dflt.stdout).toBe("");
    expect(existsSync(join(home, ".arca-token"))).toBe(true);
  });

  it("generic read/write/list/delete", async () => {
    expect((await arca(["write", "secret/data/g", "-"], env, '{"data":{"n":"1"}}')).stdout).toMatch(/version\s+1/);
    expect((await arca(["read", "-field=data", "secret/data/g"], env)).stdout).toBe("map[n:1]");
    expect((await arca(["list", "secret/metadata"], env)).stdout).toContain("\ng\n");
    expect((await arca(["write", "secret/config"], env)).code).toBe(1);
    expect((await arca(["delete", "secret/data/g"], env)).stdout).toBe("Success! Data deleted (if it existed) at: secret/data/g\n");
    expect((await arca(["read", "secret/data/nope"], env))).toMatchObject({ code: 2, stderr: "No value found at secret/data/nope\n" });
    expect((await arca(["list", "secret/metadata/none"], env)).code).toBe(2);
  });
});

describe("arca operator against a fresh server", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await freshServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it("init, status (exit 2 while sealed), unseal from stdin, seal", async () => {
    const env = { ARCA_ADDR: server.url, HOME: tmpdir(), ARCA_TOKEN_FILE: join(tmpdir(), "arca-never-written") };
    expect((await arca(["operator", "init", "-status"], env)).code).toBe(2);
    const init = await arca(["operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json"], env);
    expect(init.code).toBe(0);
    const { keys_base64: keys, root_token: rootToken } = JSON.parse(init.stdout) as { keys_base64: string[]; root_token: string };
    expect(keys).toHaveLength(3);

    const sealed = await arca(["status"], env);
    expect(sealed.code).toBe(2);
    expect(sealed.stdout).toMatch(/Unseal Progress\s+0\/2/);

    const first = await arca(["operator", "unseal"], env, `${keys[0]}\n`);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Unseal Progress\s+1\/2/);
    expect((await arca(["operator", "unseal", "-reset"], env)).stdout).toMatch(/Unseal Progress\s+0\/2/);
    await arca(["operator", "unseal", keys[1]], env);
    const done = await arca(["operator", "unseal", keys[2]], env);
    expect(done.stdout).toMatch(/Sealed\s+false/);
    expect((await arca(["status"], env)).code).toBe(0);

    expect((await arca(["operator", "seal"], env)).code).toBe(2);
    expect((await arca(["operator", "seal"], { ...env, ARCA_TOKEN: rootToken })).stdout).toBe("Success! Arca is sealed.\n");
    expect((await arca(["status", "-format=json"], env)).code).toBe(2);
  });
});
