/**
 * The four directories of a PKI mount (OpenBao's): `acme/`, `roles/:role/acme/`, `issuer/:issuer_ref/acme/`
 * and `issuer/:issuer_ref/roles/:role/acme/`. Each resource is declared under all four; a request's
 * directory decides the issuer and role its certificates are signed with. URLs are built from
 * `config/cluster` `path` (the mount's externally reachable URL), as OpenBao builds them: the JWS `url`
 * of every request must equal one of them.
 */
import type { KeyValueReader } from "../../../storage/storage.js";
import { loadCluster } from "../pki-store.js";
import { loadAcmeConfig, type AcmeConfig } from "./acme-config.js";
import { problem } from "./problem.js";

export const DIRECTORY_PREFIXES = ["", "roles/:role/", "issuer/:issuer_ref/", "issuer/:issuer_ref/roles/:role/"] as const;

export interface Directory {
  /** "", "roles/<r>/", "issuer/<i>/" or "issuer/<i>/roles/<r>/". */
  prefix: string;
  role?: string;
  issuerRef?: string;
  /** `<cluster path>/<prefix>acme/`: every resource URL starts here. */
  base: string;
  /** The URL this request was sent to. */
  requestUrl: string;
  config: AcmeConfig;
}

function allowed(list: string[], name: string): boolean {
  return list.includes("*") || list.includes(name);
}

/**
 * The directory a request addresses, refused (as OpenBao refuses it) when ACME is disabled, config/cluster
 * has no path, or the directory's issuer or role is not allowed by config/acme.
 */
export async function directoryOf(storage: KeyValueReader, params: Record<string, string>, mountPath: string): Promise<Directory> {
  const config = await loadAcmeConfig(storage);
  if (!config.enabled) throw problem("serverInternal", "ACME is disabled in configuration (config/acme enabled=false)", 403);
  const cluster = await loadCluster(storage);
  if (!cluster.path) throw problem("serverInternal", "ACME requires config/cluster path to be set (the mount's external URL)", 400);
  const role = params.role;
  const issuerRef = params.issuer_ref;
  if (issuerRef !== undefined && !allowed(config.allowedIssuers, issuerRef)) throw problem("unauthorized", `issuer ${issuerRef} is not allowed for ACME (config/acme allowed_issuers)`, 403);
  if (role !== undefined && !allowed(config.allowedRoles, role)) throw problem("unauthorized", `role ${role} is not allowed for ACME (config/acme allowed_roles)`, 403);
  if (role === undefined && config.defaultDirectoryPolicy === "forbid") throw problem("unauthorized", "the default ACME directory is forbidden (config/acme default_directory_policy)", 403);
  const prefix = (issuerRef !== undefined ? `issuer/${issuerRef}/` : "") + (role !== undefined ? `roles/${role}/` : "");
  return { prefix, ...(role !== undefined ? { role } : {}), ...(issuerRef !== undefined ? { issuerRef } : {}), base: `${cluster.path}/${prefix}acme/`, requestUrl: `${cluster.path}/${mountPath}`, config };
}

/** The RFC 8555 §7.1.1 directory object. */
export function directoryDocument(d: Directory): Record<string, unknown> {
  return {
    newNonce: `${d.base}new-nonce`,
    newAccount: `${d.base}new-account`,
    newOrder: `${d.base}new-order`,
    revokeCert: `${d.base}revoke-cert`,
    keyChange: `${d.base}key-change`,
    renewalInfo: `${d.base}renewal-info`,
    meta: { externalAccountRequired: d.config.eabPolicy !== "not-required" },
  };
}

export const urls = {
  account: (d: Directory, id: string) => `${d.base}account/${id}`,
  accountPrefix: (d: Directory) => `${d.base}account/`,
  order: (d: Directory, id: string) => `${d.base}order/${id}`,
  orders: (d: Directory) => `${d.base}orders`,
  finalize: (d: Directory, id: string) => `${d.base}order/${id}/finalize`,
  cert: (d: Directory, id: string) => `${d.base}order/${id}/cert`,
  authz: (d: Directory, id: string) => `${d.base}authorization/${id}`,
  challenge: (d: Directory, authzId: string, type: string) => `${d.base}challenge/${authzId}/${type}`,
  directory: (d: Directory) => `${d.base}directory`,
};
