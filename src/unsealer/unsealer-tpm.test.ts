// The unsealer with its share key in a TPM: Debian's swtpm with a tpm2-pkcs11 token (test/swtpm.ts).
// tpm2-pkcs11 has no CKM_AES_GCM, so the share block says algorithm = "rsa-oaep-sha256" (oaep-seal.ts):
// `arca unsealer seal-share` creates an RSA key in the TPM, encrypts the share to it and signs the file in
// the TPM; the daemon checks the signature and decrypts in the TPM, then unseals a real Arca server, again
// after the server is sealed. A sealed file changed on disk stops the daemon at start.
//
// seal-share and the daemon run as child processes: swtpm serves one connection at a time and tpm2-pkcs11
// reads its TCTI from the environment, so the test runner itself never loads the library.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCommand, startProcess } from "../../test/processes.js";
import { api, quietLogger, testServerConfig } from "../../test/servers.js";
import { startSoftTpm, swtpmAvailable, TPM2_PKCS11_LIB, type SoftTpm } from "../../test/swtpm.js";
import { startServer, type RunningServer } from "../server/server.js";

const available = swtpmAvailable("the unsealer TPM test", ["pkcs11-tool"], "opensc");
const repoRoot = resolve(import.meta.dirname, "../..");

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Every encoding in which a share could leak. */
function leaks(haystack: string | Buffer, share: Buffer): boolean {
  const h = Buffer.isBuffer(haystack) ? haystack : Buffer.from(haystack);
  const hex = share.toString("hex");
  return [share, Buffer.from(hex), Buffer.from(hex.toUpperCase()), Buffer.from(share.toString("base64"))].some((e) => h.includes(e));
}

describe.skipIf(!available)(available ? "unsealer daemon with its share key in a TPM (swtpm + tpm2-pkcs11)" : "swtpm / tpm2-pkcs11 not installed; unsealer TPM tests skipped", () => {
  let work: string;
  let tpm: SoftTpm;
  let server: RunningServer;
  let rootToken: string;
  let share: Buffer;
  const f = (name: string) => join(work, name);

  /** `arca unsealer …` as its own process, talking to the TPM. */
  function arcaArgs(args: string[]): string[] {
    const script = `const m = await import(${JSON.stringify(join(repoRoot, "src/cli/main.ts"))}); await m.main(${JSON.stringify(["unsealer", ...args])});`;
    return ["--import", "tsx", "--input-type=module", "-e", script];
  }
  const env = () => ({ ...tpm.env, OPENSSL_CONF: "/dev/null" });
  /** The daemon's config; `algorithm` undefined leaves the share block at its default (AES-GCM). */
  function writeConfig(algorithm?: string): void {
    writeFileSync(
      f("unsealer.hcl"),
      `unsealer {
  servers     = ["${server.url}"]
  interval    = "200ms"
  backoff_max = "1s"
}
hsm "tpm" {
  lib         = "${TPM2_PKCS11_LIB}"
  token_label = "${tpm.label}"
  pin_file    = "${f("pin")}"
}
share {
  key  = "pkcs11:token=${tpm.label};object=arca-unsealer-share"
  file = "${f("share.sealed")}"
  ${algorithm ? `algorithm = "${algorithm}"` : ""}
}
`,
    );
  }
  const sealed = async () => (await api(server.url, "GET", "sys/seal-status")).body?.sealed === true;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "arca-unsealer-tpm-"));
    tpm = await startSoftTpm(work, "tpm", "unsealer");
    mkdirSync(f("arca"));
    server = await startServer(
      testServerConfig({ type: "sqlite", path: f("arca/arca.db") }),
      { logger: quietLogger },
    );
    const init = await api(server.url, "PUT", "sys/init", { body: { secret_shares: 1, secret_threshold: 1 } });
    expect(init.status).toBe(200);
    share = Buffer.from((init.body?.keys as string[])[0], "hex");
    rootToken = String(init.body?.root_token);
    writeFileSync(f("pin"), `${tpm.pin}\n`, { mode: 0o600 });
  }, 120_000);

  afterAll(async () => {
    await server?.stop().catch(() => undefined);
    await tpm?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("seals the share with an RSA key made in the TPM, unseals the server with it, and refuses a changed file", async () => {
    // --- the default scheme (AES-GCM in the token) cannot work on a TPM: seal-share says what to set.
    writeConfig();
    const gcm = await runCommand(process.execPath, arcaArgs(["seal-share", `-config=${f("unsealer.hcl")}`]), env(), `${share.toString("hex")}\n`, 120_000);
    tpm.flush();
    expect(gcm.code).not.toBe(0);
    expect(gcm.out).toContain('algorithm = "rsa-oaep-sha256"');
    expect(existsSync(f("share.sealed"))).toBe(false);

    // --- seal-share: creates the RSA key in the TPM, writes a version 2 file.
    writeConfig("rsa-oaep-sha256");
    const seal = await runCommand(process.execPath, arcaArgs(["seal-share", `-config=${f("unsealer.hcl")}`]), env(), `${share.toString("hex")}\n`, 120_000);
    tpm.flush();
    expect(seal.out).toContain("Created HSM key pkcs11:token=unsealer;object=arca-unsealer-share");
    expect(seal.code).toBe(0);
    expect(statSync(f("share.sealed")).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(readFileSync(f("share.sealed"), "utf8")) as Record<string, string | number>;
    expect(doc).toMatchObject({ format: "arca-unsealer-share", version: 2, algorithm: "rsa-oaep-sha256", key_uri: "pkcs11:token=unsealer;object=arca-unsealer-share" });
    expect(leaks(readFileSync(f("share.sealed")), share)).toBe(false);
    expect(leaks(seal.out, share)).toBe(false);

    // The private key lives in the TPM and can never leave it.
    const objects = execFileSync("pkcs11-tool", ["--module", TPM2_PKCS11_LIB, "--token-label", tpm.label, "--login", "--pin", tpm.pin, "--list-objects", "--type", "privkey"], {
      env: tpm.env,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    tpm.flush();
    expect(objects).toContain("arca-unsealer-share");
    expect(objects).toMatch(/Access:.*sensitive/);
    expect(objects).toMatch(/never extractable/);

    // --- the daemon unseals the server, and again after it is sealed.
    expect(await sealed()).toBe(true);
    const daemon = startProcess(process.execPath, arcaArgs([`-config=${f("unsealer.hcl")}`, "-log-level=info"]), env());
    try {
      await waitFor("the daemon to unseal the server", async () => !(await sealed()) || daemon.child.exitCode !== null);
      expect(daemon.child.exitCode, daemon.output()).toBeNull();
      expect((await api(server.url, "PUT", "sys/seal", { token: rootToken })).status).toBe(204);
      await waitFor("the daemon to unseal the server again", async () => !(await sealed()));
    } finally {
      await daemon.stop();
      tpm.flush();
    }
    expect(daemon.child.exitCode, daemon.output()).toBe(0);
    const lines = daemon.output().trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => String(l.msg).includes("self-test passed"))).toBe(true);
    expect(lines.filter((l) => l.msg === "server unsealed").length).toBeGreaterThanOrEqual(2);
    expect(leaks(daemon.output(), share)).toBe(false);
    expect(daemon.output()).not.toContain(tpm.pin);

    // --- a changed file: one bit of the ciphertext flipped. The daemon refuses it at start, the server stays sealed.
    expect((await api(server.url, "PUT", "sys/seal", { token: rootToken })).status).toBe(204);
    const ct = Buffer.from(String(doc.ciphertext), "base64");
    ct[ct.length - 1] ^= 1;
    writeFileSync(f("share.sealed"), JSON.stringify({ ...doc, ciphertext: ct.toString("base64") }), { mode: 0o600 });
    const tampered = await runCommand(process.execPath, arcaArgs([`-config=${f("unsealer.hcl")}`]), env(), undefined, 120_000);
    tpm.flush();
    expect(tampered.code).not.toBe(0);
    expect(tampered.out).toMatch(/signature does not verify/);
    expect(await sealed()).toBe(true);
  }, 300_000);
});
