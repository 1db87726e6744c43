/**
 * `POST auth/<mount>/login {name?}`: log in with the TLS client certificate of the connection. The
 * certificate must chain to a CA certificate of a certs/ entry (or be the leaf an entry pins), be inside
 * its validity period, allow client authentication when it lists extended key usages, and meet the
 * entry's constraints; the first entry that accepts it (or the one named) decides the token.
 */
import { X509Certificate } from "node:crypto";
import { ArcaError } from "../../common/errors.js";
import type { RenewLoginContext } from "../../core/framework/backend.js";
import { definePath, type PathSpec } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import type { Request } from "../../core/framework/request.js";
import type { SystemView } from "../../core/framework/system-view.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { issueLoginToken } from "../token-fields.js";
import { certFacts, pemCertificates, type CertFacts } from "./client-cert.js";
import { matchesConstraints } from "./constraints.js";
import { isCertName, listCertNames, readCert, type CertEntry } from "./path-certs.js";
import { anchorsReached, withinValidity } from "./verify-chain.js";

const badRequest = (msg: string): ArcaError => new ArcaError("invalid_request", msg);
const invalidCertificate = (): ArcaError => badRequest("invalid certificate or no client certificate supplied");

const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const ANY_EXTENDED_KEY_USAGE = "2.5.29.37.0";

/** The presented chain, parsed: leaf first. Throws the 400s of a request that cannot log in at all. */
function presentedChain(req: Request): { leaf: CertFacts; intermediates: X509Certificate[] } {
  const conn = req.connection;
  if (conn === undefined) throw badRequest("cert login needs a client certificate, which is only sent over TLS: this request came over plain HTTP");
  if (conn.peerCertificates.length === 0) throw badRequest("client certificate must be supplied");
  try {
    const [leaf, ...rest] = conn.peerCertificates;
    return { leaf: certFacts(leaf), intermediates: rest.map((der) => new X509Certificate(der)) };
  } catch {
    throw invalidCertificate();
  }
}

/** The leaf may be used for client authentication: no extended key usage listed, or one that allows it. */
function allowsClientAuth(leaf: X509Certificate): boolean {
  const usages = leaf.keyUsage as string[] | undefined; // node names the extended key usages "keyUsage"
  return usages === undefined || usages.includes(CLIENT_AUTH) || usages.includes(ANY_EXTENDED_KEY_USAGE);
}

/** The entry trusts the chain: it pins this very leaf, or one of its CA certificates is reached. */
function entryTrusts(entry: CertEntry, leaf: CertFacts, intermediates: readonly X509Certificate[], now: Date): boolean {
  const trusted = pemCertificates(entry.certificate).map((der) => new X509Certificate(der));
  // A pinned leaf is compared whole: another certificate with the same subject, serial or key is not it.
  if (trusted.some((t) => !t.ca && t.raw.equals(leaf.der))) return withinValidity(leaf.node, now);
  return anchorsReached(leaf.node, intermediates, trusted.filter((t) => t.ca), now).size > 0;
}

interface Match {
  name: string;
  entry: CertEntry;
}

/** The entry the presented certificate logs in under; throws OpenBao's 400s when none accepts it. */
export async function matchCertificate(storage: KeyValueStore, req: Request, wanted: string | undefined): Promise<{ match: Match; leaf: CertFacts }> {
  const { leaf, intermediates } = presentedChain(req);
  const now = new Date();
  if (!allowsClientAuth(leaf.node)) throw invalidCertificate();
  // A name that cannot exist matches nothing, like one that does not (not certs/'s 404 for a bad route).
  const names = wanted !== undefined && wanted !== "" ? (isCertName(wanted) ? [wanted] : []) : await listCertNames(storage);
  let chainTrusted = false;
  for (const name of names) {
    const entry = await readCert(storage, name);
    if (!entry || !entryTrusts(entry, leaf, intermediates, now)) continue;
    chainTrusted = true;
    if (matchesConstraints(leaf, entry)) return { match: { name: name.toLowerCase(), entry }, leaf };
  }
  if (chainTrusted) throw badRequest("no chain matching all constraints could be found for this login certificate");
  throw invalidCertificate();
}

/**
 * OpenBao's pathLoginRenew: a token renews only over a connection whose certificate the entry it logged in
 * with still accepts, with the identity (subject or authority key id) it logged in with. An entry deleted
 * since, or a renewal over plain HTTP or without a certificate, is refused.
 */
export async function checkRenewal({ storage, req, meta }: RenewLoginContext): Promise<void> {
  const name = meta.cert_name;
  if (name === undefined || name === "") throw badRequest("the token carries no certificate entry to renew against");
  const { leaf } = await matchCertificate(storage, req, name);
  if (leaf.subjectKeyId !== meta.subject_key_id && leaf.authorityKeyId !== meta.authority_key_id) {
    throw badRequest("client identity during renewal not matching client identity used during login");
  }
}

export function loginPaths(view: SystemView): PathSpec<Fields>[] {
  return [
    definePath({
      pattern: "login",
      fields: { name: { type: "string", description: "The name of the certificate entry to log in with (default: the first that accepts the certificate)." } },
      operations: {
        update: async (ctx) => {
          const { match, leaf } = await matchCertificate(ctx.storage, ctx.req, ctx.fields.name);
          return issueLoginToken({
            view,
            req: ctx.req,
            params: match.entry,
            meta: {
              cert_name: match.name,
              common_name: leaf.commonName,
              serial_number: leaf.serialNumber,
              subject_key_id: leaf.subjectKeyId,
              authority_key_id: leaf.authorityKeyId,
            },
            displayName: match.entry.displayName,
          });
        },
      },
      synopsis: "Log in with the TLS client certificate of the connection.",
      description: "Returns a token carrying the policies and token settings of the certificate entry the client certificate matches.",
    }),
  ];
}
