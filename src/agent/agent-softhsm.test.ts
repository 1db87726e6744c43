// `arca agent` end to end with a SoftHSM token as the service's token: keys born in the token, CSRs signed
// there, certificates from a real Arca server, then used through OpenSSL's pkcs11 engine by openssl
// s_server/s_client, nginx and curl. Tests are shuffled (vitest.config.ts): each reads only what beforeAll made.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../test/cli.js";
import { cleanupSoftHsm, createSoftHsmToken, pkcs11Tool, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../test/softhsm.js";
import { agentCommand } from "../cli/agent-command.js";
import { createLogger } from "../server/log.js";
import { api } from "../../test/servers.js";
import { runAgent } from "./agent.js";
import { loadAgentConfig } from "./config.js";
import type { CliIo } from "../cli/io.js";
import {
  arcaWithPki,
  engineAvailable,
  expectOk,
  freePort,
  hasCommand,
  runCommand,
  startProcess,
  waitForPort,
  writeOpensslConf,
  type ArcaPki,
} from "./agent-harness.test-util.js";

const available = softHsmAvailable() && engineAvailable();

function nginxAvailable(): boolean {
  const ok = hasCommand("nginx") && hasCommand("curl");
  if (!ok && process.env.CI === "true") throw new Error("nginx and curl are required on CI (apt-get install nginx curl)");
  return ok;
}

describe.skipIf(!available)(available ? "arca agent with a SoftHSM token" : `${SOFTHSM_SKIP_REASON} (or no OpenSSL pkcs11 engine)`, () => {
  let token: SoftHsmToken;
  let work: string;
  let arca: ArcaPki;
  let env: NodeJS.ProcessEnv;
  let onceResult: { code: number; out: string };
  const serverKey = () => `pkcs11:token=${token.label};object=web-server;type=private`;
  const clientKey = () => `pkcs11:token=${token.label};object=web-client;type=private`;
  const f = (name: string) => join(work, name);

  /** An agent config with the shared vault/auto_auth/hsm blocks and the given certificate blocks. */
  async function agentConfig(name: string, certificates: string, hsm?: string): Promise<string> {
    writeFileSync(f(`secret-id-${name}`), `${await arca.secretId()}\n`, { mode: 0o600 });
    const path = f(`${name}.hcl`);
    writeFileSync(
      path,
      `vault { address = "${arca.server.url}" }
auto_auth {
  method "approle" {
    config = {
      role_id_file_path   = "${f("role-id")}"
      secret_id_file_path = "${f(`secret-id-${name}`)}"
    }
  }
  sink "file" { config = { path = "${f(`token-${name}`)}" } }
}
${hsm ?? `hsm "svc" {\n  lib = "${token.libPath}"\n  token_label = "${token.label}"\n  pin_file = "${f("pin")}"\n}`}
${certificates}
`,
    );
    return path;
  }

  beforeAll(async () => {
    // The token exists before the first PKCS#11 call in this process (SoftHSM reads its dir once).
    token = createSoftHsmToken({ label: "svc" });
    work = mkdtempSync(join(tmpdir(), "arca-agent-"));
    arca = await arcaWithPki();
    writeFileSync(f("pin"), `${token.pin}\n`, { mode: 0o600 });
    writeFileSync(f("role-id"), `${arca.roleId}\n`);
    writeFileSync(f("arca-ca.pem"), arca.caPem);
    env = { ...process.env, SOFTHSM2_CONF: token.conf, OPENSSL_CONF: writeOpensslConf(work, { lib: token.libPath, label: token.label, pin: token.pin }) };
    const config = await agentConfig(
      "main",
      `certificate "server" {
  mount       = "pki"
  role        = "svc"
  common_name = "localhost"
  alt_names   = ["web.svc.test"]
  ip_sans     = ["127.0.0.1"]
  ttl         = "2h"
  key         = "${serverKey()}"
  cert_file   = "${f("server.pem")}"
  ca_file     = "${f("server-ca.pem")}"
  chain_file  = "${f("server-chain.pem")}"
}
certificate "client" {
  mount       = "pki"
  role        = "svc"
  common_name = "client.svc.test"
  key         = "${clientKey()}"
  key_type    = "rsa"
  key_bits    = 2048
  cert_file   = "${f("client.pem")}"
  chain_file  = "${f("client-chain.pem")}"
}`,
    );
    onceResult = await runCli(["agent", `-config=${config}`, "-once", "-log-level=error"]);
  });

  afterAll(async () => {
    await arca?.server.stop().catch(() => undefined);
    if (work) rmSync(work, { recursive: true, force: true });
    token?.cleanup();
    cleanupSoftHsm();
  });

  it("-once makes both key pairs in the token (sensitive, never extractable) and writes certificate, CA and chain", () => {
    expect(onceResult.out).toBe("");
    expect(onceResult.code).toBe(0);
    const objects = pkcs11Tool(token, ["--list-objects"]);
    for (const label of ["web-server", "web-client"]) {
      const priv = objects.split(/\n(?=\S)/).find((b) => b.startsWith("Private Key Object") && b.includes(`label:      ${label}`));
      expect(priv, `private key ${label} in the token`).toBeDefined();
      expect(priv).toMatch(/Access:\s+sensitive, always sensitive, never extractable, local/);
    }
    for (const file of ["server.pem", "server-ca.pem", "server-chain.pem", "client.pem", "client-chain.pem"]) {
      expect(statSync(f(file)).mode & 0o777, file).toBe(0o644);
    }
    // Nothing that looks like a private key was written anywhere in the work dir.
    for (const file of ["server.pem", "server-chain.pem", "client.pem", "client-chain.pem", "token-main"]) {
      expect(readFileSync(f(file), "utf8")).not.toContain("PRIVATE KEY");
    }
    const server = new X509Certificate(readFileSync(f("server.pem")));
    expect(server.subjectAltName).toContain("DNS:web.svc.test");
    expect(server.subjectAltName).toContain("IP Address:127.0.0.1");
    expect(new X509Certificate(readFileSync(f("client.pem"))).publicKey.asymmetricKeyType).toBe("rsa");
    expect(readFileSync(f("server-ca.pem"), "utf8").trim()).toBe(arca.caPem.trim());
    expect(readFileSync(f("server-chain.pem"), "utf8")).toContain(readFileSync(f("server.pem"), "utf8").trim());
    // auto_auth: the secret ID file is consumed, the sink holds the token.
    expect(existsSync(f("secret-id-main"))).toBe(false);
    expect(readFileSync(f("token-main"), "utf8")).toMatch(/^\S+$/);
    expect(statSync(f("token-main")).mode & 0o777).toBe(0o640);
  });

  it("openssl verifies both certificates against Arca's CA", async () => {
    for (const cert of ["server.pem", "client.pem"]) {
      const r = await runCommand("openssl", ["verify", "-CAfile", f("arca-ca.pem"), f(cert)], env);
      expectOk(r, `openssl verify ${cert}`);
      expect(r.out).toContain(`${f(cert)}: OK`);
    }
  });

  it("openssl s_server with the token-held key and -Verify accepts s_client presenting the other token-held key", async () => {
    const port = await freePort();
    const server = startProcess(
      "openssl",
      ["s_server", "-engine", "pkcs11", "-keyform", "engine", "-key", serverKey(), "-cert", f("server.pem"), "-CAfile", f("arca-ca.pem"), "-Verify", "2", "-verify_return_error", "-accept", `127.0.0.1:${port}`, "-www"],
      env,
    );
    try {
      await waitForPort(port, server);
      const ok = await runCommand(
        "openssl",
        ["s_client", "-engine", "pkcs11", "-keyform", "engine", "-key", clientKey(), "-cert", f("client.pem"), "-CAfile", f("arca-ca.pem"), "-verify_return_error", "-ign_eof", "-servername", "localhost", "-connect", `127.0.0.1:${port}`],
        env,
        "GET / HTTP/1.0\r\n\r\n",
      );
      expect(ok.out).toContain("Verify return code: 0 (ok)");
      expect(ok.out).toContain("HTTP/1.0 200 ok");
      expect(server.output()).toMatch(/depth=0 CN = client\.svc\.test\s+verify return:1/);
      // -Verify is enforced: without a client certificate the handshake fails.
      const without = await runCommand("openssl", ["s_client", "-CAfile", f("arca-ca.pem"), "-ign_eof", "-connect", `127.0.0.1:${port}`], env, "GET / HTTP/1.0\r\n\r\n");
      expect(without.out).not.toContain("HTTP/1.0 200 ok");
    } finally {
      await server.stop();
    }
  });

  it.skipIf(!nginxAvailable())("nginx serves HTTPS with the token-held key and answers curl presenting the client's token-held key", async () => {
    const port = await freePort();
    const prefix = mkdtempSync(join(work, "nginx-"));
    const conf = join(prefix, "nginx.conf");
    writeFileSync(
      conf,
      `daemon off;
# Debian 12's libp11 (0.4.12) loses engine keys in forked workers (CKR_OBJECT_HANDLE_INVALID): docs/agent.md.
master_process off;
error_log stderr warn;
pid ${join(prefix, "nginx.pid")};
events { worker_connections 16; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${f("server-chain.pem")};
    ssl_certificate_key "engine:pkcs11:${serverKey()}";
    ssl_client_certificate ${f("arca-ca.pem")};
    ssl_verify_client on;
    location / { return 200 "hello $ssl_client_s_dn\\n"; }
  }
}
`,
    );
    const nginx = startProcess("nginx", ["-p", prefix, "-c", conf, "-e", "stderr"], env);
    try {
      await waitForPort(port, nginx);
      const url = `https://localhost:${port}/`;
      const withCert = await runCommand("curl", ["-sS", "--cacert", f("arca-ca.pem"), "--engine", "pkcs11", "--key-type", "ENG", "--key", clientKey(), "--cert", f("client.pem"), url], env);
      expectOk(withCert, "curl with the client certificate");
      expect(withCert.out).toBe("hello CN=client.svc.test\n");
      const without = await runCommand("curl", ["-sS", "--cacert", f("arca-ca.pem"), url], env);
      expect(without.out).toContain("400 No required SSL certificate was sent");
    } finally {
      await nginx.stop();
    }
  });

  it.skipIf(!nginxAvailable())("Python behind nginx: nginx holds the token keys for Python's ssl, which cannot load engine keys, in both directions", async () => {
    const [tlsPort, proxyPort, appPort] = [await freePort(), await freePort(), await freePort()];
    const prefix = mkdtempSync(join(work, "nginx-py-"));
    mkdirSync(join(prefix, "app"));
    writeFileSync(join(prefix, "app", "index.html"), "from python\n");
    const app = startProcess("/usr/bin/python3", ["-m", "http.server", String(appPort), "--bind", "127.0.0.1", "--directory", join(prefix, "app")], env);
    const conf = join(prefix, "nginx.conf");
    writeFileSync(
      conf,
      `daemon off;
master_process off;
error_log stderr warn;
pid ${join(prefix, "nginx.pid")};
events { worker_connections 16; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  # Inbound: mTLS terminated with the server's token key, plain HTTP to the Python app on loopback.
  server {
    listen 127.0.0.1:${tlsPort} ssl;
    ssl_certificate ${f("server-chain.pem")};
    ssl_certificate_key "engine:pkcs11:${serverKey()}";
    ssl_client_certificate ${f("arca-ca.pem")};
    ssl_verify_client on;
    location / { proxy_pass http://127.0.0.1:${appPort}; }
  }
  # Outbound: a Python client speaks plain HTTP on loopback; nginx presents the client's token key upstream.
  server {
    listen 127.0.0.1:${proxyPort};
    location / {
      proxy_pass https://127.0.0.1:${tlsPort};
      proxy_ssl_certificate ${f("client.pem")};
      proxy_ssl_certificate_key "engine:pkcs11:${clientKey()}";
      proxy_ssl_trusted_certificate ${f("arca-ca.pem")};
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
      proxy_ssl_server_name on;
    }
  }
}
`,
    );
    const nginx = startProcess("nginx", ["-p", prefix, "-c", conf, "-e", "stderr"], env);
    try {
      await waitForPort(appPort, app);
      await waitForPort(tlsPort, nginx);
      const py = await runCommand("/usr/bin/python3", ["-c", `import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:${proxyPort}/index.html").read().decode(), end="")`], env);
      expectOk(py, `python through nginx (${nginx.output()})`);
      expect(py.out).toBe("from python\n");
    } finally {
      await nginx.stop();
      await app.stop();
    }
  });

  it("renews a short-lived certificate before it expires, runs exec, keeps the same key", async () => {
    const marker = f("renewed.log");
    const config = await agentConfig(
      "renew",
      `certificate "short" {
  mount       = "pki"
  role        = "short"
  common_name = "short.svc.test"
  key         = "pkcs11:token=${token.label};object=short-lived"
  cert_file   = "${f("short.pem")}"
  exec        = "echo renewed >> ${marker}"
}`,
    );
    const controller = new AbortController();
    const io = quietIo();
    const daemon = agentCommand([`-config=${config}`, "-log-level=error"], io, { signal: controller.signal });
    try {
      const first = await waitForCert(f("short.pem"), () => true);
      // The token the agent holds is revoked behind its back: the next sign answers 403 and it logs in again.
      const held = readFileSync(f("token-renew"), "utf8");
      expect((await api(arca.server.url, "PUT", "auth/token/revoke", { token: arca.root, body: { token: held } })).status).toBe(204);
      // The role gives 9 s; the agent renews at 2/3 of that (minus up to 10% jitter): well before notAfter.
      const second = await waitForCert(f("short.pem"), (c) => c.serialNumber !== first.serialNumber, 20_000);
      expect(Date.now()).toBeLessThan(new Date(first.validTo).getTime());
      expect(second.publicKey.export({ type: "spki", format: "der" }).equals(first.publicKey.export({ type: "spki", format: "der" }))).toBe(true);
      // exec runs after the files are written: give it a moment to finish.
      await waitUntil(() => existsSync(marker) && readFileSync(marker, "utf8").trim().split("\n").length >= 2);
      expect(readFileSync(f("token-renew"), "utf8")).not.toBe(held);
    } finally {
      controller.abort();
      await daemon;
    }
  });

  it("the daemon backs off on errors (exponential, capped) and writes nothing the role refused", async () => {
    const config = await loadAgentConfig(
      await agentConfig(
        "backoff",
        `certificate "refused" {
  mount       = "pki"
  role        = "svc"
  common_name = "evil.example.org"
  key         = "${serverKey()}"
  cert_file   = "${f("refused.pem")}"
  exec        = "touch ${f("refused-exec")}"
}`,
      ),
    );
    const lines: string[] = [];
    const controller = new AbortController();
    const run = runAgent(config, { logger: createLogger("error", (l) => void lines.push(l)), signal: controller.signal, backoff: { baseMs: 40, maxMs: 160 } });
    await new Promise((r) => setTimeout(r, 1500));
    controller.abort();
    await run;
    const failures = lines.map((l) => JSON.parse(l) as { msg: string; failures: number; retryInMs: number; error: string });
    expect(failures.length).toBeGreaterThanOrEqual(4);
    expect(failures.map((x) => x.failures)).toEqual(failures.map((_, i) => i + 1));
    expect(failures.every((x) => x.msg === "certificate renewal failed" && x.retryInMs <= 160)).toBe(true);
    expect(failures[0].retryInMs).toBeLessThanOrEqual(40);
    expect(failures.at(-1)?.retryInMs).toBeGreaterThanOrEqual(80);
    expect(failures[0].error).toMatch(/^certificate "refused": pki\/sign\/svc refused/);
    expect(existsSync(f("refused.pem"))).toBe(false);
    expect(existsSync(f("refused-exec"))).toBe(false);
  });

  it("bad configuration fails with one clear line: unknown token, wrong PIN, a role refusing the name", async () => {
    const block = (key: string, cn = "localhost") => `certificate "bad" {
  mount = "pki"
  role = "svc"
  common_name = "${cn}"
  key = "${key}"
  cert_file = "${f("bad.pem")}"
}`;
    const unknownToken = await runCli(["agent", `-config=${await agentConfig("bad-token", block("pkcs11:token=nope;object=x"))}`, "-once"]);
    expect(unknownToken.code).not.toBe(0);
    expect(unknownToken.out).toMatch(/^Error: .*certificate\.bad\.key: names a token no hsm block declares.*\n$/);

    writeFileSync(f("wrong-pin"), "0000\n", { mode: 0o600 });
    const wrongPinHsm = `hsm "svc" {\n  lib = "${token.libPath}"\n  token_label = "${token.label}"\n  pin_file = "${f("wrong-pin")}"\n}`;
    const wrongPin = await runCli(["agent", `-config=${await agentConfig("bad-pin", block(serverKey()), wrongPinHsm)}`, "-once"]);
    expect(wrongPin.code).not.toBe(0);
    expect(wrongPin.out).toMatch(/^Error: certificate "bad": .*CKR_PIN_INCORRECT.*\n$/);
    expect(wrongPin.out).not.toContain("0000");

    const refused = await runCli(["agent", `-config=${await agentConfig("bad-name", block(serverKey(), "evil.example.org"))}`, "-once"]);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/^Error: certificate "bad": pki\/sign\/svc refused: .*evil\.example\.org.*not allowed.*\n$/);
    expect(existsSync(f("bad.pem"))).toBe(false);
  });
});

function quietIo(): CliIo {
  return {
    env: {},
    homeDir: tmpdir(),
    stdout: () => undefined,
    stderr: () => undefined,
    stdoutIsTty: false,
    stdinIsTty: false,
    readStdin: async () => "",
    readSecretLine: async () => "",
  };
}

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitForCert(path: string, accept: (c: X509Certificate) => boolean, timeoutMs = 15_000): Promise<X509Certificate> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (existsSync(path)) {
      const c = new X509Certificate(readFileSync(path));
      if (accept(c)) return c;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no acceptable certificate at ${path} within ${timeoutMs} ms`);
}
