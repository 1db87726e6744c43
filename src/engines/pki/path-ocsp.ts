/**
 * OCSP responder (RFC 6960), unauthenticated: `GET ocsp/<base64 DER request>` and `POST ocsp` with the
 * DER request, declared as the path's raw body (`application/ocsp-request`). Failures are OCSP error responses (HTTP 200 with a non-successful responseStatus), as OCSP
 * clients expect, never JSON errors.
 */
import { definePath, type PathSpec } from "../../core/framework/path.js";
import type { Response } from "../../core/framework/request.js";
import type { KeyValueStore } from "../../storage/storage.js";
import type { CaRuntime } from "./ca.js";
import { crlIssuerOf, issuedBy } from "./crl-issuer.js";
import { certIdMatches, OCSP_STATUS, ocspError, ocspResponse, parseOcspRequest, type CertStatus, type OcspRequest } from "./ocsp.js";
import { getRecord, K, listIssuers, loadCrlConfig, type CertEntry, type RevokedEntry } from "./pki-store.js";
import * as x from "./x509.js";

const CONTENT_TYPE = "application/ocsp-response";
const answer = (body: Buffer): Response => ({ raw: { status: 200, contentType: CONTENT_TYPE, body } });

export async function respondOcsp(storage: KeyValueStore, runtime: CaRuntime, body: Buffer | undefined): Promise<Response> {
  if ((await loadCrlConfig(storage)).ocspDisable) return answer(ocspError(OCSP_STATUS.unauthorized));
  if (!body || body.length === 0) return answer(ocspError(OCSP_STATUS.malformedRequest));
  let req: OcspRequest;
  try {
    req = parseOcspRequest(body);
  } catch {
    return answer(ocspError(OCSP_STATUS.malformedRequest));
  }
  let issuer;
  for (const e of await listIssuers(storage)) {
    if (!e.keyId || !e.usage.includes("ocsp-signing")) continue;
    const loaded = await runtime.load(storage, e);
    if (certIdMatches(req.certId, loaded)) {
      issuer = loaded;
      break;
    }
  }
  if (!issuer) return answer(ocspError(OCSP_STATUS.unauthorized));
  const serial = x.serialToString(req.certId.serial);
  // The CertID names a subject and a key, not one of our records: any record of that CRL issuer answers.
  const ci = crlIssuerOf(issuer.cert);
  const rev = await getRecord<RevokedEntry>(storage, K.revoked(serial));
  let status: CertStatus;
  if (rev && (await issuedBy(storage, rev, ci))) status = { kind: "revoked", time: new Date(rev.revocationTime * 1000) };
  else {
    const cert = await getRecord<CertEntry>(storage, K.cert(serial));
    status = cert && (await issuedBy(storage, cert, ci)) ? { kind: "good" } : { kind: "unknown" };
  }
  const cfg = await loadCrlConfig(storage);
  return answer(await ocspResponse(issuer, req, status, new Date(Math.floor(Date.now() / 1000) * 1000), cfg.ocspExpiry));
}

export function ocspPaths(runtime: CaRuntime): PathSpec[] {
  return [
    definePath({
      pattern: "ocsp",
      rawBody: { mediaTypes: ["application/ocsp-request"] },
      operations: { update: async ({ req, storage }) => respondOcsp(storage, runtime, req.body?.bytes) },
      synopsis: "Query a certificate's revocation status through OCSP (POST).",
    }),
    definePath({
      pattern: "ocsp/:req+",
      operations: {
        read: async ({ params, storage }) => {
          // The path segment is base64 (RFC 6960 A.1), URL-decoded by the HTTP layer; accept base64url too.
          const text = params.req.replace(/-/g, "+").replace(/_/g, "/");
          return respondOcsp(storage, runtime, Buffer.from(text, "base64"));
        },
      },
      synopsis: "Query a certificate's revocation status through OCSP (GET).",
    }),
  ];
}
