// The agent's configuration file (HCL or JSON), in Vault Agent's shape where Vault Agent has one:
//
//   vault { address = "https://arca:8200", ca_cert = "/etc/arca-agent/ca.pem" }
//   auto_auth {
//     method "approle" {
//       mount_path = "auth/approle"            # optional; default auth/<method>
//       config = { role_id_file_path = "…", secret_id_file_path = "…", remove_secret_id_file_after_reading = true }
//     }
//     sink "file" { config = { path = "/run/arca-agent/token" } }
//   }
//   hsm "svc" { lib = "/usr/lib/softhsm/libsofthsm2.so", token_label = "svc", pin_file = "/etc/arca-agent/pin" }
//   certificate "web" {
//     mount = "pki", role = "web", common_name = "web.example.com", alt_names = ["web"], ip_sans = ["10.0.0.5"]
//     ttl = "24h", key = "pkcs11:token=svc;object=web", key_type = "ec", key_bits = 256
//     cert_file = "/etc/web/cert.pem", ca_file = "/etc/web/ca.pem", chain_file = "/etc/web/chain.pem"
//     renew_before = "8h", exec = ["nginx", "-s", "reload"]
//   }
//
// Every block is strict (unknown keys are errors): this file decides which token holds a service's key
// and which names its certificate carries, so a typo must stop the agent rather than change either.
// Errors name the field and never quote a value (a value may be a PIN or a password).
import {
  checkHclKeys,
  hclAttr,
  hclBlocks,
  hclBodies,
  hclBool,
  hclMap,
  hclNumber,
  hclString,
  hclStringList,
  loadHclConfig,
  parseHclConfig,
  type HclObject,
} from "../common/hcl/hcl.js";
import { parseDurationSeconds } from "../core/policy/policy.js";
import { parseHsmBlocks, type HsmBlockConfig } from "../hsm/hsm-config.js";
import { KeyConfigError } from "../hsm/key-errors.js";
import { parsePkcs11Uri } from "../hsm/uri.js";

export interface VaultConfig {
  /** Base URL without a trailing slash. */
  address: string;
  caCert?: string;
  tlsSkipVerify: boolean;
  /** A client certificate presented on every connection (and the credential of the `cert` method). */
  clientCert?: string;
  clientKey?: string;
  namespace?: string;
}

export type AuthMethodConfig =
  | { type: "approle"; mountPath: string; roleIdFile: string; secretIdFile?: string; removeSecretIdFile: boolean }
  | { type: "userpass"; mountPath: string; username: string; password?: string; passwordFile?: string }
  | { type: "cert"; mountPath: string; name?: string; clientCert?: string; clientKey?: string; caCert?: string };

export interface FileSinkConfig {
  path: string;
  /** File mode of the token file (Vault Agent's default: 0640). */
  mode: number;
}

export interface AutoAuthConfig {
  method: AuthMethodConfig;
  sinks: FileSinkConfig[];
}

export type CertKeyType = "rsa" | "ec" | "ed25519";

export interface CertificateConfig {
  name: string;
  mount: string;
  role: string;
  commonName: string;
  altNames: string[];
  ipSans: string[];
  /** Requested TTL as the server takes it ("24h"); undefined: the role's default. */
  ttl?: string;
  /** PKCS#11 URI of the private key, in a token an `hsm` block declares. */
  key: string;
  /** The declared hsm whose token the key lives in. */
  hsm: string;
  keyType: CertKeyType;
  /** 0: the type's default (rsa 2048, ec 256). */
  keyBits: number;
  certFile: string;
  caFile?: string;
  chainFile?: string;
  /** Seconds before expiry to renew; undefined: at 2/3 of the lifetime. */
  renewBeforeSeconds?: number;
  /** Argv run after each new certificate is written (a string runs through /bin/sh -c). */
  exec?: string[];
}

export interface AgentConfig {
  vault: VaultConfig;
  autoAuth: AutoAuthConfig;
  hsms: HsmBlockConfig[];
  certificates: CertificateConfig[];
}

/** An unusable agent configuration; `field` names the setting (e.g. `certificate.web.key`). */
export class AgentConfigError extends Error {
  override readonly name = "AgentConfigError";
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

const TOP_LEVEL = ["vault", "auto_auth", "hsm", "certificate"] as const;
const VAULT_KEYS = ["address", "ca_cert", "tls_skip_verify", "client_cert", "client_key", "namespace"] as const;
const AUTO_AUTH_KEYS = ["method", "sink"] as const;
const METHOD_KEYS = ["mount_path", "config", "namespace"] as const;
const SINK_KEYS = ["config"] as const;
const CERT_KEYS = [
  "mount",
  "role",
  "common_name",
  "alt_names",
  "ip_sans",
  "ttl",
  "key",
  "key_type",
  "key_bits",
  "cert_file",
  "ca_file",
  "chain_file",
  "renew_before",
  "exec",
] as const;
const METHOD_CONFIG_KEYS: Record<AuthMethodConfig["type"], readonly string[]> = {
  approle: ["role_id_file_path", "secret_id_file_path", "remove_secret_id_file_after_reading"],
  userpass: ["username", "password", "password_file_path"],
  cert: ["name", "client_cert", "client_key", "ca_cert"],
};

const configError = (message: string, field?: string): AgentConfigError => new AgentConfigError(message, field);

export function loadAgentConfig(path: string): Promise<AgentConfig> {
  return loadHclConfig(path, build, configError);
}

export function parseAgentConfig(text: string, filename = "agent.hcl"): Promise<AgentConfig> {
  return parseHclConfig(text, filename, build, configError);
}

type Bad = (field: string, message: string) => never;

function build(doc: HclObject, filename: string): AgentConfig {
  const bad: Bad = (field, message) => {
    throw new AgentConfigError(`${filename}: ${field}: ${message}`, field);
  };
  checkHclKeys(doc, TOP_LEVEL, "");
  const vault = parseVault(single(doc, "vault", bad, `vault { address = "https://arca:8200" }`), bad);
  const autoAuth = parseAutoAuth(single(doc, "auto_auth", bad, `auto_auth { method "approle" { … } }`), bad);
  const hsms = parseHsmBlocks(doc, bad);
  const certificates = hclBlocks(doc, "certificate", 1).map((b) => parseCertificate(b.labels[0], b.body, hsms, bad));
  if (certificates.length === 0) bad("certificate", `at least one certificate "NAME" { … } block is required`);
  const files = certificates.flatMap((c) => [c.certFile, c.caFile, c.chainFile].filter((f): f is string => f !== undefined));
  if (new Set(files).size !== files.length) bad("certificate", "two certificate blocks (or two files of one block) write the same file");
  const keys = certificates.map((c) => c.key);
  if (new Set(keys).size !== keys.length) bad("certificate", "two certificate blocks name the same key");
  return { vault, autoAuth, hsms, certificates };
}

function single(doc: HclObject, key: string, bad: Bad, example: string): HclObject {
  const v = hclAttr(doc, key);
  const bodies = v === undefined ? [] : hclBodies(v, key);
  if (bodies.length !== 1) bad(key, `exactly one ${key} block is required (${example})`);
  return bodies[0];
}

function parseVault(b: HclObject, bad: Bad): VaultConfig {
  checkHclKeys(b, VAULT_KEYS, "vault");
  const raw = hclString(b, "address", "vault.address");
  if (!raw) return bad("vault.address", "is required (e.g. https://arca:8200)");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return bad("vault.address", "is not a URL (expected e.g. https://arca:8200)");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") bad("vault.address", "must be an http:// or https:// URL");
  if (url.username || url.password || url.search || url.hash) bad("vault.address", "must be a plain base URL (no credentials, query or fragment)");
  return {
    address: url.toString().replace(/\/+$/, ""),
    ...optional("caCert", hclString(b, "ca_cert", "vault.ca_cert") || undefined),
    tlsSkipVerify: hclBool(b, "tls_skip_verify", "vault.tls_skip_verify") ?? false,
    ...optional("clientCert", hclString(b, "client_cert", "vault.client_cert") || undefined),
    ...optional("clientKey", hclString(b, "client_key", "vault.client_key") || undefined),
    ...optional("namespace", hclString(b, "namespace", "vault.namespace") || undefined),
  };
}

function parseAutoAuth(b: HclObject, bad: Bad): AutoAuthConfig {
  checkHclKeys(b, AUTO_AUTH_KEYS, "auto_auth");
  const methods = hclBlocks(b, "method", 1);
  if (methods.length !== 1) bad("auto_auth.method", `exactly one method "TYPE" { config = { … } } block is required`);
  const method = parseMethod(methods[0].labels[0], methods[0].body, bad);
  const sinks = hclBlocks(b, "sink", 1).map((s, i) => parseSink(s.labels[0], s.body, `auto_auth.sink[${i}]`, bad));
  return { method, sinks };
}

function parseMethod(type: string, b: HclObject, bad: Bad): AuthMethodConfig {
  const field = `auto_auth.method.${type}`;
  if (type !== "approle" && type !== "userpass" && type !== "cert") return bad(field, `unknown auth method (supported: approle, userpass, cert)`);
  checkHclKeys(b, METHOD_KEYS, field);
  if (hclAttr(b, "namespace") !== undefined) bad(`${field}.namespace`, "is not supported; set vault.namespace");
  const mountPath = (hclString(b, "mount_path", `${field}.mount_path`) || `auth/${type}`).replace(/^\/+|\/+$/g, "");
  if (!mountPath.startsWith("auth/")) bad(`${field}.mount_path`, `must start with auth/ (e.g. "auth/${type}")`);
  const c = hclMap(b, "config", `${field}.config`) ?? {};
  const cf = `${field}.config`;
  checkHclKeys(c, METHOD_CONFIG_KEYS[type], cf);
  const str = (key: string): string | undefined => hclString(c, key, `${cf}.${key}`) || undefined;
  switch (type) {
    case "approle": {
      const roleIdFile = str("role_id_file_path") ?? bad(`${cf}.role_id_file_path`, "is required");
      // Vault Agent's default: the secret ID file is removed once read (it is a one-time credential).
      const removeSecretIdFile = hclBool(c, "remove_secret_id_file_after_reading", `${cf}.remove_secret_id_file_after_reading`) ?? true;
      return { type, mountPath, roleIdFile, ...optional("secretIdFile", str("secret_id_file_path")), removeSecretIdFile };
    }
    case "userpass": {
      const username = str("username") ?? bad(`${cf}.username`, "is required");
      const password = str("password");
      const passwordFile = str("password_file_path");
      if ((password === undefined) === (passwordFile === undefined)) bad(cf, "set exactly one of password and password_file_path");
      return { type, mountPath, username, ...optional("password", password), ...optional("passwordFile", passwordFile) };
    }
    case "cert":
      return {
        type,
        mountPath,
        ...optional("name", str("name")),
        ...optional("clientCert", str("client_cert")),
        ...optional("clientKey", str("client_key")),
        ...optional("caCert", str("ca_cert")),
      };
  }
}

function parseSink(type: string, b: HclObject, field: string, bad: Bad): FileSinkConfig {
  if (type !== "file") bad(field, `unknown sink type "${type}" (supported: file)`);
  checkHclKeys(b, SINK_KEYS, field);
  const c = hclMap(b, "config", `${field}.config`) ?? {};
  checkHclKeys(c, ["path", "mode"], `${field}.config`);
  const path = hclString(c, "path", `${field}.config.path`) || bad(`${field}.config.path`, "is required");
  return { path, mode: fileMode(c, `${field}.config.mode`, bad) };
}

/**
 * A chmod-style mode, read as octal digits whether written `mode = 0640` (HCL2 reads that as the number 640:
 * Vault Agent's HCL1 read it as octal) or `mode = "0640"`. Default 0640, Vault Agent's.
 */
function fileMode(c: HclObject, field: string, bad: Bad): number {
  const raw = hclString(c, "mode", field);
  if (raw === undefined || raw === "") return 0o640;
  if (!/^0?[0-7]{3}$/.test(raw.trim())) return bad(field, `must be a file mode such as 0640`);
  return parseInt(raw.trim(), 8);
}

function parseCertificate(name: string, b: HclObject, hsms: HsmBlockConfig[], bad: Bad): CertificateConfig {
  const field = `certificate.${name}`;
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) bad(field, "certificate name may only contain letters, digits, '.', '_' and '-'");
  checkHclKeys(b, CERT_KEYS, field);
  const str = (key: string): string | undefined => hclString(b, key, `${field}.${key}`) || undefined;
  const required = (key: string, hint: string): string => str(key) ?? bad(`${field}.${key}`, `is required (${hint})`);
  const mount = required("mount", `the PKI mount, e.g. "pki"`).replace(/^\/+|\/+$/g, "");
  const role = required("role", "the PKI role that signs");
  if (!/^[A-Za-z0-9_.-]+$/.test(role)) bad(`${field}.role`, "must be a role name");
  const commonName = required("common_name", "the name the certificate is for");
  const key = required("key", `a PKCS#11 URI, e.g. "pkcs11:token=svc;object=${name}"`);
  const hsm = keyHsm(key, hsms, `${field}.key`, bad);
  const keyType = (str("key_type") ?? "ec") as CertKeyType;
  if (!["rsa", "ec", "ed25519"].includes(keyType)) bad(`${field}.key_type`, "must be rsa, ec or ed25519");
  const keyBits = hclNumber(b, "key_bits", `${field}.key_bits`) ?? 0;
  const allowedBits: Record<CertKeyType, number[]> = { rsa: [0, 2048, 3072, 4096], ec: [0, 256, 384], ed25519: [0] };
  if (!allowedBits[keyType].includes(keyBits)) bad(`${field}.key_bits`, `is not a size for key_type ${keyType} (${allowedBits[keyType].slice(1).join(", ") || "no size"})`);
  const ttl = str("ttl");
  if (ttl !== undefined && parseDurationSeconds(ttl) === undefined) bad(`${field}.ttl`, `invalid duration (use e.g. "24h")`);
  const renewRaw = str("renew_before");
  const renewBeforeSeconds = renewRaw === undefined ? undefined : parseDurationSeconds(renewRaw);
  if (renewRaw !== undefined && renewBeforeSeconds === undefined) bad(`${field}.renew_before`, `invalid duration (use e.g. "8h")`);
  return {
    name,
    mount,
    role,
    commonName,
    altNames: hclStringList(b, "alt_names", `${field}.alt_names`) ?? [],
    ipSans: hclStringList(b, "ip_sans", `${field}.ip_sans`) ?? [],
    ...optional("ttl", ttl),
    key,
    hsm,
    keyType,
    keyBits,
    certFile: required("cert_file", "where the certificate is written"),
    ...optional("caFile", str("ca_file")),
    ...optional("chainFile", str("chain_file")),
    ...optional("renewBeforeSeconds", renewBeforeSeconds),
    ...optional("exec", execOf(b, `${field}.exec`, bad)),
  };
}

/** The hsm block whose token `key` names: checked here so a typo in token= is a config error, not a runtime one. */
function keyHsm(key: string, hsms: HsmBlockConfig[], field: string, bad: Bad): string {
  let uri;
  try {
    uri = parsePkcs11Uri(key);
  } catch (err) {
    return bad(field, err instanceof KeyConfigError ? err.message : "is not a PKCS#11 URI");
  }
  if (uri.object === undefined) bad(field, "must name the key with object= (its label; the agent creates it when missing)");
  if (uri.type !== undefined && uri.type !== "private") bad(field, "must name a private key (type=private or no type)");
  if (uri.pinValue !== undefined || uri.pinSource !== undefined) bad(field, "must not carry pin-value or pin-source (use the hsm block)");
  if (uri.modulePath !== undefined || uri.moduleName !== undefined) bad(field, "must not name a module (the hsm block does)");
  if (uri.vendor !== undefined) bad(field, "has attributes the agent does not understand");
  if (uri.token === undefined && uri.serial === undefined) {
    if (hsms.length !== 1) bad(field, "must name its token (token= or serial=) when several hsm blocks are declared");
    return hsms[0].name;
  }
  const matches = hsms.filter(
    (h) => (uri.token === undefined || h.tokenLabel === uri.token) && (uri.serial === undefined || h.serial === undefined || h.serial === uri.serial),
  );
  if (matches.length === 0) bad(field, `names a token no hsm block declares (declare it: hsm "NAME" { lib, token_label, pin_file })`);
  if (matches.length > 1) bad(field, "matches several hsm blocks; add serial=");
  return matches[0].name;
}

function execOf(b: HclObject, field: string, bad: Bad): string[] | undefined {
  const v = hclAttr(b, "exec");
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v.trim() === "" ? undefined : ["/bin/sh", "-c", v];
  const argv = hclStringList(b, "exec", field) ?? [];
  if (argv.length === 0 || argv[0] === "") bad(field, "must be a command line or a non-empty argv list");
  return argv;
}

function optional<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}
