// `arca agent` with TPM-held keys: two software TPMs (Debian's swtpm), each with a tpm2-pkcs11 token, one per
// service as two machines would have. The agent makes each key inside its TPM, signs the CSR there and gets
// the certificate from Arca; then mutual TLS between the two TPM-held keys.
//
// Why these shapes (all measured on Debian 12: swtpm 0.7, tpm2-tss 3.2.1, tpm2-pkcs11 1.9, libp11 0.4.12,
// OpenSSL 3.0.19):
//  - swtpm has no resource manager and serves one connection at a time: every tpm2-pkcs11 user is a
//    short-lived process (the agent runs with -once in a child process), and transient objects a tool leaves
//    loaded are flushed after it (test/swtpm.ts).
//  - The mTLS peers are gnutls-serv/gnutls-cli (PKCS#11 through p11-kit), not OpenSSL: with libp11's engine
//    loaded, tpm2-tss's own OpenSSL calls fail (EVP_PKEY_fromdata "operation not supported for this keytype",
//    then "Could not start Auth Session with the TPM"), so `openssl -engine pkcs11` cannot log in to a
//    tpm2-pkcs11 token on this stack (tpm2-software/tpm2-tss#3151). docs/agent.md has the details.
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSoftTpm, swtpmAvailable, TPM2_PKCS11_LIB, type SoftTpm } from "../../test/swtpm.js";
import { arcaWithPki, freePort, runCommand, startProcess, waitForPort, type ArcaPki } from "./agent-harness.test-util.js";

const available = swtpmAvailable("the TPM agent test", ["gnutls-serv", "gnutls-cli", "pkcs11-tool", "openssl"], "gnutls-bin, opensc");
const repoRoot = resolve(import.meta.dirname, "../..");

describe.skipIf(!available)(available ? "arca agent with keys in a TPM (swtpm + tpm2-pkcs11)" : "swtpm / tpm2-pkcs11 / gnutls tools not installed; TPM agent tests skipped", () => {
  let work: string;
  let arca: ArcaPki;
  let server: SoftTpm;
  let client: SoftTpm;
  const runs: Array<{ code: number | null; out: string }> = [];
  const f = (name: string) => join(work, name);
  const keyUri = (t: SoftTpm) => `pkcs11:token=${t.label};object=${t.name}-key`;

  /** `arca agent -once` in its own process, talking to one TPM (the library reads its TCTI from the environment). */
  async function agentOnce(tpm: SoftTpm, cn: string, ipSans: string): Promise<{ code: number | null; out: string }> {
    writeFileSync(f(`secret-id-${tpm.name}`), `${await arca.secretId()}\n`, { mode: 0o600 });
    writeFileSync(f(`pin-${tpm.name}`), `${tpm.pin}\n`, { mode: 0o600 });
    const config = f(`agent-${tpm.name}.hcl`);
    writeFileSync(
      config,
      `vault { address = "${arca.server.url}" }
auto_auth {
  method "approle" {
    config = { role_id_file_path = "${f("role-id")}", secret_id_file_path = "${f(`secret-id-${tpm.name}`)}" }
  }
}
hsm "tpm" {
  lib         = "${TPM2_PKCS11_LIB}"
  token_label = "${tpm.label}"
  pin_file    = "${f(`pin-${tpm.name}`)}"
}
certificate "${tpm.name}" {
  mount       = "pki"
  role        = "svc"
  common_name = "${cn}"
  ip_sans     = [${ipSans}]
  key         = "${keyUri(tpm)}"
  cert_file   = "${f(`${tpm.name}.pem`)}"
  chain_file  = "${f(`${tpm.name}-chain.pem`)}"
}
`,
    );
    const script = `const m = await import(${JSON.stringify(join(repoRoot, "src/cli/main.ts"))}); await m.main(["agent", "-config=${config}", "-once", "-log-level=error"]);`;
    const r = await runCommand(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { ...tpm.env, OPENSSL_CONF: "/dev/null" }, undefined, 120_000);
    tpm.flush();
    return r;
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "arca-agent-tpm-"));
    arca = await arcaWithPki();
    writeFileSync(f("role-id"), `${arca.roleId}\n`);
    writeFileSync(f("arca-ca.pem"), arca.caPem);
    server = await startSoftTpm(work, "server");
    client = await startSoftTpm(work, "client");
    runs.push(await agentOnce(server, "localhost", `"127.0.0.1"`));
    runs.push(await agentOnce(client, "client.svc.test", ""));
  }, 240_000);

  afterAll(async () => {
    for (const t of [server, client]) await t?.process.stop();
    await arca?.server.stop().catch(() => undefined);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("the agent makes each key inside its TPM (sensitive, never extractable) and gets a certificate Arca's CA verifies", async () => {
    for (const r of runs) expect(r.out).toBe("");
    expect(runs.map((r) => r.code)).toEqual([0, 0]);
    for (const t of [server, client]) {
      const objects = execFileSync("pkcs11-tool", ["--module", TPM2_PKCS11_LIB, "--token-label", t.label, "--login", "--pin", t.pin, "--list-objects", "--type", "privkey"], { env: t.env, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
      t.flush();
      expect(objects).toContain(`label:      ${t.name}-key`);
      expect(objects).toMatch(/Access:\s+sensitive, always sensitive, never extractable, local/);
      const verify = await runCommand("openssl", ["verify", "-CAfile", f("arca-ca.pem"), f(`${t.name}.pem`)], process.env);
      expect(verify.out).toContain(": OK");
      expect(new X509Certificate(readFileSync(f(`${t.name}.pem`))).checkIssued(new X509Certificate(arca.caPem))).toBe(true);
    }
  });

  it("mutual TLS between the two TPM-held keys (gnutls-serv requiring a client certificate, gnutls-cli presenting one)", async () => {
    const port = await freePort();
    const keyFor = (t: SoftTpm) => `${keyUri(t)};type=private?pin-value=${t.pin}`;
    const serv = startProcess(
      "gnutls-serv",
      ["--provider", TPM2_PKCS11_LIB, "--x509certfile", f("server-chain.pem"), "--x509keyfile", keyFor(server), "--x509cafile", f("arca-ca.pem"), "--require-client-cert", "--verify-client-cert", "--http", "--port", String(port)],
      server.env,
    );
    try {
      await waitForPort(port, serv, 30_000);
      const cli = await runCommand(
        "gnutls-cli",
        ["--provider", TPM2_PKCS11_LIB, "--x509certfile", f("client.pem"), "--x509keyfile", keyFor(client), "--x509cafile", f("arca-ca.pem"), "--port", String(port), "localhost"],
        client.env,
        "GET / HTTP/1.0\r\n\r\n",
        60_000,
      );
      expect(cli.out).toContain("Status: The certificate is trusted.");
      expect(cli.out).toContain("Handshake was completed");
      expect(cli.out).toMatch(/HTTP\/1\.[01] 200 OK/);
      // The server's status page shows the peer it verified.
      expect(cli.out).toContain("client.svc.test");
      // The client certificate is required: without it there is no answer.
      const anonymous = await runCommand("gnutls-cli", ["--x509cafile", f("arca-ca.pem"), "--port", String(port), "localhost"], process.env, "GET / HTTP/1.0\r\n\r\n", 60_000);
      expect(anonymous.out).not.toMatch(/HTTP\/1\.[01] 200 OK/);
    } finally {
      await serv.stop();
      client.flush();
      server.flush();
    }
  });
});
