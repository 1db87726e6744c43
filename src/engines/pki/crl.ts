/**
 * CRLs (RFC 5280 §5): v2, signed by the issuer's own key, with Authority Key Identifier and CRL Number
 * extensions. One CRL per CRL issuer (crl-issuer.ts: issuer records sharing subject and key share it), rebuilt
 * on revocation and on `crl/rotate`; its number rises by one at every rebuild, base and delta alike, from one
 * counter per CRL issuer that outlives its issuer records (RFC 5280 §5.2.3: monotonically increasing for a
 * given CRL scope and issuer). With `enable_delta`, a delta CRL lists the revocations its base does not
 * (Delta CRL Indicator → base number). With `auto_rebuild` too, a revocation rebuilds only the delta, the base
 * waiting for `crl/rotate` — OpenBao's split. PEM label "X509 CRL" (OpenSSL 3 refuses "CRL", G9).
 *
 * Records from before CRL issuers (`crls/<issuer id>`, `delta-crls/<issuer id>`) are migrated at the first
 * rebuild of their CRL issuer: their numbers are honoured (the new number is above them), then they go.
 */
import { invalidRequest, notFound } from "../../common/errors.js";
import type { KeyValueReader, KeyValueStore, KeyValueTxn } from "../../storage/storage.js";
import { signatureAlgorithm } from "./ca-keys.js";
import type { CaRuntime, LoadedIssuer } from "./ca.js";
import { allCrlIssuers, crlIssuerOfEntry, membersOf, signedBy, type CrlIssuer } from "./crl-issuer.js";
import * as der from "./der.js";
import { aiaUrls, getRecord, K, listIssuers, loadCrlConfig, putRecord, type CrlNumber, type CrlRecord, type IssuerEntry, type RevokedEntry } from "./pki-store.js";
import * as x from "./x509.js";

/** The revocations of CRL issuer `ci`: those of its issuer records, and orphans its key signed. */
export async function revokedFor(storage: KeyValueReader, ci: CrlIssuer): Promise<RevokedEntry[]> {
  const owner = new Map((await listIssuers(storage)).map((e) => [e.id, crlIssuerOfEntry(e).id]));
  const out: RevokedEntry[] = [];
  for (const k of await storage.list("revoked/")) {
    const e = await getRecord<RevokedEntry>(storage, `revoked/${k}`);
    if (!e) continue;
    const id = owner.get(e.issuerId);
    if (id === undefined ? signedBy(e.certificate, ci) : id === ci.id) out.push(e);
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

/**
 * Takes the CRL issuer's next CRL number (base and delta share the sequence, RFC 5280 §5.2.4). Numbers of
 * records from before CRL issuers, kept per issuer record, count as used.
 */
async function nextNumber(txn: KeyValueTxn, ci: CrlIssuer, members: IssuerEntry[]): Promise<number> {
  let last = (await getRecord<CrlNumber>(txn, K.crlNumber(ci.id)))?.last ?? 0;
  for (const m of members) {
    for (const key of [K.crlOf(m.id), K.deltaCrlOf(m.id)]) last = Math.max(last, (await getRecord<CrlRecord>(txn, key))?.number ?? 0);
  }
  const number = last + 1;
  await putRecord(txn, K.crlNumber(ci.id), { last: number } satisfies CrlNumber);
  return number;
}

/** Removes the per-issuer records from before CRL issuers (their numbers are in the counter by now). */
async function dropLegacyRecords(txn: KeyValueTxn, members: IssuerEntry[]): Promise<void> {
  for (const m of members) {
    await txn.delete(K.crlOf(m.id));
    await txn.delete(K.deltaCrlOf(m.id));
  }
}

/** Builds and stores the delta CRL over `base`: the CRL issuer's revocations the base does not list. */
async function writeDelta(txn: KeyValueTxn, ctx: CrlContext, base: CrlRecord, revoked: RevokedEntry[], expiry: number): Promise<CrlRecord> {
  const listed = new Set(base.included ?? []);
  const fresh = revoked.filter((r) => !listed.has(r.serial));
  const number = await nextNumber(txn, ctx.ci, ctx.members);
  const now = nowSeconds();
  const crlDer = await buildCrl(ctx.signer, fresh, number, now, new Date(now.getTime() + expiry * 1000), { baseNumber: base.number });
  const rec: CrlRecord = { number, der: crlDer.toString("base64"), thisUpdate: Math.floor(now.getTime() / 1000), baseNumber: base.number };
  await putRecord(txn, K.deltaCrlOf(ctx.ci.id), rec);
  await dropLegacyRecords(txn, ctx.members);
  return rec;
}

interface CrlContext {
  ci: CrlIssuer;
  members: IssuerEntry[];
  /** The issuer record whose key and certificate sign: `entry` when it has a key, else another member's. */
  signer: LoadedIssuer;
}

async function crlContext(storage: KeyValueStore, runtime: CaRuntime, entry: IssuerEntry): Promise<CrlContext> {
  const ci = crlIssuerOfEntry(entry);
  const members = await membersOf(storage, ci);
  for (const candidate of [entry, ...members.filter((m) => m.id !== entry.id)]) {
    if (!candidate.keyId) continue;
    const loaded = await runtime.load(storage, candidate);
    if (loaded.key) return { ci, members, signer: loaded };
  }
  throw invalidRequest(`issuer ${entry.id} has no key in this mount: it cannot sign a CRL`);
}

/**
 * Rebuilds and stores the (base) CRL of `entry`'s CRL issuer; returns the new record. With delta CRLs on, the
 * base carries Freshest CRL (when delta_crl_distribution_points are configured) and a fresh, empty delta is
 * built over it.
 */
export async function rebuildCrl(storage: KeyValueStore, runtime: CaRuntime, entry: IssuerEntry): Promise<CrlRecord> {
  const ctx = await crlContext(storage, runtime, entry);
  const cfg = await loadCrlConfig(storage);
  const revoked = cfg.disable ? [] : await revokedFor(storage, ctx.ci);
  const freshest = cfg.enableDelta ? (await aiaUrls(storage, ctx.signer.entry.id)).deltaCrlDistributionPoints : undefined;
  // The number is taken and written in one transaction so two rebuilds never publish the same number.
  return storage.transaction(async (txn: KeyValueTxn) => {
    const number = await nextNumber(txn, ctx.ci, ctx.members);
    const now = nowSeconds();
    const crlDer = await buildCrl(ctx.signer, revoked, number, now, new Date(now.getTime() + cfg.expiry * 1000), { freshest });
    const rec: CrlRecord = { number, der: crlDer.toString("base64"), thisUpdate: Math.floor(now.getTime() / 1000), included: revoked.map((r) => r.serial) };
    await putRecord(txn, K.crlOf(ctx.ci.id), rec);
    if (cfg.enableDelta) await writeDelta(txn, ctx, rec, revoked, cfg.expiry);
    else await txn.delete(K.deltaCrlOf(ctx.ci.id));
    await dropLegacyRecords(txn, ctx.members);
    return rec;
  });
}

/** Rebuilds the delta CRL of `entry`'s CRL issuer over its current base CRL (building the base first when there is none). */
export async function rebuildDeltaCrl(storage: KeyValueStore, runtime: CaRuntime, entry: IssuerEntry): Promise<CrlRecord> {
  const cfg = await loadCrlConfig(storage);
  if (!cfg.enableDelta) throw notFound("delta CRLs are not enabled on this mount (config/crl enable_delta=false)");
  const ctx = await crlContext(storage, runtime, entry);
  if (!(await getRecord<CrlRecord>(storage, K.crlOf(ctx.ci.id)))) await rebuildCrl(storage, runtime, entry);
  const revoked = cfg.disable ? [] : await revokedFor(storage, ctx.ci);
  return storage.transaction(async (txn: KeyValueTxn) => {
    const base = await getRecord<CrlRecord>(txn, K.crlOf(ctx.ci.id));
    if (!base) throw invalidRequest(`issuer ${entry.id} has no base CRL`);
    return writeDelta(txn, ctx, base, revoked, cfg.expiry);
  });
}

/** Rebuilds the CRL (or with `delta`, the delta CRL) of every CRL issuer that has a key here, once each. */
export async function rebuildAllCrls(storage: KeyValueStore, runtime: CaRuntime, which: "base" | "delta" = "base"): Promise<void> {
  for (const { members } of await allCrlIssuers(storage)) {
    const keyed = members.find((m) => m.keyId);
    if (!keyed) continue;
    if (which === "base") await rebuildCrl(storage, runtime, keyed);
    else await rebuildDeltaCrl(storage, runtime, keyed);
  }
}

/**
 * When issuer record `deleted` goes: its pre-CRL-issuer records go with it, and the CRLs of its CRL issuer
 * too when no other record stands for it. The number counter stays, so a CRL issuer that comes back (the CA
 * imported again) continues its sequence instead of reusing numbers.
 */
export async function forgetIssuerCrls(txn: KeyValueTxn, deleted: IssuerEntry): Promise<void> {
  await dropLegacyRecords(txn, [deleted]);
  const ci = crlIssuerOfEntry(deleted);
  if ((await membersOf(txn, ci)).some((m) => m.id !== deleted.id)) return;
  await txn.delete(K.crlOf(ci.id));
  await txn.delete(K.deltaCrlOf(ci.id));
}

/** The stored CRL record of `entry`'s CRL issuer, built on first use. */
export async function currentCrlRecord(storage: KeyValueStore, runtime: CaRuntime, entry: IssuerEntry): Promise<CrlRecord> {
  return (await getRecord<CrlRecord>(storage, K.crlOf(crlIssuerOfEntry(entry).id))) ?? (await rebuildCrl(storage, runtime, entry));
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
  const delta = await getRecord<CrlRecord>(storage, K.deltaCrlOf(crlIssuerOfEntry(entry).id));
  if (delta && delta.baseNumber === base.number && Date.now() / 1000 - delta.thisUpdate < cfg.deltaRebuildInterval) return delta;
  return rebuildDeltaCrl(storage, runtime, entry);
}

export function crlPem(crlDer: Buffer): string {
  return x.pem(crlDer, "X509 CRL");
}
