/**
 * ACME state in the mount's storage (barrier-encrypted, as every mount's storage). On-disk format:
 *
 *   config/acme                  AcmeConfig (acme-config.ts)
 *   acme/nonce-key               {key (base64)}: the HMAC key nonces are minted under (nonces.ts)
 *   acme/used-nonces/<nonce>     {expires (unix ms)}: a nonce already used (single use); removed by tidy once expired
 *   acme/accounts/<id>           AccountRecord
 *   acme/thumbprints/<jwk thumbprint>  {accountId}: the account a key belongs to (new-account lookup)
 *   acme/orders/<id>             OrderRecord
 *   acme/account-orders/<account id>/<order id>  {} : the account's orders (the `orders` list reads one prefix)
 *   acme/authz/<id>              AuthzRecord (its challenges inside)
 *   acme/eab/<id>                EabRecord (the HMAC key; deleted once bound to an account)
 *   acme/replaced/<certID>       {orderId}: ARI `replaces` already used (RFC 9773 alreadyReplaced)
 *
 * Ids are random (base64url, 128 bits) so a URL names one object and cannot be guessed.
 */
import { randomBytes } from "node:crypto";
import type { JWK } from "jose";
import { getJson, putJson } from "../../../core/view.js";
import type { KeyValueReader, KeyValueWriter } from "../../../storage/storage.js";

export type AccountStatus = "valid" | "deactivated" | "revoked";
export type OrderStatus = "pending" | "ready" | "processing" | "valid" | "invalid";
export type AuthzStatus = "pending" | "valid" | "invalid" | "deactivated" | "expired" | "revoked";
export type ChallengeStatus = "pending" | "processing" | "valid" | "invalid";
export type ChallengeType = "http-01" | "dns-01" | "tls-alpn-01";

export interface Identifier {
  type: "dns" | "ip";
  value: string;
}

export interface AccountRecord {
  id: string;
  jwk: JWK;
  thumbprint: string;
  status: AccountStatus;
  contact: string[];
  termsOfServiceAgreed: boolean;
  /** Unix ms. */
  createdAt: number;
  /** The EAB key id the account was bound with, if any. */
  eabKid?: string;
  /** The directory the account was created in ("" | "roles/<r>/" | "issuer/<i>/" | …). */
  directory: string;
  /** Unix ms of deactivation or revocation (tidy_acme deletes the account a safety buffer later). */
  statusChangedAt?: number;
}

export interface ChallengeRecord {
  type: ChallengeType;
  token: string;
  status: ChallengeStatus;
  /** Unix ms of success. */
  validated?: number;
  error?: { type: string; detail: string; status: number };
  /** Validation attempts made so far (the validator retries with back-off). */
  attempts?: number;
}

export interface AuthzRecord {
  id: string;
  accountId: string;
  orderId: string;
  identifier: Identifier;
  wildcard: boolean;
  status: AuthzStatus;
  /** Unix ms. */
  expires: number;
  challenges: ChallengeRecord[];
}

export interface OrderRecord {
  id: string;
  accountId: string;
  directory: string;
  status: OrderStatus;
  /** Unix ms. */
  expires: number;
  identifiers: Identifier[];
  authzIds: string[];
  notBefore?: string;
  notAfter?: string;
  error?: { type: string; detail: string; status: number };
  /** The issued certificate's serial (certs/<serial>) once valid. */
  certSerial?: string;
  /** ARI: the certID this order replaces. */
  replaces?: string;
}

export interface EabRecord {
  id: string;
  /** base64url HMAC key. */
  key: string;
  keyType: "hs";
  directory: string;
  /** Unix ms. */
  createdAt: number;
}

export const AK = {
  nonceKey: "acme/nonce-key",
  usedNonce: (n: string) => `acme/used-nonces/${n}`,
  usedNonces: "acme/used-nonces/",
  account: (id: string) => `acme/accounts/${id}`,
  accounts: "acme/accounts/",
  thumbprint: (t: string) => `acme/thumbprints/${t}`,
  order: (id: string) => `acme/orders/${id}`,
  orders: "acme/orders/",
  accountOrder: (accountId: string, orderId: string) => `acme/account-orders/${accountId}/${orderId}`,
  accountOrders: (accountId: string) => `acme/account-orders/${accountId}/`,
  authz: (id: string) => `acme/authz/${id}`,
  authzs: "acme/authz/",
  eab: (id: string) => `acme/eab/${id}`,
  eabs: "acme/eab/",
  replaced: (certId: string) => `acme/replaced/${certId}`,
  /** `acme/issued/<serial>`: {accountId, orderId} of a certificate issued through ACME (revoke-cert by account). */
  issued: (serial: string) => `acme/issued/${serial.replace(/:/g, "-")}`,
} as const;

/** A random id for URLs and tokens: 128 bits, base64url. */
export const acmeId = (): string => randomBytes(16).toString("base64url");

/** Ids come from URLs: only our own alphabet may reach a storage key. */
export const isAcmeId = (s: string): boolean => /^[A-Za-z0-9_-]{16,64}$/.test(s);

export const getAcme = <T>(s: KeyValueReader, key: string): Promise<T | undefined> => getJson<T>(s, key);
export const putAcme = (s: KeyValueWriter, key: string, v: unknown): Promise<void> => putJson(s, key, v);
