/**
 * Does a client certificate chain up to a trusted certificate? The chain may pass through the
 * intermediates the client sent; it must end at one of the trust anchors (the CA certificates of the
 * method's certs/ entries). Every link: issuer name and key identifiers agree and the issuer may sign
 * certificates (OpenSSL's X509_check_issued, via checkIssued), the signature verifies, every certificate
 * on the way is inside its validity period, and every issuer is a CA. Path-length and name constraints
 * are not evaluated.
 */
import type { X509Certificate } from "node:crypto";

/** More links than any real PKI: bounds the work a hostile chain can cause. */
const MAX_DEPTH = 8;

export function withinValidity(cert: X509Certificate, now: Date): boolean {
  return new Date(cert.validFrom) <= now && now <= new Date(cert.validTo);
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return issuer.ca && cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

/** The anchors (by index) some valid chain from `leaf` reaches. */
export function anchorsReached(leaf: X509Certificate, intermediates: readonly X509Certificate[], anchors: readonly X509Certificate[], now: Date): Set<number> {
  const reached = new Set<number>();
  const walk = (cert: X509Certificate, depth: number, used: ReadonlySet<number>): void => {
    if (!withinValidity(cert, now) || depth > MAX_DEPTH) return;
    anchors.forEach((anchor, i) => {
      if (withinValidity(anchor, now) && (anchor.raw.equals(cert.raw) ? depth > 0 : issuedBy(cert, anchor))) reached.add(i);
    });
    intermediates.forEach((next, i) => {
      if (used.has(i) || next.raw.equals(cert.raw) || !issuedBy(cert, next)) return;
      walk(next, depth + 1, new Set([...used, i]));
    });
  };
  walk(leaf, 0, new Set());
  return reached;
}
