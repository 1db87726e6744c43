/**
 * CRL issuers: who a CRL (and an OCSP answer) speaks for. RFC 5280 identifies a CRL's issuer by its name and
 * its key (Authority Key Identifier), not by a record of ours, so issuer records whose certificates share the
 * subject and the public key — a root reissued on its own key (root/rotate/existing), a cross-signed copy,
 * the same CA imported again — are one CRL issuer: one CRL, one CRL number sequence (§5.2.3; base and delta
 * CRLs share it, §5.2.4), one set of revocations and one OCSP answer, whichever record is asked. OpenBao
 * unifies CRLs of issuers sharing key and subject the same way.
 *
 * Certificates and revocations name the issuer record that signed them. When that record is gone (deleted,
 * then the CA imported again under a new id), they are re-associated by verifying their signature with the
 * key of a CRL issuer whose subject is their issuer name, as OpenBao re-associates revocations.
 */
import { createHash, type KeyObject } from "node:crypto";
import type { KeyValueReader } from "../../storage/storage.js";
import { getRecord, K, listIssuers, type IssuerEntry } from "./pki-store.js";
import * as x from "./x509.js";

export interface CrlIssuer {
  /** Hex SHA-256 of subject DER ‖ SubjectPublicKeyInfo DER (both self-delimiting DER); names its storage records. */
  id: string;
  subject: Buffer;
  publicKey: KeyObject;
}

/** Something an issuer record signed: a stored certificate or a revocation. */
export interface IssuedRecord {
  issuerId: string;
  certificate: string;
}

export function crlIssuerOf(cert: Pick<x.ParsedCertificate, "subject" | "spki" | "publicKey">): CrlIssuer {
  return { id: createHash("sha256").update(cert.subject).update(cert.spki).digest("hex"), subject: cert.subject, publicKey: cert.publicKey };
}

/** Parsed by certificate text: certificates never change, and parsing one per issuer per OCSP answer would add up. */
const byCertificate = new Map<string, CrlIssuer>();
const CACHE_LIMIT = 1024;

export function crlIssuerOfEntry(entry: Pick<IssuerEntry, "certificate">): CrlIssuer {
  const hit = byCertificate.get(entry.certificate);
  if (hit) return hit;
  const ci = crlIssuerOf(x.parseCertificate(x.pemBlocks(entry.certificate)[0].der, "issuer certificate"));
  if (byCertificate.size >= CACHE_LIMIT) byCertificate.clear();
  byCertificate.set(entry.certificate, ci);
  return ci;
}

/** True when `certificatePem` names `ci` as its issuer and `ci`'s key verifies its signature. */
export function signedBy(certificatePem: string, ci: CrlIssuer): boolean {
  try {
    const cert = x.parseCertificate(x.pemBlocks(certificatePem)[0].der);
    return cert.issuer.equals(ci.subject) && x.verifyCertificateSignature(cert, ci.publicKey);
  } catch {
    return false; // an unreadable stored certificate belongs to no one
  }
}

/** The issuer records of `ci` in this mount, by id. */
export async function membersOf(storage: KeyValueReader, ci: CrlIssuer): Promise<IssuerEntry[]> {
  return (await listIssuers(storage)).filter((e) => crlIssuerOfEntry(e).id === ci.id).sort((a, b) => a.id.localeCompare(b.id));
}

/** Every CRL issuer of the mount with its issuer records. */
export async function allCrlIssuers(storage: KeyValueReader): Promise<Array<{ ci: CrlIssuer; members: IssuerEntry[] }>> {
  const groups = new Map<string, { ci: CrlIssuer; members: IssuerEntry[] }>();
  for (const e of await listIssuers(storage)) {
    const ci = crlIssuerOfEntry(e);
    const g = groups.get(ci.id) ?? { ci, members: [] };
    g.members.push(e);
    groups.set(ci.id, g);
  }
  return [...groups.values()];
}

/** Whether `record` was issued by CRL issuer `ci` (through its issuer record, or by signature when that is gone). */
export async function issuedBy(storage: KeyValueReader, record: IssuedRecord, ci: CrlIssuer): Promise<boolean> {
  const e = await getRecord<IssuerEntry>(storage, K.issuer(record.issuerId));
  return e ? crlIssuerOfEntry(e).id === ci.id : signedBy(record.certificate, ci);
}

/** The issuer record that stands for `record`'s CRL issuer: its own, or one that verifies its signature. */
export async function issuerRecordFor(storage: KeyValueReader, record: IssuedRecord): Promise<IssuerEntry | undefined> {
  const own = await getRecord<IssuerEntry>(storage, K.issuer(record.issuerId));
  if (own) return own;
  return (await listIssuers(storage)).find((e) => signedBy(record.certificate, crlIssuerOfEntry(e)));
}
