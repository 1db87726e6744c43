/**
 * The constraints a certs/ entry puts on the client certificate beyond its chain (OpenBao's
 * matchesConstraints): every allowed_* list that is set must match, each entry a glob where `*` matches
 * any run of characters (ryanuber/go-glob, as OpenBao).
 */
import type { CertFacts } from "./client-cert.js";

export interface CertConstraints {
  allowedNames: string[];
  allowedCommonNames: string[];
  allowedDnsSans: string[];
  allowedEmailSans: string[];
  allowedUriSans: string[];
  allowedOrganizationalUnits: string[];
  /** "oid:value-glob" each. */
  requiredExtensions: string[];
}

export function globMatch(pattern: string, subject: string): boolean {
  if (pattern === "*") return true;
  const parts = pattern.split("*");
  if (parts.length === 1) return subject === pattern;
  const first = parts[0];
  const last = parts[parts.length - 1];
  if (!subject.startsWith(first)) return false;
  let at = first.length;
  for (const middle of parts.slice(1, -1)) {
    const found = subject.indexOf(middle, at);
    if (found < 0) return false;
    at = found + middle.length;
  }
  return subject.length - last.length >= at && subject.endsWith(last);
}

const anyMatch = (patterns: readonly string[], values: readonly string[]): boolean =>
  patterns.length === 0 || patterns.some((p) => values.some((v) => globMatch(p, v)));

function extensionsMatch(required: readonly string[], cert: CertFacts): boolean {
  return required.every((r) => {
    const colon = r.indexOf(":");
    if (colon < 0) return false;
    const value = cert.stringExtensions.get(r.slice(0, colon));
    return value !== undefined && globMatch(r.slice(colon + 1), value);
  });
}

/** The client certificate may log in under an entry with these constraints (CA certificates never may). */
export function matchesConstraints(cert: CertFacts, c: CertConstraints): boolean {
  const cn = cert.commonName === "" ? [] : [cert.commonName];
  return (
    !cert.node.ca &&
    anyMatch(c.allowedNames, [...cn, ...cert.dnsSans, ...cert.emailSans]) &&
    anyMatch(c.allowedCommonNames, cn) &&
    anyMatch(c.allowedDnsSans, cert.dnsSans) &&
    anyMatch(c.allowedEmailSans, cert.emailSans) &&
    anyMatch(c.allowedUriSans, cert.uriSans) &&
    anyMatch(c.allowedOrganizationalUnits, cert.organizationalUnits) &&
    extensionsMatch(c.requiredExtensions, cert)
  );
}
