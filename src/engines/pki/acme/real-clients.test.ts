/**
 * Real ACME clients against Arca's HTTPS listener, the CA key in SoftHSM (a kms issuer): certbot
 * (standalone http-01, then revoke), lego (http-01, tls-alpn-01, and a dns-01 wildcard published through
 * pebble-challtestsrv, which is also config/acme's dns_resolver). Every chain is checked with openssl verify.
 * The clients need Debian's certbot, lego and pebble packages: skipped locally without them, failed on CI.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "../../../../test/processes.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sealedConfig, startSealed } from "../../../../test/hsm-servers.js";
import { request as httpsRequest } from "node:https";
import { cleanupSoftHsm, createSoftHsmToken, softHsmAvailable, type SoftHsmToken } from "../../../../test/softhsm.js";
import type { RunningServer } from "../../../server/server.js";

const run = promisify(execFile);
const TOOLS = ["certbot", "lego", "pebble-challtestsrv"];
const has = (tool: string): boolean => {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const missing = TOOLS.filter((t) => !has(t));
if (missing.length > 0 && process.env.CI === "true") throw new Error(`ACME client tests need ${missing.join(", ")} on CI (apt-get install certbot lego pebble)`);
const hsm = missing.length === 0 && softHsmAvailable();
const SKIP = missing.length > 0 ? `ACME client tests skipped: ${missing.join(", ")} not installed` : "ACME client tests skipped: SoftHSM not installed";

describe.skipIf(!hsm)(hsm ? "ACME with certbot and lego (CA key in SoftHSM)" : SKIP, () => {
  let dir: string;
  let token: SoftHsmToken;
  let server: RunningServer;
  let root: string;
  let directory: string;
  let challtest: ChildProcess;
  let httpPort: number;
  let tlsPort: number;
  let dnsPort: number;
  let mgmtPort: number;
  const f = (n: string): string => join(dir, n);
  const verify = (chainFile: string): string => {
    const out = execFileSync("openssl", ["verify", "-CAfile", f("arca-root.pem"), "-untrusted", chainFile, chainFile], { encoding: "utf8" });
    return out;
  };

  /** The listener's TLS is verified against its own CA (fetch would need NODE_EXTRA_CA_CERTS at start). */
  const httpsCall = (method: string, url: string, body?: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(url, { method, ca: readFileSync(f("tls-ca.pem")), headers: { "X-Vault-Token": root, ...(body ? { "Content-Type": "application/json" } : {}) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      });
      req.on("error", reject);
      req.end(body);
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "arca-acme-clients-"));
    // The listener's TLS certificate (what certbot and lego must trust to reach the directory).
    const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    execFileSync("openssl", ["req", "-x509", ...EC, "-keyout", f("tls-ca.key"), "-out", f("tls-ca.pem"), "-subj", "/CN=listener-ca", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"], { stdio: "ignore" });
    execFileSync("openssl", ["req", "-new", ...EC, "-keyout", f("tls.key"), "-out", f("tls.csr"), "-subj", "/CN=127.0.0.1"], { stdio: "ignore" });
    writeFileSync(f("tls.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    execFileSync("openssl", ["x509", "-req", "-in", f("tls.csr"), "-CA", f("tls-ca.pem"), "-CAkey", f("tls-ca.key"), "-CAcreateserial", "-out", f("tls.pem"), "-days", "2", "-extfile", f("tls.ext")], { stdio: "ignore" });

    token = createSoftHsmToken({ label: "acme" });
    const config = sealedConfig(
      dir,
      [{ type: "pkcs11", disabled: false, params: { key: `pkcs11:token=${token.label};object=arca-seal`, generate_key: true } }],
      [{ name: "primary", lib: token.libPath, tokenLabel: token.label, pin: token.pin }],
    );
    config.listeners = [{ ...config.listeners[0], tlsDisable: false, tlsCertFile: f("tls.pem"), tlsKeyFile: f("tls.key") }];
    server = await startSealed(config);
    root = (await server.core.initialize({ secretShares: 0, secretThreshold: 0, recoveryShares: 1, recoveryThreshold: 1 })).rootToken;

    [httpPort, tlsPort, dnsPort, mgmtPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    challtest = spawn("pebble-challtestsrv", ["-dns01", `127.0.0.1:${dnsPort}`, "-http01", "", "-https01", "", "-tlsalpn01", "", "-management", `127.0.0.1:${mgmtPort}`, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""], { stdio: "ignore" });

    const base = server.url;
    const call = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
      const r = await httpsCall(method, `${base}/v1/${path}`, body === undefined ? undefined : JSON.stringify(body));
      expect(r.status, `${path}: ${r.body}`).toBeLessThan(300);
      return r.body ? ((JSON.parse(r.body) as { data?: Record<string, unknown> }).data ?? {}) : {};
    };
    await call("POST", "sys/mounts/pki", { type: "pki" });
    const gen = await call("POST", "pki/root/generate/kms", { common_name: "Arca ACME Root (HSM)", key_type: "ec", key_bits: 256, ttl: "8760h", key_name: "acme-ca" });
    writeFileSync(f("arca-root.pem"), String(gen.certificate));
    await call("POST", "pki/config/cluster", { path: `${base}/v1/pki` });
    await call("POST", "pki/config/acme", { enabled: true, allowed_validation_networks: ["127.0.0.0/8"], http01_port: httpPort, tls_alpn01_port: tlsPort, dns_resolver: `127.0.0.1:${dnsPort}` });
    directory = `${base}/v1/pki/acme/directory`;
  }, 60_000);

  afterAll(async () => {
    challtest?.kill();
    await server?.stop();
    cleanupSoftHsm();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("certbot: standalone http-01 issuance, then revoke", async () => {
    const cb = ["--config-dir", f("cb/conf"), "--work-dir", f("cb/work"), "--logs-dir", f("cb/logs"), "--server", directory, "--non-interactive"];
    const env = { ...process.env, REQUESTS_CA_BUNDLE: f("tls-ca.pem") };
    await run("certbot", ["certonly", ...cb, "--standalone", "--http-01-port", String(httpPort), "--http-01-address", "127.0.0.1", "--preferred-challenges", "http", "--agree-tos", "--register-unsafely-without-email", "--no-random-sleep-on-renew", "-d", "cb.example.test"], { env, timeout: 120_000 });
    const live = f("cb/conf/live/cb.example.test");
    expect(verify(join(live, "fullchain.pem"))).toMatch(/OK/);
    await run("certbot", ["revoke", ...cb, "--cert-path", join(live, "cert.pem"), "--no-delete-after-revoke", "--reason", "keycompromise"], { env, timeout: 120_000 });
    writeFileSync(f("cb-crl.pem"), (await httpsCall("GET", `${server.url}/v1/pki/crl/pem`)).body);
    const v = execFileSync("sh", ["-c", `openssl verify -crl_check -CAfile ${f("arca-root.pem")} -CRLfile ${f("cb-crl.pem")} ${join(live, "cert.pem")} 2>&1 || true`], { encoding: "utf8" });
    expect(v).toMatch(/certificate revoked/);
  }, 180_000);

  const lego = async (name: string, args: string[], domains: string[]): Promise<string> => {
    const path = f(`lego-${name}`);
    const env = { ...process.env, LEGO_CA_CERTIFICATES: f("tls-ca.pem"), EXEC_PATH: f("dns-hook.sh") };
    await run("lego", ["--server", directory, "--accept-tos", "--email", "ops@example.test", "--path", path, ...domains.flatMap((d) => ["--domains", d]), ...args, "run"], { env, timeout: 120_000 });
    const certs = join(path, "certificates");
    const crt = readdirSync(certs).find((n) => n.endsWith(".crt") && !n.endsWith(".issuer.crt"));
    expect(crt).toBeTruthy();
    return join(certs, crt!);
  };

  it("lego: http-01", async () => {
    const crt = await lego("http", ["--http", "--http.port", `127.0.0.1:${httpPort}`], ["lh.example.test"]);
    expect(verify(crt)).toMatch(/OK/);
  }, 180_000);

  it("lego: tls-alpn-01", async () => {
    const crt = await lego("tls", ["--tls", "--tls.port", `127.0.0.1:${tlsPort}`], ["lt.example.test"]);
    expect(verify(crt)).toMatch(/OK/);
  }, 180_000);

  it("lego: dns-01 wildcard through pebble-challtestsrv", async () => {
    // lego's exec provider calls `hook present|cleanup <fqdn> <value>`; the hook sets the TXT record.
    writeFileSync(
      f("dns-hook.sh"),
      `#!/bin/sh\nop=set-txt; [ "$1" = cleanup ] && op=clear-txt\nexec /usr/bin/python3 -c 'import json,sys,urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=json.dumps({"host": sys.argv[2], "value": sys.argv[3]}).encode()))' "http://127.0.0.1:${mgmtPort}/$op" "$2" "$3"\n`,
    );
    chmodSync(f("dns-hook.sh"), 0o755);
    const crt = await lego("dns", ["--dns", "exec", "--dns.resolvers", `127.0.0.1:${dnsPort}`, "--dns.disable-cp"], ["*.wild.example.test"]);
    expect(verify(crt)).toMatch(/OK/);
    expect(execFileSync("openssl", ["x509", "-in", crt, "-noout", "-ext", "subjectAltName"], { encoding: "utf8" })).toContain("DNS:*.wild.example.test");
    expect(existsSync(crt) && readFileSync(crt, "utf8")).toContain("BEGIN CERTIFICATE");
  }, 180_000);
});
