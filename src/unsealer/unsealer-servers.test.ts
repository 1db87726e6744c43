// The real thing: a SoftHSM token, `arca unsealer seal-share`, and the daemon (in-process, through the CLI
// entry point) watching real servers that are sealed and restarted sealed.
//
// Servers A and B share one unseal key the way a primary and its standby do: B starts from a copy of A's
// SQLite file taken after init. Server C was initialised on its own, so the daemon's shares are wrong for
// it: it must be backed off from and reported, without holding up A and B.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, freshServer, quietLogger, testServerConfig } from "../../test/servers.js";
import { cleanupSoftHsm, createSoftHsmToken, pkcs11Tool, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../test/softhsm.js";
import type { CliIo } from "../cli/io.js";
import { unsealerCommand } from "../cli/unsealer-command.js";
import type { ServerConfig } from "../server/config.js";
import { startServer, type RunningServer } from "../server/server.js";

const available = softHsmAvailable();

function serverConfig(dbPath: string, address = "127.0.0.1:0"): ServerConfig {
  return testServerConfig({ type: "sqlite", path: dbPath }, { address });
}

function hostPort(url: string): string {
  return new URL(url).host;
}

function testIo(stdin: string, out: string[], err: string[]): CliIo {
  return {
    env: {},
    homeDir: tmpdir(),
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    stdoutIsTty: false,
    stdinIsTty: false,
    readStdin: async () => stdin,
    readSecretLine: async () => stdin.split("\n")[0],
  };
}

async function sealStatus(url: string): Promise<Record<string, unknown>> {
  const r = await api(url, "GET", "sys/seal-status");
  return r.body ?? {};
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Every encoding in which a share could leak. */
function encodings(share: Buffer): Buffer[] {
  const hex = share.toString("hex");
  return [share, Buffer.from(hex), Buffer.from(hex.toUpperCase()), Buffer.from(share.toString("base64")), Buffer.from(share.toString("base64url"))];
}

function expectNoShareBytes(where: string, haystack: Buffer, shares: Buffer[]): void {
  for (const s of shares) {
    for (const enc of encodings(s)) {
      if (haystack.includes(enc)) throw new Error(`${where} contains a share (${enc.length}-byte encoding)`);
    }
  }
}

describe.skipIf(!available)(available ? "unsealer daemon against real servers (SoftHSM)" : SOFTHSM_SKIP_REASON, () => {
  let token: SoftHsmToken;
  let work: string;
  let dirA: string;
  let dirB: string;
  let a: RunningServer;
  let b: RunningServer;
  let c: RunningServer & { dir: string };
  let rootToken: string;
  let heldShares: Buffer[];
  let allShares: Buffer[];
  const servers: RunningServer[] = [];

  beforeAll(async () => {
    // The token exists before the first PKCS#11 call in this process (SoftHSM reads its dir once).
    token = createSoftHsmToken({ label: "unsealer" });
    work = mkdtempSync(join(tmpdir(), "arca-unsealer-"));
    dirA = join(work, "a");
    dirB = join(work, "b");
    mkdirSync(dirA);
    mkdirSync(dirB);

    a = await startServer(serverConfig(join(dirA, "arca.db")), { logger: quietLogger });
    const init = await api(a.url, "PUT", "sys/init", { body: { secret_shares: 3, secret_threshold: 2 } });
    expect(init.status).toBe(200);
    const keysHex = init.body?.keys as string[];
    rootToken = init.body?.root_token as string;
    allShares = keysHex.map((k) => Buffer.from(k, "hex"));
    heldShares = allShares.slice(0, 2);
    // B is A's standby: same storage contents, so the same shares open it.
    const addressA = hostPort(a.url);
    await a.stop();
    for (const f of ["arca.db", "arca.db-wal", "arca.db-shm"]) {
      if (existsSync(join(dirA, f))) copyFileSync(join(dirA, f), join(dirB, f));
    }
    a = await startServer(serverConfig(join(dirA, "arca.db"), addressA), { logger: quietLogger });
    b = await startServer(serverConfig(join(dirB, "arca.db")), { logger: quietLogger });
    servers.push(a, b);

    c = await freshServer();
    const initC = await api(c.url, "PUT", "sys/init", { body: { secret_shares: 1, secret_threshold: 1 } });
    expect(initC.status).toBe(200);
    allShares.push(Buffer.from((initC.body?.keys as string[])[0], "hex"));
  });

  afterAll(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    await c?.stop().catch(() => undefined);
    if (work) rmSync(work, { recursive: true, force: true });
    token?.cleanup();
    cleanupSoftHsm();
  });

  it("seal-share, then the daemon unseals both servers after a seal and a sealed restart", async () => {
    const pinFile = join(work, "pin");
    writeFileSync(pinFile, `${token.pin}\n`, { mode: 0o600 });
    const share1 = join(work, "share-1.sealed");
    const share2 = join(work, "share-2.sealed");
    const configPath = join(work, "unsealer.hcl");
    writeFileSync(
      configPath,
      `unsealer {
  servers     = ["${a.url}", "${b.url}", "${c.url}"]
  interval    = "100ms"
  backoff_max = "400ms"
}
hsm "soft" {
  lib         = "${token.libPath}"
  token_label = "${token.label}"
  pin_file    = "${pinFile}"
}
share {
  key  = "pkcs11:token=${token.label};object=unsealer-share"
  file = "${share1}"
}
share {
  key  = "pkcs11:token=${token.label};object=unsealer-share"
  file = "${share2}"
}
`,
    );

    // --- seal-share: the first creates the key, the second reuses it; hex and base64 input both work.
    const out: string[] = [];
    const err: string[] = [];
    expect(await unsealerCommand(["seal-share", "-config", configPath, "-share", "1"], testIo(`${heldShares[0].toString("hex")}\n`, out, err))).toBe(0);
    expect(out.join("")).toContain("Created HSM key");
    expect(await unsealerCommand(["seal-share", "-config", configPath, "-share=2"], testIo(`${heldShares[1].toString("base64")}\n`, out, err))).toBe(0);
    expect(out.join("")).toContain("Used HSM key");
    // Refuses to overwrite a sealed share, and refuses a share on the command line.
    await expect(unsealerCommand(["seal-share", "-config", configPath, "-share", "1"], testIo(heldShares[0].toString("hex"), out, err))).rejects.toThrow(/exists already/);
    await expect(unsealerCommand(["seal-share", heldShares[0].toString("hex"), "-config", configPath], testIo("", out, err))).rejects.toThrow(/stdin only/);

    for (const f of [share1, share2]) {
      expect(statSync(f).mode & 0o777).toBe(0o600);
      const doc = JSON.parse(readFileSync(f, "utf8")) as Record<string, unknown>;
      expect(doc).toMatchObject({ format: "arca-unsealer-share", version: 1, algorithm: "aes-256-gcm" });
      expect(doc.key_uri).toBe(`pkcs11:token=${token.label};object=unsealer-share`);
      expect(String(doc.key_uri)).not.toContain(token.pin);
    }
    // The key the command created is sensitive and can never leave the token.
    const objects = pkcs11Tool(token, ["--list-objects", "--type", "secrkey"]);
    expect(objects).toContain("unsealer-share");
    expect(objects).toMatch(/Access:.*sensitive/);
    expect(objects).toMatch(/never extractable/);

    // --- the daemon
    const logs: string[] = [];
    const controller = new AbortController();
    const daemon = unsealerCommand(["-config", configPath, "-log-level", "debug"], testIo("", [], logs), { signal: controller.signal });
    let daemonDone = false;
    void daemon.finally(() => (daemonDone = true));
    try {
      const unsealed = async (url: string) => (await sealStatus(url)).sealed === false;
      await waitFor("A and B unsealed by the daemon", async () => (await unsealed(a.url)) && (await unsealed(b.url)));

      // Seal A through the API; restart B (a new process on the same SQLite file and address comes up sealed).
      expect((await api(a.url, "PUT", "sys/seal", { token: rootToken })).status).toBe(204);
      const addressB = hostPort(b.url);
      await b.stop();
      servers.splice(servers.indexOf(b), 1);
      b = await startServer(serverConfig(join(dirB, "arca.db"), addressB), { logger: quietLogger });
      servers.push(b);
      await waitFor("A and B unsealed again", async () => (await unsealed(a.url)) && (await unsealed(b.url)));

      // C never opens with these shares, and the daemon keeps its distance: exponential backoff.
      const rejectedC = () => logs.join("").split("\n").filter((l) => l.includes(`"server":"${c.url}"`) && l.includes('"state":"rejected"')).length;
      await waitFor("three rejections from C", async () => rejectedC() >= 3);
      expect((await sealStatus(c.url)).sealed).toBe(true);
      expect(daemonDone).toBe(false);
    } finally {
      controller.abort();
    }
    expect(await daemon).toBe(0);

    const lines = logs.join("").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const unsealedLines = lines.filter((l) => l.msg === "server unsealed");
    expect(unsealedLines.filter((l) => l.server === a.url).length).toBeGreaterThanOrEqual(2);
    expect(unsealedLines.filter((l) => l.server === b.url).length).toBeGreaterThanOrEqual(2);
    const rejected = lines.filter((l) => l.server === c.url && l.state === "rejected");
    expect(rejected.length).toBeGreaterThanOrEqual(1);
    expect(rejected[0]).toMatchObject({ level: "error", http_status: 400 });
    // Backoff: the retry delay grows to the cap instead of a post every 100 ms, and the posts follow it.
    expect(rejected.map((l) => l.retry_in_ms).slice(0, 3)).toEqual([200, 400, 400]);
    const at = rejected.map((l) => Date.parse(String(l.time)));
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(180);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(380);
    expect(lines.at(-1)?.msg).toBe("unsealer stopped");

    // --- custody: neither the sealed files nor the daemon's output hold a share in any encoding.
    expectNoShareBytes("share-1.sealed", readFileSync(share1), allShares);
    expectNoShareBytes("share-2.sealed", readFileSync(share2), allShares);
    expectNoShareBytes("daemon log", Buffer.from(logs.join("")), allShares);
    expectNoShareBytes("seal-share output", Buffer.from(out.join("") + err.join("")), allShares);
    expect(logs.join("")).not.toContain(token.pin);
  });
});
