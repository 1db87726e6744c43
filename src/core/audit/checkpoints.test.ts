// Audit checkpoints (issue 12 §6, truncation): the chain alone cannot show lines cut from the end or the
// start of a log; `arca audit verify -checkpoint` against the head recorded in the barrier does, whether the
// checkpoint comes from the API or from a saved file. With an HSM the checkpoint is signed by a key the
// server owns, which no mount may use.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import { sealedConfig, startSealed } from "../../../test/hsm-servers.js";
import { cleanupSoftHsm, createSoftHsmToken, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../../test/softhsm.js";
import type { RunningServer } from "../../server/server.js";
import { runCli } from "../../../test/cli.js";
import { signatureValid, type Checkpoint } from "./checkpoints.js";

const dir = mkdtempSync(join(tmpdir(), "arca-checkpoints-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cliVerify(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return runCli(["audit", "verify", ...args], env, dir);
}

/** Writes `lines` (each with its newline) to a new file and returns its path. */
function logFile(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.map((l) => `${l}\n`).join(""));
  return path;
}

describe("audit checkpoints (no HSM: unsigned)", () => {
  let s: RunningServer;
  let root: string;
  const file = join(dir, "plain.log");

  beforeAll(async () => {
    s = await devServer();
    root = s.rootToken ?? "";
    expect((await api(s.url, "PUT", "sys/audit/file", { token: root, body: { type: "file", options: { file_path: file } } })).status).toBe(204);
    for (let i = 0; i < 4; i++) await api(s.url, "GET", "secret/data/x", { token: root });
  });
  afterAll(async () => {
    await s.stop();
  });

  it("verify passes on the whole log and reports lines cut from its end or start, with the checkpoint from the API or a file", async () => {
    const r = await api(s.url, "GET", "sys/audit-checkpoint/file", { token: root });
    expect(r.status).toBe(200);
    const cp = r.body?.data as Checkpoint;
    expect(cp).toMatchObject({ device: "file/", first_seq: 1 });
    expect(cp.signature).toBeUndefined();
    const saved = join(dir, "plain.checkpoint.json");
    writeFileSync(saved, JSON.stringify(r.body));
    const env = { VAULT_ADDR: s.url, VAULT_TOKEN: root };

    // The read itself was audited after the checkpoint was taken: the log runs past it, which is fine.
    const lines = readFileSync(file, "utf8").trim().split("\n");
    const whole = await cliVerify(["-checkpoint=api", "-device=file", file], env);
    expect(whole.out).toMatch(/^OK: .*matches the checkpoint at seq \d+ \(unsigned\)/);
    expect(whole.code).toBe(0);

    // Cut at the checkpoint's line: the chain is intact, the checkpoint says otherwise.
    const cut = logFile("cut-end.log", lines.slice(0, cp.seq - 1));
    expect((await cliVerify([cut])).code).toBe(0);
    const fromFile = await cliVerify([`-checkpoint=${saved}`, cut]);
    expect(fromFile.code).toBe(2);
    expect(fromFile.out).toContain("lines were removed from the end");

    const head = logFile("cut-start.log", lines.slice(2));
    expect((await cliVerify([head])).code).toBe(0);
    const start = await cliVerify([`-checkpoint=${saved}`, head]);
    expect(start.code).toBe(2);
    expect(start.out).toContain("lines were removed from the start");
  });

  it("answers 404 for a device without a checkpoint and refuses a namespace's token (root namespace, sudo)", async () => {
    expect((await api(s.url, "GET", "sys/audit-checkpoint/nothing", { token: root })).status).toBe(400);
    const ns = await api(s.url, "POST", "sys/namespaces/cp-tenant", { token: root, body: {} });
    expect(ns.status).toBe(200);
    expect((await api(s.url, "GET", "sys/audit-checkpoint/file", { token: root, headers: { "X-Vault-Namespace": "cp-tenant" } })).status).toBe(400);
  });
});

const hsm = softHsmAvailable();

describe.skipIf(!hsm)(hsm ? "audit checkpoints signed by an HSM key" : SOFTHSM_SKIP_REASON, () => {
  let s: RunningServer;
  let root: string;
  let token: SoftHsmToken;
  const file = join(dir, "signed.log");

  beforeAll(async () => {
    token = createSoftHsmToken({ label: "checkpoints" });
    const cfgDir = mkdtempSync(join(dir, "srv-"));
    s = await startSealed(
      sealedConfig(cfgDir, [{ type: "pkcs11", disabled: false, params: { key: `pkcs11:token=${token.label};object=seal`, generate_key: true } }], [
        { name: "primary", lib: token.libPath, tokenLabel: token.label, pin: token.pin },
      ]),
    );
    root = (await s.core.initialize({ secretShares: 0, secretThreshold: 0, recoveryShares: 1, recoveryThreshold: 1 })).rootToken;
    expect((await api(s.url, "PUT", "sys/audit/file", { token: root, body: { type: "file", options: { file_path: file } } })).status).toBe(204);
    await api(s.url, "GET", "sys/mounts", { token: root });
  });
  afterAll(async () => {
    await s?.stop();
    token?.cleanup();
    cleanupSoftHsm();
  });

  it("signs with a server-owned HSM key that verify checks and no mount may use", async () => {
    const cp = (await api(s.url, "GET", "sys/audit-checkpoint/file", { token: root })).body?.data as Checkpoint;
    expect(cp.signature).toMatchObject({ algorithm: "ecdsa-p256-sha256" });
    expect(signatureValid(cp)).toBe(true);
    expect(signatureValid({ ...cp, seq: cp.seq + 1 })).toBe(false);
    const saved = join(dir, "signed.checkpoint.json");
    writeFileSync(saved, JSON.stringify(cp));
    const ok = await cliVerify([`-checkpoint=${saved}`, file]);
    expect(ok.out).toContain(`signed by key ${cp.signature?.key_fingerprint}`);
    expect(ok.code).toBe(0);
    writeFileSync(saved, JSON.stringify({ ...cp, hash: "0".repeat(64) }));
    expect((await cliVerify([`-checkpoint=${saved}`, file])).out).toContain("signature does not verify");

    // The key is the system's: a transit mount cannot bind it by its label.
    expect((await api(s.url, "POST", "sys/mounts/transit", { token: root, body: { type: "transit" } })).status).toBe(204);
    const bind = await api(s.url, "POST", "transit/keys/steal", { token: root, body: { type: "ecdsa-p256", key_ref: `pkcs11:token=${token.label};object=arca-audit-checkpoint` } });
    expect(bind.status).toBe(400);
  });
});
