/** The RFC 8555 §7.1 resource objects as sent, from the stored records. */
import type { AccountRecord, AuthzRecord, ChallengeRecord, OrderRecord } from "./acme-store.js";
import { urls, type Directory } from "./directory.js";

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export function accountObject(d: Directory, a: AccountRecord): Record<string, unknown> {
  return { status: a.status, contact: a.contact, termsOfServiceAgreed: a.termsOfServiceAgreed, orders: urls.orders(d), createdAt: iso(a.createdAt) };
}

export function orderObject(d: Directory, o: OrderRecord): Record<string, unknown> {
  return {
    status: o.status,
    expires: iso(o.expires),
    identifiers: o.identifiers,
    authorizations: o.authzIds.map((id) => urls.authz(d, id)),
    finalize: urls.finalize(d, o.id),
    ...(o.notBefore ? { notBefore: o.notBefore } : {}),
    ...(o.notAfter ? { notAfter: o.notAfter } : {}),
    ...(o.error ? { error: o.error } : {}),
    ...(o.certSerial ? { certificate: urls.cert(d, o.id) } : {}),
    ...(o.replaces ? { replaces: o.replaces } : {}),
  };
}

export function challengeObject(d: Directory, authzId: string, c: ChallengeRecord): Record<string, unknown> {
  return {
    type: c.type,
    url: urls.challenge(d, authzId, c.type),
    token: c.token,
    status: c.status,
    ...(c.validated ? { validated: iso(c.validated) } : {}),
    ...(c.error ? { error: c.error } : {}),
  };
}

export function authzObject(d: Directory, a: AuthzRecord): Record<string, unknown> {
  return {
    status: a.status,
    expires: iso(a.expires),
    identifier: a.identifier,
    challenges: a.challenges.map((c) => challengeObject(d, a.id, c)),
    ...(a.wildcard ? { wildcard: true } : {}),
  };
}
