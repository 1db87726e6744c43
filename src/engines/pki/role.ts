/**
 * Roles: the policy a leaf certificate must satisfy. Every check that refuses a request names the role
 * setting that refused it, so an operator can tell which knob to turn.
 */
import { isIP } from "node:net";
import { addressInCidrs } from "../../core/cidr.js";
import { invalidRequest } from "../../common/errors.js";
import { formatDuration } from "../../core/framework/duration.js";

export interface Role {
  issuerRef: string;
  ttl: number;
  maxTtl: number;
  notBeforeDuration: number;
  allowLocalhost: boolean;
  allowedDomains: string[];
  /**
   * When true, allowed_domains entries may hold identity templates. Only `{{identity.entity.id}}` is
   * resolved (from the caller's entity); an entry with any other template never matches. When false,
   * entries are literal.
   */
  allowedDomainsTemplate: boolean;
  allowBareDomains: boolean;
  allowSubdomains: boolean;
  allowGlobDomains: boolean;
  allowWildcardCertificates: boolean;
  allowAnyName: boolean;
  enforceHostnames: boolean;
  allowIpSans: boolean;
  /** When non-empty, every IP SAN must lie in one of these CIDR blocks. */
  allowedIpSansCidr: string[];
  allowedUriSans: string[];
  /** Globs the subject serialNumber must match; empty = no subject serial number may be requested. */
  allowedSerialNumbers: string[];
  /** Certificate policies: plain OIDs, or canonical JSON {"oid","cps"?,"notice"?} (OpenBao's storage form). */
  policyIdentifiers: string[];
  /** How the CN is validated: ["email","hostname"] (default), a subset, or ["disabled"]. */
  cnValidations: string[];
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
    allowedDomainsTemplate: false,
    allowBareDomains: false,
    allowSubdomains: false,
    allowGlobDomains: false,
    allowWildcardCertificates: true,
    allowAnyName: false,
    enforceHostnames: true,
    allowIpSans: true,
    allowedIpSansCidr: [],
    allowedUriSans: [],
    allowedSerialNumbers: [],
    policyIdentifiers: [],
    cnValidations: ["email", "hostname"],
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
  ["allowed_domains_template", "allowedDomainsTemplate"],
  ["allow_bare_domains", "allowBareDomains"],
  ["allow_subdomains", "allowSubdomains"],
  ["allow_glob_domains", "allowGlobDomains"],
  ["allow_wildcard_certificates", "allowWildcardCertificates"],
  ["allow_any_name", "allowAnyName"],
  ["enforce_hostnames", "enforceHostnames"],
  ["allow_ip_sans", "allowIpSans"],
  ["allowed_ip_sans_cidr", "allowedIpSansCidr"],
  ["allowed_uri_sans", "allowedUriSans"],
  ["allowed_serial_numbers", "allowedSerialNumbers"],
  ["policy_identifiers", "policyIdentifiers"],
  ["cn_validations", "cnValidations"],
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

export function isHostname(s: string): boolean {
  return HOSTNAME.test(s.startsWith("*.") ? s.slice(2) : s);
}

/** The caller facts allowed_domains templates may use. */
export interface TemplateContext {
  entityId: string;
}

const TEMPLATE = /\{\{\s*([^}]*?)\s*\}\}/g;

/**
 * The role's allowed_domains as they apply to this caller: literal unless allowed_domains_template is on,
 * in which case `{{identity.entity.id}}` is substituted and an entry with an unresolvable template is
 * dropped (as OpenBao skips an entry whose template fails to evaluate).
 */
export function effectiveAllowedDomains(r: Role, ctx: TemplateContext | undefined): string[] {
  if (!r.allowedDomainsTemplate) return r.allowedDomains;
  const out: string[] = [];
  for (const d of r.allowedDomains) {
    let unresolved = false;
    const v = d.replace(TEMPLATE, (_m, expr: string) => {
      if (expr === "identity.entity.id" && ctx?.entityId) return ctx.entityId;
      unresolved = true;
      return "";
    });
    if (!unresolved) out.push(v);
  }
  return out;
}

export function cnValidationDisabled(r: Role): boolean {
  return r.cnValidations.length === 1 && r.cnValidations[0] === "disabled";
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
  const tmpl = r.allowedDomainsTemplate ? ", allowed_domains_template=true" : "";
  return `allowed_domains=[${r.allowedDomains.join(",")}]${tmpl}, allow_bare_domains=${r.allowBareDomains}, allow_subdomains=${r.allowSubdomains}, allow_glob_domains=${r.allowGlobDomains}, allow_localhost=${r.allowLocalhost}, allow_any_name=${r.allowAnyName}`;
}

/** Returns undefined when `name` is allowed, else the reason naming the role rule that refuses it. */
export function nameRefusal(r: Role, name: string, tctx?: TemplateContext): string | undefined {
  // For an email address the domain part is what the domain rules judge.
  const host = isEmail(name) ? name.slice(name.lastIndexOf("@") + 1) : name;
  const wildcard = host.startsWith("*.");
  if (wildcard && !r.allowWildcardCertificates) return "wildcard names are refused by allow_wildcard_certificates=false";
  const base = wildcard ? host.slice(2) : host;
  if (r.enforceHostnames && !HOSTNAME.test(base)) return "not a valid hostname (enforce_hostnames=true)";
  if (r.allowAnyName) return undefined;
  const lower = base.toLowerCase();
  if (r.allowLocalhost && !wildcard && (lower === "localhost" || lower === "localdomain" || lower.endsWith(".localhost"))) return undefined;
  for (const d of effectiveAllowedDomains(r, tctx)) {
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
export function enforceNames(r: Role, n: RequestedNames, tctx?: TemplateContext): void {
  if (n.commonName === "" && r.requireCn) {
    throw invalidRequest('the common_name field is required, or must be provided in a CSR with "use_csr_common_name" set to true, unless "require_cn" is set to false');
  }
  // cn_validations=["disabled"]: the CN itself is not judged (it may be any text); when it is also put in
  // the SANs the caller has already added it to n.dns / n.email, where the domain rules still apply.
  if (n.commonName !== "" && !cnValidationDisabled(r)) {
    const why = nameRefusal(r, n.commonName, tctx);
    if (why) throw invalidRequest(`common name ${n.commonName} not allowed by this role: ${why}`);
    const email = n.commonName.includes("@");
    if (r.cnValidations.length > 0 && !r.cnValidations.includes(email ? "email" : "hostname")) {
      throw invalidRequest(`common name ${n.commonName} not allowed by this role: cn_validations=[${r.cnValidations.join(",")}] does not permit ${email ? "email addresses" : "hostnames"}`);
    }
  }
  for (const name of [...n.dns, ...n.email]) {
    const why = nameRefusal(r, name, tctx);
    if (why) throw invalidRequest(`subject alternative name ${name} not allowed by this role: ${why}`);
  }
  if (n.ip.length > 0 && !r.allowIpSans) {
    throw invalidRequest(`IP Subject Alternative Names are not allowed in this role (allow_ip_sans=false), but was provided ${n.ip.join(",")}`);
  }
  for (const ip of n.ip) if (isIP(ip) === 0) throw invalidRequest(`the value "${ip}" is not a valid IP address`);
  if (r.allowedIpSansCidr.length > 0) {
    for (const ip of n.ip) {
      if (!addressInCidrs(ip, r.allowedIpSansCidr)) throw invalidRequest(`IP Subject Alternative Name ${ip} not allowed by this role (allowed_ip_sans_cidr=[${r.allowedIpSansCidr.join(",")}])`);
    }
  }
  for (const uri of n.uri) {
    if (r.allowedUriSans.length === 0) throw invalidRequest(`URI Subject Alternative Names are not allowed in this role (allowed_uri_sans is empty), but were provided ${uri}`);
    if (!r.allowedUriSans.some((p) => globMatch(p, uri))) throw invalidRequest(`URI Subject Alternative Name ${uri} not allowed by this role (allowed_uri_sans=[${r.allowedUriSans.join(",")}])`);
  }
}

/** Returns undefined when the subject serialNumber is allowed (OpenBao: exact, or glob when it has "*"). */
export function serialNumberRefusal(r: Role, serialNumber: string): string | undefined {
  if (r.allowedSerialNumbers.some((p) => p !== "" && globMatch(p, serialNumber))) return undefined;
  return r.allowedSerialNumbers.length === 0
    ? `serial_number ${serialNumber} not allowed by this role: allowed_serial_numbers is empty, so no subject serial number may be requested`
    : `serial_number ${serialNumber} not allowed by this role (allowed_serial_numbers=[${r.allowedSerialNumbers.join(",")}])`;
}

export interface PolicyIdentifier {
  oid: string;
  cps?: string;
  notice?: string;
}

const OID_RE = /^[0-2](\.(0|[1-9]\d*))+$/;

function policyEntry(v: unknown): string {
  if (typeof v === "string") {
    const t = v.trim();
    if (t.startsWith("{")) return policyEntry(parseJson(t));
    if (!OID_RE.test(t)) throw invalidRequest(`invalid policy_identifiers entry "${t.slice(0, 64)}": not an OID`);
    return t;
  }
  if (typeof v === "object" && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!["oid", "cps", "notice"].includes(k)) throw invalidRequest(`invalid policy_identifiers entry: unknown key "${k.slice(0, 32)}" (oid, cps, notice)`);
    if (typeof o.oid !== "string" || !OID_RE.test(o.oid)) throw invalidRequest('invalid policy_identifiers entry: "oid" must be a dotted OID');
    if (o.cps !== undefined && (typeof o.cps !== "string" || !/^[\x20-\x7e]+$/.test(o.cps))) throw invalidRequest('invalid policy_identifiers entry: "cps" must be an ASCII URI');
    if (o.notice !== undefined && (typeof o.notice !== "string" || o.notice.length > 200)) throw invalidRequest('invalid policy_identifiers entry: "notice" must be a string of at most 200 characters');
    const e: PolicyIdentifier = { oid: o.oid, ...(o.cps ? { cps: o.cps } : {}), ...(o.notice ? { notice: o.notice } : {}) };
    return e.cps === undefined && e.notice === undefined ? e.oid : JSON.stringify(e);
  }
  throw invalidRequest("invalid policy_identifiers entry: expected an OID or an object {oid, cps?, notice?}");
}

function parseJson(t: string): unknown {
  try {
    return JSON.parse(t) as unknown;
  } catch {
    throw invalidRequest("policy_identifiers: malformed JSON");
  }
}

/**
 * policy_identifiers as OpenBao takes it: a list (or comma-separated string) of OIDs, or JSON — an array
 * of {"oid", "cps"?, "notice"?} objects (a string holding that JSON, or the array itself).
 */
export function parsePolicyIdentifiers(raw: unknown): string[] {
  if (raw === undefined || raw === null || raw === "") return [];
  if (typeof raw === "string") {
    const t = raw.trim();
    if (t.startsWith("[")) return parsePolicyIdentifiers(parseJson(t));
    if (t.startsWith("{")) return [policyEntry(t)];
    return t.split(",").map((p) => p.trim()).filter((p) => p !== "").map(policyEntry);
  }
  if (Array.isArray(raw)) return raw.map(policyEntry);
  if (typeof raw === "object") return [policyEntry(raw)];
  throw invalidRequest("policy_identifiers: expected a list of OIDs or JSON policy objects");
}

/** Decodes the stored form back into entries (stored values were validated when the role was written). */
export function policyIdentifierEntries(stored: string[]): PolicyIdentifier[] {
  return stored.map((s) => (s.startsWith("{") ? (JSON.parse(s) as PolicyIdentifier) : { oid: s }));
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/**
 * The certificate's validity. A TTL beyond the role's max_ttl is capped to it with a warning, as OpenBao
 * does (cert-manager asks for 2160h whatever the role allows and must not be refused); an explicit
 * not_after beyond max_ttl is refused. A notAfter beyond the issuer's own expiry is refused unless the
 * issuer's leaf_not_after_behavior says truncate/permit.
 */
export function validity(
  r: Role,
  req: { ttl: number; notAfter: string | undefined },
  issuerNotAfter: Date,
  behavior: "err" | "truncate" | "permit",
  now = Date.now(),
  mount: { def: number; max: number } = { def: SYSTEM_MAX_TTL, max: SYSTEM_MAX_TTL },
): { validity: Validity; warnings: string[] } {
  const warnings: string[] = [];
  // OpenBao's order: the role's max_ttl, else the mount's max lease TTL; the request's ttl, else the
  // role's ttl, else the mount's default lease TTL.
  const maxTtl = r.maxTtl > 0 ? r.maxTtl : mount.max;
  let notAfterMs: number;
  if (req.notAfter) {
    const t = Date.parse(req.notAfter);
    if (Number.isNaN(t)) throw invalidRequest(`not_after "${req.notAfter}" is not an RFC 3339 time`);
    if (t - now > maxTtl * 1000) throw invalidRequest(`not_after ${req.notAfter} is beyond the role's max_ttl (${maxTtl}s)`);
    notAfterMs = t;
  } else {
    let ttl = req.ttl;
    if (ttl === 0) ttl = r.ttl > 0 ? r.ttl : mount.def;
    if (ttl > maxTtl) {
      warnings.push(`TTL "${formatDuration(ttl)}" is longer than permitted maxTTL "${formatDuration(maxTtl)}", so maxTTL is being used`);
      ttl = maxTtl;
    }
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
