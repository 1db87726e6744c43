/**
 * CRLs (RFC 5280 §5): v2, signed by the issuer's own key, with Authority Key Identifier and CRL Number
 * extensions. One CRL per issuer, rebuilt on revocation and on `crl/rotate`; the number increases by one
 * at every rebuild. With `enable_delta`, a delta CRL per issuer lists the revocations its base does not
 * (Delta CRL Indicator → base number); base and delta share one number sequence. With `auto_rebuild` too,
 * a revocation rebuilds only the delta, the base waiting for `crl/rotate` — OpenBao's split. PEM label "X509 CRL" (OpenSSL 3 refuses "CRL", G9).
 */
import { invalidRequest, notFound } from "../../core/errors.js";
import type { KeyValueStore, KeyValueTxn } from "../../storage/storage.js";
import { signatureAlgorithm } from "./ca-keys.js";
import type { CaRuntime, LoadedIssuer } from "./ca.js";
import * as der from "./der.js";
import { aiaUrls, getRecord, K, loadCrlConfig, putRecord, type CrlRecord, type IssuerEntry, type RevokedEntry } from "./pki-store.js";
import * as x from "./x509.js";

export async function revokedFor(storage: Pick<KeyValueStore, "get" | "list">, issuerId: string): Promise<RevokedEntry[]> {
  const out: RevokedEntry[] = [];
  for (const k of await storage.list("revoked/")) {
    const e = await getRecord<RevokedEntry>(storage, `revoked/${k}`);
    if (e && e.issuerId === issuerId) out.push(e);
  }
  return out;
}

export interface CrlExtras {
  /** Delta CRLs: the CRL number of the base CRL (Delta CRL Indicator, critical). */
  baseNumber?: number;
  /** Base CRLs with deltas on: where the deltas are published (Freshest CRL). */
  freshest?: string[];
}

export async function buildCrl(issuer: LoadedIssuer, revoked: RevokedEntry[], number: number, thisUpdate: Date, nextUpdate: Date, extras: CrlExtras = {}): Promise<Buffer> {
  if (!issuer.key) throw invalidRequest(`issuer ${issuer.entry.id} has no key in this mount: it cannot sign a CRL`);
  const alg = signatureAlgorithm(issuer.key.signer.algorithm, 0, issuer.entry.revocationSignatureAlgorithm.includes("PSS"));
  const entries = revoked.map((r) =>
    der.seq(der.uintBytes(Buffer.from(r.serial.replace(/:/g, ""), "hex")), der.time(new Date(r.revocationTime * 1000))),
  );
  const exts = [x.authorityKeyIdentifier(issuer.cert.ski), x.extension(x.EXT.crlNumber, false, der.int(number))];
  if (extras.baseNumber !== undefined) exts.push(x.deltaCrlIndicator(extras.baseNumber));
  const freshest = extras.freshest ? x.freshestCrl(extras.freshest) : undefined;
  if (freshest) exts.push(freshest);
  const tbs = der.seq(
    der.int(1),
    alg.algId,
    issuer.cert.subject,
    der.time(thisUpdate),
    der.time(nextUpdate),
    ...(entries.length > 0 ? [der.seq(...entries)] : []),
    der.explicit(0, der.seq(...exts)),
  );
  return x.signTbs(tbs, issuer.key.signer, alg);
}

const nowSeconds = (): Date => new Date(Math.floor(Date.now() / 1000) * 1000);

/** Base and delta CRLs share one sequence of CRL numbers (RFC 5280 §5.2.4). */
async function nextNumber(txn: KeyValueTxn, issuerId: string): Promise<number> {
  const base = await getRecord<CrlRecord>(txn, K.crlOf(issuerId));
  const delta = await getRecord<CrlRecord>(txn, K.deltaCrlOf(issuerId));
  return Math.max(base?.number ?? 0, delta?.number ?? 0) + 1;
}

/** Builds and stores the delta CRL over `base`: the issuer's revocations the base does not list. */
async function writeDelta(txn: KeyValueTxn, issuer: LoadedIssuer, base: CrlRecord, revoked: RevokedEntry[], expiry: number): Promise<CrlRecord> {
  const listed = new Set(base.included ?? []);
  const fresh = revoked.filter((r) => !listed.has(r.serial));
  const number = await nextNumber(txn, issuer.entry.id);
  const now = nowSeconds();
  const crlDer = await buildCrl(issuer, fresh, number, now, new Date(now.getTime() + expiry * 1000), { baseNumber: base.number });
  const rec: CrlRecord = { number, der: crlDer.toString("base64"), thisUpdate: Math.floor(now.getTime() / 1000), baseNumber: base.number };
  await putRecord(txn, K.deltaCrlOf(issuer.entry.id), rec);
  return rec;
}

/**
 * Rebuilds and stores the issuer's (base) CRL; returns the new record. With delta CRLs on, the base carries
 * Freshest CRL (when delta_crl_distribution_points are configured) and a fresh, empty delta is built over it.
 */
export async function rebuildCrl(storage: KeyValueStore, runtime: CaRuntime, entry: IssuerEntry): Promise<CrlRecord> {
  const issuer = await runtime.load(storage, entry);
  const cfg = await loadCrlConfig(storage);
  const revoked = cfg.disable ? [] : await revokedFor(storage, entry.id);
  const freshest = cfg.enableDelta ? (await aiaUrls(storage, entry.id)).deltaCrlDistributionPoints : undefined;
  // The number is taken and written in one transaction so two rebuilds never publish the same number.
  return storage.transaction(async (txn: KeyValueTxn) => {
    const number = await nextNumber(txn, entry.id);
    const now = nowSeconds();
    const crlDer = await buildCrl(issuer, revoked, number, now, new Date(now.getTime() + cfg.expiry * 1000), { freshest });
    const rec: CrlRecord = { number, der: crlDer.toString("base64"), thisUpdate: Math.floor(now.getTime() / 1000), included: revoked.map((r) => r.serial) };
    await putRecord(txn, K.crlOf(entry.id), rec);
    if (cfg.enableDelta) await writeDelta(txn, issuer, rec, revoked, cfg.expiry);
    else await txn.delete(K.deltaCrlOf(entry.id));
    return rec;
  });
}

/** Rebuilds the issuer's delta CRL over its current base CRL (building the base first when there is none). */
export async function rebuildDeltaCrl(storage: KeyValueStore, runtime: CaRuntime, entry: IssuerEntry): Promise<CrlRecord> {
  const cfg = await loadCrlConfig(storage);
  if (!cfg.enableDelta) throw notFound("delta CRLs are not enabled on this mount (config/crl enable_delta=false)");
  if (!(await getRecord<CrlRecord>(storage, K.crlOf(entry.id)))) await rebuildCrl(storage, runtime, entry);
  const issuer = await runtime.load(storage, entry);
  const revoked = cfg.disable ? [] : await revokedFor(storage, entry.id);
  return storage.transaction(async (txn: KeyValueTxn) => {
    const base = await getRecord<CrlRecord>(txn, K.crlOf(entry.id));
    if (!base) throw invalidRequest(`issuer ${entry.id} has no base CRL`);
    return writeDelta(txn, issuer, base, revoked, cfg.expiry);
  });
}

/** The stored CRL record, built on first use. */
export async function currentCrlRecord(storage: KeyValueStore, runtime: CaRuntime, entry: IssuerEntry): Promise<CrlRecord> {
  return (await getRecord<CrlRecord>(storage, K.crlOf(entry.id))) ?? (await rebuildCrl(storage, runtime, entry));
}

/** The stored CRL, built on first use. */
export async function currentCrl(storage: KeyValueStore, runtime: CaRuntime, entry: IssuerEntry): Promise<Buffer> {
  return Buffer.from((await currentCrlRecord(storage, runtime, entry)).der, "base64");
}

/**
 * The delta CRL: the stored one while it extends the current base and is younger than
 * delta_rebuild_interval, else rebuilt. 404 when delta CRLs are off.
 */
export async function currentDeltaRecord(storage: KeyValueStore, runtime: CaRuntime, entry: IssuerEntry): Promise<CrlRecord> {
  const cfg = await loadCrlConfig(storage);
  if (!cfg.enableDelta) throw notFound("delta CRLs are not enabled on this mount (config/crl enable_delta=false)");
  const base = await currentCrlRecord(storage, runtime, entry);
  const delta = await getRecord<CrlRecord>(storage, K.deltaCrlOf(entry.id));
  if (delta && delta.baseNumber === base.number && Date.now() / 1000 - delta.thisUpdate < cfg.deltaRebuildInterval) return delta;
  return rebuildDeltaCrl(storage, runtime, entry);
}

export function crlPem(crlDer: Buffer): string {
  return x.pem(crlDer, "X509 CRL");
}
