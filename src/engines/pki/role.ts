/**
 * Roles: the policy a leaf certificate must satisfy. Every check that refuses a request names the role
 * setting that refused it, so an operator can tell which knob to turn.
 */
import { isIP } from "node:net";
import { invalidRequest } from "../../core/errors.js";

export interface Role {
  issuerRef: string;
  ttl: number;
  maxTtl: number;
  notBeforeDuration: number;
  allowLocalhost: boolean;
  allowedDomains: string[];
  allowBareDomains: boolean;
  allowSubdomains: boolean;
  allowGlobDomains: boolean;
  allowWildcardCertificates: boolean;
  allowAnyName: boolean;
  enforceHostnames: boolean;
  allowIpSans: boolean;
  allowedUriSans: string[];
  serverFlag: boolean;
  clientFlag: boolean;
  codeSigningFlag: boolean;
  emailProtectionFlag: boolean;
  keyType: string;
  keyBits: number;
  signatureBits: number;
  usePss: boolean;
  keyUsage: string[];
  extKeyUsage: string[];
  extKeyUsageOids: string[];
  useCsrCommonName: boolean;
  useCsrSans: boolean;
  requireCn: boolean;
  ou: string[];
  organization: string[];
  country: string[];
  locality: string[];
  province: string[];
  streetAddress: string[];
  postalCode: string[];
  generateLease: boolean;
  noStore: boolean;
  basicConstraintsValidForNonCa: boolean;
}

/** System default and maximum lease TTL (OpenBao's 768h) used when the role leaves ttl / max_ttl at 0. */
export const SYSTEM_MAX_TTL = 768 * 3600;

export function defaultRole(): Role {
  return {
    issuerRef: "default",
    ttl: 0,
    maxTtl: 0,
    notBeforeDuration: 30,
    allowLocalhost: true,
    allowedDomains: [],
    allowBareDomains: false,
    allowSubdomains: false,
    allowGlobDomains: false,
    allowWildcardCertificates: true,
    allowAnyName: false,
    enforceHostnames: true,
    allowIpSans: true,
    allowedUriSans: [],
    serverFlag: true,
    clientFlag: true,
    codeSigningFlag: false,
    emailProtectionFlag: false,
    keyType: "rsa",
    keyBits: 0,
    signatureBits: 0,
    usePss: false,
    keyUsage: ["DigitalSignature", "KeyAgreement", "KeyEncipherment"],
    extKeyUsage: [],
    extKeyUsageOids: [],
    useCsrCommonName: true,
    useCsrSans: true,
    requireCn: true,
    ou: [],
    organization: [],
    country: [],
    locality: [],
    province: [],
    streetAddress: [],
    postalCode: [],
    generateLease: false,
    noStore: false,
    basicConstraintsValidForNonCa: false,
  };
}

/** Wire name ↔ record field, in the order OpenBao renders a role. */
export const ROLE_FIELDS: Array<[wire: string, field: keyof Role]> = [
  ["issuer_ref", "issuerRef"],
  ["ttl", "ttl"],
  ["max_ttl", "maxTtl"],
  ["not_before_duration", "notBeforeDuration"],
  ["allow_localhost", "allowLocalhost"],
  ["allowed_domains", "allowedDomains"],
  ["allow_bare_domains", "allowBareDomains"],
  ["allow_subdomains", "allowSubdomains"],
  ["allow_glob_domains", "allowGlobDomains"],
  ["allow_wildcard_certificates", "allowWildcardCertificates"],
  ["allow_any_name", "allowAnyName"],
  ["enforce_hostnames", "enforceHostnames"],
  ["allow_ip_sans", "allowIpSans"],
  ["allowed_uri_sans", "allowedUriSans"],
  ["server_flag", "serverFlag"],
  ["client_flag", "clientFlag"],
  ["code_signing_flag", "codeSigningFlag"],
  ["email_protection_flag", "emailProtectionFlag"],
  ["key_type", "keyType"],
  ["key_bits", "keyBits"],
  ["signature_bits", "signatureBits"],
  ["use_pss", "usePss"],
  ["key_usage", "keyUsage"],
  ["ext_key_usage", "extKeyUsage"],
  ["ext_key_usage_oids", "extKeyUsageOids"],
  ["use_csr_common_name", "useCsrCommonName"],
  ["use_csr_sans", "useCsrSans"],
  ["require_cn", "requireCn"],
  ["ou", "ou"],
  ["organization", "organization"],
  ["country", "country"],
  ["locality", "locality"],
  ["province", "province"],
  ["street_address", "streetAddress"],
  ["postal_code", "postalCode"],
  ["generate_lease", "generateLease"],
  ["no_store", "noStore"],
  ["basic_constraints_valid_for_non_ca", "basicConstraintsValidForNonCa"],
];

/** A DNS name as RFC 1123 allows it (labels of letters, digits and hyphens), optionally with a leading "*.". */
const HOSTNAME = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/;
const EMAIL = /^[^@\s]+@[^@\s]+$/;

export function isEmail(s: string): boolean {
  return EMAIL.test(s);
}

/** Glob with "*" only (Go's ryanuber/go-glob semantics as OpenBao uses them). */
export function globMatch(pattern: string, s: string): boolean {
  if (!pattern.includes("*")) return pattern === s;
  const parts = pattern.split("*");
  if (!s.startsWith(parts[0])) return false;
  let pos = parts[0].length;
  for (let i = 1; i < parts.length - 1; i++) {
    const at = s.indexOf(parts[i], pos);
    if (at === -1) return false;
    pos = at + parts[i].length;
  }
  const last = parts[parts.length - 1];
  return s.length - last.length >= pos && s.endsWith(last);
}

function describeDomainRules(r: Role): string {
  return `allowed_domains=[${r.allowedDomains.join(",")}], allow_bare_domains=${r.allowBareDomains}, allow_subdomains=${r.allowSubdomains}, allow_glob_domains=${r.allowGlobDomains}, allow_localhost=${r.allowLocalhost}, allow_any_name=${r.allowAnyName}`;
}

/** Returns undefined when `name` is allowed, else the reason naming the role rule that refuses it. */
export function nameRefusal(r: Role, name: string): string | undefined {
  // For an email address the domain part is what the domain rules judge.
  const host = isEmail(name) ? name.slice(name.lastIndexOf("@") + 1) : name;
  const wildcard = host.startsWith("*.");
  if (wildcard && !r.allowWildcardCertificates) return "wildcard names are refused by allow_wildcard_certificates=false";
  const base = wildcard ? host.slice(2) : host;
  if (r.enforceHostnames && !HOSTNAME.test(base)) return "not a valid hostname (enforce_hostnames=true)";
  if (r.allowAnyName) return undefined;
  const lower = base.toLowerCase();
  if (r.allowLocalhost && !wildcard && (lower === "localhost" || lower === "localdomain" || lower.endsWith(".localhost"))) return undefined;
  for (const d of r.allowedDomains) {
    const dom = d.toLowerCase();
    if (r.allowBareDomains && !wildcard && lower === dom) return undefined;
    if (r.allowSubdomains && (lower.endsWith(`.${dom}`) || (wildcard && lower === dom))) return undefined;
    if (r.allowGlobDomains && dom.includes("*") && globMatch(dom, name.toLowerCase())) return undefined;
  }
  return `not permitted by the role's domain rules (${describeDomainRules(r)})`;
}

export interface RequestedNames {
  commonName: string;
  dns: string[];
  email: string[];
  ip: string[];
  uri: string[];
}

/** Enforces the role on every requested name; throws a 400 naming the rule on the first refusal. */
export function enforceNames(r: Role, n: RequestedNames): void {
  if (n.commonName === "" && r.requireCn) {
    throw invalidRequest('the common_name field is required, or must be provided in a CSR with "use_csr_common_name" set to true, unless "require_cn" is set to false');
  }
  if (n.commonName !== "") {
    const why = nameRefusal(r, n.commonName);
    if (why) throw invalidRequest(`common name ${n.commonName} not allowed by this role: ${why}`);
  }
  for (const name of [...n.dns, ...n.email]) {
    const why = nameRefusal(r, name);
    if (why) throw invalidRequest(`subject alternative name ${name} not allowed by this role: ${why}`);
  }
  if (n.ip.length > 0 && !r.allowIpSans) {
    throw invalidRequest(`IP Subject Alternative Names are not allowed in this role (allow_ip_sans=false), but was provided ${n.ip.join(",")}`);
  }
  for (const ip of n.ip) if (isIP(ip) === 0) throw invalidRequest(`the value "${ip}" is not a valid IP address`);
  for (const uri of n.uri) {
    if (r.allowedUriSans.length === 0) throw invalidRequest(`URI Subject Alternative Names are not allowed in this role (allowed_uri_sans is empty), but were provided ${uri}`);
    if (!r.allowedUriSans.some((p) => globMatch(p, uri))) throw invalidRequest(`URI Subject Alternative Name ${uri} not allowed by this role (allowed_uri_sans=[${r.allowedUriSans.join(",")}])`);
  }
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/**
 * The certificate's validity. A TTL beyond the role's max_ttl is refused (not capped), and so is a notAfter
 * beyond the issuer's own expiry unless the issuer's leaf_not_after_behavior says truncate/permit.
 */
export function validity(
  r: Role,
  req: { ttl: number; notAfter: string | undefined },
  issuerNotAfter: Date,
  behavior: "err" | "truncate" | "permit",
  now = Date.now(),
): { validity: Validity; warnings: string[] } {
  const warnings: string[] = [];
  const maxTtl = r.maxTtl > 0 ? r.maxTtl : SYSTEM_MAX_TTL;
  let notAfterMs: number;
  if (req.notAfter) {
    const t = Date.parse(req.notAfter);
    if (Number.isNaN(t)) throw invalidRequest(`not_after "${req.notAfter}" is not an RFC 3339 time`);
    if (t - now > maxTtl * 1000) throw invalidRequest(`not_after ${req.notAfter} is beyond the role's max_ttl (${maxTtl}s)`);
    notAfterMs = t;
  } else {
    let ttl = req.ttl;
    if (ttl === 0) ttl = r.ttl > 0 ? Math.min(r.ttl, maxTtl) : maxTtl;
    if (ttl > maxTtl) throw invalidRequest(`requested ttl ${ttl}s is beyond the role's max_ttl (${maxTtl}s)`);
    notAfterMs = now + ttl * 1000;
  }
  if (notAfterMs > issuerNotAfter.getTime()) {
    if (behavior === "err") {
      throw invalidRequest(
        `cannot satisfy request, as TTL would result in notAfter of ${new Date(notAfterMs).toISOString()} that is beyond the expiration of the CA certificate at ${issuerNotAfter.toISOString()} (leaf_not_after_behavior=err)`,
      );
    }
    if (behavior === "truncate") {
      notAfterMs = issuerNotAfter.getTime();
      warnings.push("the requested notAfter is beyond the issuer's expiry: truncated to the issuer's notAfter");
    }
  }
  const notBefore = new Date(Math.floor((now - r.notBeforeDuration * 1000) / 1000) * 1000);
  return { validity: { notBefore, notAfter: new Date(Math.floor(notAfterMs / 1000) * 1000) }, warnings };
}
