/**
 * Orders and their authorizations (RFC 8555 §7.4–7.5): new-order, order/:id (POST-as-GET), orders,
 * authorization/:id (read, deactivate), challenge/:id/:type (start validation), finalize, cert download.
 * State machines: challenge pending → processing → valid|invalid (validator.ts); authorization pending →
 * valid|invalid|deactivated|expired; order pending → ready (every authorization valid) → processing
 * (finalize) → valid (certificate) | invalid (an authorization failed, the order expired or signing failed).
 */
import type { KeyValueStore } from "../../../storage/storage.js";
import type { CaRuntime } from "../ca.js";
import { crlIssuerOfEntry, membersOf } from "../crl-issuer.js";
import { serialToString } from "../x509.js";
import { getRecord, K, type CertEntry, type IssuerEntry } from "../pki-store.js";
import type { AcmeAnswer, AcmeCall } from "./acme-call.js";
import { acmeId, AK, getAcme, isAcmeId, putAcme, type AccountRecord, type AuthzRecord, type ChallengeRecord, type ChallengeType, type Identifier, type OrderRecord, type OrderStatus } from "./acme-store.js";
import { urls } from "./directory.js";
import { parseIdentifiers } from "./identifiers.js";
import { checkCsr, checkIdentifiersAgainstRole, directoryRole, issueForOrder } from "./issuance.js";
import { jsonPayload } from "./jws.js";
import { authzObject, challengeObject, orderObject } from "./objects.js";
import { AcmeProblem, problem } from "./problem.js";
import type { AcmeValidator } from "./validator.js";

export const ORDER_TTL_MS = 24 * 3600 * 1000;
/** How long a client is asked to wait before polling a processing order or challenge again. */
const RETRY_AFTER_S = 2;

function challengesFor(id: Identifier, wildcard: boolean): ChallengeRecord[] {
  // RFC 8555 §7.1.3: a wildcard is proven by DNS only; RFC 8738: an IP by http-01 or tls-alpn-01.
  const types: ChallengeType[] = wildcard ? ["dns-01"] : id.type === "ip" ? ["http-01", "tls-alpn-01"] : ["http-01", "dns-01", "tls-alpn-01"];
  return types.map((type) => ({ type, token: acmeId() + acmeId(), status: "pending" }));
}

export async function newOrder(call: AcmeCall): Promise<AcmeAnswer> {
  const v = await call.verify("kid");
  const account = v.account!;
  const p = jsonPayload(v) ?? {};
  const ids = parseIdentifiers(p.identifiers);
  if (p.notBefore !== undefined) throw problem("malformed", "notBefore is not supported");
  if (p.notAfter !== undefined && (typeof p.notAfter !== "string" || Number.isNaN(Date.parse(p.notAfter)))) throw problem("malformed", "notAfter must be an RFC 3339 time");
  checkIdentifiersAgainstRole(await directoryRole(call.storage, call.dir), ids);
  const now = Date.now();
  const order: OrderRecord = { id: acmeId(), accountId: account.id, directory: call.dir.prefix, status: "pending", expires: now + ORDER_TTL_MS, identifiers: ids, authzIds: [], ...(typeof p.notAfter === "string" ? { notAfter: p.notAfter } : {}) };
  if (p.replaces !== undefined) {
    const m = typeof p.replaces === "string" ? /^[A-Za-z0-9_-]{1,128}\.([A-Za-z0-9_-]{1,64})$/.exec(p.replaces) : null;
    if (!m) throw problem("malformed", "replaces must be an ARI certificate identifier");
    // RFC 9773 §5: only the account that ordered a certificate may replace it.
    const serial = serialToString(Buffer.from(m[1], "base64url"));
    const issued = await getAcme<{ accountId: string }>(call.storage, AK.issued(serial));
    if (issued?.accountId !== account.id) throw problem("malformed", "replaces names no certificate this account ordered");
    order.replaces = p.replaces as string;
  }
  const authzs: AuthzRecord[] = ids.map((id) => {
    const wildcard = id.type === "dns" && id.value.startsWith("*.");
    const identifier: Identifier = wildcard ? { type: "dns", value: id.value.slice(2) } : id;
    return { id: acmeId(), accountId: account.id, orderId: order.id, identifier, wildcard, status: "pending", expires: order.expires, challenges: challengesFor(identifier, wildcard) };
  });
  order.authzIds = authzs.map((a) => a.id);
  await call.storage.transaction(async (txn) => {
    if (order.replaces) {
      if (await txn.get(AK.replaced(order.replaces))) throw problem("alreadyReplaced", "the certificate named by replaces was already replaced", 409);
      await putAcme(txn, AK.replaced(order.replaces), { orderId: order.id });
    }
    for (const a of authzs) await putAcme(txn, AK.authz(a.id), a);
    await putAcme(txn, AK.order(order.id), order);
    await putAcme(txn, AK.accountOrder(account.id, order.id), {});
  });
  return { status: 201, json: orderObject(call.dir, order), location: urls.order(call.dir, order.id) };
}

/** The order, its status brought up to date with its authorizations and its expiry (and stored if it moved). */
export async function refreshOrder(storage: KeyValueStore, order: OrderRecord, now = Date.now()): Promise<OrderRecord> {
  if (order.status !== "pending" && order.status !== "ready") return order;
  let next: OrderStatus = order.status;
  if (order.expires <= now) next = "invalid";
  else if (order.status === "pending") {
    const authzs = await Promise.all(order.authzIds.map((id) => getAcme<AuthzRecord>(storage, AK.authz(id))));
    if (authzs.some((a) => !a || a.status === "invalid" || a.status === "deactivated" || a.status === "expired" || a.status === "revoked")) next = "invalid";
    else if (authzs.every((a) => a?.status === "valid")) next = "ready";
  }
  if (next === order.status) return order;
  const updated: OrderRecord = { ...order, status: next, ...(next === "invalid" && !order.error ? { error: problem("unauthorized", order.expires <= now ? "the order expired" : "an authorization of the order failed").toJson() } : {}) };
  await putAcme(storage, AK.order(order.id), updated);
  return updated;
}

async function ownedOrder(call: AcmeCall, account: AccountRecord): Promise<OrderRecord> {
  const id = call.ctx.params.order_id;
  const order = isAcmeId(id) ? await getAcme<OrderRecord>(call.storage, AK.order(id)) : undefined;
  if (!order || order.accountId !== account.id) throw problem("malformed", "no such order for this account", 404);
  return refreshOrder(call.storage, order);
}

async function ownedAuthz(call: AcmeCall, account: AccountRecord): Promise<AuthzRecord> {
  const id = call.ctx.params.auth_id;
  const authz = isAcmeId(id) ? await getAcme<AuthzRecord>(call.storage, AK.authz(id)) : undefined;
  if (!authz || authz.accountId !== account.id) throw problem("malformed", "no such authorization for this account", 404);
  if (authz.status === "pending" && authz.expires <= Date.now()) {
    const expired: AuthzRecord = { ...authz, status: "expired" };
    await putAcme(call.storage, AK.authz(authz.id), expired);
    return expired;
  }
  return authz;
}

export async function getOrder(call: AcmeCall): Promise<AcmeAnswer> {
  const v = await call.verify("kid");
  const order = await ownedOrder(call, v.account!);
  return { json: orderObject(call.dir, order), ...(order.status === "processing" ? { retryAfter: RETRY_AFTER_S } : {}) };
}

export async function listOrders(call: AcmeCall): Promise<AcmeAnswer> {
  const v = await call.verify("kid");
  const out: string[] = [];
  for (const id of await call.storage.list(AK.accountOrders(v.account!.id))) {
    const o = await getAcme<OrderRecord>(call.storage, AK.order(id));
    if (o && o.accountId === v.account!.id && o.status !== "invalid") out.push(urls.order(call.dir, o.id));
  }
  return { json: { orders: out } };
}

export async function getAuthz(call: AcmeCall): Promise<AcmeAnswer> {
  const v = await call.verify("kid");
  let authz = await ownedAuthz(call, v.account!);
  const p = jsonPayload(v);
  if (p && p.status !== undefined) {
    if (p.status !== "deactivated") throw problem("malformed", 'only "deactivated" may be requested as an authorization status');
    if (authz.status !== "pending" && authz.status !== "valid") throw problem("malformed", `authorization is ${authz.status}`, 403);
    authz = { ...authz, status: "deactivated" };
    await putAcme(call.storage, AK.authz(authz.id), authz);
  }
  return { json: authzObject(call.dir, authz) };
}

export async function respondChallenge(call: AcmeCall, validator: AcmeValidator): Promise<AcmeAnswer> {
  const v = await call.verify("kid");
  const authz = await ownedAuthz(call, v.account!);
  const type = call.ctx.params.challenge_type;
  const ch = authz.challenges.find((c) => c.type === type);
  if (!ch) throw problem("malformed", "no such challenge for this authorization", 404);
  const up = `<${urls.authz(call.dir, authz.id)}>;rel="up"`;
  // POST-as-GET reads; a JSON payload (`{}`) asks the server to validate.
  if (jsonPayload(v) === undefined) return { json: challengeObject(call.dir, authz.id, ch), links: [up] };
  if (authz.status !== "pending") return { json: challengeObject(call.dir, authz.id, ch), links: [up] };
  const started = await call.storage.transaction(async (txn) => {
    const cur = await getAcme<AuthzRecord>(txn, AK.authz(authz.id));
    const c = cur?.challenges.find((x) => x.type === type);
    // One validation per authorization: a second challenge response, or a repeat, changes nothing.
    if (!cur || !c || c.status !== "pending" || cur.challenges.some((x) => x.status === "processing")) return undefined;
    c.status = "processing";
    await putAcme(txn, AK.authz(cur.id), cur);
    return c;
  });
  if (started) validator.start(call.storage, authz.id, ch.type);
  const shown = started ?? ch;
  return { json: challengeObject(call.dir, authz.id, shown), links: [up], ...(shown.status === "processing" ? { retryAfter: RETRY_AFTER_S } : {}) };
}

export async function finalize(call: AcmeCall, runtime: CaRuntime): Promise<AcmeAnswer> {
  const v = await call.verify("kid");
  const order = await ownedOrder(call, v.account!);
  if (order.status !== "ready") throw problem("orderNotReady", `order is ${order.status}, not ready`);
  const p = jsonPayload(v) ?? {};
  const csr = checkCsr(p.csr, order.identifiers);
  const role = await directoryRole(call.storage, call.dir);
  // Claim the order: of two finalize requests racing, one signs.
  const claimed = await call.storage.transaction(async (txn) => {
    const cur = await getAcme<OrderRecord>(txn, AK.order(order.id));
    if (cur?.status !== "ready") return false;
    await putAcme(txn, AK.order(order.id), { ...cur, status: "processing" } satisfies OrderRecord);
    return true;
  });
  if (!claimed) throw problem("orderNotReady", "order is already being finalized");
  let done: OrderRecord;
  try {
    const issued = await issueForOrder(call.storage, runtime, call.dir, role, csr, order.notAfter);
    await putAcme(call.storage, AK.issued(issued.serial), { accountId: order.accountId, orderId: order.id });
    done = { ...order, status: "valid", certSerial: issued.serial };
  } catch (err) {
    // A CSR the role refuses leaves the order ready for another CSR; a signing failure ends it.
    const refused = err instanceof AcmeProblem && err.type === "badCSR";
    await putAcme(call.storage, AK.order(order.id), refused ? order : { ...order, status: "invalid", error: problem("serverInternal", "signing the certificate failed").toJson() });
    throw err;
  }
  await putAcme(call.storage, AK.order(order.id), done);
  return { json: orderObject(call.dir, done), location: urls.order(call.dir, order.id) };
}

/**
 * The PEM chain (RFC 8555 §7.4.2): leaf, then its issuer and the issuer's parents. Where the issuer is
 * cross-signed (other issuer records with its subject and key), each other chain is offered by
 * `Link: <…/cert/<issuer id>>;rel="alternate"`, and served at that URL.
 */
export async function downloadCert(call: AcmeCall): Promise<AcmeAnswer> {
  const v = await call.verify("kid");
  const order = await ownedOrder(call, v.account!);
  if (order.status !== "valid" || !order.certSerial) throw problem("orderNotReady", "the order has no certificate yet", 403);
  const cert = await getRecord<CertEntry>(call.storage, K.cert(order.certSerial));
  if (!cert) throw problem("malformed", "the certificate is no longer stored", 404);
  const signer = await getRecord<IssuerEntry>(call.storage, K.issuer(cert.issuerId));
  const members = signer ? await membersOf(call.storage, crlIssuerOfEntry(signer)) : [];
  const wanted = call.ctx.params.chain_id;
  const chosen = wanted === undefined ? signer : members.find((m) => m.id === wanted);
  if (wanted !== undefined && !chosen) throw problem("malformed", "no such alternate chain", 404);
  const chain = [cert.certificate, ...(chosen ? [chosen.certificate, ...chosen.caChain] : [])].map((c) => c.trim());
  const base = urls.cert(call.dir, order.id);
  const links = members.filter((m) => m.id !== chosen?.id).map((m) => `<${base}/${m.id}>;rel="alternate"`);
  return { raw: { contentType: "application/pem-certificate-chain", body: chain.join("\n") + "\n" }, links };
}
