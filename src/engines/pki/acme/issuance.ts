/**
 * What an ACME directory signs with: its issuer (the directory's, else the role's, else the default) and its
 * role (the directory's, else config/acme `default_directory_policy`: `role:<name>` or sign-verbatim), and
 * the check of a finalize CSR against the order (RFC 8555 §7.4: the CSR names exactly the identifiers).
 */
import type { KeyValueStore } from "../../../storage/storage.js";
import { certPem, type CaRuntime } from "../ca.js";
import { buildLeaf, checkKeyAgainstRole, loadRole, type IssueFields } from "../path-issue.js";
import { K, putRecord, resolveIssuer, type CertEntry } from "../pki-store.js";
import { defaultRole, enforceNames, type Role } from "../role.js";
import * as x from "../x509.js";
import type { Identifier } from "./acme-store.js";
import type { Directory } from "./directory.js";
import { asProblem } from "./acme-call.js";
import { problem } from "./problem.js";

/** sign-verbatim for ACME: any name (the identifiers were validated), server authentication only. */
function verbatimRole(): Role {
  return { ...defaultRole(), allowAnyName: true, enforceHostnames: false, allowIpSans: true, allowedUriSans: [], keyType: "any", requireCn: false };
}

export async function directoryRole(storage: KeyValueStore, d: Directory): Promise<Role> {
  const policy = d.config.defaultDirectoryPolicy;
  const name = d.role ?? (policy.startsWith("role:") ? policy.slice(5) : undefined);
  let role: Role;
  try {
    role = name === undefined ? verbatimRole() : await loadRole(storage, name);
  } catch (err) {
    throw asProblem(err);
  }
  // ACME takes names from the CSR, which may carry no CN (RFC 8555 names certificates by their SANs);
  // extended key usages are the role's only when config/acme allows it.
  const cfgMax = d.config.maxTtl;
  const maxTtl = cfgMax > 0 && (role.maxTtl === 0 || role.maxTtl > cfgMax) ? cfgMax : role.maxTtl;
  const eku = d.config.allowRoleExtKeyUsage
    ? {}
    : { serverFlag: true, clientFlag: false, codeSigningFlag: false, emailProtectionFlag: false, extKeyUsage: [], extKeyUsageOids: [] };
  return { ...role, ...eku, useCsrCommonName: true, useCsrSans: true, requireCn: false, maxTtl, ttl: role.ttl > maxTtl && maxTtl > 0 ? maxTtl : role.ttl };
}

/** new-order: identifiers the directory's role would refuse are refused now (rejectedIdentifier), not at finalize. */
export function checkIdentifiersAgainstRole(role: Role, ids: Identifier[]): void {
  try {
    enforceNames(role, { commonName: "", dns: ids.filter((i) => i.type === "dns").map((i) => i.value), email: [], ip: ids.filter((i) => i.type === "ip").map((i) => i.value), uri: [] });
  } catch (err) {
    throw asProblem(err, "rejectedIdentifier");
  }
}

/** The CSR (base64url DER) parsed and held against the order: exactly its identifiers, nothing else. */
export function checkCsr(csrB64: unknown, ids: Identifier[]): x.ParsedCsr {
  if (typeof csrB64 !== "string" || !/^[A-Za-z0-9_-]+$/.test(csrB64)) throw problem("malformed", "csr must be base64url DER");
  let csr: x.ParsedCsr;
  try {
    csr = x.parseCsr(Buffer.from(csrB64, "base64url"));
  } catch {
    throw problem("badCSR", "the CSR could not be parsed or its signature does not verify");
  }
  const san = csr.extensions.get(x.EXT.subjectAltName);
  const names = san ? x.parseGeneralNames(san.value) : { ...x.emptyAltNames(), other: 0 };
  if (names.other > 0 || names.email.length > 0 || names.uri.length > 0) throw problem("badCSR", "the CSR may only request DNS names and IP addresses");
  const requested = new Set([...names.dns.map((n) => `dns:${n.toLowerCase()}`), ...names.ip.map((i) => `ip:${i}`)]);
  const cn = x.commonNameOf(csr.subjectAttrs);
  if (cn) requested.add(ids.some((i) => i.type === "ip" && i.value === cn) ? `ip:${cn}` : `dns:${cn.toLowerCase()}`);
  const ordered = new Set(ids.map((i) => `${i.type}:${i.value}`));
  const extra = [...requested].filter((n) => !ordered.has(n));
  const missing = [...ordered].filter((n) => !requested.has(n));
  if (extra.length > 0 || missing.length > 0) {
    throw problem("badCSR", `the CSR's names do not match the order's identifiers${extra.length ? ` (not ordered: ${extra.join(", ").slice(0, 200)})` : ""}${missing.length ? ` (missing: ${missing.join(", ").slice(0, 200)})` : ""}`);
  }
  return csr;
}

export interface Issued {
  serial: string;
  certificate: string;
  issuerId: string;
}

/** Signs the CSR with the directory's issuer (its key in software or in the HSM) and stores the certificate. */
export async function issueForOrder(storage: KeyValueStore, runtime: CaRuntime, d: Directory, role: Role, csr: x.ParsedCsr, notAfter: string | undefined): Promise<Issued> {
  try {
    checkKeyAgainstRole(role, csr.publicKey);
  } catch (err) {
    throw asProblem(err, "badCSR");
  }
  try {
    const entry = await resolveIssuer(storage, d.issuerRef ?? role.issuerRef);
    const issuer = await runtime.load(storage, entry);
    const f = { format: "pem", private_key_format: "der", remove_roots_from_chain: false, exclude_cn_from_sans: false, ...(notAfter ? { not_after: notAfter } : {}) } as unknown as IssueFields;
    const out = await buildLeaf(storage, issuer, role, f, csr.spki, csr, false);
    const certificate = certPem(out.certDer);
    const record: CertEntry = { serial: out.serial, certificate, issuerId: entry.id, notAfter: out.notAfter };
    await putRecord(storage, K.cert(out.serial), record);
    return { serial: out.serial, certificate, issuerId: entry.id };
  } catch (err) {
    throw asProblem(err, "badCSR");
  }
}
