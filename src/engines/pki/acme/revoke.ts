/**
 * revoke-cert (RFC 8555 §7.6): signed by the account that ordered the certificate (kid) or by the
 * certificate's own key (jwk). The revocation is the PKI engine's (path-revoke.ts): it lands in the CRL and
 * OCSP at once.
 */
import { createPublicKey, type JsonWebKey } from "node:crypto";
import type { CaRuntime } from "../ca.js";
import { revoke } from "../path-revoke.js";
import { getRecord, K, type CertEntry, type RevokedEntry } from "../pki-store.js";
import * as x from "../x509.js";
import type { AcmeAnswer, AcmeCall } from "./acme-call.js";
import { AK, getAcme } from "./acme-store.js";
import { jsonPayload } from "./jws.js";
import { problem } from "./problem.js";

export async function revokeCert(call: AcmeCall, runtime: CaRuntime): Promise<AcmeAnswer> {
  const v = await call.verify("either");
  const p = jsonPayload(v) ?? {};
  if (typeof p.certificate !== "string" || !/^[A-Za-z0-9_-]+$/.test(p.certificate)) throw problem("malformed", "certificate must be base64url DER");
  if (p.reason !== undefined && (!Number.isInteger(p.reason) || (p.reason as number) < 0 || (p.reason as number) > 10 || p.reason === 7)) {
    throw problem("badRevocationReason", "reason must be a CRLReason code (0-10, not 7)");
  }
  let cert: x.ParsedCertificate;
  try {
    cert = x.parseCertificate(Buffer.from(p.certificate, "base64url"));
  } catch {
    throw problem("malformed", "certificate could not be parsed");
  }
  const serial = x.serialToString(cert.serial);
  const stored = await getRecord<CertEntry>(call.storage, K.cert(serial));
  if (!stored || !Buffer.from(x.pemBlocks(stored.certificate)[0].der).equals(cert.der)) throw problem("malformed", "the certificate was not issued by this mount", 404);
  if (v.account) {
    const issued = await getAcme<{ accountId: string }>(call.storage, AK.issued(serial));
    if (issued?.accountId !== v.account.id) throw problem("unauthorized", "the account did not order this certificate");
  } else {
    let spki: Buffer;
    try {
      spki = createPublicKey({ key: v.jwk as JsonWebKey, format: "jwk" }).export({ type: "spki", format: "der" });
    } catch {
      throw problem("badPublicKey", "the JWS key could not be read");
    }
    if (!spki.equals(cert.spki)) throw problem("unauthorized", "the JWS key is not the certificate's key");
  }
  if (await getRecord<RevokedEntry>(call.storage, K.revoked(serial))) throw problem("alreadyRevoked", "the certificate is already revoked");
  await revoke(call.storage, runtime, stored);
  return { status: 200 };
}
