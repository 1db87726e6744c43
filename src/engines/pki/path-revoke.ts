/**
 * `revoke {serial_number | certificate}` and `revoke-with-key {…, private_key}`. A revocation is written
 * once (revoking again answers with the first time) and the CRL of the certificate's CRL issuer (its issuer's
 * subject and key, whichever record of it is current) is rebuilt at once, so `crl` and OCSP agree with the
 * revocation as soon as the call returns.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { invalidRequest } from "../../common/errors.js";
import { definePath, type PathSpec } from "../../core/framework/path.js";
import type { Response } from "../../core/framework/request.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { spkiOf, type CaRuntime } from "./ca.js";
import { rebuildCrl, rebuildDeltaCrl } from "./crl.js";
import { crlIssuerOfEntry, issuerRecordFor, membersOf } from "./crl-issuer.js";
import { getRecord, K, listIssuers, loadCrlConfig, putRecord, type CertEntry, type IssuerEntry, type RevokedEntry } from "./pki-store.js";
import * as x from "./x509.js";

export interface Target {
  serial: string;
  certificate: string;
  issuerId: string;
  notAfter: number;
}

async function findTarget(storage: KeyValueStore, serialIn: string | undefined, certPemIn: string | undefined): Promise<Target> {
  if (serialIn && certPemIn) throw invalidRequest("provide only one of serial_number or certificate");
  if (certPemIn) {
    const blocks = x.pemBlocks(certPemIn).filter((b) => b.label === "CERTIFICATE");
    if (blocks.length !== 1) throw invalidRequest("certificate must hold exactly one PEM CERTIFICATE block");
    const c = x.parseCertificate(blocks[0].der);
    const serial = x.serialToString(c.serial);
    const stored = await getRecord<CertEntry>(storage, K.cert(serial));
    if (stored) return stored;
    // A no_store certificate: revocable when one of our issuers signed it.
    const issuers = await listIssuers(storage);
    const by = issuers.find((i) => c.issuer.equals(x.parseCertificate(x.pemBlocks(i.certificate)[0].der).subject) && x.verifyCertificateSignature(c, x.parseCertificate(x.pemBlocks(i.certificate)[0].der).publicKey));
    if (!by) throw invalidRequest("certificate was not issued by any issuer of this mount");
    return { serial, certificate: x.pem(c.der, "CERTIFICATE"), issuerId: by.id, notAfter: Math.floor(c.notAfter.getTime() / 1000) };
  }
  if (!serialIn) throw invalidRequest("the serial_number or certificate field is required");
  const serial = x.normalizeSerial(serialIn);
  if (!serial) throw invalidRequest(`invalid serial_number "${serialIn}"`);
  const stored = await getRecord<CertEntry>(storage, K.cert(serial));
  if (stored) return stored;
  if ((await listIssuers(storage)).some((i: IssuerEntry) => i.serialNumber === serial)) {
    throw invalidRequest(`adding issuer (id: …) to its own CRL is not allowed; revoke the issuer through issuer/:ref/revoke`);
  }
  throw invalidRequest(`certificate with serial ${serial} not found`);
}

export async function revoke(storage: KeyValueStore, runtime: CaRuntime, t: Target): Promise<Response> {
  const rev = await storage.transaction(async (txn) => {
    const existing = await getRecord<RevokedEntry>(txn, K.revoked(t.serial));
    if (existing) return { entry: existing, fresh: false };
    const entry: RevokedEntry = { serial: t.serial, issuerId: t.issuerId, revocationTime: Math.floor(Date.now() / 1000), notAfter: t.notAfter, certificate: t.certificate };
    await putRecord(txn, K.revoked(t.serial), entry);
    return { entry, fresh: true };
  });
  const cfg = await loadCrlConfig(storage);
  if (rev.fresh && !cfg.disable) {
    // The CRL of the certificate's CRL issuer, whichever of its records signs it now (crl-issuer.ts).
    const issuer = await issuerRecordFor(storage, t);
    if (issuer && (await membersOf(storage, crlIssuerOfEntry(issuer))).some((m) => m.keyId)) {
      if (cfg.enableDelta && cfg.autoRebuild) await rebuildDeltaCrl(storage, runtime, issuer);
      else await rebuildCrl(storage, runtime, issuer);
    }
  }
  return {
    data: {
      revocation_time: rev.entry.revocationTime,
      revocation_time_rfc3339: new Date(rev.entry.revocationTime * 1000).toISOString(),
      state: "revoked",
    },
  };
}

export function revokePaths(runtime: CaRuntime): PathSpec[] {
  return [
    definePath({
      pattern: "revoke",
      fields: { serial_number: { type: "string" }, certificate: { type: "string" } },
      operations: { update: async ({ fields, storage }) => revoke(storage, runtime, await findTarget(storage, fields.serial_number, fields.certificate)) },
      synopsis: "Revoke a certificate by serial number or with explicit certificate.",
    }),
    definePath({
      pattern: "revoke-with-key",
      fields: { serial_number: { type: "string" }, certificate: { type: "string" }, private_key: { type: "string", required: true } },
      operations: {
        update: async ({ fields, storage }) => {
          const t = await findTarget(storage, fields.serial_number, fields.certificate);
          const cert = x.parseCertificate(x.pemBlocks(t.certificate)[0].der);
          let spki: Buffer;
          try {
            spki = spkiOf(createPublicKey(createPrivateKey({ key: fields.private_key, format: "pem" })));
          } catch {
            throw invalidRequest("failed to parse private_key");
          }
          if (!spki.equals(cert.spki)) throw invalidRequest("failed to validate private key match with certificate: the private key does not belong to the certificate");
          return revoke(storage, runtime, t);
        },
      },
      synopsis: "Revoke a certificate, proving possession of its private key.",
    }),
  ];
}
