import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_LEASE_TTL_SECONDS, DEFAULT_MAX_REQUEST_SIZE, loadServerConfig, parseServerConfig } from "./config.js";
import { hsmBlockConformance } from "../hsm/hsm-config.case.js";

const HCL = `
storage "sqlite" {
  path = "/var/lib/arca/arca.db"
}

listener "tcp" {
  address       = "0.0.0.0:8200"
  tls_cert_file = "/etc/arca/tls.crt"
  tls_key_file  = "/etc/arca/tls.key"
}

listener "tcp" {
  address          = "127.0.0.1:8201"
  tls_disable      = "true"
  max_request_size = -1
}

api_addr          = "https://arca.example.com:8200"
cluster_name      = "arca-1"
ui                = true
log_level         = "Debug"
disable_mlock     = true
default_lease_ttl = "1h"
max_lease_ttl     = "720h"

seal "pkcs11" {
  lib         = "/usr/lib/softhsm/libsofthsm2.so"
  slot        = 0
  key_label   = "arca-unseal"
  generate_key = true
}

seal "shamir" {
  disabled = "true"
}

hsm "main" {
  lib         = "/usr/lib/softhsm/libsofthsm2.so"
  token_label = "arca"
  pin_env     = "ARCA_HSM_PIN"
}
`;

const EXPECTED = {
  storage: { type: "sqlite", path: "/var/lib/arca/arca.db" },
  listeners: [
    { type: "tcp", address: "0.0.0.0:8200", tlsDisable: false, tlsCertFile: "/etc/arca/tls.crt", tlsKeyFile: "/etc/arca/tls.key", maxRequestSize: DEFAULT_MAX_REQUEST_SIZE },
    { type: "tcp", address: "127.0.0.1:8201", tlsDisable: true, maxRequestSize: 0 },
  ],
  apiAddr: "https://arca.example.com:8200",
  clusterName: "arca-1",
  ui: true,
  logLevel: "debug",
  defaultLeaseTtl: 3600,
  maxLeaseTtl: 720 * 3600,
  seals: [
    { type: "pkcs11", disabled: false, params: { lib: "/usr/lib/softhsm/libsofthsm2.so", slot: 0, key_label: "arca-unseal", generate_key: true } },
    { type: "shamir", disabled: true, params: {} },
  ],
  hsms: [{ name: "main", lib: "/usr/lib/softhsm/libsofthsm2.so", tokenLabel: "arca", pinEnv: "ARCA_HSM_PIN" }],
};

const JSON_FORM = JSON.stringify({
  storage: { sqlite: { path: "/var/lib/arca/arca.db" } },
  listener: [
    { tcp: { address: "0.0.0.0:8200", tls_cert_file: "/etc/arca/tls.crt", tls_key_file: "/etc/arca/tls.key" } },
    { tcp: { address: "127.0.0.1:8201", tls_disable: true, max_request_size: -1 } },
  ],
  api_addr: "https://arca.example.com:8200",
  cluster_name: "arca-1",
  ui: true,
  log_level: "debug",
  disable_mlock: true,
  default_lease_ttl: 3600,
  max_lease_ttl: "720h",
  seal: [
    { pkcs11: { lib: "/usr/lib/softhsm/libsofthsm2.so", slot: 0, key_label: "arca-unseal", generate_key: true } },
    { shamir: { disabled: true } },
  ],
  hsm: { main: { lib: "/usr/lib/softhsm/libsofthsm2.so", token_label: "arca", pin_env: "ARCA_HSM_PIN" } },
});

async function configError(text: string): Promise<ConfigError> {
  try {
    await parseServerConfig(text, "arca.hcl");
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected ConfigError");
}

const MIN = `storage "sqlite" {\n  path = "x.db"\n}\n`;
const PLAIN = `listener "tcp" {\n  address = "127.0.0.1:8200"\n  tls_disable = true\n}\n`;

describe("parseServerConfig", () => {
  it("parses the HCL form", async () => {
    const c = await parseServerConfig(HCL, "arca.hcl");
    expect(c).toMatchObject(EXPECTED);
    expect(c.warnings).toEqual([`setting "disable_mlock" has no effect`]);
  });

  it("parses the JSON form to the same config", async () => {
    const a = await parseServerConfig(HCL, "arca.hcl");
    const b = await parseServerConfig(JSON_FORM, "arca.json");
    expect(b).toEqual(a);
  });

  it("applies defaults", async () => {
    const c = await parseServerConfig(MIN + PLAIN);
    expect(c).toEqual({
      storage: { type: "sqlite", path: "x.db" },
      listeners: [{ type: "tcp", address: "127.0.0.1:8200", tlsDisable: true, maxRequestSize: 32 * 1024 * 1024 }],
      ui: false,
      logLevel: "info",
      defaultLeaseTtl: DEFAULT_LEASE_TTL_SECONDS,
      maxLeaseTtl: DEFAULT_LEASE_TTL_SECONDS,
      seals: [],
      hsms: [],
      warnings: [],
    });
  });

  it("accepts postgresql storage and legacy `backend`", async () => {
    const c = await parseServerConfig(`backend "postgresql" {\n  connection_url = "postgres://x"\n  table = "arca"\n}\n` + PLAIN);
    expect(c.storage).toEqual({ type: "postgresql", connectionUrl: "postgres://x", table: "arca" });
  });

  it("reads OpenBao's postgresql fields, strings included", async () => {
    const c = await parseServerConfig(
      `storage "postgresql" {\n  connection_url = "postgres://x"\n  ha_enabled = "true"\n  ha_table = "locks"\n  max_parallel = "16"\n}\n` + PLAIN,
    );
    expect(c.storage).toEqual({ type: "postgresql", connectionUrl: "postgres://x", haEnabled: true, haTable: "locks", maxParallel: 16 });
  });

  it("warns about unknown settings instead of failing", async () => {
    const c = await parseServerConfig(MIN + PLAIN.replace("tls_disable", "http_idle_timeout = \"5m\"\n  tls_disable") + `telemetry {\n  x = 1\n}\nfrobnicate = 1\n`);
    expect(c.warnings).toEqual(expect.arrayContaining([
      `unknown setting "frobnicate" ignored`,
      `setting "telemetry" has no effect`,
      `listener.tcp[0]: unknown setting "http_idle_timeout" ignored`,
    ]));
  });

  it("loads from a file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "arca-config-"));
    const file = join(dir, "arca.hcl");
    await writeFile(file, MIN + PLAIN);
    expect((await loadServerConfig(file)).storage).toEqual({ type: "sqlite", path: "x.db" });
    await expect(loadServerConfig(join(dir, "missing.hcl"))).rejects.toThrow(/ENOENT/);
  });

  it.each([
    ["no storage", PLAIN, "storage", /storage block is required/],
    ["two storages", MIN + MIN.replace("sqlite", "postgresql").replace("path", "table") + PLAIN, "storage", /only one storage/],
    ["unknown storage", `storage "consul" {\n}\n` + PLAIN, "storage.consul", /unknown storage type "consul"/],
    ["sqlite without path", `storage "sqlite" {\n}\n` + PLAIN, "storage.sqlite.path", /is required/],
    ["postgresql table not an identifier", `storage "postgresql" {\n  table = "a b"\n}\n` + PLAIN, "storage.postgresql.table", /plain identifier/],
    ["postgresql max_parallel 0", `storage "postgresql" {\n  max_parallel = 0\n}\n` + PLAIN, "storage.postgresql.max_parallel", /at least 1/],
    ["sqlite typo", `storage "sqlite" {\n  pth = "x"\n}\n` + PLAIN, "storage.sqlite.pth", /invalid key "pth"/],
    ["no listener", MIN, "listener", /at least one listener/],
    ["listener without address", MIN + `listener "tcp" {\n  tls_disable = true\n}\n`, "listener.tcp[0].address", /is required/],
    ["bad address", MIN + `listener "tcp" {\n  address = "8200"\n  tls_disable = true\n}\n`, "listener.tcp[0].address", /host:port/],
    ["unknown listener", MIN + `listener "unix" {\n  address = "/tmp/s:1"\n}\n`, "listener.unix[0]", /unknown listener type "unix"/],
    ["TLS without cert", MIN + `listener "tcp" {\n  address = "0.0.0.0:8200"\n  tls_disable = false\n}\n`, "listener.tcp[0].tls_cert_file", /unless tls_disable = true/],
    ["TLS without key", MIN + `listener "tcp" {\n  address = "0.0.0.0:8200"\n  tls_cert_file = "c"\n}\n`, "listener.tcp[0].tls_key_file", /unless tls_disable = true/],
    ["bad tls_disable", MIN + `listener "tcp" {\n  address = "0.0.0.0:8200"\n  tls_disable = "perhaps"\n}\n`, "listener.tcp[0].tls_disable", /expected a boolean/],
    ["bad max_request_size", MIN + `listener "tcp" {\n  address = "0.0.0.0:8200"\n  tls_disable = true\n  max_request_size = "big"\n}\n`, "listener.tcp[0].max_request_size", /expected a number/],
    ["bad log level", MIN + PLAIN + `log_level = "loud"\n`, "log_level", /unknown log level/],
    ["bad duration", MIN + PLAIN + `max_lease_ttl = "forever"\n`, "max_lease_ttl", /invalid duration/],
    ["default > max", MIN + PLAIN + `default_lease_ttl = "2h"\nmax_lease_ttl = "1h"\n`, "default_lease_ttl", /greater than max_lease_ttl/],
    ["nested seal param", MIN + PLAIN + `seal "pkcs11" {\n  lib = "x"\n  nested = { a = 1 }\n}\n`, "seal.pkcs11[0].nested", /expected a string/],
    ["hsm without lib", MIN + PLAIN + `hsm "a" {\n  token_label = "t"\n}\n`, "hsm.a.lib", /is required/],
    ["hsm without token", MIN + PLAIN + `hsm "a" {\n  lib = "x.so"\n}\n`, "hsm.a", /token_label or serial/],
    ["hsm two pins", MIN + PLAIN + `hsm "a" {\n  lib = "x.so"\n  serial = "1"\n  pin = "1234"\n  pin_env = "P"\n}\n`, "hsm.a", /only one of pin/],
    ["hsm typo", MIN + PLAIN + `hsm "a" {\n  lib = "x.so"\n  serial = "1"\n  pinn = "1234"\n}\n`, "hsm.a.pinn", /invalid key "pinn"/],
    ["duplicate hsm", MIN + PLAIN + `hsm "a" {\n  lib = "x.so"\n  serial = "1"\n}\nhsm "a" {\n  lib = "y.so"\n  serial = "2"\n}\n`, "hsm.a", /duplicate/],
    ["ui not bool", MIN + PLAIN + `ui = "sometimes"\n`, "ui", /expected a boolean/],
  ])("rejects %s", async (_name, text, field, message) => {
    const err = await configError(text);
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
    expect(err.message.startsWith("arca.hcl")).toBe(true);
  });

  it("reports syntax errors with a line and without the secret on it", async () => {
    const err = await configError(MIN + PLAIN + `hsm "a" {\n  lib = "x.so"\n  pin = "12345678" serial = "1"\n}\n`);
    expect(err.line).toBe(10);
    expect(err.message).not.toContain("12345678");
  });
});

hsmBlockConformance("server config", async (hsmBlocks) => (await parseServerConfig(MIN + PLAIN + hsmBlocks)).hsms);

describe("hsm max_sessions", () => {
  it("is accepted and validated", async () => {
    const base = `listener "tcp" {
  address     = "127.0.0.1:8200"
  tls_disable = true
}
storage "sqlite" { path = "/tmp/x.db" }
`;
    const ok = await parseServerConfig(`${base}hsm "h" {
  lib = "/usr/lib/softhsm/libsofthsm2.so"
  token_label = "t"
  pin = "1234"
  max_sessions = 8
}`);
    expect(ok.hsms[0].maxSessions).toBe(8);
    await expect(parseServerConfig(`${base}hsm "h" {
  lib = "/usr/lib/softhsm/libsofthsm2.so"
  token_label = "t"
  max_sessions = 0
}`)).rejects.toThrow(/max_sessions/);
  });
});

describe("listener TLS settings", () => {
  const TLS = (extra: string): string => `storage "sqlite" {\n  path = "x.db"\n}\nlistener "tcp" {\n  address = "127.0.0.1:8200"\n  tls_cert_file = "c.pem"\n  tls_key_file = "k.pem"\n${extra}}\n`;
  const fails = async (text: string): Promise<ConfigError> => {
    const err = await parseServerConfig(text, "arca.hcl").then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  };

  it("maps OpenBao's versions, Go cipher-suite names and client-certificate settings", async () => {
    const c = await parseServerConfig(TLS(`  tls_min_version = "tls12"\n  tls_max_version = "tls13"\n  tls_cipher_suites = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_AES_128_GCM_SHA256"\n  tls_require_and_verify_client_cert = "true"\n  tls_client_ca_file = "ca.pem"\n  tls_disable_client_certs = false\n`));
    expect(c.warnings).toEqual([]);
    expect(c.listeners[0]).toMatchObject({
      tlsMinVersion: "TLSv1.2",
      tlsMaxVersion: "TLSv1.3",
      tlsCiphers: "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305",
      tlsRequireClientCert: true,
      tlsClientCaFile: "ca.pem",
    });
  });

  it("tls_disable_client_certs = true reaches the listener (which then asks for no certificate)", async () => {
    const c = await parseServerConfig(TLS(`  tls_disable_client_certs = true\n`));
    expect(c.listeners[0].tlsDisableClientCerts).toBe(true);
    expect((await parseServerConfig(TLS(""))).listeners[0].tlsDisableClientCerts).toBeUndefined();
  });

  it("accepts the switches Arca needs nothing for when they are off", async () => {
    const c = await parseServerConfig(TLS(`  require_request_header = false\n  redact_version = "false"\n`));
    expect(c.warnings).toEqual([]);
  });

  it.each([
    ["an unknown version", `  tls_min_version = "tls14"\n`, "listener.tcp[0].tls_min_version", /not supported, please specify one of \[tls10,tls11,tls12,tls13\]/],
    ["max below min", `  tls_min_version = "tls13"\n  tls_max_version = "tls12"\n`, "listener.tcp[0].tls_max_version", /not be lower/],
    ["an unknown cipher suite", `  tls_cipher_suites = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_FANCY"\n`, "listener.tcp[0].tls_cipher_suites", /"TLS_FANCY" is unknown/],
    ["an RC4 suite", `  tls_cipher_suites = "TLS_RSA_WITH_RC4_128_SHA"\n`, "listener.tcp[0].tls_cipher_suites", /RC4/],
    ["client certs both required and disabled", `  tls_require_and_verify_client_cert = true\n  tls_disable_client_certs = true\n`, "listener.tcp[0]", /mutually exclusive/],
    ["client certs without TLS", `  tls_disable = true\n  tls_require_and_verify_client_cert = true\n`, "listener.tcp[0].tls_require_and_verify_client_cert", /needs TLS/],
    ["chroot_namespace", `  chroot_namespace = "team-a"\n`, "listener.tcp[0].chroot_namespace", /not supported by Arca/],
    ["require_request_header", `  require_request_header = true\n`, "listener.tcp[0].require_request_header", /not supported by Arca/],
    ["redact_version", `  redact_version = true\n`, "listener.tcp[0].redact_version", /not supported by Arca/],
    ["X-Forwarded-For rejection", `  x_forwarded_for_reject_not_present = true\n`, "listener.tcp[0].x_forwarded_for_reject_not_present", /not supported by Arca/],
    ["custom headers", `  custom_response_headers {\n    default = { "Strict-Transport-Security" = ["max-age=1"] }\n  }\n`, "listener.tcp[0].custom_response_headers", /not supported by Arca/],
  ])("refuses %s at start-up", async (_name, extra, field, message) => {
    const err = await fails(TLS(extra));
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
  });
});

describe("limits", () => {
  const base = `listener "tcp" {
  address     = "127.0.0.1:8200"
  tls_disable = true
}
storage "sqlite" { path = "/tmp/x.db" }
`;
  it("reads the settings written and leaves the rest to the defaults", async () => {
    const cfg = await parseServerConfig(`${base}limits {
  max_policy_bytes          = 65536
  max_policy_paths          = 200
  max_namespaces_per_parent = 50
  max_transit_key_versions  = 100
}`);
    expect(cfg.limits).toEqual({ maxPolicyBytes: 65536, maxPolicyPaths: 200, maxNamespacesPerParent: 50, maxTransitKeyVersions: 100 });
    expect((await parseServerConfig(`${base}limits {\n  max_policy_paths = 5\n}`)).limits).toEqual({ maxPolicyPaths: 5 });
    expect((await parseServerConfig(base)).limits).toBeUndefined();
  });

  it("refuses unknown settings and values below 1", async () => {
    await expect(parseServerConfig(`${base}limits {\n  max_policy_rules = 5\n}`)).rejects.toThrow(/invalid key "max_policy_rules"/);
    await expect(parseServerConfig(`${base}limits {\n  max_policy_paths = 0\n}`)).rejects.toThrow(/limits\.max_policy_paths: must be a whole number of at least 1/);
    await expect(parseServerConfig(`${base}limits {\n  max_policy_paths = 1.5\n}`)).rejects.toThrow(/max_policy_paths/);
  });
});
