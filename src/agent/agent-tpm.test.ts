// `arca agent` with TPM-held keys: two software TPMs (Debian's swtpm), each with a tpm2-pkcs11 token, one per
// service as two machines would have. The agent makes each key inside its TPM, signs the CSR there and gets
// the certificate from Arca; then mutual TLS between the two TPM-held keys.
//
// Why these shapes (all measured on Debian 12: swtpm 0.7, tpm2-tss 3.2.1, tpm2-pkcs11 1.9, libp11 0.4.12,
// OpenSSL 3.0.19):
//  - swtpm has no resource manager and serves one connection at a time: every tpm2-pkcs11 user is a
//    short-lived process (the agent runs with -once in a child process), and transient objects a tool leaves
//    loaded are flushed after it (tpm2_ptool runs tpm2-tools through flushing wrappers, see tpm2Tools()).
//  - The mTLS peers are gnutls-serv/gnutls-cli (PKCS#11 through p11-kit), not OpenSSL: with libp11's engine
//    loaded, tpm2-tss's own OpenSSL calls fail (EVP_PKEY_fromdata "operation not supported for this keytype",
//    then "Could not start Auth Session with the TPM"), so `openssl -engine pkcs11` cannot log in to a
//    tpm2-pkcs11 token on this stack (tpm2-software/tpm2-tss#3151). docs/agent.md has the details.
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arcaWithPki, freePort, hasCommand, runCommand, startProcess, waitForPort, type ArcaPki, type Spawned } from "./agent-harness.test-util.js";

const TPM2_PKCS11_LIB = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so";
const TOOLS = ["swtpm", "tpm2_ptool", "tpm2_flushcontext", "gnutls-serv", "gnutls-cli", "pkcs11-tool", "openssl"];

function tpmAvailable(): boolean {
  const missing = [...TOOLS.filter((t) => !hasCommand(t)), ...(existsSync(TPM2_PKCS11_LIB) ? [] : [TPM2_PKCS11_LIB])];
  if (missing.length > 0 && process.env.CI === "true") throw new Error(`the TPM agent test needs ${missing.join(", ")} on CI (swtpm, libtpm2-pkcs11-1, libtpm2-pkcs11-tools, tpm2-tools, gnutls-bin)`);
  return missing.length === 0;
}

const available = tpmAvailable();
const repoRoot = resolve(import.meta.dirname, "../..");

/** The tpm2-tools tpm2_ptool runs, each followed by a flush of what it left loaded (there is no resource manager). */
const PTOOL_COMMANDS = ["changeauth", "create", "createprimary", "encryptdecrypt", "evictcontrol", "getcap", "import", "load", "loadexternal", "readpublic", "sign", "unseal"];

interface SoftTpm {
  name: string;
  process: Spawned;
  store: string;
  label: string;
  pin: string;
  /** Environment for every program that talks to this TPM (tpm2-tools, tpm2-pkcs11). */
  env: NodeJS.ProcessEnv;
  flush(): void;
}

async function startSoftTpm(work: string, name: string): Promise<SoftTpm> {
  const dir = join(work, name);
  const state = join(dir, "state");
  const store = join(dir, "store");
  const wrap = join(dir, "bin");
  for (const d of [state, store, wrap]) mkdirSync(d, { recursive: true });
  const port = await freePort();
  // The swtpm TCTI talks to the control channel on the next port: it is not configurable.
  const ctrl = port + 1;
  const proc = startProcess(
    "swtpm",
    ["socket", "--tpm2", "--tpmstate", `dir=${state}`, "--server", `type=tcp,port=${port},bindaddr=127.0.0.1`, "--ctrl", `type=tcp,port=${ctrl},bindaddr=127.0.0.1`, "--flags", "not-need-init,startup-clear"],
    process.env,
  );
  try {
    await waitForPort(port, proc);
    return provisionToken(name, proc, port, store, wrap);
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

function provisionToken(name: string, proc: Spawned, port: number, store: string, wrap: string): SoftTpm {
  const tcti = `swtpm:host=127.0.0.1,port=${port}`;
  for (const cmd of PTOOL_COMMANDS) {
    const path = join(wrap, `tpm2_${cmd}`);
    writeFileSync(path, `#!/bin/sh\n/usr/bin/tpm2_${cmd} "$@"\nrc=$?\n/usr/bin/tpm2_flushcontext -t >/dev/null 2>&1\nexit $rc\n`);
    chmodSync(path, 0o755);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, TPM2TOOLS_TCTI: tcti, TPM2_PKCS11_TCTI: tcti, TPM2_PKCS11_STORE: store, TPM2_PKCS11_LOG_LEVEL: "0" };
  const flush = () => execFileSync("tpm2_flushcontext", ["-t"], { env, stdio: "ignore" });
  const ptoolEnv = { ...env, PATH: `${wrap}:${process.env.PATH ?? ""}` };
  const label = `svc-${name}`;
  const pin = "1234";
  execFileSync("tpm2_ptool", ["init", "--path", store], { env: ptoolEnv, stdio: "pipe" });
  flush();
  execFileSync("tpm2_ptool", ["addtoken", "--pid=1", "--sopin=5678", `--userpin=${pin}`, `--label=${label}`, "--path", store], { env: ptoolEnv, stdio: "pipe" });
  flush();
  return { name, process: proc, store, label, pin, env, flush };
}

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
