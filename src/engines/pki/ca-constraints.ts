/**
 * What a signing CA allows the CA certificates it signs: the child's path length comes from the parent's
 * (RFC 5280 §4.2.1.9) and its permitted DNS subtrees stay inside the parent's (§4.2.1.10). Verifiers
 * enforce the parent's limits anyway, but a sub-CA that claims more than its parent grants is a
 * certificate that fails somewhere far from here; sign-intermediate refuses it up front instead.
 */
import { invalidRequest } from "../../common/errors.js";
import * as der from "./der.js";
import { EXT, type ParsedCertificate } from "./x509.js";

const DNS_NAME_TAG = 0x82;
const PERMITTED_SUBTREES_TAG = 0xa0;

/** OpenBao's message (sdk certutil) for a signing CA whose basicConstraints say pathLenConstraint 0. */
export const PATH_LEN_ZERO = "signing certificate has a max path length of zero, and cannot issue further CA certificates";

/** A stored issuer whose extension cannot be read answers 400 naming the extension, not 500. */
function parsingExtension<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof der.DerError) throw invalidRequest(`the signing certificate's ${what} extension cannot be parsed: ${err.message}`);
    throw err;
  }
}

/** The parent's pathLenConstraint, or undefined when it sets none (no limit). */
export function pathLenConstraintOf(cert: ParsedCertificate): number | undefined {
  return parsingExtension("basicConstraints", () => readPathLen(cert));
}

function readPathLen(cert: ParsedCertificate): number | undefined {
  const bc = cert.extensions.get(EXT.basicConstraints);
  if (!bc) return undefined;
  const fields = der.children(der.expect(der.readAll(bc.value), der.TAG.SEQUENCE, "basicConstraints"));
  const pathLen = fields.find((n) => n.tag === der.TAG.INTEGER);
  if (!pathLen) return undefined;
  const bytes = der.readUint(pathLen);
  // Anything beyond 2^31 is no limit in practice; keep the number safe.
  return bytes.length > 4 ? Number.MAX_SAFE_INTEGER : bytes.reduce((n, b) => n * 256 + b, 0);
}

/**
 * The path length the child gets. `requested` is the caller's max_path_length when given (-1: none asked);
 * under a limited parent the child gets at most parent - 1, and asking for more is refused.
 */
export function childPathLength(parentLimit: number | undefined, requested: number | undefined): number {
  if (parentLimit === undefined) return requested ?? -1;
  if (parentLimit === 0) throw invalidRequest(PATH_LEN_ZERO);
  if (requested === undefined || requested < 0) return parentLimit - 1;
  if (requested >= parentLimit) {
    throw invalidRequest(`max_path_length ${requested} is not smaller than the signing certificate's max path length of ${parentLimit}`);
  }
  return requested;
}

/** The parent's permitted dNSName subtrees; empty when it constrains no DNS names. */
export function permittedDnsDomainsOf(cert: ParsedCertificate): string[] {
  return parsingExtension("nameConstraints", () => readPermittedDns(cert));
}

function readPermittedDns(cert: ParsedCertificate): string[] {
  const nc = cert.extensions.get(EXT.nameConstraints);
  if (!nc) return [];
  const parts = der.children(der.expect(der.readAll(nc.value), der.TAG.SEQUENCE, "nameConstraints"));
  const permitted = parts.find((n) => n.tag === PERMITTED_SUBTREES_TAG);
  if (!permitted) return [];
  const out: string[] = [];
  for (const subtree of der.children(permitted)) {
    const base = der.children(der.expect(subtree, der.TAG.SEQUENCE, "GeneralSubtree"))[0];
    if (base?.tag === DNS_NAME_TAG) out.push(der.content(base).toString("latin1").toLowerCase());
  }
  return out;
}

/** RFC 5280 dNSName subtree: "example.com" holds itself and every name below it; ".example.com" only those below. */
function within(name: string, base: string): boolean {
  if (base === "") return true;
  if (base.startsWith(".")) return name.endsWith(base);
  return name === base || name.endsWith(`.${base}`);
}

/**
 * The child's permitted DNS domains: those requested that lie inside a parent subtree, plus parent
 * subtrees that lie inside a requested one (the intersection of both sets of subtrees). With nothing
 * requested the child carries the parent's own. An empty intersection is refused: written as an empty
 * list it would mean "no constraint".
 */
export function childPermittedDnsDomains(parent: string[], requested: string[]): string[] {
  if (parent.length === 0) return requested;
  if (requested.length === 0) return parent;
  const out = new Set<string>();
  for (const r of requested) {
    const name = r.toLowerCase();
    if (parent.some((p) => within(name, p))) out.add(name);
    else for (const p of parent) if (within(p, name)) out.add(p);
  }
  if (out.size === 0) {
    throw invalidRequest(`permitted_dns_domains (${requested.join(", ")}) lie outside the signing certificate's permitted DNS domains (${parent.join(", ")})`);
  }
  return [...out];
}
