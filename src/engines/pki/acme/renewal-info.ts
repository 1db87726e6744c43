/**
 * ACME Renewal Information (RFC 9773): GET renewal-info/<certID>, certID = base64url(AKI keyIdentifier) "."
 * base64url(serial DER content). The suggested window is the middle third of the certificate's life's last
 * third (as Pebble: around two thirds through); a revoked certificate is due now.
 */
import { getRecord, K, type CertEntry, type RevokedEntry } from "../pki-store.js";
import * as der from "../der.js";
import * as x from "../x509.js";
import type { AcmeAnswer, AcmeCall } from "./acme-call.js";
import { problem } from "./problem.js";

/** Clients are asked to check again after six hours (RFC 9773 §4.3.2). */
const RETRY_AFTER_S = 6 * 3600;

export async function renewalInfo(call: AcmeCall): Promise<AcmeAnswer> {
  const certId = call.ctx.params.cert_id;
  const m = /^([A-Za-z0-9_-]{1,128})\.([A-Za-z0-9_-]{1,64})$/.exec(certId);
  if (!m) throw problem("malformed", "the certID must be base64url(keyIdentifier).base64url(serial)");
  const serialBytes = Buffer.from(m[2], "base64url");
  if (serialBytes.length === 0) throw problem("malformed", "the certID has no serial");
  const serial = x.serialToString(serialBytes);
  const stored = await getRecord<CertEntry>(call.storage, K.cert(serial));
  if (!stored) throw problem("malformed", "no certificate with this serial was issued here", 404);
  const cert = x.parseCertificate(x.pemBlocks(stored.certificate)[0].der);
  const aki = cert.extensions.get(x.EXT.authorityKeyId);
  if (!aki || !akiKeyId(aki.value).equals(Buffer.from(m[1], "base64url"))) throw problem("malformed", "the certID's key identifier does not match the certificate", 404);
  const revoked = await getRecord<RevokedEntry>(call.storage, K.revoked(serial));
  const nb = cert.notBefore.getTime();
  const life = cert.notAfter.getTime() - nb;
  const start = revoked ? Date.now() - 3600_000 : nb + (life * 2) / 3 - life / 18;
  const end = revoked ? Date.now() : nb + (life * 2) / 3 + life / 18;
  const iso = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
  return { json: { suggestedWindow: { start: iso(start), end: iso(end) } }, retryAfter: RETRY_AFTER_S };
}

/** keyIdentifier ([0] IMPLICIT OCTET STRING) of an AuthorityKeyIdentifier extension value. */
function akiKeyId(value: Buffer): Buffer {
  try {
    const id = der.children(der.readAll(value)).find((n) => n.tag === 0x80);
    return id ? der.content(id) : Buffer.alloc(0);
  } catch {
    return Buffer.alloc(0);
  }
}
