/**
 * OCSP (RFC 6960): request parsing and BasicOCSPResponse building. The issuer answers for its own
 * certificates with its own key (responder ID byKey), so `openssl ocsp -issuer ca.pem` verifies the answer
 * without a delegated responder certificate. One CertID per request, as OpenBao serves.
 */
import { createHash } from "node:crypto";
import { signatureAlgorithm } from "./ca-keys.js";
import { OID } from "./ca-keys.js";
import type { LoadedIssuer } from "./ca.js";
import * as der from "./der.js";
import * as x from "./x509.js";

const ID_PKIX_OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1";
const ID_PKIX_OCSP_NONCE = "1.3.6.1.5.5.7.48.1.2";

export const OCSP_STATUS = { successful: 0, malformedRequest: 1, internalError: 2, tryLater: 3, unauthorized: 6 } as const;

export interface OcspCertId {
  raw: Buffer;
  hashAlgorithm: "sha1" | "sha256" | "sha384" | "sha512";
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  serial: Buffer;
}

export interface OcspRequest {
  certId: OcspCertId;
  /** The nonce extension (whole Extension DER) to echo back. */
  nonceExt: Buffer | undefined;
}

const HASHES: Record<string, OcspCertId["hashAlgorithm"]> = {
  [OID.sha1]: "sha1",
  [OID.sha256]: "sha256",
  [OID.sha384]: "sha384",
  [OID.sha512]: "sha512",
};

export class OcspParseError extends Error {}

const MAX_NONCE_OCTETS = 32;

/** The nonce's length: extnValue holds an OCTET STRING (RFC 8954); some old clients put the bare bytes there. */
function nonceLength(ext: der.Node): number {
  const parts = der.children(ext);
  const value = der.content(der.expect(parts[parts.length - 1], der.TAG.OCTET_STRING, "nonce extnValue"));
  try {
    return der.content(der.expect(der.readAll(value), der.TAG.OCTET_STRING, "nonce")).length;
  } catch {
    return value.length;
  }
}

export function parseOcspRequest(input: Buffer): OcspRequest {
  try {
    const [tbs] = der.children(der.expect(der.readAll(input), der.TAG.SEQUENCE, "OCSPRequest"));
    const parts = der.children(der.expect(tbs, der.TAG.SEQUENCE, "TBSRequest"));
    const list = parts.find((p) => p.tag === der.TAG.SEQUENCE);
    const reqs = der.children(der.expect(list, der.TAG.SEQUENCE, "requestList"));
    if (reqs.length !== 1) throw new OcspParseError("exactly one certificate per OCSP request is supported");
    const [certIdNode] = der.children(der.expect(reqs[0], der.TAG.SEQUENCE, "Request"));
    const [alg, nameHash, keyHash, serial] = der.children(der.expect(certIdNode, der.TAG.SEQUENCE, "CertID"));
    const hashOid = der.readOid(der.children(der.expect(alg, der.TAG.SEQUENCE, "hashAlgorithm"))[0]);
    const hashAlgorithm = HASHES[hashOid];
    if (!hashAlgorithm) throw new OcspParseError("unsupported CertID hash algorithm");
    let nonceExt: Buffer | undefined;
    const extsNode = parts.find((p) => p.tag === 0xa2);
    if (extsNode) {
      for (const e of der.children(der.children(extsNode)[0])) {
        if (der.readOid(der.children(e)[0]) !== ID_PKIX_OCSP_NONCE) continue;
        const length = nonceLength(e);
        // RFC 8954 §2.1: a nonce of 0 or more than 32 octets is a malformedRequest (no echoing and signing
        // of whatever an unauthenticated caller sends).
        if (length < 1 || length > MAX_NONCE_OCTETS) throw new OcspParseError(`the OCSP nonce must be 1 to ${MAX_NONCE_OCTETS} octets`);
        nonceExt = der.raw(e);
      }
    }
    return {
      certId: {
        raw: der.raw(certIdNode),
        hashAlgorithm,
        issuerNameHash: der.content(der.expect(nameHash, der.TAG.OCTET_STRING, "issuerNameHash")),
        issuerKeyHash: der.content(der.expect(keyHash, der.TAG.OCTET_STRING, "issuerKeyHash")),
        serial: der.readUint(serial),
      },
      nonceExt,
    };
  } catch (err) {
    if (err instanceof OcspParseError) throw err;
    throw new OcspParseError(err instanceof Error ? err.message : "malformed OCSP request");
  }
}

/** True when the CertID names this issuer (name hash and key hash under the request's hash algorithm). */
export function certIdMatches(id: OcspCertId, issuer: LoadedIssuer): boolean {
  const nameHash = createHash(id.hashAlgorithm).update(issuer.cert.subject).digest();
  const keyHash = createHash(id.hashAlgorithm).update(x.subjectPublicKeyBits(issuer.cert.spki)).digest();
  return nameHash.equals(id.issuerNameHash) && keyHash.equals(id.issuerKeyHash);
}

export function ocspError(status: number): Buffer {
  return der.seq(der.enumerated(status));
}

export type CertStatus = { kind: "good" } | { kind: "revoked"; time: Date } | { kind: "unknown" };

export async function ocspResponse(issuer: LoadedIssuer, req: OcspRequest, status: CertStatus, now: Date, validFor: number): Promise<Buffer> {
  if (!issuer.key) return ocspError(OCSP_STATUS.unauthorized);
  const certStatus =
    status.kind === "good"
      ? der.implicit(0, Buffer.alloc(0))
      : status.kind === "unknown"
        ? der.implicit(2, Buffer.alloc(0))
        : der.tlv(0xa1, der.generalizedTime(status.time));
  const single = der.seq(
    req.certId.raw,
    certStatus,
    der.generalizedTime(now),
    ...(validFor > 0 ? [der.explicit(0, der.generalizedTime(new Date(now.getTime() + validFor * 1000)))] : []),
  );
  const keyHash = createHash("sha1").update(x.subjectPublicKeyBits(issuer.cert.spki)).digest();
  const responseData = der.seq(
    der.explicit(2, der.octets(keyHash)),
    der.generalizedTime(now),
    der.seq(single),
    ...(req.nonceExt ? [der.explicit(1, der.seq(req.nonceExt))] : []),
  );
  const alg = signatureAlgorithm(issuer.key.signer.algorithm, 0, false);
  const basic = await x.signTbs(responseData, issuer.key.signer, alg);
  return der.seq(der.enumerated(OCSP_STATUS.successful), der.explicit(0, der.seq(der.oid(ID_PKIX_OCSP_BASIC), der.octets(basic))));
}
