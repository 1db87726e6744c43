/**
 * `config/acme`, as OpenBao's (enabled, allowed_issuers, allowed_roles, allow_role_ext_key_usage,
 * default_directory_policy, dns_resolver, eab_policy, max_ttl) plus Arca's validator settings:
 * `http01_port` / `tls_alpn01_port` (the ports challenges are checked on, for tests and unusual networks) and
 * `allowed_validation_networks` (CIDRs the validator may connect to although they are loopback, private,
 * link-local or metadata addresses — refused by default, since strangers choose what it connects to).
 */
import { isIP } from "node:net";
import { invalidRequest } from "../../../common/errors.js";
import { definePath, type PathSpec } from "../../../core/framework/path.js";
import type { KeyValueReader } from "../../../storage/storage.js";
import { getAcme, putAcme } from "./acme-store.js";

export type EabPolicy = "not-required" | "new-account-required" | "always-required";

export interface AcmeConfig {
  enabled: boolean;
  allowedIssuers: string[];
  allowedRoles: string[];
  allowRoleExtKeyUsage: boolean;
  /** "sign-verbatim" | "role:<name>" | "forbid" */
  defaultDirectoryPolicy: string;
  /** host:port of the DNS server validation uses ("" = the system's). */
  dnsResolver: string;
  eabPolicy: EabPolicy;
  /** Seconds; 0 = the role's (or mount's) maximum. */
  maxTtl: number;
  http01Port: number;
  tlsAlpn01Port: number;
  allowedValidationNetworks: string[];
}

export const CONFIG_KEY = "config/acme";

export const DEFAULT_ACME_CONFIG: AcmeConfig = {
  enabled: false,
  allowedIssuers: ["*"],
  allowedRoles: ["*"],
  allowRoleExtKeyUsage: false,
  defaultDirectoryPolicy: "sign-verbatim",
  dnsResolver: "",
  eabPolicy: "not-required",
  maxTtl: 90 * 24 * 3600,
  http01Port: 80,
  tlsAlpn01Port: 443,
  allowedValidationNetworks: [],
};

export async function loadAcmeConfig(s: KeyValueReader): Promise<AcmeConfig> {
  return { ...DEFAULT_ACME_CONFIG, ...(await getAcme<Partial<AcmeConfig>>(s, CONFIG_KEY)) };
}

function wire(c: AcmeConfig): Record<string, unknown> {
  return {
    enabled: c.enabled,
    allowed_issuers: c.allowedIssuers,
    allowed_roles: c.allowedRoles,
    allow_role_ext_key_usage: c.allowRoleExtKeyUsage,
    default_directory_policy: c.defaultDirectoryPolicy,
    dns_resolver: c.dnsResolver,
    eab_policy: c.eabPolicy,
    max_ttl: c.maxTtl,
    http01_port: c.http01Port,
    tls_alpn01_port: c.tlsAlpn01Port,
    allowed_validation_networks: c.allowedValidationNetworks,
  };
}

/** A CIDR written `a.b.c.d/n` or `x::/n`; the parser lives in address-policy.ts. */
function checkCidr(c: string): void {
  const [addr, bits, extra] = c.split("/");
  const family = isIP(addr ?? "");
  const max = family === 4 ? 32 : 128;
  const n = Number(bits);
  if (extra !== undefined || family === 0 || !/^\d{1,3}$/.test(bits ?? "") || n > max) throw invalidRequest(`allowed_validation_networks: "${c.slice(0, 60)}" is not a CIDR`);
}

function checkPort(name: string, p: number): void {
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw invalidRequest(`${name} must be a port number (1-65535)`);
}

function checkResolver(r: string): void {
  if (r === "") return;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(r);
  if (!m || isIP(m[1] ?? m[2] ?? "") === 0 || Number(m[3]) < 1 || Number(m[3]) > 65535) throw invalidRequest("dns_resolver must be an IP address and port, e.g. 10.0.0.53:53 or [::1]:53");
}

export function acmeConfigPaths(): PathSpec[] {
  return [
    definePath({
      pattern: "config/acme",
      fields: {
        enabled: { type: "bool" },
        allowed_issuers: { type: "strings" },
        allowed_roles: { type: "strings" },
        allow_role_ext_key_usage: { type: "bool" },
        default_directory_policy: { type: "string" },
        dns_resolver: { type: "string" },
        eab_policy: { type: "string", allowed: ["not-required", "new-account-required", "always-required"] },
        max_ttl: { type: "duration" },
        http01_port: { type: "int" },
        tls_alpn01_port: { type: "int" },
        allowed_validation_networks: { type: "strings" },
      },
      operations: {
        read: async ({ storage }) => ({ data: wire(await loadAcmeConfig(storage)) }),
        update: {
          transaction: true,
          handler: async ({ storage, fields: f }) => {
            const c = await loadAcmeConfig(storage);
            if (f.enabled !== undefined) c.enabled = f.enabled;
            if (f.allowed_issuers !== undefined) c.allowedIssuers = f.allowed_issuers;
            if (f.allowed_roles !== undefined) c.allowedRoles = f.allowed_roles;
            if (f.allow_role_ext_key_usage !== undefined) c.allowRoleExtKeyUsage = f.allow_role_ext_key_usage;
            if (f.default_directory_policy !== undefined) c.defaultDirectoryPolicy = f.default_directory_policy;
            if (f.dns_resolver !== undefined) c.dnsResolver = f.dns_resolver;
            if (f.eab_policy !== undefined) c.eabPolicy = f.eab_policy as EabPolicy;
            if (f.max_ttl !== undefined) c.maxTtl = f.max_ttl;
            if (f.http01_port !== undefined) c.http01Port = f.http01_port;
            if (f.tls_alpn01_port !== undefined) c.tlsAlpn01Port = f.tls_alpn01_port;
            if (f.allowed_validation_networks !== undefined) c.allowedValidationNetworks = f.allowed_validation_networks.filter((n) => n !== "");
            const p = c.defaultDirectoryPolicy;
            if (!(p === "sign-verbatim" || p === "forbid" || (p.startsWith("role:") && p.length > 5))) {
              throw invalidRequest('default_directory_policy must be "sign-verbatim", "forbid" or "role:<name>"');
            }
            checkPort("http01_port", c.http01Port);
            checkPort("tls_alpn01_port", c.tlsAlpn01Port);
            checkResolver(c.dnsResolver);
            c.allowedValidationNetworks.forEach(checkCidr);
            await putAcme(storage, CONFIG_KEY, c);
            return { data: wire(c) };
          },
        },
      },
      synopsis: "Configure the ACME server of this mount (OpenBao's config/acme, plus the validator's ports and networks).",
    }),
  ];
}
