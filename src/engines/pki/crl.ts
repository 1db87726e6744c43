/**
 * CRLs (RFC 5280 §5): v2, signed by the issuer's own key, with Authority Key Identifier and CRL Number
 * extensions. One CRL per issuer, rebuilt on revocation and on `crl/rotate`; the number increases by one
 * at every rebuild. PEM label "X509 CRL" (OpenSSL 3 refuses "CRL", G9).
 */
import { invalidRequest } from "../../core/errors.js";
import type { KeyValueStore, KeyValueTxn } from "../../storage/storage.js";
import { signatureAlgorithm } from "./ca-keys.js";
import type { CaRuntime, LoadedIssuer } from "./ca.js";
import * as der from "./der.js";
import { getRecord, K, loadCrlConfig, putRecord, type CrlRecord, type IssuerEntry, type RevokedEntry } from "./pki-store.js";
import * as x from "./x509.js";

export async function revokedFor(storage: Pick<KeyValueStore, "get" | "list">, issuerId: string): Promise<RevokedEntry[]> {
  const out: RevokedEntry[] = [];
  for (const k of await storage.list("revoked/")) {
    const e = await getRecord<RevokedEntry>(storage, `revoked/${k}`);
    if (e && e.issuerId === issuerId) out.push(e);
  }
  return out;
}

export async function buildCrl(issuer: LoadedIssuer, revoked: RevokedEntry[], number: number, thisUpdate: Date, nextUpdate: Date): Promise<Buffer> {
  if (!issuer.key) throw invalidRequest(`issuer ${issuer.entry.id} has no key in this mount: it cannot sign a CRL`);
  const alg = signatureAlgorithm(issuer.key.signer.algorithm, 0, issuer.entry.revocationSignatureAlgorithm.includes("PSS"));
  const entries = revoked.map((r) =>
    der.seq(der.uintBytes(Buffer.from(r.serial.replace(/:/g, ""), "hex")), der.time(new Date(r.revocationTime * 1000))),
  );
  const tbs = der.seq(
    der.int(1),
    alg.algId,
    issuer.cert.subject,
    der.time(thisUpdate),
    der.time(nextUpdate),
    ...(entries.length > 0 ? [der.seq(...entries)] : []),
    der.explicit(0, der.seq(x.authorityKeyIdentifier(issuer.cert.ski), x.extension(x.EXT.crlNumber, false, der.int(number)))),
  );
  return x.signTbs(tbs, issuer.key.signer, alg);
}

/** Rebuilds and stores the issuer's CRL; returns the new record. */
export async function rebuildCrl(storage: KeyValueStore, runtime: CaRuntime, entry: IssuerEntry): Promise<CrlRecord> {
  const issuer = await runtime.load(storage, entry);
  const cfg = await loadCrlConfig(storage);
  const revoked = cfg.disable ? [] : await revokedFor(storage, entry.id);
  // The number is taken and written in one transaction so two rebuilds never publish the same number.
  return storage.transaction(async (txn: KeyValueTxn) => {
    const prev = await getRecord<CrlRecord>(txn, K.crlOf(entry.id));
    const number = (prev?.number ?? 0) + 1;
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const crlDer = await buildCrl(issuer, revoked, number, now, new Date(now.getTime() + cfg.expiry * 1000));
    const rec: CrlRecord = { number, der: crlDer.toString("base64"), thisUpdate: Math.floor(now.getTime() / 1000) };
    await putRecord(txn, K.crlOf(entry.id), rec);
    return rec;
  });
}

/** The stored CRL, built on first use. */
export async function currentCrl(storage: KeyValueStore, runtime: CaRuntime, entry: IssuerEntry): Promise<Buffer> {
  const rec = (await getRecord<CrlRecord>(storage, K.crlOf(entry.id))) ?? (await rebuildCrl(storage, runtime, entry));
  return Buffer.from(rec.der, "base64");
}

export function crlPem(crlDer: Buffer): string {
  return x.pem(crlDer, "X509 CRL");
}
